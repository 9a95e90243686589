/* Detector: engine + model input convention + postprocess (see src/vision/detector.h). */
#include "vision/detector.h"

#include <stdlib.h>
#include <string.h>

#include "nn/engine.h"
#include "panoptes/log.h"
#include "vision/detector_impl.h"
#include "vision/family.h"

#define TAG "detector"
#define DEFAULT_MODEL "models/nanodet.json"

struct pan_detector {
    pan_detector_kind kind;
    char *model_path;
    pan_engine_t *engine;
    pan__detector_backend *backend;
    int max_batch;
    pan_preprocess_params pp;
    pan_letterbox *lb; /* max_batch */
    uint8_t class_mask[32];
    int use_mask;
    /* NanoDet */
    pan_nanodet_params nd;
    int nd_cls[PAN_NANODET_MAX_LEVELS], nd_reg[PAN_NANODET_MAX_LEVELS]; /* engine output index per level */
    size_t nd_cls_numel[PAN_NANODET_MAX_LEVELS], nd_reg_numel[PAN_NANODET_MAX_LEVELS];
    pan_post_scratch scratch;
    /* dense heads (YOLOv5/v7, YOLOX, YOLOv8/11, YOLOv10, RT-DETR; src/vision/family*.c) */
    pan__family_config fam;
    size_t head_numel[PAN_HEAD_MAX_TENSORS]; /* per image */
    int num_classes;
};

/* NanoDet outputs: pairs [B, N_l, C] (scores) and [B, N_l, 4·(reg_max+1)] (distributions), matched
 * to levels by N_l = ceil(W/s)·ceil(H/s) for s in 8, 16, 32, 64, 128 (names differ between
 * conversions; shapes do not). The class count is the last dim shared by all score outputs. */
static pan_status setup_nanodet(pan_detector *d, const pan_detector_params *p)
{
    pan_nanodet_params *nd = &d->nd;
    pan_nanodet_params_default(nd);
    nd->input_w = d->pp.width;
    nd->input_h = d->pp.height;
    int n_out = pan_engine_num_outputs(d->engine);
    int64_t ns[16], last[16];
    if (n_out < 2 || n_out > 16 || n_out % 2) goto bad;
    for (int j = 0; j < n_out; j++) {
        pan_engine_tensor_info info;
        if (pan_engine_output_info(d->engine, j, &info) || info.rank != 3) goto bad;
        ns[j] = info.dims[1];
        last[j] = info.dims[2];
    }
    static const int strides[] = {8, 16, 32, 64, 128};
    int levels = 0, reg_bins = -1, classes = -1;
    for (int s = 0; s < 5 && levels < PAN_NANODET_MAX_LEVELS; s++) {
        nd->strides[levels] = strides[s];
        int64_t n = pan_nanodet_level_size(nd, levels);
        int a = -1, b = -1;
        for (int j = 0; j < n_out; j++) {
            if (ns[j] != n) continue;
            if (a < 0) a = j;
            else b = j;
        }
        if (a < 0 || b < 0) continue;
        /* The distribution output's last dim is divisible by 4. When both are (80 classes vs 44
         * = 4·11 bins), the larger is the class scores. */
        int cls = last[a] > last[b] ? a : b;
        if (last[a] % 4 == 0 && last[b] % 4) cls = b;
        else if (last[b] % 4 == 0 && last[a] % 4) cls = a;
        int reg = cls == a ? b : a;
        if (last[reg] % 4 || last[reg] == last[cls]) goto bad;
        if (reg_bins >= 0 && reg_bins != last[reg]) goto bad;
        if (classes >= 0 && classes != last[cls]) goto bad;
        reg_bins = (int)last[reg];
        classes = (int)last[cls];
        d->nd_cls[levels] = cls;
        d->nd_reg[levels] = reg;
        d->nd_cls_numel[levels] = (size_t)n * (size_t)classes;
        d->nd_reg_numel[levels] = (size_t)n * (size_t)reg_bins;
        levels++;
    }
    if (levels * 2 != n_out) goto bad;
    nd->num_levels = levels;
    nd->num_classes = classes;
    nd->reg_max = reg_bins / 4 - 1;
    if (p->score_threshold > 0) nd->score_threshold = p->score_threshold;
    if (p->iou_threshold > 0) nd->nms.iou_threshold = p->iou_threshold;
    if (p->top_k > 0) nd->nms.top_k = p->top_k;
    if (d->use_mask) {
        nd->classes.mask = d->class_mask;
        nd->classes.mask_bytes = (int)sizeof d->class_mask;
    }
    d->num_classes = classes;
    /* NanoDet input convention (nanodet-g config: normalize [[103.53,116.28,123.675],[57.375,57.12,58.395]], BGR) */
    d->pp.channels = PAN_CHANNELS_BGR;
    const float mean[3] = {103.53f, 116.28f, 123.675f}, std[3] = {57.375f, 57.12f, 58.395f};
    memcpy(d->pp.mean, mean, sizeof mean);
    memcpy(d->pp.std, std, sizeof std);
    d->pp.keep_ratio = 1;
    d->pp.pad_value = 0.f;
    return PAN_OK;
bad:
    pan_log_error(TAG, -1, "%s: the outputs do not look like a NanoDet (GFL) head: expected pairs [B,N,C] and "
                  "[B,N,4*(reg_max+1)] per stride 8/16/32 for a %dx%d input",
                  d->model_path, d->pp.width, d->pp.height);
    return PAN_MODEL;
}

/* A dense head: the family chosen (or checked) by family.c, the user's thresholds on top. */
static pan_status setup_head(pan_detector *d, const pan_detector_params *p)
{
    pan__family_config *f = &d->fam;
    pan_head_params *h = &f->head;
    for (int t = 0; t < f->n_tensors; t++)
        d->head_numel[t] = pan_engine_output_numel(d->engine, f->outputs[t], 1);
    if (p->score_threshold > 0) h->score_threshold = p->score_threshold;
    if (p->iou_threshold > 0) h->nms.iou_threshold = p->iou_threshold;
    if (p->top_k > 0) h->nms.top_k = p->top_k;
    if (d->use_mask) {
        h->classes.mask = d->class_mask;
        h->classes.mask_bytes = (int)sizeof d->class_mask;
    }
    d->num_classes = h->num_classes;
    d->pp.channels = f->channels;
    memcpy(d->pp.mean, f->mean, sizeof f->mean);
    memcpy(d->pp.std, f->std, sizeof f->std);
    d->pp.keep_ratio = f->keep_ratio;
    d->pp.pad_value = f->pad_value;
    return PAN_OK;
}

static const char *engine_meta(const void *engine, const char *key) { return pan_engine_metadata(engine, key); }

/* The family: from the outputs (and metadata), or checked against the kind the user named. */
static pan_status resolve_family(pan_detector *d, pan_detector_kind kind)
{
    pan_engine_tensor_info info[16];
    int n_out = pan_engine_num_outputs(d->engine);
    if (n_out < 1 || n_out > 16) {
        pan_log_error(TAG, -1, "%s: %d outputs; a detector has 1 to 16", d->model_path, n_out);
        return PAN_MODEL;
    }
    for (int j = 0; j < n_out; j++) {
        pan_status st = pan_engine_output_info(d->engine, j, &info[j]);
        if (st) return st;
        for (int k = 1; k < info[j].rank; k++)
            if (info[j].dims[k] <= 0) {
                char dims[96];
                pan_log_error(TAG, -1, "%s: output '%s' %s has a dimension that cannot be resolved for the %dx%d "
                              "input; export the model with a fixed input size",
                              d->model_path, info[j].name, pan__family_dims(&info[j], dims, sizeof dims), d->pp.width,
                              d->pp.height);
                return PAN_MODEL;
            }
    }
    pan__family_probe probe = {d->model_path, d->pp.width, d->pp.height, n_out, info, engine_meta, d->engine};
    pan_status st = pan__family_resolve(&probe, kind, &d->fam);
    if (st) return st;
    d->kind = d->fam.kind;
    return PAN_OK;
}

/* The cuda backend decodes on the GPU with the same parameters as the host decoders. */
static pan_status make_cuda_backend(pan_detector *d, const pan_detector_params *p)
{
#ifdef PANOPTES_HAVE_CUDA
    pan__detector_post_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.yolo = d->kind != PAN_DETECTOR_NANODET;
    cfg.num_classes = d->num_classes;
    cfg.input_w = d->pp.width;
    cfg.input_h = d->pp.height;
    cfg.use_mask = d->use_mask;
    memcpy(cfg.class_mask, d->class_mask, sizeof cfg.class_mask);
    if (cfg.yolo) {
        cfg.head = d->fam.head;
        cfg.head.classes.mask = NULL; /* the GPU reads cfg.class_mask */
        cfg.n_head_tensors = d->fam.n_tensors;
        memcpy(cfg.head_output, d->fam.outputs, sizeof cfg.head_output);
        for (int t = 0; t < d->fam.n_tensors; t++) cfg.head_numel[t] = d->head_numel[t];
        cfg.score_threshold = d->fam.head.score_threshold;
        cfg.iou_threshold = d->fam.head.nms_enabled ? d->fam.head.nms.iou_threshold : 0.f;
        cfg.top_k = d->fam.head.nms.top_k;
        cfg.num_anchors = d->fam.head.num_rows;
    } else {
        cfg.score_threshold = d->nd.score_threshold;
        cfg.iou_threshold = d->nd.nms.iou_threshold;
        cfg.top_k = d->nd.nms.top_k;
        cfg.nms_pre = d->nd.nms_pre;
        cfg.num_levels = d->nd.num_levels;
        cfg.reg_max = d->nd.reg_max;
        for (int l = 0; l < d->nd.num_levels; l++) {
            cfg.cls_output[l] = d->nd_cls[l];
            cfg.reg_output[l] = d->nd_reg[l];
            cfg.level_n[l] = pan_nanodet_level_size(&d->nd, l);
            cfg.stride[l] = d->nd.strides[l];
            cfg.level_fw[l] = (d->nd.input_w + cfg.stride[l] - 1) / cfg.stride[l];
        }
    }
    if (cfg.top_k <= 0) cfg.top_k = 100;
    if (cfg.iou_threshold <= 0 && !(cfg.yolo && !cfg.head.nms_enabled)) cfg.iou_threshold = 0.6f;
    return pan__detector_cuda_create(&d->backend, d->engine, d->max_batch, p->device, &d->pp, &cfg);
#else
    (void)d, (void)p;
    return PAN_UNSUPPORTED;
#endif
}

pan_status pan_detector_create(pan_detector **out, const pan_detector_params *p)
{
    pan_detector_params defaults;
    memset(&defaults, 0, sizeof defaults);
    if (!out) return PAN_INVAL;
    *out = NULL;
    if (!p) p = &defaults;
    pan_status st = PAN_NOMEM;
    pan_detector *d = calloc(1, sizeof *d);
    if (!d) return PAN_NOMEM;
    d->model_path = strdup(p->model_path ? p->model_path : DEFAULT_MODEL);
    d->max_batch = p->max_batch > 0 ? p->max_batch : 1;
    d->lb = calloc((size_t)d->max_batch, sizeof *d->lb);
    if (!d->model_path || !d->lb) goto fail;
    if (p->classes && p->n_classes > 0) {
        d->use_mask = 1;
        for (int i = 0; i < p->n_classes; i++) {
            int c = p->classes[i];
            if (c < 0 || c >= 8 * (int)sizeof d->class_mask) {
                pan_log_error(TAG, -1, "class filter: class id %d is outside 0..%d", c, 8 * (int)sizeof d->class_mask - 1);
                st = PAN_RANGE;
                goto fail;
            }
            d->class_mask[c >> 3] |= (uint8_t)(1u << (c & 7));
        }
    }
#ifndef PANOPTES_HAVE_CUDA
    if (p->backend == PAN_BACKEND_CUDA) {
        pan_log_error(TAG, -1, "%s: this build has no CUDA support; use --backend cpu", d->model_path);
        st = PAN_UNSUPPORTED;
        goto fail;
    }
#endif
    pan_engine_params ep;
    memset(&ep, 0, sizeof ep);
    ep.model_path = d->model_path;
    ep.backend = p->backend == PAN_BACKEND_CUDA ? PAN_BACKEND_CUDA : PAN_BACKEND_CPU;
    ep.max_batch = d->max_batch;
    ep.threads = p->threads;
    ep.device = p->device;
    ep.cache_dir = p->cache_dir;
    if ((st = pan_engine_create(&d->engine, &ep))) goto fail;
    pan_engine_tensor_info in;
    if ((st = pan_engine_input_info(d->engine, 0, &in))) goto fail;
    if (in.rank != 4 || (in.dims[1] != 3 && in.dims[3] != 3)) {
        pan_log_error(TAG, -1, "%s: input '%s' is not an image batch [B,3,H,W] or [B,H,W,3]", d->model_path, in.name);
        st = PAN_MODEL;
        goto fail;
    }
    d->pp.layout = in.dims[1] == 3 ? PAN_LAYOUT_NCHW : PAN_LAYOUT_NHWC;
    d->pp.height = (int)(d->pp.layout == PAN_LAYOUT_NCHW ? in.dims[2] : in.dims[1]);
    d->pp.width = (int)(d->pp.layout == PAN_LAYOUT_NCHW ? in.dims[3] : in.dims[2]);
    d->kind = p->kind;
    if (d->kind != PAN_DETECTOR_NANODET && (st = resolve_family(d, p->kind))) goto fail;
    st = d->kind == PAN_DETECTOR_NANODET ? setup_nanodet(d, p) : setup_head(d, p);
    if (st) goto fail;
    if (p->backend == PAN_BACKEND_CUDA) st = make_cuda_backend(d, p);
    else st = pan__detector_cpu_create(&d->backend, d->engine, d->max_batch);
    if (st) goto fail;
    pan_log_info(TAG, -1, "%s: %s detector%s%s, input %dx%d, %d classes, batch <= %d, backend %s", d->model_path,
                 pan_detector_kind_name(d->kind), d->fam.layout[0] ? ", outputs " : "", d->fam.layout, d->pp.width,
                 d->pp.height, d->num_classes, d->max_batch, d->backend->name);
    *out = d;
    return PAN_OK;
fail:
    pan_detector_destroy(&d);
    return st;
}

void pan_detector_destroy(pan_detector **pd)
{
    if (!pd || !*pd) return;
    pan_detector *d = *pd;
    if (d->backend) d->backend->destroy(d->backend);
    pan_engine_destroy(&d->engine);
    pan_post_scratch_free(&d->scratch);
    free(d->lb);
    free(d->model_path);
    free(d);
    *pd = NULL;
}

pan_status pan_detector_detect(pan_detector *d, pan_frame *const *frames, int n, pan_detection_list *out)
{
    if (!d || !frames || !out || n < 1) return PAN_INVAL;
    if (n > d->max_batch) {
        pan_log_error(TAG, -1, "%s: batch of %d frames exceeds max_batch %d", d->model_path, n, d->max_batch);
        return PAN_LIMIT;
    }
    if (d->backend->detect) {
        pan_status st = d->backend->detect(d->backend, frames, n, &d->pp, d->lb, out);
        if (st) return st;
        for (int i = 0; i < n; i++)
            pan_log_debug(TAG, frames[i]->camera, "frame %lld: %d detections", (long long)frames[i]->index, out[i].count);
        return PAN_OK;
    }
    float *const *raw;
    pan_status st = d->backend->run(d->backend, frames, n, &d->pp, d->lb, &raw);
    if (st) return st;
    for (int i = 0; i < n; i++) {
        if (d->kind != PAN_DETECTOR_NANODET) {
            const float *t[PAN_HEAD_MAX_TENSORS] = {0};
            for (int k = 0; k < d->fam.n_tensors; k++) t[k] = raw[d->fam.outputs[k]] + (size_t)i * d->head_numel[k];
            st = pan_head_decode(&d->fam.head, t, &d->lb[i], &out[i]);
        } else {
            const float *cls[PAN_NANODET_MAX_LEVELS], *reg[PAN_NANODET_MAX_LEVELS];
            for (int l = 0; l < d->nd.num_levels; l++) {
                cls[l] = raw[d->nd_cls[l]] + (size_t)i * d->nd_cls_numel[l];
                reg[l] = raw[d->nd_reg[l]] + (size_t)i * d->nd_reg_numel[l];
            }
            st = pan_nanodet_decode(&d->nd, cls, reg, &d->lb[i], &out[i], &d->scratch);
        }
        if (st) return st;
        pan_log_debug(TAG, frames[i]->camera, "frame %lld: %d detections", (long long)frames[i]->index, out[i].count);
    }
    return PAN_OK;
}

pan_detector_kind pan_detector_get_kind(const pan_detector *d) { return d->kind; }

void pan_detector_input_size(const pan_detector *d, int *w, int *h)
{
    if (w) *w = d->pp.width;
    if (h) *h = d->pp.height;
}

int pan_detector_num_classes(const pan_detector *d) { return d->num_classes; }
