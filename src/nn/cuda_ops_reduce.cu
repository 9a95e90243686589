// Reducing kernels of the cuda extension steps (cuda_ext.h): ReduceSum/Mean/Max/Min (one warp
// per output element), ArgMax/ArgMin (one thread per output), LayerNormalization (one warp per
// row, FP32 statistics) and TopK (one block per row: radix select of the k-th key, the ties with
// the lowest indices, bitonic sort of the k kept).
#include <float.h>

#include "nn/cuda_ext_common.cuh"

namespace {

constexpr int kWarp = 32;

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__global__ void reduce_kernel(pan_cu_reduce r, void *y, const void *x)
{
    const int lane = threadIdx.x & (kWarp - 1);
    const int64_t nw = ((int64_t)gridDim.x * blockDim.x) / kWarp;
    for (int64_t o = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / kWarp; o < r.out.n; o += nw) {
        int64_t off[2];
        xoffsets(r.out, o, 2, off);
        if (r.dtype == PAN_CU_T_I64) {
            int64_t acc = r.op == 2 ? INT64_MIN : r.op == 3 ? INT64_MAX : 0;
            for (int64_t j = lane; j < r.red.n; j += kWarp) {
                int64_t ro[2];
                xoffsets(r.red, j, 2, ro);
                int64_t v = ((const int64_t *)x)[off[1] + ro[1]];
                acc = r.op == 2 ? max(acc, v) : r.op == 3 ? min(acc, v) : acc + v;
            }
            for (int s = 16; s > 0; s >>= 1) {
                int64_t v = __shfl_xor_sync(0xffffffffu, acc, s);
                acc = r.op == 2 ? max(acc, v) : r.op == 3 ? min(acc, v) : acc + v;
            }
            if (lane == 0) ((int64_t *)y)[off[0]] = r.op == 1 && r.red.n ? acc / r.red.n : acc;
            continue;
        }
        float acc = r.op == 2 ? -INFINITY : r.op == 3 ? INFINITY : 0.f;
        for (int64_t j = lane; j < r.red.n; j += kWarp) {
            int64_t ro[2];
            xoffsets(r.red, j, 2, ro);
            float v = __half2float(((const __half *)x)[off[1] + ro[1]]);
            acc = r.op == 2 ? fmaxf(acc, v) : r.op == 3 ? fminf(acc, v) : acc + v;
        }
        for (int s = 16; s > 0; s >>= 1) {
            float v = __shfl_xor_sync(0xffffffffu, acc, s);
            acc = r.op == 2 ? fmaxf(acc, v) : r.op == 3 ? fminf(acc, v) : acc + v;
        }
        if (lane == 0) ((__half *)y)[off[0]] = __float2half_rn(r.op == 1 && r.red.n ? acc / (float)r.red.n : acc);
    }
}

__global__ void argmax_kernel(pan_cu_argmax a, int64_t *y, const void *x)
{
    for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < a.out.n; o += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[2];
        xoffsets(a.out, o, 2, off);
        int best = 0;
        float bv = ldf(x, a.dtype, off[1]);
        for (int i = 1; i < a.len; i++) {
            float v = ldf(x, a.dtype, off[1] + (int64_t)i * a.x_stride);
            if ((a.is_min ? v < bv : v > bv) || (a.last && v == bv)) bv = v, best = i;
        }
        y[off[0]] = best;
    }
}

__global__ void layernorm_kernel(pan_cu_layernorm l, __half *y, const __half *x, const __half *scale, const __half *bias)
{
    const int lane = threadIdx.x & (kWarp - 1);
    const int64_t nw = ((int64_t)gridDim.x * blockDim.x) / kWarp, len = l.inner.n;
    for (int64_t r = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / kWarp; r < l.rows.n; r += nw) {
        int64_t off[2], io[2];
        xoffsets(l.rows, r, 2, off);
        float s = 0.f;
        for (int64_t j = lane; j < len; j += kWarp) {
            xoffsets(l.inner, j, 2, io);
            s += __half2float(x[off[1] + io[1]]);
        }
        const float mean = warp_sum(s) / (float)len;
        float v = 0.f;
        for (int64_t j = lane; j < len; j += kWarp) {
            xoffsets(l.inner, j, 2, io);
            float d = __half2float(x[off[1] + io[1]]) - mean;
            v += d * d;
        }
        const float inv = rsqrtf(warp_sum(v) / (float)len + l.eps);
        for (int64_t j = lane; j < len; j += kWarp) {
            xoffsets(l.inner, j, 2, io);
            float g = __half2float(scale[l.scale_scalar ? 0 : j]), b = bias ? __half2float(bias[l.bias_scalar ? 0 : j]) : 0.f;
            y[off[0] + io[0]] = __float2half_rn((__half2float(x[off[1] + io[1]]) - mean) * inv * g + b);
        }
    }
}

// ---- TopK --------------------------------------------------------------------------------------
constexpr int kTopkThreads = 512;

// A key that orders like the value (largest first when `largest`, else smallest first); NaN last.
__device__ __forceinline__ uint32_t topk_key(float f, int largest)
{
    if (f != f) return 0u;
    uint32_t u = __float_as_uint(f);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); // ascending with the value
    if (!largest) u = ~u;
    return u == 0u ? 1u : u;                         // 0 is reserved for NaN
}

__global__ void __launch_bounds__(kTopkThreads) topk_kernel(pan_cu_topk t, void *yv, const void *x, int64_t *yi)
{
    __shared__ uint32_t hist[256];
    __shared__ uint32_t keys[PAN_CU_TOPK_MAX];
    __shared__ int idxs[PAN_CU_TOPK_MAX];
    __shared__ uint32_t scan[kTopkThreads];
    __shared__ uint32_t s_prefix, s_need, s_count;
    const int tid = threadIdx.x;
    int64_t off[3];
    xoffsets(t.rows, blockIdx.x, 3, off);
#define KEY(i) topk_key(ldf(x, t.dtype, off[1] + (int64_t)(i) * t.x_stride), t.largest)
    // 1. radix select: the k-th key from the top, 8 bits at a time
    uint32_t prefix = 0, mask = 0, need = (uint32_t)t.k;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int b = tid; b < 256; b += blockDim.x) hist[b] = 0;
        __syncthreads();
        for (int i = tid; i < t.len; i += blockDim.x) {
            uint32_t k = KEY(i);
            if ((k & mask) == prefix) atomicAdd(&hist[(k >> shift) & 255u], 1u);
        }
        __syncthreads();
        if (tid == 0) {
            uint32_t acc = 0;
            int b = 255;
            for (; b > 0; b--) {
                if (acc + hist[b] >= need) break;
                acc += hist[b];
            }
            s_prefix = prefix | ((uint32_t)b << shift);
            s_need = need - acc; // how many of this bin's keys still belong to the top k
        }
        __syncthreads();
        prefix = s_prefix;
        need = s_need;
        mask |= 255u << shift;
    }
    // prefix is the k-th key; `need` keys equal to it are taken, the lowest indices first
    if (tid == 0) s_count = 0;
    __syncthreads();
    const int above = t.k - (int)need;
    for (int i = tid; i < t.len; i += blockDim.x) {
        uint32_t k = KEY(i);
        if (k > prefix) {
            int pos = (int)atomicAdd(&s_count, 1u);
            keys[pos] = k, idxs[pos] = i;
        }
    }
    __syncthreads();
    uint32_t taken = 0; // equal keys taken so far (uniform across the block)
    for (int base = 0; base < t.len && taken < need; base += blockDim.x) {
        int i = base + tid;
        uint32_t eq = i < t.len && KEY(i) == prefix;
        scan[tid] = eq;
        __syncthreads();
        for (int o = 1; o < (int)blockDim.x; o <<= 1) { // inclusive scan
            uint32_t v = tid >= o ? scan[tid - o] : 0u;
            __syncthreads();
            scan[tid] += v;
            __syncthreads();
        }
        uint32_t rank = taken + scan[tid] - eq;
        if (eq && rank < need) keys[above + rank] = prefix, idxs[above + rank] = i;
        uint32_t total = scan[blockDim.x - 1];
        __syncthreads();
        taken += total;
    }
    __syncthreads();
    // 2. bitonic sort of the k entries: key descending, index ascending
    int m = 1;
    while (m < t.k) m <<= 1;
    for (int i = t.k + tid; i < m; i += blockDim.x) keys[i] = 0u, idxs[i] = INT32_MAX;
    __syncthreads();
    for (int size = 2; size <= m; size <<= 1)
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int i = tid; i < m; i += blockDim.x) {
                int j = i ^ stride;
                if (j <= i) continue;
                uint32_t ki = keys[i], kj = keys[j];
                int ii = idxs[i], ij = idxs[j];
                bool i_first = ki > kj || (ki == kj && ii < ij);
                bool up = (i & size) == 0;
                if (up ? !i_first : i_first) {
                    keys[i] = kj, keys[j] = ki;
                    idxs[i] = ij, idxs[j] = ii;
                }
            }
            __syncthreads();
        }
    for (int r = tid; r < t.k; r += blockDim.x) {
        int i = idxs[r];
        int64_t src = off[1] + (int64_t)i * t.x_stride;
        if (t.dtype == PAN_CU_T_F16) ((__half *)yv)[off[0] + (int64_t)r * t.y_stride] = ((const __half *)x)[src];
        else sti(yv, t.dtype, off[0] + (int64_t)r * t.y_stride, ldi(x, t.dtype, src));
        if (yi) yi[off[2] + (int64_t)r * t.i_stride] = i;
    }
#undef KEY
}

} // namespace

extern "C" int pan__cu_ext_reduce(const pan_cu_ext *e, void *const *p, void *stream)
{
    const pan_cu_reduce *r = (const pan_cu_reduce *)e;
    if (r->out.n <= 0) return 0;
    reduce_kernel<<<ext_grid(r->out.n * kWarp), kExtThreads, 0, (cudaStream_t)stream>>>(*r, p[0], p[1]);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_ext_argmax(const pan_cu_ext *e, void *const *p, void *stream)
{
    const pan_cu_argmax *a = (const pan_cu_argmax *)e;
    if (a->out.n <= 0) return 0;
    argmax_kernel<<<ext_grid(a->out.n), kExtThreads, 0, (cudaStream_t)stream>>>(*a, (int64_t *)p[0], p[1]);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_ext_layernorm(const pan_cu_ext *e, void *const *p, void *stream)
{
    const pan_cu_layernorm *l = (const pan_cu_layernorm *)e;
    if (l->rows.n <= 0) return 0;
    layernorm_kernel<<<ext_grid(l->rows.n * kWarp), kExtThreads, 0, (cudaStream_t)stream>>>(
        *l, (__half *)p[0], (const __half *)p[1], (const __half *)p[2], (const __half *)p[3]);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_ext_topk(const pan_cu_ext *e, void *const *p, void *stream)
{
    const pan_cu_topk *t = (const pan_cu_topk *)e;
    if (t->rows.n <= 0 || t->k <= 0) return 0;
    if (t->k > PAN_CU_TOPK_MAX || t->rows.n > INT32_MAX) return (int)cudaErrorInvalidValue;
    topk_kernel<<<(unsigned)t->rows.n, kTopkThreads, 0, (cudaStream_t)stream>>>(*t, p[0], p[1], (int64_t *)p[3]);
    return (int)cudaGetLastError();
}
