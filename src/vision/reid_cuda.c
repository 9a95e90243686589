/* cuda ReID backend: device frames (NVDEC surfaces) → ONE crop launch for the chunk → FP16 engine
 * (dynamic batch, padded to the next of 8, 32, 128 or max_crops: the only batch sizes planned,
 * since planning one takes seconds) → L2 normalisation kernel → the embeddings (D floats per
 * crop) copied to the host.
 * The default descriptor: crop launch (FP32 RGB 32 x 64) → descriptor kernel → host.
 * No pixel and no crop crosses PCIe; the host waits once per chunk, for the embeddings. */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda_check.h"
#include "core/devpool.h"
#include "core/gpu.h"
#include "panoptes/log.h"
#include "vision/reid_impl.h"
#include "vision/roi_crop.h"

#define TAG "reid"

typedef struct cuda_reid {
    cudaStream_t stream;
    pan_devpool *pool;
    pan__roi_batch batch;
    pan__roi_desc *host_desc;   /* pinned, max_crops */
    pan_devblock *desc_blk;     /* device copy of the descriptors */
    pan_devblock *crops_blk;    /* max_crops x 3·W·H, FP16 (model, its native layout) or FP32 NHWC (default) */
    pan_devblock *out_blk;      /* engine output, max_crops x D, native dtype */
    pan_devblock *emb_blk;      /* normalised, max_crops x D FP32 */
    float *host_emb;            /* pinned, max_crops x D */
    pan_engine_tensor in, out;
    int half_out;
    int buckets[4], n_buckets;  /* engine batch sizes planned (ascending) */
} cuda_reid;

static void cuda_destroy(pan__reid_backend *b)
{
    if (!b) return;
    cuda_reid *c = b->ctx;
    if (c) {
        if (c->stream) cudaStreamSynchronize(c->stream);
        pan_devblock_unref(&c->desc_blk);
        pan_devblock_unref(&c->crops_blk);
        pan_devblock_unref(&c->out_blk);
        pan_devblock_unref(&c->emb_blk);
        if (c->host_desc) cudaFreeHost(c->host_desc);
        if (c->host_emb) cudaFreeHost(c->host_emb);
        if (c->stream) cudaStreamDestroy(c->stream);
        free(c);
    }
    free(b);
}

static pan_status cuda_embed(pan_reid *r, const pan__reid_item *items, int n, float *out)
{
    cuda_reid *c = r->be->ctx;
    pan_status st;
    if ((st = pan_gpu_init(r->p.device))) return st;
    const pan_frame *last = NULL;
    for (int i = 0; i < n; i++) {
        const pan_frame *f = items[i].frame;
        if ((st = pan__roi_describe(f, items[i].box, &r->roi, &c->host_desc[i]))) return st;
        if (f != last) { /* items come frame by frame: check and wait once per frame */
            for (int k = 0; k < pan_pixfmt_planes(f->format); k++)
                if ((st = pan_gpu_check_device_ptr(f->data[k], "reid crop"))) return st;
            if ((st = pan_gpu_frame_wait(f, c->stream))) return st;
            last = f;
        }
    }
    void *descs = pan_devblock_ptr(c->desc_blk);
    PAN_CUDA_CHECK(cudaMemcpyAsync(descs, c->host_desc, (size_t)n * sizeof *c->host_desc, cudaMemcpyHostToDevice, c->stream));
    PAN_CUDA_CHECK((cudaError_t)pan__roi_crop_launch(descs, n, &c->batch, c->in.data, c->stream));
    float *emb = pan_devblock_ptr(c->emb_blk);
    if (r->engine) {
        /* the smallest planned batch size that holds n (planning a size takes seconds: a run
         * must never meet a new one); padded crops hold stale data, their outputs are never read */
        int b = c->buckets[c->n_buckets - 1];
        for (int k = 0; k < c->n_buckets; k++)
            if (c->buckets[k] >= n) {
                b = c->buckets[k];
                break;
            }
        if ((st = pan_engine_run_tensors(r->engine, b, &c->in, &c->out, c->stream))) return st;
        PAN_CUDA_CHECK((cudaError_t)pan__l2norm_launch(c->out.data, c->half_out, n, r->dim, emb, c->stream));
    } else {
        PAN_CUDA_CHECK((cudaError_t)pan__reid_desc_launch(c->in.data, n, emb, c->stream));
    }
    size_t bytes = (size_t)n * (size_t)r->dim * sizeof(float);
    PAN_CUDA_CHECK(cudaMemcpyAsync(c->host_emb, emb, bytes, cudaMemcpyDeviceToHost, c->stream));
    /* the one wait: embeddings on the host, and the frames' surfaces read */
    PAN_CUDA_CHECK(cudaStreamSynchronize(c->stream));
    memcpy(out, c->host_emb, bytes);
    return PAN_OK;
}

static pan_status alloc_block(cuda_reid *c, size_t bytes, const char *owner, pan_devblock **blk)
{
    pan_status st = pan_devpool_alloc(c->pool, bytes, owner, blk);
    if (st) pan_log_error(TAG, -1, "cannot allocate %zu bytes of GPU memory for %s: %s", bytes, owner, pan_status_str(st));
    return st;
}

pan_status pan__reid_cuda_create(pan_reid *r, pan__reid_backend **out)
{
    pan__reid_backend *b = calloc(1, sizeof *b);
    cuda_reid *c = calloc(1, sizeof *c);
    pan_status st = PAN_NOMEM;
    *out = NULL;
    if (!b || !c) {
        free(b);
        free(c);
        return PAN_NOMEM;
    }
    b->ctx = c;
    b->embed = cuda_embed;
    b->destroy = cuda_destroy;
    const int m = r->max_crops, dev = r->p.device;
    if ((st = pan_gpu_init(dev))) goto fail;
    if ((st = pan_devpool_get(dev, &c->pool))) goto fail;
    PAN_CUDA_TRY(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));

    pan_roi_params *p = &r->roi;
    pan__roi_batch *bt = &c->batch;
    pan_dtype in_dt = PAN_DTYPE_F32;
    if (r->engine) {
        pan_engine_tensor_info ii, oi;
        if ((st = pan_engine_input_info(r->engine, 0, &ii)) || (st = pan_engine_output_info(r->engine, 0, &oi))) goto fail;
        if (ii.native_memory != PAN_MEMORY_DEVICE || ii.native_dtype != PAN_DTYPE_F16) {
            pan_log_error(TAG, -1, "%s: the engine's input is not device FP16; cannot feed it from the crop kernel", r->model_path);
            st = PAN_UNSUPPORTED;
            goto fail;
        }
        p->layout = ii.native_layout;
        in_dt = PAN_DTYPE_F16;
        c->half_out = oi.native_dtype == PAN_DTYPE_F16;
        pan_dtype odt = c->half_out ? PAN_DTYPE_F16 : PAN_DTYPE_F32;
        if ((st = alloc_block(c, (size_t)m * (size_t)r->dim * pan_dtype_size(odt), "reid.engine_out", &c->out_blk))) goto fail;
        c->out = (pan_engine_tensor){pan_devblock_ptr(c->out_blk), PAN_MEMORY_DEVICE, dev, odt, PAN_LAYOUT_NCHW};
    }
    pan__roi_batch_init(p, in_dt == PAN_DTYPE_F16, bt);
    size_t crop_bytes = (size_t)3 * (size_t)p->width * (size_t)p->height * pan_dtype_size(in_dt);
    if ((st = alloc_block(c, (size_t)m * crop_bytes, "reid.crops", &c->crops_blk))) goto fail;
    c->in = (pan_engine_tensor){pan_devblock_ptr(c->crops_blk), PAN_MEMORY_DEVICE, dev, in_dt, p->layout};
    if ((st = alloc_block(c, (size_t)m * sizeof(pan__roi_desc), "reid.descriptors", &c->desc_blk))) goto fail;
    if ((st = alloc_block(c, (size_t)m * (size_t)r->dim * sizeof(float), "reid.embeddings", &c->emb_blk))) goto fail;
    PAN_CUDA_TRY(cudaMallocHost((void **)&c->host_desc, (size_t)m * sizeof(pan__roi_desc)));
    PAN_CUDA_TRY(cudaMallocHost((void **)&c->host_emb, (size_t)m * (size_t)r->dim * sizeof(float)));
    if (r->engine) { /* planned once, up front: 8, 32, 128 crops and max_crops (padding <= 4x) */
        static const int sizes[] = {8, 32, 128};
        for (int k = 0; k < 3; k++)
            if (sizes[k] < m && !r->p.single_batch) c->buckets[c->n_buckets++] = sizes[k];
        c->buckets[c->n_buckets++] = m;
        char sizes_s[64] = "";
        for (int k = 0; k < c->n_buckets; k++)
            snprintf(sizes_s + strlen(sizes_s), sizeof sizes_s - strlen(sizes_s), "%s%d", k ? ", " : "", c->buckets[k]);
        pan_log_info(TAG, -1, "%s: planning the FP16 engine for %s crops (cuDNN engines are measured: seconds "
                     "per batch size)", r->model_path, sizes_s);
        for (int k = 0; k < c->n_buckets; k++)
            if ((st = pan_engine_prepare(r->engine, c->buckets[k]))) goto fail;
    }
    *out = b;
    return PAN_OK;
fail:
    cuda_destroy(b);
    return st;
}
