// Attention-side kernels of the cuda extension steps (cuda_ext.h): MatMul / Gemm of two run-time
// operands (64×64 tiles in shared memory, 4×4 outputs per thread, FP32 accumulation; every operand
// addressed by strides, so transposes, broadcast batches and NHWC need no copies), GridSample
// (bilinear / nearest, as the cpu kernel and ONNX Runtime) and Einsum (one thread per output).
#include "nn/cuda_ext_common.cuh"

namespace {

constexpr int TM = 64, TN = 64, TK = 16, kMmThreads = 256;

__global__ void __launch_bounds__(kMmThreads) matmul_kernel(pan_cu_matmul m, __half *y, const __half *a, const __half *b,
                                                            const __half *c)
{
    __shared__ float As[TK][TM + 1];
    __shared__ float Bs[TK][TN + 1];
    int64_t off[4];
    xoffsets(m.batch, blockIdx.z, 4, off);
    const int row0 = blockIdx.y * TM, col0 = blockIdx.x * TN;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    float acc[4][4] = {};
    for (int k0 = 0; k0 < m.K; k0 += TK) {
        for (int e = threadIdx.x; e < TM * TK; e += kMmThreads) {
            int r = e / TK, k = e % TK, gr = row0 + r, gk = k0 + k;
            As[k][r] = gr < m.M && gk < m.K ? __half2float(a[off[1] + (int64_t)gr * m.a_rs + (int64_t)gk * m.a_cs]) : 0.f;
        }
        for (int e = threadIdx.x; e < TK * TN; e += kMmThreads) {
            int k = e / TN, cc = e % TN, gk = k0 + k, gc = col0 + cc;
            Bs[k][cc] = gk < m.K && gc < m.N ? __half2float(b[off[2] + (int64_t)gk * m.b_rs + (int64_t)gc * m.b_cs]) : 0.f;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < TK; k++) {
            float av[4], bv[4];
#pragma unroll
            for (int i = 0; i < 4; i++) av[i] = As[k][ty + 16 * i], bv[i] = Bs[k][tx + 16 * i];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int r = row0 + ty + 16 * i, cc = col0 + tx + 16 * j;
            if (r >= m.M || cc >= m.N) continue;
            float v = m.alpha * acc[i][j];
            if (m.has_c) v += m.beta * __half2float(c[off[3] + (int64_t)r * m.c_rs + (int64_t)cc * m.c_cs]);
            y[off[0] + (int64_t)r * m.y_rs + (int64_t)cc * m.y_cs] = __float2half_rn(v);
        }
}

// ---- GridSample ----------------------------------------------------------------------------------
__device__ __forceinline__ float gs_denorm(float v, int size, int align)
{
    return align ? (v + 1.f) * 0.5f * (float)(size - 1) : ((v + 1.f) * (float)size - 1.f) * 0.5f;
}

__device__ __forceinline__ float gs_reflect(float x, float lo, float hi)
{
    float range = hi - lo;
    if (range <= 0.f) return lo;
    if (x < lo) {
        float dx = lo - x;
        int n = (int)(dx / range);
        float r = dx - (float)n * range;
        return n % 2 == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        float dx = x - hi;
        int n = (int)(dx / range);
        float r = dx - (float)n * range;
        return n % 2 == 0 ? hi - r : lo + r;
    }
    return x;
}

__device__ __forceinline__ float gs_pixel(const pan_cu_gridsample &g, const __half *plane, int xi, int yi)
{
    if (g.padding == 0) {
        if (xi < 0 || yi < 0 || xi >= g.W || yi >= g.H) return 0.f;
    } else {
        if (g.padding == 2) {
            xi = (int)gs_reflect((float)xi, g.align ? 0.f : -0.5f, g.align ? (float)(g.W - 1) : (float)g.W - 0.5f);
            yi = (int)gs_reflect((float)yi, g.align ? 0.f : -0.5f, g.align ? (float)(g.H - 1) : (float)g.H - 0.5f);
        }
        xi = min(max(xi, 0), g.W - 1);
        yi = min(max(yi, 0), g.H - 1);
    }
    return __half2float(plane[(int64_t)yi * g.xs[2] + (int64_t)xi * g.xs[3]]);
}

__global__ void gridsample_kernel(pan_cu_gridsample g, __half *y, const __half *x, const __half *grid)
{
    const int64_t total = (int64_t)g.N * g.C * g.Ho * g.Wo;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i;
        const int wo = (int)(r % g.Wo); r /= g.Wo;
        const int ho = (int)(r % g.Ho); r /= g.Ho;
        const int c = (int)(r % g.C);
        const int n = (int)(r / g.C);
        const int64_t gb = (int64_t)n * g.gs[0] + (int64_t)ho * g.gs[1] + (int64_t)wo * g.gs[2];
        float gx = gs_denorm(__half2float(grid[gb]), g.W, g.align), gy = gs_denorm(__half2float(grid[gb + g.gs[3]]), g.H, g.align);
        if (g.padding == 1) {
            gx = fminf(fmaxf(gx, 0.f), (float)(g.W - 1));
            gy = fminf(fmaxf(gy, 0.f), (float)(g.H - 1));
        } else if (g.padding == 2) {
            gx = gs_reflect(gx, g.align ? 0.f : -0.5f, g.align ? (float)(g.W - 1) : (float)g.W - 0.5f);
            gy = gs_reflect(gy, g.align ? 0.f : -0.5f, g.align ? (float)(g.H - 1) : (float)g.H - 0.5f);
        }
        const __half *plane = x + (int64_t)n * g.xs[0] + (int64_t)c * g.xs[1];
        float v;
        if (g.mode == 1) {
            v = gs_pixel(g, plane, (int)nearbyintf(gx), (int)nearbyintf(gy));
        } else {
            float fx = floorf(gx), fy = floorf(gy), wx = gx - fx, wy = gy - fy;
            int x0 = (int)fx, y0 = (int)fy;
            v = (1.f - wy) * ((1.f - wx) * gs_pixel(g, plane, x0, y0) + wx * gs_pixel(g, plane, x0 + 1, y0)) +
                wy * ((1.f - wx) * gs_pixel(g, plane, x0, y0 + 1) + wx * gs_pixel(g, plane, x0 + 1, y0 + 1));
        }
        y[(int64_t)n * g.ys[0] + (int64_t)c * g.ys[1] + (int64_t)ho * g.ys[2] + (int64_t)wo * g.ys[3]] = __float2half_rn(v);
    }
}

__global__ void einsum_kernel(pan_cu_einsum e, __half *y, const __half *a, const __half *b)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < e.out.n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[3], so[3];
        xoffsets(e.out, i, 3, off);
        float acc = 0.f;
        for (int64_t s = 0; s < e.sum.n; s++) {
            xoffsets(e.sum, s, 3, so);
            float v = __half2float(a[off[1] + so[1]]);
            if (e.n_ops > 1) v *= __half2float(b[off[2] + so[2]]);
            acc += v;
        }
        y[off[0]] = __float2half_rn(acc);
    }
}

} // namespace

extern "C" int pan__cu_ext_matmul(const pan_cu_ext *e, void *const *p, void *stream)
{
    const pan_cu_matmul *m = (const pan_cu_matmul *)e;
    if (m->batch.n <= 0 || m->M <= 0 || m->N <= 0) return 0;
    if (m->batch.n > 65535) return (int)cudaErrorInvalidValue;
    dim3 grid((unsigned)((m->N + TN - 1) / TN), (unsigned)((m->M + TM - 1) / TM), (unsigned)m->batch.n);
    matmul_kernel<<<grid, kMmThreads, 0, (cudaStream_t)stream>>>(*m, (__half *)p[0], (const __half *)p[1],
                                                                 (const __half *)p[2], (const __half *)p[3]);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_ext_gridsample(const pan_cu_ext *e, void *const *p, void *stream)
{
    const pan_cu_gridsample *g = (const pan_cu_gridsample *)e;
    int64_t total = (int64_t)g->N * g->C * g->Ho * g->Wo;
    if (total <= 0) return 0;
    gridsample_kernel<<<ext_grid(total), kExtThreads, 0, (cudaStream_t)stream>>>(*g, (__half *)p[0], (const __half *)p[1],
                                                                                 (const __half *)p[2]);
    return (int)cudaGetLastError();
}

extern "C" int pan__cu_ext_einsum(const pan_cu_ext *e, void *const *p, void *stream)
{
    const pan_cu_einsum *s = (const pan_cu_einsum *)e;
    if (s->out.n <= 0) return 0;
    einsum_kernel<<<ext_grid(s->out.n), kExtThreads, 0, (cudaStream_t)stream>>>(*s, (__half *)p[0], (const __half *)p[1],
                                                                                (const __half *)p[2]);
    return (int)cudaGetLastError();
}
