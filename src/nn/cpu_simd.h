/* Vector kernels of the cpu backend, chosen once at run time from the CPU's flags: AVX-512F where
 * the processor has it (cpu_simd_avx512.c), else AVX2 + FMA (cpu_simd_avx2.c), else portable C
 * (cpu_simd.c) that the compiler vectorises for the baseline (SSE2 on x86-64).
 * PANOPTES_CPU_SIMD=avx2 or =generic caps the choice (tests compare all three). */
#ifndef PANOPTES_NN_CPU_SIMD_H
#define PANOPTES_NN_CPU_SIMD_H

#include <stdint.h>

#include "nn/ir.h"

/* The GEMM micro-kernel computes a tile of mr output rows by nr columns (the table's geometry:
 * 6 x 16 for the generic and AVX2 kernels, PAN_GEMM_MR x PAN_GEMM_NR; 8 x 32 for AVX-512):
 * C[r][j] (+)= sum_k A[k][r] * B[k][j], both packed: A as [K][mr] (rows past the matrix are zero),
 * B as [K][nr] (columns past the tile are zero), so the inner loop reads two contiguous streams. */
#define PAN_GEMM_MR 6
#define PAN_GEMM_NR 16
/* The largest tile of any table (callers size stack buffers with these). */
#define PAN_GEMM_MR_MAX 16
#define PAN_GEMM_NR_MAX 32

/* What happens to a finished tile, in registers: y = act(acc + bias[r] (+ res)) (+ res when
 * res_after_act). res has the layout of C (row stride ldr). */
typedef struct pan_gemm_epi {
    const float *bias; /* per row of the tile (already offset to the tile's first row), or NULL */
    const float *res;  /* residual tile, or NULL */
    int64_t ldr;
    pan_act act;
    float alpha, beta;
    int res_after_act;
} pan_gemm_epi;

/* mr, nr: the valid rows/columns of the tile (<= the table's mr, nr); only those of C are read or written.
 * accumulate: add to C instead of overwriting; epi: apply the epilogue (NULL: store the raw sums,
 * as the partial K blocks do). */
typedef void (*pan_gemm_kernel_fn)(int64_t K, const float *A, const float *B, float *C, int64_t ldc, int mr, int nr,
                                   int accumulate, const pan_gemm_epi *epi);

typedef struct pan_cpu_simd {
    const char *name; /* "avx512", "avx2" or "generic" */
    int mr, nr;       /* the GEMM tile: output rows (channels) x columns (pixels) */
    pan_gemm_kernel_fn gemm;
    /* x[i] = act(x[i] + bias) (+ res[i]) for n floats: the epilogue of the direct kernels. */
    void (*epilogue_row)(float *x, int64_t n, float bias, const float *res, const pan_gemm_epi *e);
    /* Packs B for a tile: dst[(c * khw + r) * nr + i] = base[c * plane + off[r] + i * stride] for
     * c < nc, r < khw, i < n (n <= nr, the table's): the input rows a run of n output pixels reads for each
     * channel and kernel tap. May read one float past the last element it copies of a row.
     * prefetch: also ask for each source row `prefetch` floats further on (the next work item's
     * run; NCHW input is one stream per channel, too many for the hardware prefetchers), 0: no. */
    void (*pack)(float *dst, const float *base, int64_t plane, const int64_t *off, int khw, int64_t nc, int n,
                 int64_t stride, int64_t prefetch);
    /* Depthwise 3x3 stride 1 on one zero-padded plane: y[oy][ox] = sum w[ky][kx] xp[oy+ky][ox+kx],
     * then the epilogue (bias, res: a plane like y, e); xp rows of stride wp, y rows of stride ow. */
    void (*dw3x3s1)(const float *xp, int64_t wp, const float *w, float *y, int64_t oh, int64_t ow, float bias,
                    const float *res, const pan_gemm_epi *e);
    /* The same conv with one pixel of zero padding on every side ("same": y is h x w), read in
     * place from the unpadded planes: planes [i0, i1) of x, y and res (h x w each, res may be
     * NULL), plane i of channel i % C, whose weights are wt[9 * c ..] and bias bias[c] (bias may
     * be NULL). NULL where the table has none (the caller pads). */
    void (*dw3x3s1_same)(const float *x, int64_t h, int64_t w, int64_t i0, int64_t i1, int64_t C, const float *wt,
                         const float *bias, float *y, const float *res, const pan_gemm_epi *e);
} pan_cpu_simd;

/* The kernels for this CPU (decided on the first call; thread-safe). */
const pan_cpu_simd *pan__cpu_simd(void);
/* Tests: use these kernels from now on (NULL: the automatic choice again). Not thread-safe. */
void pan__cpu_simd_set(const pan_cpu_simd *s);

/* The implementations (cpu_simd.c, cpu_simd_avx2.c, cpu_simd_avx512.c); the AVX ones are NULL
 * where the compiler cannot build them or the CPU (and OS) cannot run them. */
const pan_cpu_simd *pan__cpu_simd_generic(void);
const pan_cpu_simd *pan__cpu_simd_avx2(void);
const pan_cpu_simd *pan__cpu_simd_avx512(void);

/* Scalar activation shared by the kernels (x: one value). */
float pan__cpu_act1(float x, pan_act act, float alpha, float beta);

#endif
