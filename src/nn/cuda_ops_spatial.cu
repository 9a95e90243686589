// Kernels of the cuda engine backend over NHWC images: pooling, resize (nearest / bilinear with
// the IR's coordinate modes), softmax along any axis. Storage FP16, arithmetic FP32; 8 channels per
// thread (16-byte loads) where C % 8 == 0.
#include "nn/cuda_ops_common.cuh"

namespace {

// ---- pooling, resize, softmax ------------------------------------------------------------

__global__ void pool2d_kernel(pan_cu_pool2d p, int n, const __half *__restrict__ x, __half *__restrict__ y)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int c = i % p.c, t = i / p.c;
        int ox = t % p.ow;
        t /= p.ow;
        int oy = t % p.oh;
        int b = t / p.oh;
        int y0 = oy * p.sh - p.pt, x0 = ox * p.sw - p.pl;
        float acc = p.is_max ? -INFINITY : 0.f;
        int cnt = 0;
        const __half *xb = x + (size_t)b * p.h * p.w * p.c + c;
        for (int ky = 0; ky < p.kh; ky++) {
            int iy = y0 + ky * p.dh;
            if (iy < 0 || iy >= p.h) continue;
            for (int kx = 0; kx < p.kw; kx++) {
                int ix = x0 + kx * p.dw;
                if (ix < 0 || ix >= p.w) continue;
                float v = __half2float(xb[((size_t)iy * p.w + ix) * p.c]);
                if (p.is_max) acc = fmaxf(acc, v);
                else acc += v;
                cnt++;
            }
        }
        if (!p.is_max) {
            if (p.count_include_pad) {
                // window clipped to the padded input [-pt, h+pb) x [-pl, w+pr), as ONNX/PyTorch
                int ye = min(y0 + (p.kh - 1) * p.dh + 1, p.h + p.pb), xe = min(x0 + (p.kw - 1) * p.dw + 1, p.w + p.pr);
                int ys = y0, xs = x0;
                int ny = (ye - ys + p.dh - 1) / p.dh, nx = (xe - xs + p.dw - 1) / p.dw;
                cnt = ny * nx;
            }
            acc = cnt ? acc / (float)cnt : 0.f;
        }
        y[i] = __float2half_rn(acc);
    }
}

// Same as pool2d_kernel, 8 channels per thread (C % 8 == 0).
__global__ void pool2d_vec8_kernel(pan_cu_pool2d p, int n8, const __half *__restrict__ x, __half *__restrict__ y)
{
    const int C8 = p.c / 8;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n8; i += gridDim.x * blockDim.x) {
        int c = (i % C8) * 8, t = i / C8;
        int ox = t % p.ow;
        t /= p.ow;
        int oy = t % p.oh;
        int b = t / p.oh;
        int y0 = oy * p.sh - p.pt, x0 = ox * p.sw - p.pl;
        float acc[8], v[8];
#pragma unroll
        for (int k = 0; k < 8; k++) acc[k] = p.is_max ? -INFINITY : 0.f;
        int cnt = 0;
        const __half *xb = x + (size_t)b * p.h * p.w * p.c + c;
        for (int ky = 0; ky < p.kh; ky++) {
            int iy = y0 + ky * p.dh;
            if (iy < 0 || iy >= p.h) continue;
            for (int kx = 0; kx < p.kw; kx++) {
                int ix = x0 + kx * p.dw;
                if (ix < 0 || ix >= p.w) continue;
                h8_load(xb + ((size_t)iy * p.w + ix) * p.c, v);
#pragma unroll
                for (int k = 0; k < 8; k++) acc[k] = p.is_max ? fmaxf(acc[k], v[k]) : acc[k] + v[k];
                cnt++;
            }
        }
        if (!p.is_max) {
            if (p.count_include_pad) {
                int ye = min(y0 + (p.kh - 1) * p.dh + 1, p.h + p.pb), xe = min(x0 + (p.kw - 1) * p.dw + 1, p.w + p.pr);
                cnt = ((ye - y0 + p.dh - 1) / p.dh) * ((xe - x0 + p.dw - 1) / p.dw);
            }
            float inv = cnt ? 1.f / (float)cnt : 0.f;
#pragma unroll
            for (int k = 0; k < 8; k++) acc[k] = cnt ? acc[k] * inv : 0.f;
        }
        h8_store(y + (size_t)i * 8, acc);
    }
}

__global__ void global_pool_kernel(int is_max, int n, int hw, int c, const __half *__restrict__ x, __half *__restrict__ y)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n * c; i += gridDim.x * blockDim.x) {
        int ch = i % c, b = i / c;
        const __half *p = x + (size_t)b * hw * c + ch;
        float acc = is_max ? -INFINITY : 0.f;
        for (int k = 0; k < hw; k++) {
            float v = __half2float(p[(size_t)k * c]);
            acc = is_max ? fmaxf(acc, v) : acc + v;
        }
        y[i] = __float2half_rn(is_max ? acc : acc / (float)hw);
    }
}

// Input coordinate of output coordinate o (ir.h pan_resize_coord); s = out/in.
__device__ __forceinline__ float resize_coord(int mode, int o, int in, int out, float s)
{
    switch (mode) {
    case 1 /* ASYMMETRIC */: return (float)o / s;
    case 2 /* ALIGN_CORNERS */: return out > 1 ? (float)o * (float)(in - 1) / (float)(out - 1) : 0.f;
    case 3 /* PYTORCH_HALF_PIXEL */: return out > 1 ? ((float)o + 0.5f) / s - 0.5f : 0.f;
    case 4 /* TF_HALF_PIXEL_FOR_NN */: return ((float)o + 0.5f) / s;
    default /* HALF_PIXEL */: return ((float)o + 0.5f) / s - 0.5f;
    }
}

__device__ __forceinline__ int nearest_index(int mode, float u, int in)
{
    int i;
    switch (mode) {
    case 1 /* ROUND_PREFER_CEIL */: i = (int)floorf(u + 0.5f); break;
    case 2 /* FLOOR */: i = (int)floorf(u); break;
    case 3 /* CEIL */: i = (int)ceilf(u); break;
    default /* ROUND_PREFER_FLOOR */: i = (int)ceilf(u - 0.5f); break;
    }
    return i < 0 ? 0 : i >= in ? in - 1 : i;
}

__global__ void resize_kernel(pan_cu_resize p, int n, const __half *__restrict__ x, __half *__restrict__ y)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int c = i % p.c, t = i / p.c;
        int ox = t % p.ow;
        t /= p.ow;
        int oy = t % p.oh;
        int b = t / p.oh;
        const __half *xb = x + (size_t)b * p.h * p.w * p.c + c;
        float u = resize_coord(p.coord, ox, p.w, p.ow, p.scale_w);
        float v = resize_coord(p.coord, oy, p.h, p.oh, p.scale_h);
        float r;
        if (!p.linear) {
            int ix = nearest_index(p.nearest, u, p.w), iy = nearest_index(p.nearest, v, p.h);
            r = __half2float(xb[((size_t)iy * p.w + ix) * p.c]);
        } else {
            // clamped to the edge pixel centres, as TF (half_pixel_centers) and ONNX Runtime
            u = fminf(fmaxf(u, 0.f), (float)(p.w - 1));
            v = fminf(fmaxf(v, 0.f), (float)(p.h - 1));
            int x0 = (int)u, y0 = (int)v;
            int x1 = min(x0 + 1, p.w - 1), y1 = min(y0 + 1, p.h - 1);
            float fx = u - (float)x0, fy = v - (float)y0;
            float a = __half2float(xb[((size_t)y0 * p.w + x0) * p.c]);
            float bb = __half2float(xb[((size_t)y0 * p.w + x1) * p.c]);
            float cc = __half2float(xb[((size_t)y1 * p.w + x0) * p.c]);
            float d = __half2float(xb[((size_t)y1 * p.w + x1) * p.c]);
            float top = a + fx * (bb - a), bot = cc + fx * (d - cc);
            r = top + fy * (bot - top);
        }
        y[i] = __float2half_rn(r);
    }
}

__global__ void softmax_kernel(pan_cu_iter rows, int nrows, int len, int ys, int xs, const __half *__restrict__ x,
                               __half *__restrict__ y)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < nrows; i += gridDim.x * blockDim.x) {
        int off[2];
        iter_offsets<2>(rows, i, off);
        const __half *xp = x + off[1];
        __half *yp = y + off[0];
        float m = -INFINITY;
        for (int k = 0; k < len; k++) m = fmaxf(m, __half2float(xp[(size_t)k * xs]));
        float s = 0.f;
        for (int k = 0; k < len; k++) s += __expf(__half2float(xp[(size_t)k * xs]) - m);
        float inv = 1.f / s;
        for (int k = 0; k < len; k++) yp[(size_t)k * ys] = __float2half_rn(__expf(__half2float(xp[(size_t)k * xs]) - m) * inv);
    }
}

// Bilinear / nearest resize, 8 channels per thread (C % 8 == 0).
__global__ void resize_vec8_kernel(pan_cu_resize p, int n8, const __half *__restrict__ x, __half *__restrict__ y)
{
    const int C8 = p.c / 8;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n8; i += gridDim.x * blockDim.x) {
        int c = (i % C8) * 8, t = i / C8;
        int ox = t % p.ow;
        t /= p.ow;
        int oy = t % p.oh;
        int b = t / p.oh;
        const __half *xb = x + (size_t)b * p.h * p.w * p.c + c;
        float u = resize_coord(p.coord, ox, p.w, p.ow, p.scale_w);
        float v = resize_coord(p.coord, oy, p.h, p.oh, p.scale_h);
        float r[8];
        if (!p.linear) {
            int ix = nearest_index(p.nearest, u, p.w), iy = nearest_index(p.nearest, v, p.h);
            h8_load(xb + ((size_t)iy * p.w + ix) * p.c, r);
        } else {
            u = fminf(fmaxf(u, 0.f), (float)(p.w - 1));
            v = fminf(fmaxf(v, 0.f), (float)(p.h - 1));
            int x0 = (int)u, y0 = (int)v;
            int x1 = min(x0 + 1, p.w - 1), y1 = min(y0 + 1, p.h - 1);
            float fx = u - (float)x0, fy = v - (float)y0;
            float a[8], bb[8], cc[8], d[8];
            h8_load(xb + ((size_t)y0 * p.w + x0) * p.c, a);
            h8_load(xb + ((size_t)y0 * p.w + x1) * p.c, bb);
            h8_load(xb + ((size_t)y1 * p.w + x0) * p.c, cc);
            h8_load(xb + ((size_t)y1 * p.w + x1) * p.c, d);
#pragma unroll
            for (int k = 0; k < 8; k++) {
                float top = a[k] + fx * (bb[k] - a[k]), bot = cc[k] + fx * (d[k] - cc[k]);
                r[k] = top + fy * (bot - top);
            }
        }
        h8_store(y + (size_t)i * 8, r);
    }
}

} // namespace

extern "C" int pan__cu_pool2d(const pan_cu_pool2d *p, const void *x, void *y, void *stream)
{
    int64_t n = (int64_t)p->n * p->oh * p->ow * p->c;
    if (n <= 0) return 0;
    if (p->c % 8 == 0 && ((uintptr_t)x | (uintptr_t)y) % 16 == 0)
        pool2d_vec8_kernel<<<grid_for(n / 8), kThreads, 0, (cudaStream_t)stream>>>(*p, (int)(n / 8), (const __half *)x,
                                                                                    (__half *)y);
    else
        pool2d_kernel<<<grid_for(n), kThreads, 0, (cudaStream_t)stream>>>(*p, (int)n, (const __half *)x, (__half *)y);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_global_pool(int is_max, int n, int hw, int c, const void *x, void *y, void *stream)
{
    if ((int64_t)n * c <= 0) return 0;
    global_pool_kernel<<<grid_for((int64_t)n * c), kThreads, 0, (cudaStream_t)stream>>>(is_max, n, hw, c, (const __half *)x,
                                                                                         (__half *)y);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_resize(const pan_cu_resize *p, const void *x, void *y, void *stream)
{
    int64_t n = (int64_t)p->n * p->oh * p->ow * p->c;
    if (n <= 0) return 0;
    if (p->c % 8 == 0 && ((uintptr_t)x | (uintptr_t)y) % 16 == 0)
        resize_vec8_kernel<<<grid_for(n / 8), kThreads, 0, (cudaStream_t)stream>>>(*p, (int)(n / 8), (const __half *)x,
                                                                                    (__half *)y);
    else
        resize_kernel<<<grid_for(n), kThreads, 0, (cudaStream_t)stream>>>(*p, (int)n, (const __half *)x, (__half *)y);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_softmax(const pan_cu_iter *rows, int len, int ystride, int xstride, const void *x, void *y,
                               void *stream)
{
    int64_t n = iter_numel(rows);
    if (n <= 0 || len <= 0) return 0;
    softmax_kernel<<<grid_for(n), kThreads, 0, (cudaStream_t)stream>>>(*rows, (int)n, len, ystride, xstride,
                                                                        (const __half *)x, (__half *)y);
    return (int)cudaGetLastError();
}
