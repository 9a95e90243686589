/* The cpu conv of a planned graph: weights packed at plan time, GEMM tiles computed straight from
 * the activations (NCHW, no im2col matrix), bias/batch-norm/activation/residual applied to each
 * tile in registers, threads over output tiles of the whole batch.
 *
 * GEMM convs (everything but depthwise): per image and group, Y[o, p] = sum_k W[o, k] X_k[p] with
 * k = (c, ky, kx) in OIHW order and p the flattened output pixel (oy * OW + ox). The micro-kernel
 * (cpu_simd.h) computes mr output channels x nr pixels (6 x 16 with AVX2, 8 x 32 with AVX-512;
 * the kernels chosen at plan time stay with the plan) from two packed operands: the weights,
 * packed once at plan time as [K][mr] per mr output channels, and a panel [K][nr] of the tile's
 * input, copied per tile from the runs of input each output row of the tile reads (stride 2:
 * every other float). The copy costs K x nr floats against O x K x nr multiply-adds, and it keeps
 * the kernel's loads contiguous: input rows a plane apart (4 KiB multiples) would otherwise fight
 * over the same few L1 sets.
 * Work items are blocks of 64 pixels (tb tiles) x a range of output-channel tiles; each
 * output-channel tile runs over the block's panels (its weights stay in L1, it writes runs of 64
 * floats per row). A fused residual is prefetched a few tiles ahead (one stream per channel).
 * Padding: convs with pads read a zero-padded copy of their input (C x (H+pt+pb) x (W+pl+pr) per
 * image, made once per call), so no tile tests bounds. Large K is cut into blocks of whole input
 * channels (partial sums go through Y) so that the weights of a block stay in L2.
 *
 * Depthwise (group == C == O): per plane, a zero-padded copy in the thread's scratch (measured
 * faster than reading the plane in place with the first and last columns apart: at OSNet's 32
 * columns those are a quarter of the row), then a 3x3 stride-1 vector kernel with the epilogue
 * on its registers, or a generic loop. The AVX-512 and AVX2 kernels read 3x3 stride-1 "same"
 * convs in place instead (masked lanes make the edges free; AVX-512: 16 pixels at a time across
 * rows, AVX2: 8 at a time along each row). */
#include <stdlib.h>
#include <string.h>

#include "nn/cpu_ops.h"
#include "nn/cpu_simd.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

/* Bytes of packed weights per K block: kept in L2 (1 MiB per core here) beside the tiles. */
#define KBLOCK_BYTES (INT64_C(384) << 10)
/* Output pixels per work item's row run: 4 tiles of 16 or 2 of 32 (2..8 tiles of 16 measure alike;
 * 1 is slower). */
#define RUN_PIXELS 64
/* Output-channel tiles ahead whose residual rows are prefetched (1: 4.6 ms, 3: 3.7-4.0 ms, 4-6: no
 * better on a 64 -> 256 1x1 conv with a residual, [8, 256, 64, 32]; 9.0 ms without). */
#define RES_AHEAD 3

typedef struct conv_prep {
    const pan_cpu_simd *simd; /* the kernels the weights were packed for */
    int mr, nr, tb;           /* their GEMM tile, and tiles per work item */
    int depthwise;
    int64_t C, H, W, O, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
    int64_t groups, cg, og, K, kcc, mtiles; /* kcc: input channels per K block (K block = kcc * kh * kw) */
    int64_t *off; /* per kernel tap (ky, kx): ky*dh*Wp + kx*dw, its offset in the (padded) input plane */
    int64_t Hp, Wp;  /* the (padded) input plane read by the tiles */
    int padded;      /* pads: tiles read a padded copy (scratch) */
    int flat_direct; /* 1-wide kernel, unit strides, no side pads: every tile reads the input directly */
    float *a;        /* GEMM: [groups][mtiles][K][mr]; depthwise: the weights [C][kh*kw] as given */
    int threads;
    size_t pad_bytes, thread_bytes; /* scratch: padded input, then per thread */
} conv_prep;

void pan__cpu_conv_prep_free(void *p)
{
    conv_prep *cp = p;
    if (!cp) return;
    free(cp->a);
    free(cp->off);
    free(cp);
}

pan_status pan__cpu_conv_prepare(const pan_graph *g, const pan_node *n, int threads, void **out, size_t *scratch)
{
    const pan_tensor *x = &g->tensors[n->inputs[0]], *w = &g->tensors[n->inputs[1]], *y = &g->tensors[n->outputs[0]];
    if (x->dtype != PAN_DTYPE_F32 || w->dtype != PAN_DTYPE_F32 || !(w->flags & PAN_TENSOR_CONST) || !w->data ||
        x->rank != 4 || w->rank != 4)
        return PAN_OK; /* not prepared: the generic kernel runs it */
    const pan_conv_attrs *at = &n->attrs.conv;
    conv_prep *p = calloc(1, sizeof *p);
    if (!p) return PAN_NOMEM;
    p->C = x->dims[1], p->H = x->dims[2], p->W = x->dims[3];
    p->O = y->dims[1], p->OH = y->dims[2], p->OW = y->dims[3];
    p->kh = w->dims[2], p->kw = w->dims[3];
    p->sh = at->strides[0] > 0 ? at->strides[0] : 1, p->sw = at->strides[1] > 0 ? at->strides[1] : 1;
    p->dh = at->dilations[0] > 0 ? at->dilations[0] : 1, p->dw = at->dilations[1] > 0 ? at->dilations[1] : 1;
    p->pt = at->pads[0], p->pl = at->pads[1], p->pb = at->pads[2], p->pr = at->pads[3];
    p->groups = at->group > 0 ? at->group : 1;
    p->cg = p->C / p->groups, p->og = p->O / p->groups;
    p->K = p->cg * p->kh * p->kw;
    p->threads = threads < 1 ? 1 : threads;
    p->simd = pan__cpu_simd();
    p->mr = p->simd->mr, p->nr = p->simd->nr;
    p->tb = RUN_PIXELS / p->nr > 1 ? RUN_PIXELS / p->nr : 1;
    const int MR = p->mr, NR = p->nr;
    p->padded = p->pt || p->pl || p->pb || p->pr;
    p->Hp = p->H + p->pt + p->pb, p->Wp = p->W + p->pl + p->pr;
    p->depthwise = p->groups > 1 && p->groups == p->C && p->groups == p->O && w->dims[1] == 1;
    const float *wd = w->data;
    if (p->depthwise) {
        size_t bytes = sizeof(float) * (size_t)(p->C * p->kh * p->kw);
        if (!(p->a = malloc(bytes))) goto nomem;
        memcpy(p->a, wd, bytes);
        p->thread_bytes = sizeof(float) * (size_t)(p->Hp * p->Wp + NR);
    } else {
        p->mtiles = (p->og + MR - 1) / MR;
        int64_t khw = p->kh * p->kw;
        p->kcc = KBLOCK_BYTES / (int64_t)(sizeof(float) * (size_t)(p->mtiles * MR * khw));
        p->kcc = p->kcc * khw < 64 ? (64 + khw - 1) / khw : p->kcc;
        if (p->kcc > p->cg) p->kcc = p->cg;
        p->flat_direct = p->kw == 1 && p->sw == 1 && p->sh == 1 && !p->pl && !p->pr;
        if (!(p->off = malloc(sizeof(int64_t) * (size_t)khw))) goto nomem;
        for (int64_t ky = 0; ky < p->kh; ky++)
            for (int64_t kx = 0; kx < p->kw; kx++) p->off[ky * p->kw + kx] = ky * p->dh * p->Wp + kx * p->dw;
        size_t n_a = (size_t)(p->groups * p->mtiles * p->K * MR);
        if (!(p->a = calloc(n_a + 1, sizeof(float)))) goto nomem;
        /* OIHW [O][K] -> per group, per tile of mr output channels: [K][mr], zero rows past og */
        for (int64_t gi = 0; gi < p->groups; gi++)
            for (int64_t mt = 0; mt < p->mtiles; mt++) {
                float *dst = p->a + (gi * p->mtiles + mt) * p->K * MR;
                for (int r = 0; r < MR; r++) {
                    int64_t o = mt * MR + r;
                    if (o >= p->og) continue;
                    const float *src = wd + (gi * p->og + o) * p->K;
                    for (int64_t k = 0; k < p->K; k++) dst[k * MR + r] = src[k];
                }
            }
        if (p->padded) p->pad_bytes = sizeof(float) * (size_t)(x->dims[0] * p->C * p->Hp * p->Wp + NR);
        p->pad_bytes = (p->pad_bytes + 63) & ~(size_t)63;
        /* per thread: a K block x NR panel per tile of a block */
        p->thread_bytes = sizeof(float) * (size_t)(p->kcc * khw * NR) * (size_t)p->tb;
    }
    p->thread_bytes = (p->thread_bytes + 63) & ~(size_t)63;
    *scratch = p->pad_bytes + p->thread_bytes * (size_t)p->threads;
    *out = p;
    return PAN_OK;
nomem:
    pan__cpu_conv_prep_free(p);
    return PAN_NOMEM;
}

/* ---- padded input copy ---------------------------------------------------------------------- */
typedef struct pad_job {
    const conv_prep *p;
    const float *x;
    float *xp;
} pad_job;

static void pad_planes(void *arg, int64_t i0, int64_t i1)
{
    const pad_job *j = arg;
    const conv_prep *p = j->p;
    for (int64_t i = i0; i < i1; i++) { /* plane i = image * C + channel */
        const float *src = j->x + i * p->H * p->W;
        float *dst = j->xp + i * p->Hp * p->Wp;
        memset(dst, 0, sizeof(float) * (size_t)(p->pt * p->Wp));
        for (int64_t yy = 0; yy < p->H; yy++) {
            float *row = dst + (p->pt + yy) * p->Wp;
            memset(row, 0, sizeof(float) * (size_t)p->pl);
            memcpy(row + p->pl, src + yy * p->W, sizeof(float) * (size_t)p->W);
            memset(row + p->pl + p->W, 0, sizeof(float) * (size_t)p->pr);
        }
        memset(dst + (p->pt + p->H) * p->Wp, 0, sizeof(float) * (size_t)(p->pb * p->Wp));
    }
}

/* Which thread's part of the scratch a work function uses: its index in the pool, or 0 when the
 * conv runs serially (pool NULL: a small conv on the caller, or the backend running images on
 * threads of its own, each with a scratch of its own). */
static int scratch_slot(const pan_cpu_pool *pool) { return pool ? pan__cpu_pool_thread_index() : 0; }

/* ---- GEMM convs ------------------------------------------------------------------------------- */
typedef struct gemm_job {
    const conv_prep *p;
    const pan_conv_attrs *at;
    const pan_cpu_simd *simd;
    const float *xp, *bias, *res; /* xp: padded copy or the input itself */
    float *y;
    char *thread_scratch;
    const pan_cpu_pool *pool;
    int64_t tiles;            /* pixel tiles per image and group */
    int64_t pblocks, oblocks; /* work items per image and group: blocks of tb tiles x ranges of mr-row tiles */
} gemm_job;

/* Packs B rows of channels [c0, c1) (all their taps) for the tile of output pixels [p0, p0 + nr) of
 * image-group plane xg into panel [K block][nr]: one run per output row the tile touches (a 1-wide
 * kernel with unit strides and no side pads reads the whole tile as one run of its input). */
static void tile_pack(const conv_prep *p, const pan_cpu_simd *simd, const float *xg, int64_t p0, int nr, int64_t c0,
                      int64_t c1, float *panel)
{
    const int NR = p->nr;
    int64_t plane = p->Hp * p->Wp, khw = p->kh * p->kw;
    const float *xc = xg + c0 * plane;
    /* 1x1 convs: one stream per input channel; prefetch the next work item's run of each (measured
     * 10-15% on OSNet's 1x1 convs, nothing elsewhere) */
    int64_t prefetch = khw == 1 ? p->tb * NR * p->sw : 0;
    if (p->flat_direct) {
        simd->pack(panel, xc + p0, plane, p->off, (int)khw, c1 - c0, nr, 1, prefetch);
    } else {
        for (int j = 0; j < nr;) {
            int64_t pp = p0 + j, oy = pp / p->OW, ox = pp % p->OW, len = p->OW - ox;
            if (len > nr - j) len = nr - j;
            simd->pack(panel + j, xc + oy * p->sh * p->Wp + ox * p->sw, plane, p->off, (int)khw, c1 - c0, (int)len,
                       p->sw, prefetch);
            j += (int)len;
        }
    }
    if (nr < NR)
        for (int64_t k = 0; k < (c1 - c0) * khw; k++) memset(panel + k * NR + nr, 0, sizeof(float) * (size_t)(NR - nr));
}

/* The valid rows (output channels of the group) of output-channel tile mt. */
static int tile_rows(const conv_prep *p, int64_t mt)
{
    return p->og - mt * p->mr < p->mr ? (int)(p->og - mt * p->mr) : p->mr;
}

/* Asks for rows [0, rows) x floats [0, n) of a plane-strided block (ld floats apart) to be brought
 * into cache: one stream per output channel in NCHW, too many for the hardware prefetchers. */
static void prefetch_rows(const float *base, int64_t ld, int rows, int64_t n)
{
#if defined(__GNUC__)
    for (int r = 0; r < rows; r++)
        for (int64_t i = 0; i < n; i += 16) __builtin_prefetch(base + r * ld + i, 0, 3);
#else
    (void)base, (void)ld, (void)rows, (void)n;
#endif
}

/* One work item: image b, group gi, pixel tiles [t0, t1) (a block of up to tb tiles), output-channel
 * tiles [m0, m1). Per K block the B panels of every tile of the block are packed first; then each
 * output-channel tile runs over the block's tiles, so it writes runs of tb * nr (64) floats per row
 * (whole cache lines, few pages) and its packed weights stay in L1 across the block. */
static void gemm_block(const gemm_job *j, char *ts, int64_t b, int64_t gi, int64_t t0, int64_t t1, int64_t m0,
                       int64_t m1)
{
    const conv_prep *p = j->p;
    const pan_conv_attrs *at = j->at;
    const int MR = p->mr, NR = p->nr;
    int64_t P = p->OH * p->OW, nt = t1 - t0, khw = p->kh * p->kw, kc = p->kcc * khw;
    float *panels = (float *)ts;
    const float *xg = j->xp + (b * p->C + gi * p->cg) * p->Hp * p->Wp;
    for (int64_t c0 = 0; c0 < p->cg; c0 += p->kcc) {
        int64_t c1 = c0 + p->kcc < p->cg ? c0 + p->kcc : p->cg, k0 = c0 * khw, k1 = c1 * khw;
        int last = c1 == p->cg;
        for (int64_t t = 0; t < nt; t++) {
            int64_t p0 = (t0 + t) * NR;
            int nr = P - p0 < NR ? (int)(P - p0) : NR;
            tile_pack(p, j->simd, xg, p0, nr, c0, c1, panels + t * kc * NR);
        }
        int64_t pb0 = t0 * NR, pbn = (t1 * NR < P ? t1 * NR : P) - pb0; /* the block's pixels */
        /* the residual rows each tile's epilogue reads, RES_AHEAD output-channel tiles ahead */
        int prefetch_res = last && j->res;
        for (int64_t mt = m0; prefetch_res && mt < m0 + RES_AHEAD && mt < m1; mt++)
            prefetch_rows(j->res + (b * p->O + gi * p->og + mt * MR) * P + pb0, P, tile_rows(p, mt), pbn);
        for (int64_t mt = m0; mt < m1; mt++) {
            int64_t o = gi * p->og + mt * MR;
            int mr = tile_rows(p, mt);
            if (prefetch_res && mt + RES_AHEAD < m1)
                prefetch_rows(j->res + (b * p->O + o + RES_AHEAD * MR) * P + pb0, P, tile_rows(p, mt + RES_AHEAD), pbn);
            const float *A = p->a + ((gi * p->mtiles + mt) * p->K + k0) * MR;
            for (int64_t t = 0; t < nt; t++) {
                int64_t p0 = (t0 + t) * NR;
                int nr = P - p0 < NR ? (int)(P - p0) : NR;
                float *yt = j->y + (b * p->O + o) * P + p0;
                pan_gemm_epi e = {j->bias ? j->bias + o : NULL, j->res ? j->res + (b * p->O + o) * P + p0 : NULL, P,
                                  at->act, at->act_alpha, at->act_beta, at->residual_after_act};
                j->simd->gemm(k1 - k0, A, panels + t * kc * NR, yt, P, mr, nr, k0 > 0, last ? &e : NULL);
            }
        }
    }
}

static void gemm_items(void *arg, int64_t i0, int64_t i1)
{
    const gemm_job *j = arg;
    const conv_prep *p = j->p;
    char *ts = j->thread_scratch + p->thread_bytes * (size_t)scratch_slot(j->pool);
    for (int64_t i = i0; i < i1; i++) { /* i = ((image * groups + group) * pblocks + pblock) * oblocks + oblock */
        int64_t ob = i % j->oblocks, r = i / j->oblocks, pb = r % j->pblocks, bg = r / j->pblocks;
        int64_t t0 = pb * p->tb, t1 = t0 + p->tb < j->tiles ? t0 + p->tb : j->tiles;
        int64_t m0 = p->mtiles * ob / j->oblocks, m1 = p->mtiles * (ob + 1) / j->oblocks;
        gemm_block(j, ts, bg / p->groups, bg % p->groups, t0, t1, m0, m1);
    }
}

/* ---- depthwise -------------------------------------------------------------------------------- */
typedef struct dw_job {
    const conv_prep *p;
    const pan_conv_attrs *at;
    const pan_cpu_simd *simd;
    const float *x, *bias, *res;
    float *y;
    char *thread_scratch;
    const pan_cpu_pool *pool;
} dw_job;

static void dw_planes(void *arg, int64_t i0, int64_t i1)
{
    const dw_job *j = arg;
    const conv_prep *p = j->p;
    float *xp = (float *)(j->thread_scratch + p->thread_bytes * (size_t)scratch_slot(j->pool));
    int64_t P = p->OH * p->OW, khw = p->kh * p->kw;
    pan_gemm_epi e = {NULL, NULL, p->OW, j->at->act, j->at->act_alpha, j->at->act_beta, j->at->residual_after_act};
    int same = p->kh == 3 && p->kw == 3 && p->sh == 1 && p->sw == 1 && p->dh == 1 && p->dw == 1 && p->pt == 1 &&
               p->pl == 1 && p->pb == 1 && p->pr == 1 && j->simd->dw3x3s1_same;
    if (same) { /* planes read in place */
        j->simd->dw3x3s1_same(j->x, p->H, p->W, i0, i1, p->C, p->a, j->bias, j->y, j->res, &e);
        return;
    }
    for (int64_t i = i0; i < i1; i++) { /* i = image * C + channel */
        int64_t ch = i % p->C;
        pad_job one = {p, j->x + i * p->H * p->W, xp}; /* this plane, padded, into the thread's buffer */
        pad_planes(&one, 0, 1);
        const float *w = p->a + ch * khw;
        float *y = j->y + i * P;
        float bias = j->bias ? j->bias[ch] : 0.0f;
        const float *res = j->res ? j->res + i * P : NULL;
        if (p->kh == 3 && p->kw == 3 && p->sh == 1 && p->sw == 1 && p->dh == 1 && p->dw == 1) {
            j->simd->dw3x3s1(xp, p->Wp, w, y, p->OH, p->OW, bias, res, &e);
        } else {
            for (int64_t oy = 0; oy < p->OH; oy++) {
                float *o = y + oy * p->OW;
                for (int64_t ox = 0; ox < p->OW; ox++) o[ox] = 0;
                for (int64_t ky = 0; ky < p->kh; ky++) {
                    const float *r = xp + (oy * p->sh + ky * p->dh) * p->Wp;
                    for (int64_t kx = 0; kx < p->kw; kx++) {
                        float wv = w[ky * p->kw + kx];
                        const float *rr = r + kx * p->dw;
                        for (int64_t ox = 0; ox < p->OW; ox++) o[ox] += wv * rr[ox * p->sw];
                    }
                }
                j->simd->epilogue_row(o, p->OW, bias, res ? res + oy * p->OW : NULL, &e);
            }
        }
    }
}

pan_status pan__cpu_conv_fast(const pan_cpu_call *c)
{
    const conv_prep *p = c->prep;
    const pan_node *n = c->n;
    int64_t batch = c->g->tensors[n->inputs[0]].dims[0];
    const pan_cpu_simd *simd = p->simd;
    const int NR = p->nr;
    const float *x = c->in[0], *bias = n->n_inputs > 2 ? c->in[2] : NULL, *res = n->n_inputs > 3 ? c->in[3] : NULL;
    float *y = c->out[0];
    char *scratch = c->scratch;
    /* small convs (OSNet's gates: [N, C, 1, 1]) cost less than waking the workers */
    pan_cpu_pool *pool = 2.0 * (double)batch * (double)(p->O * p->OH * p->OW) * (double)(p->K) < (1 << 20) ? NULL : c->pool;
    if (p->depthwise) {
        dw_job j = {p, &n->attrs.conv, simd, x, bias, res, y, scratch, pool};
        pan__cpu_parallel_for(pool, batch * p->C, dw_planes, &j);
        return PAN_OK;
    }
    const float *xp = x;
    if (p->padded) {
        pad_job pj = {p, x, (float *)scratch};
        pan__cpu_parallel_for_grain(pool, batch * p->C, 4, pad_planes, &pj);
        xp = pj.xp;
    }
    gemm_job j = {p, &n->attrs.conv, simd, xp, bias, res, y, scratch + p->pad_bytes, pool,
                  (p->OH * p->OW + NR - 1) / NR, 0, 1};
    j.pblocks = (j.tiles + p->tb - 1) / p->tb;
    /* a few items per thread; split the output channels too when the pixels alone give too few */
    int threads = pan__cpu_pool_threads(pool);
    int64_t items = batch * p->groups * j.pblocks;
    while (threads > 1 && items * j.oblocks < 4 * threads && j.oblocks * 2 <= p->mtiles) j.oblocks *= 2;
    pan__cpu_parallel_for(pool, items * j.oblocks, gemm_items, &j);
    return PAN_OK;
}
