/* cuda detector backend: device frames (NVDEC surfaces) → fused preprocess kernel (FP16, the
 * engine's native layout) → FP16 engine → GPU decode + NMS → compact lists copied to the host.
 * Per batch the host makes a handful of calls and waits once, for [B, top_k, 6] floats; no pixel
 * and no tensor crosses PCIe (phase 2.1 of the seed plan, without its numpy round trip). */
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda_check.h"
#include "core/devpool.h"
#include "core/gpu.h"
#include "panoptes/log.h"
#include "vision/preprocess_gpu.h"
#include "vision/detector_impl.h"
#include "vision/postprocess_gpu.h"

#define TAG "detector"

typedef struct cuda_det {
    pan_engine_t *engine;
    int max_batch, device;
    pan__detector_post_config cfg;
    pan_preprocess_params pp;     /* the model's, with the engine's native input layout */
    pan_preprocess_gpu *pre;
    cudaStream_t stream;
    pan_devpool *pool;
    pan_devblock *input_blk, *cand_blk, *counts_blk, *out_blk;
    pan_devblock **output_blk;    /* one per engine output */
    pan_engine_tensor input;
    pan_engine_tensor *outputs;
    int n_outputs;
    int half_outputs;
    float *host_out;              /* pinned [B, top_k, 6] */
    int *host_counts;             /* pinned [2B + 1] */
    int overflow_warned;
    int buckets[3], n_buckets;    /* batch sizes the engine is planned for (ascending) */
} cuda_det;

static void cuda_destroy(pan__detector_backend *b)
{
    cuda_det *c = b->ctx;
    if (c) {
        if (c->stream) cudaStreamSynchronize(c->stream);
        pan_preprocess_gpu_destroy(&c->pre);
        pan_devblock_unref(&c->input_blk);
        pan_devblock_unref(&c->cand_blk);
        pan_devblock_unref(&c->counts_blk);
        pan_devblock_unref(&c->out_blk);
        for (int i = 0; c->output_blk && i < c->n_outputs; i++) pan_devblock_unref(&c->output_blk[i]);
        free(c->output_blk);
        free(c->outputs);
        if (c->host_out) cudaFreeHost(c->host_out);
        if (c->host_counts) cudaFreeHost(c->host_counts);
        if (c->stream) cudaStreamDestroy(c->stream);
        free(c);
    }
    free(b);
}

static pan_status alloc_block(cuda_det *c, size_t bytes, const char *owner, pan_devblock **blk)
{
    pan_status st = pan_devpool_alloc(c->pool, bytes, owner, blk);
    if (st) pan_log_error(TAG, -1, "cannot allocate %zu bytes of GPU memory for %s: %s", bytes, owner, pan_status_str(st));
    return st;
}

static pan_status cuda_detect(pan__detector_backend *b, pan_frame *const *frames, int n, const pan_preprocess_params *pp_model,
                              pan_letterbox *lb, pan_detection_list *out)
{
    cuda_det *c = b->ctx;
    pan_status st;
    (void)pp_model; /* c->pp holds the same geometry and normalisation, in the engine's layout */
    for (int i = 0; i < n; i++) {
        if (frames[i]->memory != PAN_MEMORY_DEVICE) {
            pan_log_error(TAG, frames[i]->camera, "GPU-only violation in detect: frame %lld is in host memory",
                          (long long)frames[i]->index);
            return PAN_RESIDENCY;
        }
    }
    st = pan_preprocess_gpu_run(c->pre, frames, n, c->input.data, lb, c->stream);
    if (st) return st;
    /* The engine runs at the smallest planned batch size that holds n: planning a size (cuDNN
     * engine choice and compilation, a CUDA graph) takes seconds, so a run must never meet a new
     * one. The padding images hold stale input; their outputs are never read. */
    int bucket = c->buckets[c->n_buckets - 1];
    for (int k = 0; k < c->n_buckets; k++)
        if (c->buckets[k] >= n) {
            bucket = c->buckets[k];
            break;
        }
    st = pan_engine_run_tensors(c->engine, bucket, &c->input, c->outputs, c->stream);
    if (st) return st;

    pan__gpu_post_params p;
    memset(&p, 0, sizeof p);
    const pan__detector_post_config *cfg = &c->cfg;
    p.yolo = cfg->yolo;
    p.half = c->half_outputs;
    p.batch = n;
    p.num_classes = cfg->num_classes;
    p.score_threshold = cfg->score_threshold;
    p.iou_threshold = cfg->iou_threshold;
    p.top_k = cfg->top_k;
    p.nms_pre = cfg->nms_pre;
    p.input_w = cfg->input_w;
    p.input_h = cfg->input_h;
    if (cfg->use_mask) {
        p.filter = 1;
        for (int k = 0; k < 128; k++)
            if (cfg->class_mask[k >> 3] >> (k & 7) & 1) p.class_mask[k >> 5] |= 1u << (k & 31);
    }
    p.num_levels = cfg->num_levels;
    p.reg_max = cfg->reg_max;
    for (int l = 0; l < cfg->num_levels; l++) {
        p.cls[l] = c->outputs[cfg->cls_output[l]].data;
        p.reg[l] = c->outputs[cfg->reg_output[l]].data;
        p.level_n[l] = cfg->level_n[l];
        p.level_fw[l] = cfg->level_fw[l];
        p.stride[l] = cfg->stride[l];
    }
    if (cfg->yolo) {
        p.head = cfg->head;
        for (int t = 0; t < cfg->n_head_tensors; t++) {
            p.head_tensor[t] = c->outputs[cfg->head_output[t]].data;
            p.head_image_stride[t] = cfg->head_numel[t];
        }
        p.num_anchors = cfg->num_anchors;
    }
    p.candidates = pan_devblock_ptr(c->cand_blk);
    p.counts = pan_devblock_ptr(c->counts_blk);
    p.out = pan_devblock_ptr(c->out_blk);
    PAN_CUDA_CHECK((cudaError_t)pan__gpu_post_launch(&p, c->stream));
    PAN_CUDA_CHECK(cudaMemcpyAsync(c->host_counts, p.counts, pan__gpu_post_counts_bytes(n), cudaMemcpyDeviceToHost, c->stream));
    PAN_CUDA_CHECK(cudaMemcpyAsync(c->host_out, p.out, pan__gpu_post_out_bytes(n, cfg->top_k), cudaMemcpyDeviceToHost, c->stream));
    /* The one wait per batch: the compact lists. It also means the frames' surfaces have been read. */
    PAN_CUDA_CHECK(cudaStreamSynchronize(c->stream));

    if (c->host_counts[2 * n] && !c->overflow_warned++)
        pan_log_warn(TAG, -1, "more than %d priors of a level passed the score threshold; the GPU decode kept them all "
                              "(the cpu decode keeps the best %d)", cfg->nms_pre, cfg->nms_pre);
    for (int i = 0; i < n; i++) {
        int cand = c->host_counts[i], kept = c->host_counts[n + i];
        if (cand > PAN_GPU_POST_CANDIDATES)
            pan_log_warn(TAG, frames[i]->camera, "frame %lld: %d candidates, only %d considered for NMS",
                         (long long)frames[i]->index, cand, PAN_GPU_POST_CANDIDATES);
        st = pan_detection_list_reserve(&out[i], kept);
        if (st) return st;
        const float *r = c->host_out + (size_t)i * cfg->top_k * 6;
        for (int k = 0; k < kept; k++) {
            pan_detection *d = &out[i].items[k];
            memcpy(d->box, r + 6 * k, 4 * sizeof(float));
            pan_letterbox_unmap_box(&lb[i], d->box);
            d->score = r[6 * k + 4];
            d->class_id = (int)r[6 * k + 5];
            d->embedding = NULL;
            d->embedding_dim = 0;
        }
        out[i].count = kept;
    }
    return PAN_OK;
}

pan_status pan__detector_cuda_create(pan__detector_backend **out, pan_engine_t *engine, int max_batch, int device,
                                     const pan_preprocess_params *pp, const pan__detector_post_config *cfg)
{
    pan__detector_backend *b = calloc(1, sizeof *b);
    cuda_det *c = calloc(1, sizeof *c);
    pan_status st = PAN_NOMEM;
    *out = NULL;
    if (!b || !c) {
        free(b);
        free(c);
        return PAN_NOMEM;
    }
    b->name = "cuda";
    b->ctx = c;
    b->detect = cuda_detect;
    b->destroy = cuda_destroy;
    c->engine = engine;
    c->max_batch = max_batch;
    c->device = device;
    c->cfg = *cfg;
    if ((st = pan_gpu_init(device))) goto fail;
    if ((st = pan_devpool_get(device, &c->pool))) goto fail;
    PAN_CUDA_TRY(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));

    pan_engine_tensor_info in;
    if ((st = pan_engine_input_info(engine, 0, &in))) goto fail;
    c->pp = *pp;
    c->pp.layout = in.native_layout;
    if (in.native_dtype != PAN_DTYPE_F16 || in.native_memory != PAN_MEMORY_DEVICE) {
        pan_log_error(TAG, -1, "the engine's input is not device FP16 (%s); cannot feed it from the GPU preprocess",
                      pan_dtype_name(in.native_dtype));
        st = PAN_UNSUPPORTED;
        goto fail;
    }
    if ((st = pan_preprocess_gpu_create(&c->pre, &c->pp, max_batch, device))) goto fail;
    if ((st = alloc_block(c, pan_preprocess_gpu_image_bytes(&c->pp) * (size_t)max_batch, "detector input", &c->input_blk)))
        goto fail;
    c->input = (pan_engine_tensor){pan_devblock_ptr(c->input_blk), PAN_MEMORY_DEVICE, device, PAN_DTYPE_F16, c->pp.layout};

    c->n_outputs = pan_engine_num_outputs(engine);
    c->outputs = calloc((size_t)c->n_outputs, sizeof *c->outputs);
    c->output_blk = calloc((size_t)c->n_outputs, sizeof *c->output_blk);
    if (!c->outputs || !c->output_blk) {
        st = PAN_NOMEM;
        goto fail;
    }
    for (int j = 0; j < c->n_outputs; j++) {
        pan_engine_tensor_info oi;
        if ((st = pan_engine_output_info(engine, j, &oi))) goto fail;
        pan_dtype dt = oi.native_dtype == PAN_DTYPE_F16 ? PAN_DTYPE_F16 : PAN_DTYPE_F32;
        if (j == 0) c->half_outputs = dt == PAN_DTYPE_F16;
        else if (c->half_outputs != (dt == PAN_DTYPE_F16)) dt = c->half_outputs ? PAN_DTYPE_F16 : PAN_DTYPE_F32;
        size_t bytes = pan_engine_output_numel(engine, j, max_batch) * pan_dtype_size(dt);
        if ((st = alloc_block(c, bytes, "detector output", &c->output_blk[j]))) goto fail;
        /* outputs are 3-D ([B, N, C], [B, 4+C, N]); layout is meaningful for 4-D only */
        c->outputs[j] = (pan_engine_tensor){pan_devblock_ptr(c->output_blk[j]), PAN_MEMORY_DEVICE, device, dt, PAN_LAYOUT_NCHW};
    }
    if ((st = alloc_block(c, pan__gpu_post_candidates_bytes(max_batch), "detection candidates", &c->cand_blk))) goto fail;
    if ((st = alloc_block(c, pan__gpu_post_counts_bytes(max_batch), "detection counts", &c->counts_blk))) goto fail;
    if ((st = alloc_block(c, pan__gpu_post_out_bytes(max_batch, cfg->top_k), "detections", &c->out_blk))) goto fail;
    PAN_CUDA_TRY(cudaMallocHost((void **)&c->host_out, pan__gpu_post_out_bytes(max_batch, cfg->top_k)));
    PAN_CUDA_TRY(cudaMallocHost((void **)&c->host_counts, pan__gpu_post_counts_bytes(max_batch)));
    /* Plan the batch sizes once, up front: 1 (a lone camera's latency), 8 and max_batch. */
    c->n_buckets = 0;
    c->buckets[c->n_buckets++] = 1;
    if (max_batch > 8) c->buckets[c->n_buckets++] = 8;
    if (max_batch > 1) c->buckets[c->n_buckets++] = max_batch;
    for (int k = 0; k < c->n_buckets; k++)
        if ((st = pan_engine_prepare(engine, c->buckets[k]))) goto fail;
    *out = b;
    return PAN_OK;
fail:
    cuda_destroy(b);
    return st;
}
