// Direct convolution for inputs with few channels (cuda_ops.h, pan__cu_conv_direct): the first
// layer of an image model, C = 3. One thread computes every output channel of one output pixel, 8
// at a time: the pixel's input taps are read once into registers (their count known at compile
// time for the common shapes), and the weights (FP32, in shared memory as [k/8][tap][8]) are read
// by every thread of a warp at the same address, so each 8 channels of a tap are two broadcast
// 16-byte loads. Bias and activation are applied before the FP16 store when the lowering fuses
// them (no epilogue step, no second pass over the output).
#include "nn/cuda_ops_common.cuh"

namespace {

// Taps known at compile time: C channels, R x S window. C = 0: any shape (runtime loops, input
// read again for each 8 channels from L1).
template <int C, int R, int S>
__global__ void conv_direct_kernel(pan_cu_dconv p, int pixels, int k8, const __half *__restrict__ x,
                                   const __half *__restrict__ w, const float *__restrict__ bias,
                                   __half *__restrict__ y, int vec)
{
    extern __shared__ float4 sm4[];
    float *ws = (float *)sm4; // [k8 / 8][taps][8]
    const int c = C ? C : p.c, r = C ? R : p.r, s = C ? S : p.s;
    const int taps = c * r * s;
    float *bs = ws + k8 * taps; // [k8]
    for (int i = threadIdx.x; i < k8 * taps; i += blockDim.x) {
        int k = i / taps, t = i - k * taps;
        ws[((k >> 3) * taps + t) * 8 + (k & 7)] = k < p.k ? __half2float(w[i]) : 0.f;
    }
    for (int i = threadIdx.x; i < k8; i += blockDim.x) bs[i] = bias && i < p.k ? bias[i] : 0.f;
    __syncthreads();

    for (int pix = blockIdx.x * blockDim.x + threadIdx.x; pix < pixels; pix += gridDim.x * blockDim.x) {
        int ox = pix % p.ow, t = pix / p.ow;
        int oy = t % p.oh, b = t / p.oh;
        const __half *xb = x + (int64_t)b * p.h * p.w * c;
        const int iy0 = oy * p.stride_h - p.pad_h, ix0 = ox * p.stride_w - p.pad_w;
        __half *yp = y + (int64_t)pix * p.k;
        constexpr int TAPS = C * R * S;
        float in[TAPS > 0 ? TAPS : 1];
        if constexpr (TAPS > 0) {
#pragma unroll
            for (int rr = 0; rr < R; rr++) {
                int iy = iy0 + rr * p.dil_h;
#pragma unroll
                for (int ss = 0; ss < S; ss++) {
                    int ix = ix0 + ss * p.dil_w;
                    bool ok = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
                    const __half *px = xb + ((int64_t)iy * p.w + ix) * C;
#pragma unroll
                    for (int cc = 0; cc < C; cc++) in[(rr * S + ss) * C + cc] = ok ? __half2float(px[cc]) : 0.f;
                }
            }
        }
        for (int kb = 0; kb < k8 / 8; kb++) {
            const float4 *wk = (const float4 *)(ws + kb * taps * 8);
            float acc[8];
#pragma unroll
            for (int j = 0; j < 8; j++) acc[j] = bs[kb * 8 + j];
            if constexpr (TAPS > 0) {
#pragma unroll
                for (int tp = 0; tp < TAPS; tp++) {
                    float4 lo = wk[2 * tp], hi = wk[2 * tp + 1];
                    float v = in[tp];
                    acc[0] = fmaf(v, lo.x, acc[0]), acc[1] = fmaf(v, lo.y, acc[1]);
                    acc[2] = fmaf(v, lo.z, acc[2]), acc[3] = fmaf(v, lo.w, acc[3]);
                    acc[4] = fmaf(v, hi.x, acc[4]), acc[5] = fmaf(v, hi.y, acc[5]);
                    acc[6] = fmaf(v, hi.z, acc[6]), acc[7] = fmaf(v, hi.w, acc[7]);
                }
            } else {
                for (int rr = 0; rr < r; rr++) {
                    int iy = iy0 + rr * p.dil_h;
                    if (iy < 0 || iy >= p.h) continue;
                    for (int ss = 0; ss < s; ss++) {
                        int ix = ix0 + ss * p.dil_w;
                        if (ix < 0 || ix >= p.w) continue;
                        const __half *px = xb + ((int64_t)iy * p.w + ix) * c;
                        for (int cc = 0; cc < c; cc++) {
                            int tp = (rr * s + ss) * c + cc;
                            float4 lo = wk[2 * tp], hi = wk[2 * tp + 1];
                            float v = __half2float(px[cc]);
                            acc[0] = fmaf(v, lo.x, acc[0]), acc[1] = fmaf(v, lo.y, acc[1]);
                            acc[2] = fmaf(v, lo.z, acc[2]), acc[3] = fmaf(v, lo.w, acc[3]);
                            acc[4] = fmaf(v, hi.x, acc[4]), acc[5] = fmaf(v, hi.y, acc[5]);
                            acc[6] = fmaf(v, hi.z, acc[6]), acc[7] = fmaf(v, hi.w, acc[7]);
                        }
                    }
                }
            }
#pragma unroll
            for (int j = 0; j < 8; j++) acc[j] = act_apply(p.act, acc[j], p.alpha, p.beta);
            if (vec) {
                __align__(16) __half h[8];
#pragma unroll
                for (int j = 0; j < 8; j++) h[j] = __float2half_rn(acc[j]);
                *(uint4 *)(yp + kb * 8) = *(const uint4 *)h;
            } else {
                for (int j = 0; j < 8 && kb * 8 + j < p.k; j++) yp[kb * 8 + j] = __float2half_rn(acc[j]);
            }
        }
    }
}

template <int C, int R, int S>
int launch(const pan_cu_dconv *p, int pixels, int k8, size_t smem, const void *x, const void *w, const float *bias,
           void *y, int vec, cudaStream_t stream)
{
    conv_direct_kernel<C, R, S><<<grid_for(pixels), kThreads, smem, stream>>>(
        *p, pixels, k8, (const __half *)x, (const __half *)w, bias, (__half *)y, vec);
    return (int)cudaGetLastError();
}

} // namespace

extern "C" int pan__cu_conv_direct(const pan_cu_dconv *p, const void *x, const void *w, const float *bias, void *y,
                                   void *stream)
{
    int k8 = (p->k + 7) / 8 * 8, taps = p->c * p->r * p->s;
    size_t smem = PAN_CU_DIRECT_SMEM_BYTES(p->k, taps);
    if (taps > PAN_CU_DIRECT_TAPS || smem > PAN_CU_DIRECT_SMEM) return (int)cudaErrorInvalidValue;
    int64_t pixels = (int64_t)p->n * p->oh * p->ow;
    if (pixels <= 0) return 0;
    if (pixels > INT32_MAX) return (int)cudaErrorInvalidValue;
    int vec = p->k % 8 == 0 && (uintptr_t)y % 16 == 0;
    cudaStream_t s = (cudaStream_t)stream;
    if (p->r == 3 && p->s == 3) {
        if (p->c == 3) return launch<3, 3, 3>(p, (int)pixels, k8, smem, x, w, bias, y, vec, s);
        if (p->c == 1) return launch<1, 3, 3>(p, (int)pixels, k8, smem, x, w, bias, y, vec, s);
        if (p->c == 4) return launch<4, 3, 3>(p, (int)pixels, k8, smem, x, w, bias, y, vec, s);
    }
    return launch<0, 0, 0>(p, (int)pixels, k8, smem, x, w, bias, y, vec, s);
}
