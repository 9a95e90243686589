// Elementwise and indexing kernels of the cuda extension steps (cuda_ext.h): Gather,
// GatherElements, Tile, Where, comparisons and logic, integer arithmetic and Mod, Not, Erf, Gelu,
// Floor, Ceil, Cast between any element kinds. One thread per output element, grid-stride loops.
#include "nn/cuda_ext_common.cuh"

namespace {

__device__ __forceinline__ void copy_elem(void *y, int64_t yi, const void *x, int64_t xi, int elem)
{
    switch (elem) {
    case 8: ((int64_t *)y)[yi] = ((const int64_t *)x)[xi]; break;
    case 4: ((int32_t *)y)[yi] = ((const int32_t *)x)[xi]; break;
    case 2: ((uint16_t *)y)[yi] = ((const uint16_t *)x)[xi]; break;
    default: ((uint8_t *)y)[yi] = ((const uint8_t *)x)[xi]; break;
    }
}

__global__ void gather_kernel(pan_cu_gather g, void *y, const void *x, const void *idx)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < g.it.n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[3];
        if (g.mode == 1) { // Tile: the source index of each dim wraps
            int64_t r = i;
            off[0] = off[1] = 0;
            for (int d = g.it.rank - 1; d >= 0; d--) {
                int64_t q = r % g.it.dims[d];
                r /= g.it.dims[d];
                off[0] += q * g.it.st[0][d];
                off[1] += (q % g.mod[d]) * g.it.st[1][d];
            }
        } else {
            xoffsets(g.it, i, 3, off);
            int64_t v = ldi(idx, g.idx_dtype, off[2]);
            if (v < 0) v += g.axis_len;
            v = v < 0 ? 0 : v >= g.axis_len ? g.axis_len - 1 : v;
            off[1] += v * g.axis_stride;
        }
        copy_elem(y, off[0], x, off[1], g.elem);
    }
}

__global__ void where_kernel(pan_cu_where w, void *y, const uint8_t *cond, const void *a, const void *b)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < w.it.n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[4];
        xoffsets(w.it, i, 4, off);
        if (cond[off[1]]) copy_elem(y, off[0], a, off[2], w.elem);
        else copy_elem(y, off[0], b, off[3], w.elem);
    }
}

__device__ __forceinline__ int64_t imod(int64_t a, int64_t b, bool sign_of_divisor)
{
    if (!b) return 0;
    int64_t r = a % b;
    if (sign_of_divisor && r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

__global__ void binop_kernel(pan_cu_xbin o, void *y, const void *a, const void *b)
{
    const bool ints = is_int_kind(o.in_dtype);
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < o.it.n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[3];
        xoffsets(o.it, i, 3, off);
        if (ints) {
            int64_t x = ldi(a, o.in_dtype, off[1]), z = ldi(b, o.in_dtype, off[2]), r = 0;
            switch (o.op) {
            case PAN_CU_X_EQ: r = x == z; break;
            case PAN_CU_X_LT: r = x < z; break;
            case PAN_CU_X_GT: r = x > z; break;
            case PAN_CU_X_LE: r = x <= z; break;
            case PAN_CU_X_GE: r = x >= z; break;
            case PAN_CU_X_ADD: r = x + z; break;
            case PAN_CU_X_SUB: r = x - z; break;
            case PAN_CU_X_MUL: r = x * z; break;
            case PAN_CU_X_DIV: r = z ? x / z : 0; break; // truncates, as the cpu kernel
            case PAN_CU_X_MOD: r = imod(x, z, true); break;
            case PAN_CU_X_FMOD: r = imod(x, z, false); break;
            default: r = 0;
            }
            sti(y, o.out_dtype, off[0], r);
        } else {
            float x = ldf(a, o.in_dtype, off[1]), z = ldf(b, o.in_dtype, off[2]), r = 0.f;
            switch (o.op) {
            case PAN_CU_X_EQ: r = x == z; break;
            case PAN_CU_X_LT: r = x < z; break;
            case PAN_CU_X_GT: r = x > z; break;
            case PAN_CU_X_LE: r = x <= z; break;
            case PAN_CU_X_GE: r = x >= z; break;
            case PAN_CU_X_AND: r = x != 0.f && z != 0.f; break;
            case PAN_CU_X_OR: r = x != 0.f || z != 0.f; break;
            case PAN_CU_X_XOR: r = (x != 0.f) != (z != 0.f); break;
            case PAN_CU_X_FMOD: r = fmodf(x, z); break;
            case PAN_CU_X_MOD: {
                r = fmodf(x, z);
                if (r != 0.f && ((r < 0.f) != (z < 0.f))) r += z;
                break;
            }
            default: r = 0.f;
            }
            stf(y, o.out_dtype, off[0], r);
        }
    }
}

__global__ void unop_kernel(pan_cu_xun u, void *y, const void *x)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < u.it.n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[2];
        xoffsets(u.it, i, 2, off);
        if (u.op == PAN_CU_XU_NOT) {
            ((uint8_t *)y)[off[0]] = !((const uint8_t *)x)[off[1]];
            continue;
        }
        if (u.op == PAN_CU_XU_CAST) {
            if (is_int_kind(u.in_dtype) || u.in_dtype == PAN_CU_T_BOOL || u.in_dtype == PAN_CU_T_U8)
                sti(y, u.out_dtype, off[0], ldi(x, u.in_dtype, off[1]));
            else
                stf(y, u.out_dtype, off[0], ldf(x, u.in_dtype, off[1]));
            continue;
        }
        float v = ldf(x, PAN_CU_T_F16, off[1]), r;
        switch (u.op) {
        case PAN_CU_XU_ERF: r = erff(v); break;
        case PAN_CU_XU_GELU:
            r = u.alpha != 0.f ? 0.5f * v * (1.f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)))
                               : 0.5f * v * (1.f + erff(v * 0.70710678118f));
            break;
        case PAN_CU_XU_FLOOR: r = floorf(v); break;
        default: r = ceilf(v); break;
        }
        stf(y, PAN_CU_T_F16, off[0], r);
    }
}

} // namespace

extern "C" int pan__cu_ext_gather(const pan_cu_ext *e, void *const *p, void *stream)
{
    const pan_cu_gather *g = (const pan_cu_gather *)e;
    if (g->it.n <= 0) return 0;
    gather_kernel<<<ext_grid(g->it.n), kExtThreads, 0, (cudaStream_t)stream>>>(*g, p[0], p[1], p[2]);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_ext_where(const pan_cu_ext *e, void *const *p, void *stream)
{
    const pan_cu_where *w = (const pan_cu_where *)e;
    if (w->it.n <= 0) return 0;
    where_kernel<<<ext_grid(w->it.n), kExtThreads, 0, (cudaStream_t)stream>>>(*w, p[0], (const uint8_t *)p[1], p[2], p[3]);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_ext_binop(const pan_cu_ext *e, void *const *p, void *stream)
{
    const pan_cu_xbin *o = (const pan_cu_xbin *)e;
    if (o->it.n <= 0) return 0;
    binop_kernel<<<ext_grid(o->it.n), kExtThreads, 0, (cudaStream_t)stream>>>(*o, p[0], p[1], p[2]);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_ext_unop(const pan_cu_ext *e, void *const *p, void *stream)
{
    const pan_cu_xun *u = (const pan_cu_xun *)e;
    if (u->it.n <= 0) return 0;
    unop_kernel<<<ext_grid(u->it.n), kExtThreads, 0, (cudaStream_t)stream>>>(*u, p[0], p[1]);
    return (int)cudaGetLastError();
}
