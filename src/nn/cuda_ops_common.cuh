// Internal to the cuda engine's kernels (cuda_ops*.cu): launch geometry, the pan_cu_iter index
// walk, activation and binary-op formulas, FP16 <-> FP32 helpers. Everything is in an anonymous
// namespace: each .cu file gets its own copy, nothing is exported.
#ifndef PANOPTES_NN_CUDA_OPS_COMMON_CUH
#define PANOPTES_NN_CUDA_OPS_COMMON_CUH

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "nn/cuda_ops.h"

namespace {

constexpr int kThreads = 256;

// Grid for n work items with a grid-stride loop: enough blocks to fill an H100 (132 SMs)
// several times over, no more.
inline unsigned grid_for(int64_t n)
{
    int64_t b = (n + kThreads - 1) / kThreads;
    if (b > 132 * 32) b = 132 * 32;
    return (unsigned)(b < 1 ? 1 : b);
}

inline int64_t iter_numel(const pan_cu_iter *it)
{
    int64_t n = 1;
    for (int i = 0; i < it->rank; i++) n *= it->dims[i];
    return n;
}

__device__ __forceinline__ float act_apply(int op, float x, float a, float b)
{
    switch (op) {
    case PAN_CU_U_RELU: return fmaxf(x, 0.f);
    case PAN_CU_U_LEAKY_RELU: return x >= 0.f ? x : a * x;
    case PAN_CU_U_SIGMOID: return 1.f / (1.f + __expf(-x));
    case PAN_CU_U_TANH: return tanhf(x);
    case PAN_CU_U_HARD_SIGMOID: return fminf(fmaxf(a * x + b, 0.f), 1.f);
    case PAN_CU_U_HARD_SWISH: return x * fminf(fmaxf(x * (1.f / 6.f) + 0.5f, 0.f), 1.f);
    case PAN_CU_U_SILU: return x / (1.f + __expf(-x));
    case PAN_CU_U_CLIP: return fminf(fmaxf(x, a), b);
    case PAN_CU_U_EXP: return __expf(x);
    case PAN_CU_U_LOG: return __logf(x);
    case PAN_CU_U_SQRT: return sqrtf(x);
    case PAN_CU_U_NEG: return -x;
    case PAN_CU_U_ABS: return fabsf(x);
    default: return x;
    }
}

__device__ __forceinline__ float bin_apply(int op, float a, float b)
{
    switch (op) {
    case PAN_CU_B_ADD: return a + b;
    case PAN_CU_B_SUB: return a - b;
    case PAN_CU_B_MUL: return a * b;
    case PAN_CU_B_DIV: return a / b;
    case PAN_CU_B_POW: return powf(a, b);
    case PAN_CU_B_MAX: return fmaxf(a, b);
    default: return fminf(a, b);
    }
}

// Offsets of `nops` operands for linear index idx of the iteration space.
template <int NOPS>
__device__ __forceinline__ void iter_offsets(const pan_cu_iter &it, int idx, int off[NOPS])
{
#pragma unroll
    for (int j = 0; j < NOPS; j++) off[j] = it.offset[j];
    for (int k = it.rank - 1; k >= 0; k--) {
        int d = it.dims[k];
        int i = idx % d;
        idx /= d;
#pragma unroll
        for (int j = 0; j < NOPS; j++) off[j] += i * it.stride[j][k];
    }
}

template <typename T> __device__ __forceinline__ float to_f(T v);
template <> __device__ __forceinline__ float to_f<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <typename T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }


// 8 halves in one 16-byte word
struct h8 {
    __half2 v[4];
};

__device__ __forceinline__ void h8_load(const __half *p, float f[8])
{
    h8 w = *reinterpret_cast<const h8 *>(p);
#pragma unroll
    for (int k = 0; k < 4; k++) {
        float2 t = __half22float2(w.v[k]);
        f[2 * k] = t.x;
        f[2 * k + 1] = t.y;
    }
}

__device__ __forceinline__ void h8_store(__half *p, const float f[8])
{
    h8 w;
#pragma unroll
    for (int k = 0; k < 4; k++) w.v[k] = __floats2half2_rn(f[2 * k], f[2 * k + 1]);
    *reinterpret_cast<h8 *>(p) = w;
}

} // namespace

#endif
