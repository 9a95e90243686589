/* AVX-512F kernels of the cpu backend (see cpu_simd.h). Compiled for that target function by
 * function; pan__cpu_simd() hands them out only on processors (and kernels) that run it.
 *
 * On cores with full-width 512-bit FMA units (AMD Zen 5, Intel server cores) these do twice the
 * multiply-adds per cycle of the AVX2 ones (measured here: 230 against 117 GFLOP/s per core).
 * The GEMM micro-kernel keeps an 8 x 32 tile of C in 16 zmm registers: per k it loads 32 floats
 * of B (two vectors) and broadcasts 8 of A, 16 FMAs. 8 rows divide the channel counts of the
 * usual networks (16, 24, 32, 64, 96...), so few rows are wasted. Partial tiles (rows or columns)
 * use write masks: only the valid part of C and of the residual is touched. The epilogue (bias,
 * residual, activation) runs on the registers before the only store; exp for sigmoid/SiLU is the
 * same Cephes polynomial as the AVX2 kernels'. */
#include "nn/cpu_simd.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)

#define MR 8
#define NV 2 /* zmm vectors per tile row */
#define NR (16 * NV)

static const pan_cpu_simd *avx512_table(void);
const pan_cpu_simd *pan__cpu_simd_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? avx512_table() : NULL;
}

#pragma GCC push_options
#pragma GCC target("avx512f,fma")
#pragma GCC optimize("O3")
#include <immintrin.h>

static inline __mmask16 lanes(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

static inline __m512 exp512(__m512 x)
{
    const __m512 hi = _mm512_set1_ps(88.3762626647949f), lo = _mm512_set1_ps(-88.3762626647949f);
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f), half = _mm512_set1_ps(0.5f);
    const __m512 c1 = _mm512_set1_ps(0.693359375f), c2 = _mm512_set1_ps(-2.12194440e-4f);
    x = _mm512_max_ps(_mm512_min_ps(x, hi), lo);
    __m512 fx = _mm512_roundscale_ps(_mm512_fmadd_ps(x, log2e, half), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, c1, x);
    x = _mm512_fnmadd_ps(fx, c2, x);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, x, half);
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(fx), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

/* 1 / (1 + exp(-x)); exact division, so that saturated inputs give exactly 0 or 1. */
static inline __m512 sigmoid512(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

static inline __m512 act512(__m512 v, const pan_gemm_epi *e)
{
    switch (e->act) {
    case PAN_ACT_NONE: return v;
    case PAN_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case PAN_ACT_LEAKY_RELU:
        return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v,
                                  _mm512_set1_ps(e->alpha));
    case PAN_ACT_SIGMOID: return sigmoid512(v);
    case PAN_ACT_SILU: return _mm512_mul_ps(v, sigmoid512(v));
    case PAN_ACT_CLIP: return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(e->alpha)), _mm512_set1_ps(e->beta));
    case PAN_ACT_HARD_SIGMOID:
        return _mm512_max_ps(_mm512_setzero_ps(),
                             _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(v, _mm512_set1_ps(e->alpha),
                                                                                 _mm512_set1_ps(e->beta))));
    case PAN_ACT_HARD_SWISH: {
        __m512 t = _mm512_fmadd_ps(v, _mm512_set1_ps(1.0f / 6.0f), _mm512_set1_ps(0.5f));
        return _mm512_mul_ps(v, _mm512_max_ps(_mm512_setzero_ps(), _mm512_min_ps(_mm512_set1_ps(1.0f), t)));
    }
    case PAN_ACT_TANH: { /* few models fuse it: exact scalar path */
        float t[16];
        _mm512_storeu_ps(t, v);
        for (int i = 0; i < 16; i++) t[i] = pan__cpu_act1(t[i], PAN_ACT_TANH, 0, 0);
        return _mm512_loadu_ps(t);
    }
    }
    return v;
}

/* v + bias (+ res) -> act (+ res), res read under mask m (NULL: none) */
static inline __m512 epi512(__m512 v, __m512 bias, const float *res, __mmask16 m, const pan_gemm_epi *e)
{
    v = _mm512_add_ps(v, bias);
    if (res && !e->res_after_act) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res));
    v = act512(v, e);
    if (res && e->res_after_act) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res));
    return v;
}

static void gemm_avx512(int64_t K, const float *A, const float *B, float *C, int64_t ldc, int mr, int nr,
                        int accumulate, const pan_gemm_epi *e)
{
    __m512 acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        const float *b = B + k * NR, *a = A + k * MR;
        __m512 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) bv[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(a[r]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    __mmask16 m[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) m[v] = lanes(nr - 16 * v);
    const pan_act act = e ? e->act : PAN_ACT_NONE;
    const int simple = !e || (!e->res && (act == PAN_ACT_NONE || act == PAN_ACT_RELU));
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
        float *c = C + r * ldc;
        __m512 bias = e && e->bias ? _mm512_set1_ps(e->bias[r]) : _mm512_setzero_ps();
        const float *res = e && e->res ? e->res + r * e->ldr : NULL;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __m512 x = acc[r][v];
            if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m[v], c + 16 * v));
            if (simple) { /* the common epilogues without the general path's branches */
                x = _mm512_add_ps(x, bias);
                if (act == PAN_ACT_RELU) x = _mm512_max_ps(x, _mm512_setzero_ps());
            } else {
                x = epi512(x, bias, res ? res + 16 * v : NULL, m[v], e);
            }
            _mm512_mask_storeu_ps(c + 16 * v, m[v], x);
        }
    }
}

static void epilogue_row_avx512(float *x, int64_t n, float bias, const float *res, const pan_gemm_epi *e)
{
    __m512 b = _mm512_set1_ps(bias);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = lanes(n - i);
        _mm512_mask_storeu_ps(x + i, m, epi512(_mm512_maskz_loadu_ps(m, x + i), b, res ? res + i : NULL, m, e));
    }
}

static void pack_avx512(float *dst, const float *base, int64_t plane, const int64_t *off, int khw, int64_t nc, int n,
                        int64_t stride, int64_t prefetch)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    __mmask16 m[NV];
    for (int v = 0; v < NV; v++) m[v] = lanes(n - 16 * v);
    for (int64_t c = 0; c < nc; c++)
        for (int r = 0; r < khw; r++) {
            const float *sp = base + c * plane + off[r];
            float *dp = dst + (c * khw + r) * NR;
            if (prefetch) /* the next work item's run: NR floats, NR / 16 cache lines */
                for (int v = 0; v < NV; v++) _mm_prefetch((const char *)(sp + prefetch + 16 * v), _MM_HINT_T0);
            if (stride == 1) {
                for (int v = 0; v < NV; v++) _mm512_mask_storeu_ps(dp + 16 * v, m[v], _mm512_maskz_loadu_ps(m[v], sp + 16 * v));
            } else if (n == NR && stride == 2) { /* even lanes of each pair of vectors */
                for (int v = 0; v < NV; v++) {
                    __m512 a = _mm512_loadu_ps(sp + 32 * v), b = _mm512_loadu_ps(sp + 32 * v + 16);
                    _mm512_storeu_ps(dp + 16 * v, _mm512_permutex2var_ps(a, even, b));
                }
            } else {
                for (int i = 0; i < n; i++) dp[i] = sp[i * stride];
            }
        }
}

static void dw3x3s1_avx512(const float *xp, int64_t wp, const float *w, float *y, int64_t oh, int64_t ow, float bias,
                           const float *res, const pan_gemm_epi *e)
{
    __m512 bv = _mm512_set1_ps(bias);
    __m512 w0 = _mm512_set1_ps(w[0]), w1 = _mm512_set1_ps(w[1]), w2 = _mm512_set1_ps(w[2]), w3 = _mm512_set1_ps(w[3]),
           w4 = _mm512_set1_ps(w[4]), w5 = _mm512_set1_ps(w[5]), w6 = _mm512_set1_ps(w[6]), w7 = _mm512_set1_ps(w[7]),
           w8 = _mm512_set1_ps(w[8]);
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *r0 = xp + oy * wp, *r1 = r0 + wp, *r2 = r1 + wp, *rr = res ? res + oy * ow : NULL;
        float *o = y + oy * ow;
        for (int64_t ox = 0; ox < ow; ox += 16) {
            __mmask16 m = lanes(ow - ox);
            __m512 s = _mm512_mul_ps(w0, _mm512_maskz_loadu_ps(m, r0 + ox));
            s = _mm512_fmadd_ps(w1, _mm512_maskz_loadu_ps(m, r0 + ox + 1), s);
            s = _mm512_fmadd_ps(w2, _mm512_maskz_loadu_ps(m, r0 + ox + 2), s);
            s = _mm512_fmadd_ps(w3, _mm512_maskz_loadu_ps(m, r1 + ox), s);
            s = _mm512_fmadd_ps(w4, _mm512_maskz_loadu_ps(m, r1 + ox + 1), s);
            s = _mm512_fmadd_ps(w5, _mm512_maskz_loadu_ps(m, r1 + ox + 2), s);
            s = _mm512_fmadd_ps(w6, _mm512_maskz_loadu_ps(m, r2 + ox), s);
            s = _mm512_fmadd_ps(w7, _mm512_maskz_loadu_ps(m, r2 + ox + 1), s);
            s = _mm512_fmadd_ps(w8, _mm512_maskz_loadu_ps(m, r2 + ox + 2), s);
            _mm512_mask_storeu_ps(o + ox, m, epi512(s, bv, rr ? rr + ox : NULL, m, e));
        }
    }
}

/* Chunk masks of the flat walk below: the lanes of each 16-pixel chunk that have a pixel, a left
 * neighbour, a right neighbour, a row above, a row below. The same for every plane of a conv. */
typedef struct dw_masks {
    __mmask16 mo, ml, mr, top, bot;
} dw_masks;

static void dw_chunk_masks(int64_t h, int64_t w, int64_t p0, int64_t col0, dw_masks *m)
{
    const int64_t n = h * w;
    __mmask16 first = 0, last = 0;
    for (int64_t i = col0 ? w - col0 : 0; i < 16; i += w) first |= (__mmask16)(1u << i); /* column 0 */
    for (int64_t i = w - 1 - col0; i < 16; i += w) last |= (__mmask16)(1u << i);          /* column w-1 */
    m->mo = lanes(n - p0);
    m->ml = m->mo & (__mmask16)~first;
    m->mr = m->mo & (__mmask16)~last;
    m->top = p0 >= w ? (__mmask16)0xFFFF : (__mmask16)~lanes(w - p0);
    m->bot = lanes(n - w - p0);
}

/* One 16-pixel chunk at r (the plane's pixel p0): the 9 taps, as three partial sums. */
static inline __m512 dw_chunk(const float *r, int64_t w, const dw_masks *m, const __m512 *k)
{
    __m512 s0 = _mm512_mul_ps(k[0], _mm512_maskz_loadu_ps(m->ml & m->top, r - w - 1));
    __m512 s1 = _mm512_mul_ps(k[3], _mm512_maskz_loadu_ps(m->ml, r - 1));
    __m512 s2 = _mm512_mul_ps(k[6], _mm512_maskz_loadu_ps(m->ml & m->bot, r + w - 1));
    s0 = _mm512_fmadd_ps(k[1], _mm512_maskz_loadu_ps(m->mo & m->top, r - w), s0);
    s1 = _mm512_fmadd_ps(k[4], _mm512_maskz_loadu_ps(m->mo, r), s1);
    s2 = _mm512_fmadd_ps(k[7], _mm512_maskz_loadu_ps(m->mo & m->bot, r + w), s2);
    s0 = _mm512_fmadd_ps(k[2], _mm512_maskz_loadu_ps(m->mr & m->top, r - w + 1), s0);
    s1 = _mm512_fmadd_ps(k[5], _mm512_maskz_loadu_ps(m->mr, r + 1), s1);
    s2 = _mm512_fmadd_ps(k[8], _mm512_maskz_loadu_ps(m->mr & m->bot, r + w + 1), s2);
    return _mm512_add_ps(_mm512_add_ps(s0, s1), s2);
}

/* 3x3 stride 1, pads 1 ("same"), read in place. Each plane is walked as one flat run of h * w
 * pixels, 16 at a time whatever w is (OSNet's 8-wide planes fill whole vectors: two rows each):
 * a tap that would read across the left or right edge, or above or below the plane, is a lane
 * masked off (masked lanes are not read, so nothing outside the plane is touched). The chunks'
 * masks are worked out once per call (for planes of up to MASK_CHUNKS chunks; per chunk past
 * that), and the usual epilogues (bias, ReLU or none, no residual) have their own loop. */
#define MASK_CHUNKS 256
static void dw3x3s1_same_avx512(const float *x, int64_t h, int64_t w, int64_t i0, int64_t i1, int64_t C,
                                const float *wt, const float *bias, float *y, const float *res,
                                const pan_gemm_epi *e)
{
    const int64_t n = h * w, chunks = (n + 15) / 16;
    dw_masks cached[MASK_CHUNKS];
    int64_t n_cached = chunks < MASK_CHUNKS ? chunks : MASK_CHUNKS, col0 = 0;
    for (int64_t c = 0; c < n_cached; c++) {
        dw_chunk_masks(h, w, 16 * c, col0, &cached[c]);
        for (col0 += 16; col0 >= w;) col0 -= w;
    }
    const int simple = !res && (e->act == PAN_ACT_NONE || e->act == PAN_ACT_RELU);
    const __m512 lo = e->act == PAN_ACT_RELU ? _mm512_setzero_ps() : _mm512_set1_ps(-__builtin_inff());
    for (int64_t i = i0; i < i1; i++) {
        int64_t ch = i % C;
        __m512 k[9];
        for (int t = 0; t < 9; t++) k[t] = _mm512_set1_ps(wt[9 * ch + t]);
        const __m512 bv = _mm512_set1_ps(bias ? bias[ch] : 0.0f);
        const float *xi = x + i * n, *ri = res ? res + i * n : NULL;
        float *yi = y + i * n;
        col0 = n_cached * 16 % w;
        for (int64_t c = 0; c < chunks; c++) {
            dw_masks mm;
            const dw_masks *m = &mm;
            if (c < n_cached) m = &cached[c];
            else {
                dw_chunk_masks(h, w, 16 * c, col0, &mm);
                for (col0 += 16; col0 >= w;) col0 -= w;
            }
            __m512 s = dw_chunk(xi + 16 * c, w, m, k);
            if (simple) s = _mm512_max_ps(_mm512_add_ps(s, bv), lo);
            else s = epi512(s, bv, ri ? ri + 16 * c : NULL, m->mo, e);
            _mm512_mask_storeu_ps(yi + 16 * c, m->mo, s);
        }
    }
}

#pragma GCC pop_options

static const pan_cpu_simd avx512 = {"avx512", MR, NR, gemm_avx512, epilogue_row_avx512, pack_avx512, dw3x3s1_avx512,
                                    dw3x3s1_same_avx512};
static const pan_cpu_simd *avx512_table(void) { return &avx512; }

#else
const pan_cpu_simd *pan__cpu_simd_avx512(void) { return NULL; }
#endif
