/* Lowering of convolutions (cuDNN step + epilogue, explicit padding where cuDNN cannot pad,
 * epilogues written straight into channel concats), of Gemm/MatMul with constant weights (as 1x1
 * convolutions) and of batch-norm for the cuda backend. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/env.h"
#include "nn/cuda_lower.h"
#include "panoptes/log.h"

static int concat_target(const pan_cu_exec *ex, int t, int64_t *coff)
{
    const pan_graph *g = ex->g;
    if ((g->tensors[t].flags & PAN_TENSOR_OUTPUT) || pan__graph_consumers(g, t) != 1) return -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const pan_node *c = &g->nodes[i];
        if (c->dead || c->op != PAN_OP_CONCAT) continue;
        int64_t at = 0;
        for (int k = 0; k < c->n_inputs; k++) {
            if (c->inputs[k] < 0) continue;
            const pan_tensor *p = &g->tensors[c->inputs[k]];
            if (c->inputs[k] == t) {
                const pan_tensor *o = &g->tensors[c->outputs[0]];
                int64_t ax = c->attrs.axis.axis < 0 ? c->attrs.axis.axis + o->rank : c->attrs.axis.axis;
                if (ax != 1 || o->rank != 4 || !ex->ti[c->outputs[0]].nhwc) return -1;
                *coff = at;
                return c->outputs[0];
            }
            at += p->dims[1];
        }
    }
    return -1;
}

/* One convolution as the lowering sees it: NCHW logical sizes of input and output, FP32 OIHW
 * weights on the host; a Gemm or MatMul with constant weights is one of these with H = W = 1. */
typedef struct conv_spec {
    int x, y, res;         /* input, output, residual (-1: none) tensors */
    int64_t xd[4], yd[4];  /* logical N, C, H, W */
    int64_t K, Cg, R, S;   /* weight dims (OIHW) */
    const float *w;        /* K * Cg * R * S */
    const float *bias;     /* K, or NULL */
    pan_conv_attrs a;      /* pads, strides, dilations, group, activation */
} conv_spec;

/* PANOPTES_CUDA_DIRECT_CONV=0: every convolution through cuDNN (few input channels padded to 8),
 * to compare speed and memory with the direct kernel. */
static int direct_conv_allowed(void) { return pan__env_int("PANOPTES_CUDA_DIRECT_CONV", 1, 0, 1); }

static pan_status lower_conv_spec(pan_cu_exec *ex, int node_idx, const pan_node *n, const conv_spec *cv)
{
    const int64_t *xd = cv->xd;
    const pan_conv_attrs *a = &cv->a;
    int64_t K = cv->K, Cg = cv->Cg, R = cv->R, S = cv->S;
    int group = a->group > 0 ? (int)a->group : 1;
    int64_t pt = a->pads[0], pl = a->pads[1], pb = a->pads[2], pr = a->pads[3];
    /* Few input channels (an RGB image: 3) leave cuDNN without tensor-core kernels, whose loads
     * want 8 FP16 channels (16 bytes) per pixel (H100: first NanoDet conv 0.87 ms at batch 64).
     * Below 8 channels with few taps a direct kernel reads the input as it is (cuda_ops.h:
     * padding it to 8 channels took a copy 8/3 of its size, half of NanoDet's arena); otherwise
     * the input is padded with zero channels, the weights with zero taps, for cuDNN. */
    int64_t taps = Cg * R * S;
    int direct = group == 1 && Cg < 8 && taps <= PAN_CU_DIRECT_TAPS &&
                 PAN_CU_DIRECT_SMEM_BYTES(K, taps) <= PAN_CU_DIRECT_SMEM && direct_conv_allowed();
    int64_t Cgp = (!direct && group == 1 && Cg % 8 && Cg < 64) ? (Cg + 7) / 8 * 8 : Cg;

    /* weights OIHW FP32 -> KRSC FP16 (cuDNN's NHWC filter layout) */
    int64_t wn = K * Cgp * R * S;
    uint16_t *hw = calloc((size_t)wn, 2);
    if (!hw) return PAN_NOMEM;
    for (int64_t k = 0; k < K; k++)
        for (int64_t c = 0; c < Cg; c++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++)
                    hw[((k * R + r) * S + s) * Cgp + c] = pan__cu_f32_to_f16(cv->w[((k * Cg + c) * R + r) * S + s]);
    int64_t woff = pan__cu_const_append(ex, hw, (size_t)wn * 2);
    free(hw);
    if (woff < 0) return PAN_NOMEM;
    int64_t boff = -1;
    if (cv->bias) {
        boff = pan__cu_const_append(ex, cv->bias, (size_t)K * sizeof *cv->bias);
        if (boff < 0) return PAN_NOMEM;
    }

    pan_cu_conv_shape cs = {
        .n = (int)xd[0], .c = (int)xd[1], .h = (int)xd[2], .w = (int)xd[3],
        .k = (int)K, .r = (int)R, .s = (int)S, .oh = (int)cv->yd[2], .ow = (int)cv->yd[3],
        .stride_h = a->strides[0] > 0 ? (int)a->strides[0] : 1, .stride_w = a->strides[1] > 0 ? (int)a->strides[1] : 1,
        .dil_h = a->dilations[0] > 0 ? (int)a->dilations[0] : 1, .dil_w = a->dilations[1] > 0 ? (int)a->dilations[1] : 1,
        .group = group,
    };
    pan_cu_ref xin;
    int pos = ex->n_steps;
    int asym = pt != pb || pl != pr;
    if (direct || (!asym && Cgp == Cg)) {
        /* the direct kernel pads on its own: top/left given, bottom/right implied by the output size */
        cs.pad_h = (int)pt;
        cs.pad_w = (int)pl;
        TRY(pan__cu_tensor_ref(ex, cv->x, pos, &xin));
    } else {
        /* cuDNN pads symmetrically: pad explicitly into a temporary (TF "SAME" with stride 2),
         * and/or add the zero channels */
        int64_t eh = asym ? pt + pb : 0, ew = asym ? pl + pr : 0;
        int64_t pd[4] = {xd[0], Cgp, xd[2] + eh, xd[3] + ew};
        int64_t pbytes = pd[0] * pd[1] * pd[2] * pd[3] * 2;
        int tb = pan__cu_buf_add(ex, pbytes, pos, pos + 1);
        if (tb < 0) return PAN_NOMEM;
        NEW_STEP(sp, PAN_CU_STEP_PAD);
        sp->y.space = PAN_CU_REF_ARENA;
        sp->y.id = tb;
        TRY(pan__cu_tensor_ref(ex, cv->x, pos, &sp->a));
        int64_t ys[4], xs[4], begin[4] = {0, 0, asym ? pt : 0, asym ? pl : 0};
        pan__cu_phys_strides(4, pd, 1, ys);
        pan__cu_phys_strides(4, xd, 1, xs);
        const int order[4] = {0, 2, 3, 1};
        sp->p.pad.rank = 4;
        for (int k = 0; k < 4; k++) {
            sp->p.pad.dims[k] = (int)pd[order[k]];
            sp->p.pad.out_strides[k] = (int)ys[order[k]];
            sp->p.pad.in_dims[k] = (int)xd[order[k]];
            sp->p.pad.in_strides[k] = (int)xs[order[k]];
            sp->p.pad.begin[k] = (int)begin[order[k]];
        }
        sp->p.pad.mode = PAN_PAD_CONSTANT;
        sp->p.pad.value = 0.f;
        cs.c = (int)Cgp;
        cs.h = (int)pd[2];
        cs.w = (int)pd[3];
        cs.pad_h = asym ? 0 : (int)pt;
        cs.pad_w = asym ? 0 : (int)pl;
        xin = sp->y;
        pos = ex->n_steps;
    }

    int act = pan__cu_act_of(a->act);
    int has_res = cv->res >= 0;
    int64_t coff = 0;
    int cat = concat_target(ex, cv->y, &coff);
    NEW_STEP(sc, direct ? PAN_CU_STEP_CONV_DIRECT : PAN_CU_STEP_CONV);
    sc->a = xin;
    sc->b.space = PAN_CU_REF_CONST;
    sc->b.off = woff;
    if (direct)
        sc->p.dconv = (pan_cu_dconv){.n = cs.n, .c = cs.c, .h = cs.h, .w = cs.w, .k = cs.k, .r = cs.r, .s = cs.s,
                                     .oh = cs.oh, .ow = cs.ow, .pad_h = cs.pad_h, .pad_w = cs.pad_w,
                                     .stride_h = cs.stride_h, .stride_w = cs.stride_w, .dil_h = cs.dil_h, .dil_w = cs.dil_w};
    else
        sc->p.conv = cs;
    if (cat >= 0) {
        /* the conv writes a temporary; the epilogue writes the concat's slice (no concat copy) */
        int64_t ybytes = ex->ti[cv->y].numel * 2;
        int tb = pan__cu_buf_add(ex, ybytes, pos, pos + 1);
        if (tb < 0) return PAN_NOMEM;
        sc->y.space = PAN_CU_REF_ARENA;
        sc->y.id = tb;
        /* a fused conv writes the concat already at this step: keep its buffer alive from here */
        pan_cu_ref early;
        TRY(pan__cu_tensor_ref(ex, cat, pos, &early));
    } else {
        TRY(pan__cu_tensor_ref(ex, cv->y, pos, &sc->y));
    }

    if (direct && !has_res && cat < 0) {
        /* bias and activation in the direct kernel: no epilogue pass over the output */
        if (boff >= 0) {
            sc->c.space = PAN_CU_REF_CONST;
            sc->c.off = boff;
        }
        sc->p.dconv.act = act;
        sc->p.dconv.alpha = a->act_alpha;
        sc->p.dconv.beta = a->act_beta;
    } else if (boff >= 0 || act != PAN_CU_U_NONE || has_res || cat >= 0) {
        pos = ex->n_steps;
        pan_cu_ref raw = sc->y;
        NEW_STEP(se, PAN_CU_STEP_EPILOGUE);
        se->a = raw;
        se->ys = (int)K;
        if (cat >= 0) {
            TRY(pan__cu_tensor_ref(ex, cat, pos, &se->y));
            se->y.off = coff * 2;
            se->ys = (int)ex->g->tensors[cat].dims[1];
            ex->ti[cv->y].in_concat = 1;
        } else {
            se->y = raw;
        }
        if (boff >= 0) {
            se->b.space = PAN_CU_REF_CONST;
            se->b.off = boff;
        }
        if (has_res) TRY(pan__cu_tensor_ref(ex, cv->res, pos, &se->c));
        se->n = ex->ti[cv->y].numel;
        se->C = (int)K;
        se->op = act;
        se->alpha = a->act_alpha;
        se->beta = a->act_beta;
        se->flag = a->residual_after_act;
    }
    return PAN_OK;
}

/* FP32 copy of a constant (n elements) or NULL when out of memory. */
static float *const_floats(const pan_tensor *t, int64_t n)
{
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (v)
        for (int64_t i = 0; i < n; i++) v[i] = pan__cu_const_f32(t, i);
    return v;
}

pan_status pan__cu_lower_conv(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0), *w = IN(1), *y = OUT(0);
    if (!(w->flags & PAN_TENSOR_CONST) || (HAS_IN(2) && !(IN(2)->flags & PAN_TENSOR_CONST))) {
        pan__cu_lower_error(ex, n, "weights and bias must be constants");
        return PAN_UNSUPPORTED;
    }
    if (!ex->ti[n->inputs[0]].nhwc || (x->flags & PAN_TENSOR_CONST)) {
        pan__cu_lower_error(ex, n, "input must be a 4-D activation");
        return PAN_UNSUPPORTED;
    }
    if (HAS_IN(3) && (IN(3)->flags & PAN_TENSOR_CONST || !ex->ti[n->inputs[3]].nhwc)) {
        pan__cu_lower_error(ex, n, "residual must be a 4-D activation");
        return PAN_UNSUPPORTED;
    }
    conv_spec cv = {.x = n->inputs[0], .y = n->outputs[0], .res = HAS_IN(3) ? n->inputs[3] : -1,
                    .K = w->dims[0], .Cg = w->dims[1], .R = w->dims[2], .S = w->dims[3], .a = n->attrs.conv};
    memcpy(cv.xd, x->dims, sizeof cv.xd);
    memcpy(cv.yd, y->dims, sizeof cv.yd);
    float *wf = const_floats(w, cv.K * cv.Cg * cv.R * cv.S), *bf = HAS_IN(2) ? const_floats(IN(2), cv.K) : NULL;
    pan_status st = wf && (bf || !HAS_IN(2)) ? PAN_OK : PAN_NOMEM;
    cv.w = wf;
    cv.bias = bf;
    if (!st) st = lower_conv_spec(ex, node_idx, n, &cv);
    free(wf);
    free(bf);
    return st;
}

/* Gemm (A runtime [M, K], B and C constants) and MatMul (A runtime [..., M, K] row-major, B a
 * constant [K, N]): y = alpha·A·B' + beta·C is a 1x1 convolution of M pixels with K channels
 * into N channels (row-major [M, K] is NHWC [M, K, 1, 1]), with C as its bias: tensor cores,
 * the measured engine choice and the fused epilogue of the convolutions, for nothing new.
 * Both operands at run time (attention) are not supported. */
pan_status pan__cu_lower_gemm(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *A = IN(0), *B = IN(1), *Y = OUT(0);
    int gemm = n->op == PAN_OP_GEMM;
    int ta = gemm && n->attrs.gemm.trans_a, tb = gemm && n->attrs.gemm.trans_b;
    float alpha = gemm ? n->attrs.gemm.alpha : 1.f, beta = gemm ? n->attrs.gemm.beta : 1.f;
    if ((A->flags & PAN_TENSOR_CONST) || !(B->flags & PAN_TENSOR_CONST)) {
        pan__cu_lower_error(ex, n, "needs a run-time first operand and constant weights (both at run time: "
                                   "not supported by the cuda backend)");
        return PAN_UNSUPPORTED;
    }
    if (ta || A->rank < 2 || ex->ti[n->inputs[0]].nhwc || ex->ti[n->outputs[0]].nhwc) {
        pan__cu_lower_error(ex, n, ta ? "transA on a run-time operand is not supported by the cuda backend"
                                      : "operand and result must be 2-D or 3-D on the cuda backend");
        return PAN_UNSUPPORTED;
    }
    for (int i = 0; i + 2 < B->rank; i++)
        if (B->dims[i] != 1) {
            pan__cu_lower_error(ex, n, "batched constant weights are not supported by the cuda backend");
            return PAN_UNSUPPORTED;
        }
    if (B->rank < 2) {
        pan__cu_lower_error(ex, n, "1-D weights are not supported by the cuda backend");
        return PAN_UNSUPPORTED;
    }
    int64_t Kd = A->dims[A->rank - 1], M = 1;
    for (int i = 0; i + 1 < A->rank; i++) M *= A->dims[i];
    int64_t br = B->dims[B->rank - 2], bc = B->dims[B->rank - 1];
    int64_t N = tb ? br : bc;
    if ((tb ? bc : br) != Kd || Y->dims[Y->rank - 1] != N) {
        pan__cu_lower_error(ex, n, "operand shapes disagree");
        return PAN_INVAL;
    }
    const pan_tensor *C = gemm && HAS_IN(2) ? IN(2) : NULL;
    int64_t cn = C ? pan__tensor_numel(C) : 0;
    if (C && (!(C->flags & PAN_TENSOR_CONST) || (cn != 1 && cn != N) || (C->rank >= 1 && cn == N && C->dims[C->rank - 1] != N))) {
        pan__cu_lower_error(ex, n, "C must be a constant scalar or row of N values on the cuda backend");
        return PAN_UNSUPPORTED;
    }
    conv_spec cv = {.x = n->inputs[0], .y = n->outputs[0], .res = -1, .K = N, .Cg = Kd, .R = 1, .S = 1,
                    .xd = {M, Kd, 1, 1}, .yd = {M, N, 1, 1}};
    cv.a.group = 1;
    float *wf = malloc((size_t)(N * Kd) * sizeof *wf), *bf = C ? malloc((size_t)N * sizeof *bf) : NULL;
    pan_status st = wf && (bf || !C) ? PAN_OK : PAN_NOMEM;
    if (!st) {
        for (int64_t o = 0; o < N; o++)
            for (int64_t k = 0; k < Kd; k++)
                wf[o * Kd + k] = alpha * pan__cu_const_f32(B, tb ? o * Kd + k : k * N + o);
        for (int64_t o = 0; bf && o < N; o++) bf[o] = beta * pan__cu_const_f32(C, cn == 1 ? 0 : o);
        cv.w = wf;
        cv.bias = bf;
        st = lower_conv_spec(ex, node_idx, n, &cv);
    }
    free(wf);
    free(bf);
    return st;
}

pan_status pan__cu_lower_batchnorm(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0);
    for (int k = 1; k <= 4; k++)
        if (!HAS_IN(k) || !(IN(k)->flags & PAN_TENSOR_CONST)) {
            pan__cu_lower_error(ex, n, "batch-norm parameters must be constants");
            return PAN_UNSUPPORTED;
        }
    int64_t C = x->rank > 1 ? x->dims[1] : 1;
    float *h = malloc((size_t)C * 2 * sizeof *h);
    if (!h) return PAN_NOMEM;
    for (int64_t c = 0; c < C; c++) {
        double sc = pan__tensor_get_f64(IN(1), c) / sqrt(pan__tensor_get_f64(IN(4), c) + n->attrs.bn.epsilon);
        h[c] = (float)sc;
        h[C + c] = (float)(pan__tensor_get_f64(IN(2), c) - pan__tensor_get_f64(IN(3), c) * sc);
    }
    int64_t off = pan__cu_const_append(ex, h, (size_t)C * 2 * sizeof *h);
    free(h);
    if (off < 0) return PAN_NOMEM;
    int pos = ex->n_steps;
    NEW_STEP(s, PAN_CU_STEP_AFFINE);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    s->b.space = s->c.space = PAN_CU_REF_CONST;
    s->b.off = off;
    s->c.off = off + C * (int64_t)sizeof(float);
    s->n = ex->ti[n->outputs[0]].numel;
    s->C = (int)C;
    s->div = 1;
    if (!ex->ti[n->inputs[0]].nhwc)
        for (int i = 2; i < x->rank; i++) s->div *= x->dims[i];
    return PAN_OK;
}
