// Kernels of the cuda engine backend: copies (layout and dtype conversions, concat, split,
// slice, transpose), elementwise ops, the conv epilogue, reshape across layouts and padding.
// Storage FP16, arithmetic FP32. Layouts and the pan_cu_iter convention: see cuda_ops.h.
// Convolutions are cuDNN's (cuda_conv_cuda.c); pooling, resize, softmax: cuda_ops_spatial.cu.
#include "nn/cuda_ops_common.cuh"

namespace {

// ---- copies ------------------------------------------------------------------------------

template <typename S, typename D>
__global__ void convert_kernel(pan_cu_iter it, int n, const S *__restrict__ src, D *__restrict__ dst)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int off[2];
        iter_offsets<2>(it, i, off);
        dst[off[0]] = from_f<D>(to_f<S>(src[off[1]]));
    }
}

template <typename T>
__global__ void raw_copy_kernel(pan_cu_iter it, int n, const T *__restrict__ src, T *__restrict__ dst)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int off[2];
        iter_offsets<2>(it, i, off);
        dst[off[0]] = src[off[1]];
    }
}

template <typename T>
int launch_raw(const pan_cu_iter *it, const void *src, void *dst, cudaStream_t s)
{
    int64_t n = iter_numel(it);
    if (n <= 0) return 0;
    raw_copy_kernel<T><<<grid_for(n), kThreads, 0, s>>>(*it, (int)n, (const T *)src, (T *)dst);
    return (int)cudaGetLastError();
}

// Same-type copy in units of `v` elements when the innermost dim is contiguous in both operands
// and every size, stride and offset is a multiple of v: 16-byte loads for NHWC channel concat/split.
bool vectorise(const pan_cu_iter *in, int v, const void *src, const void *dst, size_t esz, pan_cu_iter *out)
{
    const int last = in->rank - 1;
    if (in->stride[0][last] != 1 || in->stride[1][last] != 1 || in->dims[last] % v) return false;
    if (((uintptr_t)src | (uintptr_t)dst) % (esz * v)) return false;
    if (in->offset[0] % v || in->offset[1] % v) return false;
    for (int k = 0; k < last; k++)
        if (in->stride[0][k] % v || in->stride[1][k] % v) return false;
    *out = *in;
    out->dims[last] /= v;
    for (int k = 0; k < last; k++) {
        out->stride[0][k] /= v;
        out->stride[1][k] /= v;
    }
    out->offset[0] /= v;
    out->offset[1] /= v;
    return true;
}

// ---- elementwise -------------------------------------------------------------------------

__global__ void unary_kernel(int op, float a, float b, const __half *__restrict__ x, __half *__restrict__ y, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        y[i] = __float2half_rn(act_apply(op, __half2float(x[i]), a, b));
}

__global__ void unary2_kernel(int op, float a, float b, const __half2 *__restrict__ x, __half2 *__restrict__ y, int n2)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n2; i += gridDim.x * blockDim.x) {
        float2 v = __half22float2(x[i]);
        y[i] = __floats2half2_rn(act_apply(op, v.x, a, b), act_apply(op, v.y, a, b));
    }
}

__global__ void binary_kernel(int op, pan_cu_iter it, int n, const __half *__restrict__ a, const __half *__restrict__ b,
                              __half *__restrict__ y)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int off[3];
        iter_offsets<3>(it, i, off);
        y[off[0]] = __float2half_rn(bin_apply(op, __half2float(a[off[1]]), __half2float(b[off[2]])));
    }
}

// Same shapes, all contiguous: two halves per thread.
__global__ void binary2_kernel(int op, int n2, const __half2 *__restrict__ a, const __half2 *__restrict__ b,
                               __half2 *__restrict__ y)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n2; i += gridDim.x * blockDim.x) {
        float2 u = __half22float2(a[i]), v = __half22float2(b[i]);
        y[i] = __floats2half2_rn(bin_apply(op, u.x, v.x), bin_apply(op, u.y, v.y));
    }
}

// Conv epilogue, two channels per thread (C and the output stride even), NHWC so the channel is
// index % C; the output pixel stride may exceed C (writing into a channel-concat slice).
__global__ void epilogue2_kernel(const __half2 *__restrict__ x, __half2 *__restrict__ y, int ys2,
                                 const float *__restrict__ bias, const __half2 *__restrict__ res, int n2, int C2, int act,
                                 float a, float b, int res_after)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n2; i += gridDim.x * blockDim.x) {
        int c2 = i % C2, pix = i / C2;
        float2 v = __half22float2(x[i]);
        if (bias) {
            v.x += bias[2 * c2];
            v.y += bias[2 * c2 + 1];
        }
        float2 r = res ? __half22float2(res[i]) : make_float2(0.f, 0.f);
        if (!res_after) {
            v.x += r.x;
            v.y += r.y;
        }
        v.x = act_apply(act, v.x, a, b);
        v.y = act_apply(act, v.y, a, b);
        if (res_after) {
            v.x += r.x;
            v.y += r.y;
        }
        y[(size_t)pix * ys2 + c2] = __floats2half2_rn(v.x, v.y);
    }
}

__global__ void epilogue_kernel(const __half *__restrict__ x, __half *__restrict__ y, int ys,
                                const float *__restrict__ bias, const __half *__restrict__ res, int n, int C, int act,
                                float a, float b, int res_after)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int c = i % C, pix = i / C;
        float v = __half2float(x[i]);
        if (bias) v += bias[c];
        float r = res ? __half2float(res[i]) : 0.f;
        if (!res_after) v += r;
        v = act_apply(act, v, a, b);
        if (res_after) v += r;
        y[(size_t)pix * ys + c] = __float2half_rn(v);
    }
}

__global__ void affine_kernel(const __half *__restrict__ x, __half *__restrict__ y, int n, int C, int div,
                              const float *__restrict__ scale, const float *__restrict__ shift)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int c = (i / div) % C;
        y[i] = __float2half_rn(__half2float(x[i]) * scale[c] + shift[c]);
    }
}

template <typename T>
__global__ void reshape_kernel(pan_cu_reshape p, int n, const T *__restrict__ x, T *__restrict__ y)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int so = 0, dof = 0, l = i;
        for (int k = p.src_rank - 1; k >= 0; k--) {
            so += (l % p.src_dims[k]) * p.src_strides[k];
            l /= p.src_dims[k];
        }
        l = i;
        for (int k = p.dst_rank - 1; k >= 0; k--) {
            dof += (l % p.dst_dims[k]) * p.dst_strides[k];
            l /= p.dst_dims[k];
        }
        y[dof] = x[so];
    }
}

__global__ void pad_kernel(pan_cu_pad p, int n, const __half *__restrict__ x, __half *__restrict__ y)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int l = i, oo = 0, io = 0;
        bool outside = false;
        for (int k = p.rank - 1; k >= 0; k--) {
            int c = l % p.dims[k];
            l /= p.dims[k];
            oo += c * p.out_strides[k];
            int s = c - p.begin[k], m = p.in_dims[k];
            if (s < 0 || s >= m) {
                if (p.mode == 0) outside = true;
                else if (p.mode == 1) { // reflect (edge not repeated), m >= 2 checked on the host
                    int period = 2 * (m - 1);
                    s = s % period;
                    if (s < 0) s += period;
                    if (s >= m) s = period - s;
                } else s = s < 0 ? 0 : m - 1;
            }
            io += s * p.in_strides[k];
        }
        y[oo] = outside ? __float2half_rn(p.value) : x[io];
    }
}

// Zero channels appended to NHWC pixels (the first conv's RGB input padded to 8 channels for the
// tensor cores): one 16-byte store of 8 output channels per thread.
__global__ void pad_channels8_kernel(int pixels, int c, int cp8, const __half *__restrict__ x, __half *__restrict__ y)
{
    const int per = cp8; // 16-byte words per pixel
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < pixels * per; i += gridDim.x * blockDim.x) {
        int pix = i / per, w = i % per;
        __align__(16) __half v[8];
#pragma unroll
        for (int k = 0; k < 8; k++) {
            int ch = w * 8 + k;
            v[k] = ch < c ? x[(size_t)pix * c + ch] : __float2half_rn(0.f);
        }
        reinterpret_cast<uint4 *>(y)[i] = *reinterpret_cast<const uint4 *>(v);
    }
}

} // namespace

extern "C" int pan__cu_copy(const pan_cu_iter *it, const void *src, int src_dtype, void *dst, int dst_dtype, void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    int64_t n = iter_numel(it);
    if (n <= 0) return 0;
    if (src_dtype == 0 && dst_dtype == 1) {
        convert_kernel<float, __half><<<grid_for(n), kThreads, 0, s>>>(*it, (int)n, (const float *)src, (__half *)dst);
        return (int)cudaGetLastError();
    }
    if (src_dtype == 1 && dst_dtype == 0) {
        convert_kernel<__half, float><<<grid_for(n), kThreads, 0, s>>>(*it, (int)n, (const __half *)src, (float *)dst);
        return (int)cudaGetLastError();
    }
    if (src_dtype != dst_dtype) return (int)cudaErrorInvalidValue;
    static const int sizes[] = {4, 2, 4, 8, 1, 1, 1, 8}; // pan_dtype order (engine.h)
    if (src_dtype < 0 || src_dtype > 7) return (int)cudaErrorInvalidValue;
    size_t esz = (size_t)sizes[src_dtype];
    pan_cu_iter v;
    if (vectorise(it, (int)(16 / esz), src, dst, esz, &v)) return launch_raw<uint4>(&v, src, dst, s);
    if (esz < 8 && vectorise(it, (int)(8 / esz), src, dst, esz, &v)) return launch_raw<uint2>(&v, src, dst, s);
    switch (esz) {
    case 1: return launch_raw<uint8_t>(it, src, dst, s);
    case 2: return launch_raw<uint16_t>(it, src, dst, s);
    case 4: return launch_raw<uint32_t>(it, src, dst, s);
    default: return launch_raw<uint64_t>(it, src, dst, s);
    }
}

extern "C" int pan__cu_unary(int op, float alpha, float beta, const void *x, void *y, int64_t n, void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    if (n <= 0) return 0;
    if (n % 2 == 0 && ((uintptr_t)x | (uintptr_t)y) % 4 == 0)
        unary2_kernel<<<grid_for(n / 2), kThreads, 0, s>>>(op, alpha, beta, (const __half2 *)x, (__half2 *)y, (int)(n / 2));
    else
        unary_kernel<<<grid_for(n), kThreads, 0, s>>>(op, alpha, beta, (const __half *)x, (__half *)y, (int)n);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_binary(int op, const pan_cu_iter *it, const void *a, const void *b, void *y, void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    int64_t n = iter_numel(it);
    if (n <= 0) return 0;
    const __half *ha = (const __half *)a + it->offset[1], *hb = (const __half *)b + it->offset[2];
    __half *hy = (__half *)y + it->offset[0];
    if (it->rank == 1 && it->stride[0][0] == 1 && it->stride[1][0] == 1 && it->stride[2][0] == 1 && n % 2 == 0 &&
        ((uintptr_t)ha | (uintptr_t)hb | (uintptr_t)hy) % 4 == 0) {
        binary2_kernel<<<grid_for(n / 2), kThreads, 0, s>>>(op, (int)(n / 2), (const __half2 *)ha, (const __half2 *)hb,
                                                             (__half2 *)hy);
    } else {
        binary_kernel<<<grid_for(n), kThreads, 0, s>>>(op, *it, (int)n, (const __half *)a, (const __half *)b, (__half *)y);
    }
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_conv_epilogue(const void *x, void *y, int ystride, const float *bias, const void *res, int64_t n,
                                     int C, int act, float alpha, float beta, int res_after_act, void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    if (n <= 0) return 0;
    if (C % 2 == 0 && ystride % 2 == 0 && ((uintptr_t)x | (uintptr_t)y | (uintptr_t)res) % 4 == 0)
        epilogue2_kernel<<<grid_for(n / 2), kThreads, 0, s>>>((const __half2 *)x, (__half2 *)y, ystride / 2, bias,
                                                               (const __half2 *)res, (int)(n / 2), C / 2, act, alpha,
                                                               beta, res_after_act);
    else
        epilogue_kernel<<<grid_for(n), kThreads, 0, s>>>((const __half *)x, (__half *)y, ystride, bias,
                                                         (const __half *)res, (int)n, C, act, alpha, beta, res_after_act);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_channel_affine(const void *x, void *y, int64_t n, int C, int64_t div, const float *scale,
                                      const float *shift, void *stream)
{
    if (n <= 0) return 0;
    affine_kernel<<<grid_for(n), kThreads, 0, (cudaStream_t)stream>>>((const __half *)x, (__half *)y, (int)n, C, (int)div,
                                                                       scale, shift);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_reshape(const pan_cu_reshape *p, int64_t numel, const void *x, void *y, int elem_bytes, void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    if (numel <= 0) return 0;
    switch (elem_bytes) {
    case 1: reshape_kernel<uint8_t><<<grid_for(numel), kThreads, 0, s>>>(*p, (int)numel, (const uint8_t *)x, (uint8_t *)y); break;
    case 2: reshape_kernel<uint16_t><<<grid_for(numel), kThreads, 0, s>>>(*p, (int)numel, (const uint16_t *)x, (uint16_t *)y); break;
    case 4: reshape_kernel<uint32_t><<<grid_for(numel), kThreads, 0, s>>>(*p, (int)numel, (const uint32_t *)x, (uint32_t *)y); break;
    case 8: reshape_kernel<uint64_t><<<grid_for(numel), kThreads, 0, s>>>(*p, (int)numel, (const uint64_t *)x, (uint64_t *)y); break;
    default: return (int)cudaErrorInvalidValue;
    }
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_pad(const pan_cu_pad *p, const void *x, void *y, void *stream)
{
    int64_t n = 1;
    for (int i = 0; i < p->rank; i++) n *= p->dims[i];
    if (n <= 0) return 0;
    /* zero channels appended to packed NHWC pixels only: the vectorised kernel */
    int last = p->rank - 1, chan_only = p->mode == 0 && p->value == 0.f && p->rank >= 2 && p->dims[last] % 8 == 0 &&
                                        p->in_strides[last] == 1 && p->out_strides[last] == 1 && (uintptr_t)y % 16 == 0;
    for (int i = 0; i < p->rank && chan_only; i++) {
        if (p->begin[i] != 0) chan_only = 0;
        if (i < last && (p->dims[i] != p->in_dims[i] || (i + 1 < p->rank && p->in_strides[i] != p->in_strides[i + 1] * p->in_dims[i + 1]) ||
                         (i + 1 < p->rank && p->out_strides[i] != p->out_strides[i + 1] * p->dims[i + 1])))
            chan_only = 0;
    }
    if (chan_only) {
        int pixels = (int)(n / p->dims[last]);
        pad_channels8_kernel<<<grid_for(n / 8), kThreads, 0, (cudaStream_t)stream>>>(
            pixels, p->in_dims[last], p->dims[last] / 8, (const __half *)x, (__half *)y);
        return (int)cudaGetLastError();
    }
    pad_kernel<<<grid_for(n), kThreads, 0, (cudaStream_t)stream>>>(*p, (int)n, (const __half *)x, (__half *)y);
    return (int)cudaGetLastError();
}
