/* Portable kernels of the cpu backend (see cpu_simd.h) and the run-time choice between them and
 * the AVX2 + FMA ones. Written so that the compiler vectorises them for the baseline target: fixed
 * tile sizes, no aliasing between inputs and outputs. */
#include "nn/cpu_simd.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "panoptes/log.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

float pan__cpu_act1(float v, pan_act act, float alpha, float beta)
{
    switch (act) {
    case PAN_ACT_NONE: return v;
    case PAN_ACT_RELU: return v > 0 ? v : 0;
    case PAN_ACT_LEAKY_RELU: return v >= 0 ? v : v * alpha;
    case PAN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case PAN_ACT_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, alpha * v + beta));
    case PAN_ACT_HARD_SWISH: return v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f));
    case PAN_ACT_SILU: return v / (1.0f + expf(-v));
    case PAN_ACT_CLIP: return fminf(fmaxf(v, alpha), beta);
    case PAN_ACT_TANH: return tanhf(v);
    }
    return v;
}

/* GCC/Clang vector extensions: 4 floats, lowered to SSE2 on x86-64 and to scalars where there is
 * no vector unit. */
typedef float v4f __attribute__((vector_size(16)));

static void gemm_generic(int64_t K, const float *A, const float *B, float *C, int64_t ldc, int mr, int nr,
                         int accumulate, const pan_gemm_epi *e)
{
    v4f acc[PAN_GEMM_MR][PAN_GEMM_NR / 4];
    memset(acc, 0, sizeof acc);
    for (int64_t k = 0; k < K; k++) {
        const float *b = B + k * PAN_GEMM_NR, *a = A + k * PAN_GEMM_MR;
        v4f bv[PAN_GEMM_NR / 4];
        memcpy(bv, b, sizeof bv);
        for (int r = 0; r < PAN_GEMM_MR; r++) {
            v4f av = {a[r], a[r], a[r], a[r]};
            for (int q = 0; q < PAN_GEMM_NR / 4; q++) acc[r][q] += av * bv[q];
        }
    }
    float out[PAN_GEMM_MR][PAN_GEMM_NR];
    memcpy(out, acc, sizeof out);
    for (int r = 0; r < mr; r++) {
        float *c = C + r * ldc;
        if (accumulate)
            for (int j = 0; j < nr; j++) out[r][j] += c[j];
        if (e) {
            float bias = e->bias ? e->bias[r] : 0.0f;
            const float *res = e->res ? e->res + r * e->ldr : NULL;
            for (int j = 0; j < nr; j++) {
                float v = out[r][j] + bias;
                if (res && !e->res_after_act) v += res[j];
                v = pan__cpu_act1(v, e->act, e->alpha, e->beta);
                if (res && e->res_after_act) v += res[j];
                out[r][j] = v;
            }
        }
        memcpy(c, out[r], sizeof(float) * (size_t)nr);
    }
}

static void epilogue_row_generic(float *x, int64_t n, float bias, const float *res, const pan_gemm_epi *e)
{
    if (!res && e->act == PAN_ACT_RELU) {
        for (int64_t i = 0; i < n; i++) {
            float v = x[i] + bias;
            x[i] = v > 0 ? v : 0;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] + bias;
        if (res && !e->res_after_act) v += res[i];
        v = pan__cpu_act1(v, e->act, e->alpha, e->beta);
        if (res && e->res_after_act) v += res[i];
        x[i] = v;
    }
}

static void pack_generic(float *dst, const float *base, int64_t plane, const int64_t *off, int khw, int64_t nc, int n,
                         int64_t stride, int64_t prefetch)
{
    for (int64_t c = 0; c < nc; c++)
        for (int r = 0; r < khw; r++) {
            const float *sp = base + c * plane + off[r];
            float *dp = dst + (c * khw + r) * PAN_GEMM_NR;
#if defined(__GNUC__)
            if (prefetch) __builtin_prefetch(sp + prefetch);
#endif
            if (stride == 1) memcpy(dp, sp, sizeof(float) * (size_t)n);
            else
                for (int i = 0; i < n; i++) dp[i] = sp[i * stride];
        }
}

static void dw3x3s1_generic(const float *xp, int64_t wp, const float *w, float *y, int64_t oh, int64_t ow, float bias,
                            const float *res, const pan_gemm_epi *e)
{
    const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *r0 = xp + oy * wp, *r1 = r0 + wp, *r2 = r1 + wp;
        float *o = y + oy * ow;
        for (int64_t ox = 0; ox < ow; ox++)
            o[ox] = w0 * r0[ox] + w1 * r0[ox + 1] + w2 * r0[ox + 2] + w3 * r1[ox] + w4 * r1[ox + 1] + w5 * r1[ox + 2] +
                    w6 * r2[ox] + w7 * r2[ox + 1] + w8 * r2[ox + 2];
        epilogue_row_generic(o, ow, bias, res ? res + oy * ow : NULL, e);
    }
}

static const pan_cpu_simd generic = {"generic", PAN_GEMM_MR, PAN_GEMM_NR, gemm_generic, epilogue_row_generic, pack_generic, dw3x3s1_generic, NULL};

const pan_cpu_simd *pan__cpu_simd_generic(void) { return &generic; }

static const pan_cpu_simd *chosen, *forced;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The widest kernels the CPU runs, capped by PANOPTES_CPU_SIMD (generic, avx2). */
static void choose(void)
{
    const char *env = getenv("PANOPTES_CPU_SIMD");
    chosen = &generic;
    if (env && !strcmp(env, "generic")) return;
    if (pan__cpu_simd_avx2()) chosen = pan__cpu_simd_avx2();
    if (env && !strcmp(env, "avx2")) return;
    if (pan__cpu_simd_avx512()) chosen = pan__cpu_simd_avx512();
}

const pan_cpu_simd *pan__cpu_simd(void)
{
    if (forced) return forced;
    pthread_once(&once, choose);
    return chosen;
}

void pan__cpu_simd_set(const pan_cpu_simd *s) { forced = s; }
