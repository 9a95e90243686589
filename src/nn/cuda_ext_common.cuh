// Internal to the cuda extension kernels (cuda_ops_ext.cu, cuda_ops_reduce.cu, cuda_ops_attn.cu):
// operand offsets of a pan_cu_xiter, loads and stores by element kind, launch geometry. An
// anonymous namespace: each .cu file gets its own copy.
#ifndef PANOPTES_NN_CUDA_EXT_COMMON_CUH
#define PANOPTES_NN_CUDA_EXT_COMMON_CUH

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "nn/cuda_ext.h"

namespace {

constexpr int kExtThreads = 256;

inline unsigned ext_grid(int64_t n, int per_block = kExtThreads)
{
    int64_t b = (n + per_block - 1) / per_block;
    if (b > 132 * 64) b = 132 * 64; // grid-stride loops cover the rest
    return (unsigned)(b < 1 ? 1 : b);
}

// Offsets of operands 0..nops-1 for linear (row-major) index i of it.
__device__ __forceinline__ void xoffsets(const pan_cu_xiter &it, int64_t i, int nops, int64_t *off)
{
    for (int k = 0; k < nops; k++) off[k] = 0;
    for (int d = it.rank - 1; d >= 0; d--) {
        int64_t q = i % it.dims[d];
        i /= it.dims[d];
        for (int k = 0; k < nops; k++) off[k] += q * it.st[k][d];
    }
}

__device__ __forceinline__ float ldf(const void *p, int t, int64_t i)
{
    switch (t) {
    case PAN_CU_T_F16: return __half2float(((const __half *)p)[i]);
    case PAN_CU_T_I32: return (float)((const int32_t *)p)[i];
    case PAN_CU_T_I64: return (float)((const int64_t *)p)[i];
    case PAN_CU_T_I8: return (float)((const int8_t *)p)[i];
    default: return (float)((const uint8_t *)p)[i];
    }
}

__device__ __forceinline__ int64_t ldi(const void *p, int t, int64_t i)
{
    switch (t) {
    case PAN_CU_T_F16: {
        float v = __half2float(((const __half *)p)[i]);
        return isfinite(v) ? (int64_t)v : 0;
    }
    case PAN_CU_T_I32: return ((const int32_t *)p)[i];
    case PAN_CU_T_I64: return ((const int64_t *)p)[i];
    case PAN_CU_T_I8: return ((const int8_t *)p)[i];
    default: return ((const uint8_t *)p)[i];
    }
}

__device__ __forceinline__ void stf(void *p, int t, int64_t i, float v)
{
    switch (t) {
    case PAN_CU_T_F16: ((__half *)p)[i] = __float2half_rn(v); break;
    case PAN_CU_T_I32: ((int32_t *)p)[i] = isfinite(v) ? (int32_t)v : 0; break;
    case PAN_CU_T_I64: ((int64_t *)p)[i] = isfinite(v) ? (int64_t)v : 0; break;
    case PAN_CU_T_I8: ((int8_t *)p)[i] = isfinite(v) ? (int8_t)v : 0; break;
    case PAN_CU_T_BOOL: ((uint8_t *)p)[i] = v != 0.f; break;
    default: ((uint8_t *)p)[i] = isfinite(v) ? (uint8_t)v : 0; break;
    }
}

__device__ __forceinline__ void sti(void *p, int t, int64_t i, int64_t v)
{
    switch (t) {
    case PAN_CU_T_F16: ((__half *)p)[i] = __float2half_rn((float)v); break;
    case PAN_CU_T_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case PAN_CU_T_I64: ((int64_t *)p)[i] = v; break;
    case PAN_CU_T_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case PAN_CU_T_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: ((uint8_t *)p)[i] = (uint8_t)v; break;
    }
}

__host__ __device__ inline bool is_int_kind(int t) { return t == PAN_CU_T_I32 || t == PAN_CU_T_I64 || t == PAN_CU_T_I8; }

} // namespace

#endif
