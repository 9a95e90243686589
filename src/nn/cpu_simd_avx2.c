/* AVX2 + FMA kernels of the cpu backend (see cpu_simd.h). Compiled for that target function by
 * function; pan__cpu_simd() hands them out only on processors that report both flags.
 *
 * The GEMM micro-kernel keeps a 6 x 16 tile of C in 12 ymm registers: per k it loads 16 floats of
 * B (two vectors) and broadcasts 6 of A, 12 FMAs; the epilogue (bias, residual, activation) runs
 * on the registers before the only store. exp for sigmoid/SiLU is the Cephes polynomial (about
 * 2 ulp over the float range), as in the usual SIMD math libraries. */
#include "nn/cpu_simd.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)

static const pan_cpu_simd *avx2_table(void);
const pan_cpu_simd *pan__cpu_simd_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? avx2_table() : NULL;
}

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include <immintrin.h>

static inline __m256 exp256(__m256 x)
{
    const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-88.3762626647949f);
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f), half = _mm256_set1_ps(0.5f);
    const __m256 c1 = _mm256_set1_ps(0.693359375f), c2 = _mm256_set1_ps(-2.12194440e-4f);
    x = _mm256_max_ps(_mm256_min_ps(x, hi), lo);
    __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, log2e, half));
    x = _mm256_fnmadd_ps(fx, c1, x);
    x = _mm256_fnmadd_ps(fx, c2, x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, half);
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* 1 / (1 + exp(-x)); exact division, so that saturated inputs give exactly 0 or 1. */
static inline __m256 sigmoid256(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

static inline __m256 act256(__m256 v, const pan_gemm_epi *e)
{
    switch (e->act) {
    case PAN_ACT_NONE: return v;
    case PAN_ACT_RELU: return _mm256_max_ps(v, _mm256_setzero_ps());
    case PAN_ACT_LEAKY_RELU: {
        __m256 neg = _mm256_mul_ps(v, _mm256_set1_ps(e->alpha));
        return _mm256_blendv_ps(v, neg, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
    }
    case PAN_ACT_SIGMOID: return sigmoid256(v);
    case PAN_ACT_SILU: return _mm256_mul_ps(v, sigmoid256(v));
    case PAN_ACT_CLIP: return _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(e->alpha)), _mm256_set1_ps(e->beta));
    case PAN_ACT_HARD_SIGMOID:
        return _mm256_max_ps(_mm256_setzero_ps(),
                             _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(v, _mm256_set1_ps(e->alpha),
                                                                                 _mm256_set1_ps(e->beta))));
    case PAN_ACT_HARD_SWISH: {
        __m256 t = _mm256_fmadd_ps(v, _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f));
        return _mm256_mul_ps(v, _mm256_max_ps(_mm256_setzero_ps(), _mm256_min_ps(_mm256_set1_ps(1.0f), t)));
    }
    case PAN_ACT_TANH: { /* few models fuse it: exact scalar path */
        float t[8];
        _mm256_storeu_ps(t, v);
        for (int i = 0; i < 8; i++) t[i] = pan__cpu_act1(t[i], PAN_ACT_TANH, 0, 0);
        return _mm256_loadu_ps(t);
    }
    }
    return v;
}

static inline __m256 epi256(__m256 v, __m256 bias, const float *res, const pan_gemm_epi *e)
{
    v = _mm256_add_ps(v, bias);
    if (res && !e->res_after_act) v = _mm256_add_ps(v, _mm256_loadu_ps(res));
    v = act256(v, e);
    if (res && e->res_after_act) v = _mm256_add_ps(v, _mm256_loadu_ps(res));
    return v;
}

static void gemm_avx2(int64_t K, const float *A, const float *B, float *C, int64_t ldc, int mr, int nr,
                      int accumulate, const pan_gemm_epi *e)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t k = 0; k < K; k++) {
        const float *b = B + k * PAN_GEMM_NR, *a = A + k * PAN_GEMM_MR;
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), av;
        av = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(av, b0, c00);
        c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(av, b0, c10);
        c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(av, b0, c20);
        c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(av, b0, c30);
        c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(av, b0, c40);
        c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(av, b0, c50);
        c51 = _mm256_fmadd_ps(av, b1, c51);
    }
    if (mr == PAN_GEMM_MR && nr == PAN_GEMM_NR) { /* full tile: everything in registers */
#define ALL(M) M(c00, 0, 0) M(c01, 0, 8) M(c10, 1, 0) M(c11, 1, 8) M(c20, 2, 0) M(c21, 2, 8) M(c30, 3, 0) M(c31, 3, 8) \
    M(c40, 4, 0) M(c41, 4, 8) M(c50, 5, 0) M(c51, 5, 8)
#define ACC(v, r, j) v = _mm256_add_ps(v, _mm256_loadu_ps(C + (r) * ldc + (j)));
#define BIAS(v, r, j) v = _mm256_add_ps(v, _mm256_broadcast_ss(e->bias + (r)));
#define RES(v, r, j) v = _mm256_add_ps(v, _mm256_loadu_ps(e->res + (r) * e->ldr + (j)));
#define RELU(v, r, j) v = _mm256_max_ps(v, zero);
#define ACT(v, r, j) v = act256(v, e);
#define STORE(v, r, j) _mm256_storeu_ps(C + (r) * ldc + (j), v);
        const __m256 zero = _mm256_setzero_ps();
        if (accumulate) { ALL(ACC) }
        if (e) {
            if (e->bias) { ALL(BIAS) }
            if (e->res && !e->res_after_act) { ALL(RES) }
            if (e->act == PAN_ACT_RELU) { ALL(RELU) }
            else if (e->act != PAN_ACT_NONE) { ALL(ACT) }
            if (e->res && e->res_after_act) { ALL(RES) }
        }
        ALL(STORE)
        (void)zero;
#undef ALL
#undef ACC
#undef BIAS
#undef RES
#undef RELU
#undef ACT
#undef STORE
        return;
    }
    /* Partial tiles go through a local copy so that only the valid part of C (and of res) is touched. */
    __m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    float tmp[PAN_GEMM_MR][PAN_GEMM_NR], rtmp[PAN_GEMM_MR][PAN_GEMM_NR];
    memset(tmp, 0, sizeof tmp);
    if (accumulate)
        for (int r = 0; r < mr; r++) memcpy(tmp[r], C + r * ldc, sizeof(float) * (size_t)nr);
    if (e && e->res) {
        memset(rtmp, 0, sizeof rtmp);
        for (int r = 0; r < mr; r++) memcpy(rtmp[r], e->res + r * e->ldr, sizeof(float) * (size_t)nr);
    }
    for (int r = 0; r < mr; r++) {
        __m256 v0 = acc[2 * r], v1 = acc[2 * r + 1];
        if (accumulate) {
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(tmp[r]));
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(tmp[r] + 8));
        }
        if (e) {
            __m256 bias = _mm256_set1_ps(e->bias ? e->bias[r] : 0.0f);
            const float *res = e->res ? rtmp[r] : NULL;
            v0 = epi256(v0, bias, res, e);
            v1 = epi256(v1, bias, res ? res + 8 : NULL, e);
        }
        _mm256_storeu_ps(tmp[r], v0);
        _mm256_storeu_ps(tmp[r] + 8, v1);
    }
    for (int r = 0; r < mr; r++) memcpy(C + r * ldc, tmp[r], sizeof(float) * (size_t)nr);
}

static void epilogue_row_avx2(float *x, int64_t n, float bias, const float *res, const pan_gemm_epi *e)
{
    __m256 b = _mm256_set1_ps(bias);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, epi256(_mm256_loadu_ps(x + i), b, res ? res + i : NULL, e));
    for (; i < n; i++) {
        float v = x[i] + bias;
        if (res && !e->res_after_act) v += res[i];
        v = pan__cpu_act1(v, e->act, e->alpha, e->beta);
        if (res && e->res_after_act) v += res[i];
        x[i] = v;
    }
}

static void pack_avx2(float *dst, const float *base, int64_t plane, const int64_t *off, int khw, int64_t nc, int n,
                      int64_t stride, int64_t prefetch)
{
    for (int64_t c = 0; c < nc; c++)
        for (int r = 0; r < khw; r++) {
            const float *sp = base + c * plane + off[r];
            float *dp = dst + (c * khw + r) * PAN_GEMM_NR;
            if (prefetch) _mm_prefetch((const char *)(sp + prefetch), _MM_HINT_T0);
            if (n == PAN_GEMM_NR && stride == 1) {
                _mm256_storeu_ps(dp, _mm256_loadu_ps(sp));
                _mm256_storeu_ps(dp + 8, _mm256_loadu_ps(sp + 8));
            } else if (n == PAN_GEMM_NR && stride == 2) { /* even lanes: shuffle within lanes, then across */
                for (int h = 0; h < 2; h++) {
                    __m256 a = _mm256_loadu_ps(sp + 16 * h), b = _mm256_loadu_ps(sp + 16 * h + 8);
                    __m256 v = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); /* a0 a2 b0 b2 | a4 a6 b4 b6 */
                    v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
                    _mm256_storeu_ps(dp + 8 * h, v);
                }
            } else {
                for (int i = 0; i < n; i++) dp[i] = sp[i * stride];
            }
        }
}

static void dw3x3s1_avx2(const float *xp, int64_t wp, const float *w, float *y, int64_t oh, int64_t ow, float bias,
                         const float *res, const pan_gemm_epi *e)
{
    __m256 bv = _mm256_set1_ps(bias);
    __m256 w0 = _mm256_set1_ps(w[0]), w1 = _mm256_set1_ps(w[1]), w2 = _mm256_set1_ps(w[2]), w3 = _mm256_set1_ps(w[3]),
           w4 = _mm256_set1_ps(w[4]), w5 = _mm256_set1_ps(w[5]), w6 = _mm256_set1_ps(w[6]), w7 = _mm256_set1_ps(w[7]),
           w8 = _mm256_set1_ps(w[8]);
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *r0 = xp + oy * wp, *r1 = r0 + wp, *r2 = r1 + wp, *rr = res ? res + oy * ow : NULL;
        float *o = y + oy * ow;
        int64_t ox = 0;
        for (; ox + 8 <= ow; ox += 8) {
            __m256 s = _mm256_mul_ps(w0, _mm256_loadu_ps(r0 + ox));
            s = _mm256_fmadd_ps(w1, _mm256_loadu_ps(r0 + ox + 1), s);
            s = _mm256_fmadd_ps(w2, _mm256_loadu_ps(r0 + ox + 2), s);
            s = _mm256_fmadd_ps(w3, _mm256_loadu_ps(r1 + ox), s);
            s = _mm256_fmadd_ps(w4, _mm256_loadu_ps(r1 + ox + 1), s);
            s = _mm256_fmadd_ps(w5, _mm256_loadu_ps(r1 + ox + 2), s);
            s = _mm256_fmadd_ps(w6, _mm256_loadu_ps(r2 + ox), s);
            s = _mm256_fmadd_ps(w7, _mm256_loadu_ps(r2 + ox + 1), s);
            s = _mm256_fmadd_ps(w8, _mm256_loadu_ps(r2 + ox + 2), s);
            _mm256_storeu_ps(o + ox, epi256(s, bv, rr ? rr + ox : NULL, e));
        }
        for (; ox < ow; ox++)
            o[ox] = w[0] * r0[ox] + w[1] * r0[ox + 1] + w[2] * r0[ox + 2] + w[3] * r1[ox] + w[4] * r1[ox + 1] +
                    w[5] * r1[ox + 2] + w[6] * r2[ox] + w[7] * r2[ox + 1] + w[8] * r2[ox + 2];
        if (ow % 8) /* the last columns, computed one by one above */
            epilogue_row_avx2(o + ow - ow % 8, ow % 8, bias, rr ? rr + ow - ow % 8 : NULL, e);
    }
}

/* The first n lanes of a vector (n clamped to 0..8), as a mask for maskload / maskstore (which
 * neither read nor write the other lanes, so nothing outside the plane is touched). */
static inline __m256i lanes8(int64_t n)
{
    static const int32_t tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    n = n < 0 ? 0 : n > 8 ? 8 : n;
    return _mm256_loadu_si256((const __m256i *)(tab + 8 - n));
}

/* 3x3 stride 1, pads 1 ("same"), read in place, row by row in chunks of 8: rows above or below the
 * plane are left out, and the columns left and right of it are masked lanes. */
static void dw3x3s1_same_avx2(const float *x, int64_t h, int64_t w, int64_t i0, int64_t i1, int64_t C, const float *wt,
                              const float *bias, float *y, const float *res, const pan_gemm_epi *e)
{
    const __m256i not_first = _mm256_setr_epi32(0, -1, -1, -1, -1, -1, -1, -1);
    const int simple = !res && (e->act == PAN_ACT_NONE || e->act == PAN_ACT_RELU);
    const __m256 lo = e->act == PAN_ACT_RELU ? _mm256_setzero_ps() : _mm256_set1_ps(-__builtin_inff());
    for (int64_t i = i0; i < i1; i++) {
        int64_t ch = i % C;
        __m256 k[9];
        for (int t = 0; t < 9; t++) k[t] = _mm256_set1_ps(wt[9 * ch + t]);
        const __m256 bv = _mm256_set1_ps(bias ? bias[ch] : 0.0f);
        const float *xi = x + i * h * w;
        for (int64_t oy = 0; oy < h; oy++) {
            float *o = y + (i * h + oy) * w;
            const float *rr = res ? res + (i * h + oy) * w : NULL;
            for (int64_t ox = 0; ox < w; ox += 8) {
                __m256i mc = lanes8(w - ox), mr = lanes8(w - ox - 1);
                __m256i ml = ox ? lanes8(w - ox + 1) : _mm256_and_si256(lanes8(w + 1), not_first);
                __m256 s = _mm256_setzero_ps();
                for (int ky = 0; ky < 3; ky++) {
                    int64_t iy = oy + ky - 1;
                    if (iy < 0 || iy >= h) continue;
                    const float *r = xi + iy * w + ox;
                    s = _mm256_fmadd_ps(k[3 * ky], _mm256_maskload_ps(r - 1, ml), s);
                    s = _mm256_fmadd_ps(k[3 * ky + 1], _mm256_maskload_ps(r, mc), s);
                    s = _mm256_fmadd_ps(k[3 * ky + 2], _mm256_maskload_ps(r + 1, mr), s);
                }
                if (simple) {
                    s = _mm256_max_ps(_mm256_add_ps(s, bv), lo);
                } else {
                    float rt[8] = {0};
                    if (rr) _mm256_storeu_ps(rt, _mm256_maskload_ps(rr + ox, mc)); /* only the row's lanes */
                    s = epi256(s, bv, rr ? rt : NULL, e);
                }
                _mm256_maskstore_ps(o + ox, mc, s);
            }
        }
    }
}

#pragma GCC pop_options

static const pan_cpu_simd avx2 = {"avx2", PAN_GEMM_MR, PAN_GEMM_NR, gemm_avx2, epilogue_row_avx2, pack_avx2, dw3x3s1_avx2,
                                  dw3x3s1_same_avx2};
static const pan_cpu_simd *avx2_table(void) { return &avx2; }

#else
const pan_cpu_simd *pan__cpu_simd_avx2(void) { return NULL; }
#endif
