// Direct convolution for inputs with few channels (cuda_ops.h, pan__cu_conv_direct): the first
// layer of an image model, C = 3. One thread computes 8 output channels of one output pixel; the
// weights (FP32, zero-padded to a multiple of 8 output channels) sit in shared memory, each input
// tap is read once per 8 channels.
#include "nn/cuda_ops_common.cuh"

namespace {

__global__ void conv_direct_kernel(pan_cu_dconv p, int64_t items, int k8, const __half *__restrict__ x,
                                   const __half *__restrict__ w, __half *__restrict__ y, int vec)
{
    extern __shared__ float ws[]; // [k8][r][s][c]
    const int taps = p.c * p.r * p.s;
    for (int i = threadIdx.x; i < k8 * taps; i += blockDim.x) ws[i] = i < p.k * taps ? __half2float(w[i]) : 0.f;
    __syncthreads();
    const int chunks = k8 / 8;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < items; i += (int64_t)gridDim.x * blockDim.x) {
        int chunk = (int)(i % chunks);
        int64_t pix = i / chunks;
        int ox = (int)(pix % p.ow);
        int64_t t = pix / p.ow;
        int oy = (int)(t % p.oh);
        int64_t b = t / p.oh;
        float acc[8];
#pragma unroll
        for (int j = 0; j < 8; j++) acc[j] = 0.f;
        const __half *xb = x + b * p.h * p.w * p.c;
        const float *wk = ws + (size_t)chunk * 8 * taps;
        for (int r = 0; r < p.r; r++) {
            int iy = oy * p.stride_h - p.pad_h + r * p.dil_h;
            if (iy < 0 || iy >= p.h) continue;
            for (int s = 0; s < p.s; s++) {
                int ix = ox * p.stride_w - p.pad_w + s * p.dil_w;
                if (ix < 0 || ix >= p.w) continue;
                const __half *px = xb + ((int64_t)iy * p.w + ix) * p.c;
                const float *wt = wk + (r * p.s + s) * p.c;
                for (int c = 0; c < p.c; c++) {
                    float v = __half2float(px[c]);
#pragma unroll
                    for (int j = 0; j < 8; j++) acc[j] = fmaf(v, wt[j * taps + c], acc[j]);
                }
            }
        }
        __half *yo = y + pix * p.k + chunk * 8;
        if (vec) {
            __align__(16) __half h[8];
#pragma unroll
            for (int j = 0; j < 8; j++) h[j] = __float2half_rn(acc[j]);
            *(uint4 *)yo = *(const uint4 *)h;
        } else {
            for (int j = 0; j < 8 && chunk * 8 + j < p.k; j++) yo[j] = __float2half_rn(acc[j]);
        }
    }
}

} // namespace

extern "C" int pan__cu_conv_direct(const pan_cu_dconv *p, const void *x, const void *w, void *y, void *stream)
{
    int k8 = (p->k + 7) / 8 * 8, taps = p->c * p->r * p->s;
    size_t smem = (size_t)k8 * taps * sizeof(float);
    if (taps > PAN_CU_DIRECT_TAPS || smem > PAN_CU_DIRECT_SMEM) return (int)cudaErrorInvalidValue;
    int64_t items = (int64_t)p->n * p->oh * p->ow * (k8 / 8);
    if (items <= 0) return 0;
    int vec = p->k % 8 == 0 && (uintptr_t)y % 16 == 0;
    conv_direct_kernel<<<grid_for(items), kThreads, smem, (cudaStream_t)stream>>>(*p, items, k8, (const __half *)x,
                                                                                (const __half *)w, (__half *)y, vec);
    return (int)cudaGetLastError();
}
