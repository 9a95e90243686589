// ROI crop kernel (all crops of all frames of a batch in ONE launch: grid z = crop), the default
// appearance descriptor (one block per crop) and row L2 normalisation (one block per row).
// The crop mirrors pan_roi_crop_cpu (src/vision/roi_crop.c) operation by operation, which mirrors
// the preprocess kernel: the two agree to float rounding (tests/test-gpu-roi-crop.c: ±1 on 0–255).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "vision/reid_desc.h"
#include "vision/roi_crop.h"
#include "vision/yuv_sample.cuh"

namespace {

using pan_yuv::clampf;
using pan_yuv::clampi;
using pan_yuv::sample;

__global__ void roi_crop_kernel(const pan__roi_desc *__restrict__ descs, pan__roi_batch bt, void *__restrict__ out)
{
    const int X = blockIdx.x * blockDim.x + threadIdx.x;
    const int Y = blockIdx.y * blockDim.y + threadIdx.y;
    const int n = blockIdx.z;
    if (X >= bt.width || Y >= bt.height) return;
    const pan__roi_desc d = descs[n];
    float val[3];
    const int xi = X - (int)d.g.ox, yi = Y - (int)d.g.oy;
    if (xi >= 0 && xi < d.g.nw && yi >= 0 && yi < d.g.nh) {
        const float ud = d.g.x0 + ((float)X - d.g.ox + 0.5f) / d.g.sx - 0.5f; // displayed position
        const float vd = d.g.y0 + ((float)Y - d.g.oy + 0.5f) / d.g.sy - 0.5f;
        const float u = d.rot.a * ud + d.rot.b * vd + d.rot.c; // stored position
        const float v = d.rot.d * ud + d.rot.e * vd + d.rot.f;
        const float cu = (u + 0.5f) * 0.5f - 0.5f, cv = (v + 0.5f) * 0.5f - 0.5f;
        float y = sample(d.y, d.pitch_y, 1, d.w, d.h, u, v);
        float cb = sample(d.cb, d.pitch_c, d.c_step, d.cw, d.ch, cu, cv);
        float cr = sample(d.cr, d.pitch_c, d.c_step, d.cw, d.ch, cu, cv);
        float yl = (y - d.yoff) * d.yscale;
        float uu = (cb - 128.f) * d.cscale, vv = (cr - 128.f) * d.cscale;
        float R = yl + 2.f * (1.f - d.kr) * vv;
        float B = yl + 2.f * (1.f - d.kb) * uu;
        float G = (yl - d.kr * R - d.kb * B) / (1.f - d.kr - d.kb);
        float c0 = clampf(bt.bgr ? B : R, 0.f, 255.f), c1 = clampf(G, 0.f, 255.f), c2 = clampf(bt.bgr ? R : B, 0.f, 255.f);
        val[0] = (c0 - bt.mean[0]) * bt.inv_std[0];
        val[1] = (c1 - bt.mean[1]) * bt.inv_std[1];
        val[2] = (c2 - bt.mean[2]) * bt.inv_std[2];
    } else {
        val[0] = bt.pad[0], val[1] = bt.pad[1], val[2] = bt.pad[2];
    }
    const size_t plane = (size_t)bt.width * bt.height, i = (size_t)Y * bt.width + X, base = (size_t)n * 3 * plane;
    const size_t o0 = base + (bt.nhwc ? 3 * i : i), step = bt.nhwc ? 1 : plane;
    if (bt.half) {
        __half *o = (__half *)out;
        o[o0] = __float2half_rn(val[0]);
        o[o0 + step] = __float2half_rn(val[1]);
        o[o0 + 2 * step] = __float2half_rn(val[2]);
    } else {
        float *o = (float *)out;
        o[o0] = val[0];
        o[o0 + step] = val[1];
        o[o0 + 2 * step] = val[2];
    }
}

// One block of 256 threads per crop: soft HSV votes into a shared histogram (float atomics: the
// order of additions varies, so results differ from the host's double sums by float rounding),
// then per-half normalisation, square root and L2 normalisation (pan_reid_default_descriptor).
__global__ void desc_kernel(const float *__restrict__ crops, float *__restrict__ out)
{
    __shared__ float hist[2 * PAN__DESC_HALF_BINS];
    __shared__ float sums[2];
    const int n = blockIdx.x, t = threadIdx.x;
    if (t < 2 * PAN__DESC_HALF_BINS) hist[t] = 0.f;
    __syncthreads();
    const float *c = crops + (size_t)n * 3 * PAN__DESC_W * PAN__DESC_H;
    const int cols = PAN__DESC_X1 - PAN__DESC_X0, rows = PAN__DESC_LY1 - PAN__DESC_UY0;
    for (int p = t; p < cols * rows; p += blockDim.x) {
        int y = PAN__DESC_UY0 + p / cols, x = PAN__DESC_X0 + p % cols;
        const float *px = c + 3 * (y * PAN__DESC_W + x);
        int idx[6];
        float w[6];
        int k = pan__desc_bins(px[0], px[1], px[2], idx, w);
        float *h = hist + (y < PAN__DESC_MID ? 0 : PAN__DESC_HALF_BINS);
        for (int j = 0; j < k; j++) atomicAdd(&h[idx[j]], w[j]);
    }
    __syncthreads();
    if (t < 2) {
        float s = 0.f;
        for (int i = 0; i < PAN__DESC_HALF_BINS; i++) s += hist[t * PAN__DESC_HALF_BINS + i];
        sums[t] = s;
    }
    __syncthreads();
    if (t < 2 * PAN__DESC_HALF_BINS) {
        float s = sums[t / PAN__DESC_HALF_BINS];
        hist[t] = s > 0.f ? sqrtf(hist[t] / s) : 0.f;
    }
    __syncthreads();
    if (t < 2 * PAN__DESC_HALF_BINS) {
        float n2 = 0.f;
        for (int i = 0; i < 2 * PAN__DESC_HALF_BINS; i++) n2 += hist[i] * hist[i];
        out[(size_t)n * PAN__DESC_DIM + t] = n2 > 0.f ? hist[t] * rsqrtf(n2) : 0.f;
    }
}

__device__ __forceinline__ float tof(float v) { return v; }
__device__ __forceinline__ float tof(__half v) { return __half2float(v); }

// One block per row: sum of squares by a block reduction in FP32, then scale.
template <typename T>
__global__ void l2norm_kernel(const T *__restrict__ in, int d, float *__restrict__ out)
{
    __shared__ float part[256];
    const int row = blockIdx.x, t = threadIdx.x;
    const T *x = in + (size_t)row * d;
    float s = 0.f;
    for (int i = t; i < d; i += blockDim.x) {
        float v = tof(x[i]);
        s += v * v;
    }
    part[t] = s;
    __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) {
        if (t < k) part[t] += part[t + k];
        __syncthreads();
    }
    const float inv = part[0] > 0.f ? rsqrtf(part[0]) : 0.f;
    for (int i = t; i < d; i += blockDim.x) out[(size_t)row * d + i] = tof(x[i]) * inv;
}

} // namespace

extern "C" int pan__roi_crop_launch(const pan__roi_desc *descs, int n, const pan__roi_batch *b, void *out, void *stream)
{
    if (n <= 0) return (int)cudaSuccess;
    if (n > 65535) return (int)cudaErrorInvalidValue; // grid z limit
    dim3 block(32, 8, 1);
    dim3 grid((unsigned)((b->width + 31) / 32), (unsigned)((b->height + 7) / 8), (unsigned)n);
    roi_crop_kernel<<<grid, block, 0, (cudaStream_t)stream>>>(descs, *b, out);
    return (int)cudaGetLastError();
}

extern "C" int pan__reid_desc_launch(const float *crops, int n, float *out, void *stream)
{
    if (n <= 0) return (int)cudaSuccess;
    desc_kernel<<<(unsigned)n, 256, 0, (cudaStream_t)stream>>>(crops, out);
    return (int)cudaGetLastError();
}

extern "C" int pan__l2norm_launch(const void *in, int half, int n, int d, float *out, void *stream)
{
    if (n <= 0) return (int)cudaSuccess;
    if (half) l2norm_kernel<__half><<<(unsigned)n, 256, 0, (cudaStream_t)stream>>>((const __half *)in, d, out);
    else l2norm_kernel<float><<<(unsigned)n, 256, 0, (cudaStream_t)stream>>>((const float *)in, d, out);
    return (int)cudaGetLastError();
}
