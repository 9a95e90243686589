/* pan_reid: which detections get an embedding, chunking, and the model's input/output checks.
 * The pixels work is in reid_cpu.c / reid_cuda.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "panoptes/log.h"
#include "vision/reid_impl.h"

#define TAG "reid"

void pan__l2_normalize_rows(float *x, int n, int d)
{
    for (int i = 0; i < n; i++) {
        float *r = x + (size_t)i * (size_t)d;
        double s = 0;
        for (int k = 0; k < d; k++) s += (double)r[k] * r[k];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.f;
        for (int k = 0; k < d; k++) r[k] *= inv;
    }
}

void pan_reid_destroy(pan_reid **rp)
{
    if (!rp || !*rp) return;
    pan_reid *r = *rp;
    *rp = NULL;
    if (r->be) r->be->destroy(r->be);
    pan_engine_destroy(&r->engine);
    free(r->model_path);
    free(r->items);
    free(r->emb);
    free(r->mean);
    free(r->mean_n);
    free(r);
}

/* The model must look like a ReID network: one image input [B, 3, H, W], an output [B, D...]. */
static pan_status open_model(pan_reid *r)
{
    pan_engine_params ep;
    memset(&ep, 0, sizeof ep);
    ep.model_path = r->model_path;
    ep.backend = r->p.backend == PAN_BACKEND_CUDA ? PAN_BACKEND_CUDA : PAN_BACKEND_CPU;
    ep.max_batch = r->max_crops;
    ep.threads = r->p.threads;
    ep.device = r->p.device;
    ep.cache_dir = r->p.cache_dir;
    pan_status st = pan_engine_create(&r->engine, &ep);
    if (st) {
        pan_log_error(TAG, -1, "%s: cannot load the ReID model (%s); pass an ONNX model with input [B,3,H,W], "
                               "or --reid default",
                      r->model_path, pan_status_str(st));
        return st;
    }
    pan_engine_tensor_info in;
    r->in_index = 0;
    r->out_index = 0;
    if ((st = pan_engine_input_info(r->engine, 0, &in))) return st;
    if (pan_engine_num_inputs(r->engine) != 1 || in.rank != 4 || in.dims[1] != 3) {
        pan_log_error(TAG, -1, "%s: a ReID model needs one input [B, 3, H, W] (NCHW RGB, as torchreid exports); "
                               "'%s' has rank %d",
                      r->model_path, in.name, in.rank);
        return PAN_UNSUPPORTED;
    }
    if (!r->p.crop_width) r->p.crop_width = in.dims[3] > 0 ? (int)in.dims[3] : 128;
    if (!r->p.crop_height) r->p.crop_height = in.dims[2] > 0 ? (int)in.dims[2] : 256;
    if ((in.dims[3] > 0 && in.dims[3] != r->p.crop_width) || (in.dims[2] > 0 && in.dims[2] != r->p.crop_height)) {
        pan_log_error(TAG, -1, "%s: the model takes %lldx%lld crops, not %dx%d", r->model_path, (long long)in.dims[3],
                      (long long)in.dims[2], r->p.crop_width, r->p.crop_height);
        return PAN_INVAL;
    }
    if (pan_engine_num_outputs(r->engine) != 1) {
        pan_log_error(TAG, -1, "%s: a ReID model needs exactly one output (the embedding), it has %d", r->model_path,
                      pan_engine_num_outputs(r->engine));
        return PAN_UNSUPPORTED;
    }
    size_t d = pan_engine_output_numel(r->engine, 0, 1);
    if (d == 0 || d > 16384) {
        pan_log_error(TAG, -1, "%s: output 0 has %zu values per crop; expected an embedding [B, D] with D <= 16384",
                      r->model_path, d);
        return PAN_UNSUPPORTED;
    }
    r->dim = (int)d;
    r->roi = pan_roi_params_torchreid(r->p.crop_width, r->p.crop_height);
    return PAN_OK;
}

pan_status pan_reid_create(pan_reid **out, const pan_reid_params *params)
{
    pan_reid_params defaults;
    memset(&defaults, 0, sizeof defaults);
    if (!out) return PAN_INVAL;
    *out = NULL;
    if (!params) params = &defaults;
    if (params->max_crops < 0 || params->crop_width < 0 || params->crop_height < 0 || params->max_crops > 65535)
        return PAN_INVAL;
    pan_reid *r = calloc(1, sizeof *r);
    if (!r) return PAN_NOMEM;
    pan_status st = PAN_NOMEM;
    r->p = *params;
    /* cpu: 32 model crops are 12.6 MB of FP32 staging, and the cpu engine gains nothing from more */
    r->max_crops = r->p.max_crops ? r->p.max_crops : r->p.backend == PAN_BACKEND_CUDA ? 256 : 32;
    if (r->p.model_path) {
        if (!(r->model_path = strdup(r->p.model_path))) goto fail;
        if ((st = open_model(r))) goto fail;
    } else {
        /* the descriptor's formula fixes its grid: a different crop size is refused, not rescaled */
        if ((r->p.crop_width && r->p.crop_width != PAN_REID_DEFAULT_CROP_W) ||
            (r->p.crop_height && r->p.crop_height != PAN_REID_DEFAULT_CROP_H)) {
            pan_log_error(TAG, -1, "the default descriptor uses %dx%d crops", PAN_REID_DEFAULT_CROP_W, PAN_REID_DEFAULT_CROP_H);
            st = PAN_INVAL;
            goto fail;
        }
        r->p.crop_width = PAN_REID_DEFAULT_CROP_W;
        r->p.crop_height = PAN_REID_DEFAULT_CROP_H;
        r->dim = PAN_REID_DEFAULT_DIM;
        memset(&r->roi, 0, sizeof r->roi);
        r->roi.width = PAN_REID_DEFAULT_CROP_W;
        r->roi.height = PAN_REID_DEFAULT_CROP_H;
        r->roi.layout = PAN_LAYOUT_NHWC;
        for (int c = 0; c < 3; c++) r->roi.std[c] = 1.f; /* raw RGB 0–255 */
    }
    r->roi.keep_aspect = r->p.keep_aspect;
    r->roi.pad_value = r->p.pad_value;
    if (r->p.backend == PAN_BACKEND_CUDA) {
#ifdef PANOPTES_HAVE_CUDA
        st = pan__reid_cuda_create(r, &r->be);
#else
        pan_log_error(TAG, -1, "this build has no CUDA support; use --backend cpu");
        st = PAN_UNSUPPORTED;
#endif
    } else {
        st = pan__reid_cpu_create(r, &r->be);
    }
    if (st) goto fail;
    pan_log_info(TAG, -1, "appearance: %s (%d-d, %dx%d crops, %s, %s)", r->model_path ? r->model_path : "default colour descriptor",
                 r->dim, r->p.crop_width, r->p.crop_height, r->p.keep_aspect ? "aspect kept" : "stretched",
                 r->p.backend == PAN_BACKEND_CUDA ? "cuda" : "cpu");
    *out = r;
    return PAN_OK;
fail:
    pan_reid_destroy(&r);
    return st;
}

int pan_reid_dim(const pan_reid *r) { return r ? r->dim : 0; }
const char *pan_reid_name(const pan_reid *r) { return !r ? "" : r->model_path ? r->model_path : "default"; }
void pan_reid_crop_size(const pan_reid *r, int *w, int *h)
{
    if (w) *w = r ? r->p.crop_width : 0;
    if (h) *h = r ? r->p.crop_height : 0;
}

/* Centres the default descriptor on its camera's running mean (1/n for the first
 * PAN__REID_MEAN_WINDOW descriptors, then an EMA with that window), then renormalises. Raw colour
 * histograms of different people are alike (cosine ~0.75 on the sample: the same dark clothes,
 * the same pavement); what tells people apart is how each differs from the scene's average, and
 * after centring different people are near 0 and the same person stays high, which is the scale
 * the tracker's appearance gate (cosine >= 0.5) and the identities' (>= 0.6) are made for.
 * The mean is updated with the whole batch first, so the first frame is centred too. */
#define PAN__REID_MEAN_WINDOW 512

static pan_status center(pan_reid *r, const pan__reid_item *items, int n, float *emb)
{
    const int d = r->dim;
    for (int i = 0; i < n; i++) {
        int cam = items[i].frame->camera < 0 ? 0 : items[i].frame->camera;
        if (cam >= r->n_cams) {
            int nc = cam + 8;
            double *m = realloc(r->mean, (size_t)nc * (size_t)d * sizeof *m);
            if (!m) return PAN_NOMEM;
            r->mean = m;
            int64_t *c = realloc(r->mean_n, (size_t)nc * sizeof *c);
            if (!c) return PAN_NOMEM;
            r->mean_n = c;
            memset(r->mean + (size_t)r->n_cams * (size_t)d, 0, (size_t)(nc - r->n_cams) * (size_t)d * sizeof *m);
            memset(r->mean_n + r->n_cams, 0, (size_t)(nc - r->n_cams) * sizeof *c);
            r->n_cams = nc;
        }
        double *mu = r->mean + (size_t)cam * (size_t)d;
        int64_t k = ++r->mean_n[cam];
        double w = k < PAN__REID_MEAN_WINDOW ? 1.0 / (double)k : 1.0 / PAN__REID_MEAN_WINDOW;
        const float *e = emb + (size_t)i * (size_t)d;
        for (int j = 0; j < d; j++) mu[j] += w * ((double)e[j] - mu[j]);
    }
    for (int i = 0; i < n; i++) {
        int cam = items[i].frame->camera < 0 ? 0 : items[i].frame->camera;
        const double *mu = r->mean + (size_t)cam * (size_t)d;
        float *e = emb + (size_t)i * (size_t)d;
        for (int j = 0; j < d; j++) e[j] = (float)((double)e[j] - mu[j]);
    }
    pan__l2_normalize_rows(emb, n, d);
    return PAN_OK;
}

pan_status pan_reid_embed(pan_reid *r, pan_frame *const *frames, int n, pan_detection_list *lists)
{
    if (!r || n < 0 || (n && (!frames || !lists))) return PAN_INVAL;
    int total = 0;
    for (int i = 0; i < n; i++) {
        if (!frames[i]) return PAN_INVAL;
        for (int k = 0; k < lists[i].count; k++) {
            pan_detection *d = &lists[i].items[k];
            d->embedding = NULL;
            d->embedding_dim = 0;
            total += d->score >= r->p.min_score;
        }
    }
    if (total == 0) return PAN_OK;
    if (total > r->cap) {
        pan__reid_item *it = realloc(r->items, (size_t)total * sizeof *it);
        if (!it) return PAN_NOMEM;
        r->items = it;
        float *e = realloc(r->emb, (size_t)total * (size_t)r->dim * sizeof *e);
        if (!e) return PAN_NOMEM;
        r->emb = e;
        r->cap = total;
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < lists[i].count; k++)
            if (lists[i].items[k].score >= r->p.min_score)
                r->items[m++] = (pan__reid_item){frames[i], lists[i].items[k].box};
    for (int off = 0; off < total; off += r->max_crops) {
        int c = total - off < r->max_crops ? total - off : r->max_crops;
        pan_status st = r->be->embed(r, r->items + off, c, r->emb + (size_t)off * (size_t)r->dim);
        if (st) return st;
    }
    if (!r->engine) {
        pan_status st = center(r, r->items, total, r->emb);
        if (st) return st;
    }
    m = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < lists[i].count; k++) {
            pan_detection *d = &lists[i].items[k];
            if (d->score < r->p.min_score) continue;
            d->embedding = r->emb + (size_t)m++ * (size_t)r->dim;
            d->embedding_dim = r->dim;
        }
    pan_log_debug(TAG, -1, "%d embeddings for %d frames", total, n);
    return PAN_OK;
}
