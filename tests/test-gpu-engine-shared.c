/* The cuda engine's batch sizes share their device memory (NanoDet-g, batch sizes 1, 4 and 8,
 * planned in that order so that the arena and the workspace grow twice):
 *  - one arena, one workspace, one staging block and one copy of the weights: what the pool
 *    handed the engine is exactly those blocks, the weights are one block of batch 1's size, and
 *    the arena is at least as large as batch 8's plan needs;
 *  - an exec moved to the larger arena (its CUDA graph captured again) gives the same bits as
 *    before the move;
 *  - runs of different batch sizes queued on two streams without a host sync between them give
 *    the same bits as the same runs one at a time (the engine orders them with an event; without
 *    it they would overwrite each other's activations).
 * The plan cache is off: each batch size measures its own convolution choices once, and the
 * comparisons are between runs of the same exec. Skips without a GPU or the model. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#if defined(PANOPTES_HAVE_CUDA_ENGINE)
#include <cuda_runtime_api.h>

#include "core/devpool.h"
#include "core/gpu.h"
#include "nn/engine.h"

#define MAXB 8
#define MAXO 8

static const char *model_path(void)
{
    return access("models/nanodet.json", R_OK) == 0 ? "models/nanodet.json" : pan_test_path("models/nanodet.json");
}

static size_t in_use(void)
{
    pan_devpool *pool = NULL;
    if (pan_devpool_get(0, &pool)) return 0;
    pan_devpool_stats s;
    pan_devpool_get_stats(pool, &s);
    return s.bytes_in_use;
}

/* MAXB pseudo-random images, [-2, 2]. */
static float *images(size_t per_image)
{
    float *in = malloc(per_image * MAXB * sizeof *in);
    uint32_t x = 2024;
    for (size_t i = 0; in && i < per_image * MAXB; i++) {
        x = x * 1664525u + 1013904223u;
        in[i] = (float)((x >> 8) & 0xffff) / 65535.0f * 4.0f - 2.0f;
    }
    return in;
}

typedef struct outs {
    float *h[MAXO];
    size_t n[MAXO];
    int count;
} outs;

static void outs_free(outs *o)
{
    for (int i = 0; i < o->count; i++) free(o->h[i]);
    memset(o, 0, sizeof *o);
}

/* One host run of the first `batch` images. */
static pan_status run_host(pan_engine_t *e, int batch, const float *in, outs *o)
{
    memset(o, 0, sizeof *o);
    o->count = pan_engine_num_outputs(e);
    if (o->count > MAXO) return PAN_RANGE;
    for (int i = 0; i < o->count; i++) {
        o->n[i] = pan_engine_output_numel(e, i, batch);
        if (!(o->h[i] = calloc(o->n[i] ? o->n[i] : 1, sizeof(float)))) return PAN_NOMEM;
    }
    const float *ins[1] = {in};
    return pan_engine_run(e, batch, ins, o->h);
}

static int same_bits(const outs *a, const outs *b, const char *what)
{
    if (a->count != b->count) return 0;
    for (int i = 0; i < a->count; i++)
        if (a->n[i] != b->n[i] || memcmp(a->h[i], b->h[i], a->n[i] * sizeof(float))) {
            fprintf(stderr, "  %s: output %d differs\n", what, i);
            return 0;
        }
    return 1;
}

/* A run of `batch` images queued on stream s with device buffers (F32, NCHW); its outputs are
 * copied to o (host) once the caller synchronised s. */
typedef struct queued {
    int batch;
    void *din, *dout[MAXO];
    outs o;
} queued;

static pan_status queue(pan_engine_t *e, int batch, const float *in, size_t per_image, cudaStream_t s, queued *q)
{
    memset(q, 0, sizeof *q);
    q->batch = batch;
    size_t in_bytes = per_image * (size_t)batch * sizeof(float);
    if (cudaMalloc(&q->din, in_bytes) != cudaSuccess) return PAN_DEVMEM;
    if (cudaMemcpy(q->din, in, in_bytes, cudaMemcpyHostToDevice) != cudaSuccess) return PAN_CUDA;
    q->o.count = pan_engine_num_outputs(e);
    pan_engine_tensor ti = {q->din, PAN_MEMORY_DEVICE, 0, PAN_DTYPE_F32, PAN_LAYOUT_NCHW}, to[MAXO];
    for (int i = 0; i < q->o.count; i++) {
        q->o.n[i] = pan_engine_output_numel(e, i, batch);
        if (cudaMalloc(&q->dout[i], q->o.n[i] * sizeof(float)) != cudaSuccess) return PAN_DEVMEM;
        to[i] = (pan_engine_tensor){q->dout[i], PAN_MEMORY_DEVICE, 0, PAN_DTYPE_F32, PAN_LAYOUT_NCHW};
    }
    return pan_engine_run_tensors(e, batch, &ti, to, s);
}

static pan_status collect(queued *q)
{
    for (int i = 0; i < q->o.count; i++) {
        if (!(q->o.h[i] = malloc(q->o.n[i] * sizeof(float)))) return PAN_NOMEM;
        if (cudaMemcpy(q->o.h[i], q->dout[i], q->o.n[i] * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess)
            return PAN_CUDA;
        cudaFree(q->dout[i]);
    }
    cudaFree(q->din);
    return PAN_OK;
}

PAN_TEST(batch_sizes_share_one_arena_workspace_and_weights)
{
    if (!pan_gpu_available()) PAN_SKIP("no usable GPU (pan_gpu_available() == 0)");
    if (access(model_path(), R_OK)) PAN_SKIP("models/nanodet.json missing (scripts/setup.sh)");
    size_t before = in_use();
    pan_engine_params ep = {0};
    ep.model_path = model_path();
    ep.backend = PAN_BACKEND_CUDA;
    ep.max_batch = MAXB;
    ep.cache_dir = "off";
    pan_engine_t *e = NULL;
    ASSERT_OK(pan_engine_create(&e, &ep));
    size_t per_image = pan_engine_input_numel(e, 0, 1);
    float *in = images(per_image);
    ASSERT_TRUE(in != NULL);

    /* batch 1 alone, run once */
    ASSERT_OK(pan_engine_prepare(e, 1));
    pan_engine_memory m1;
    pan_engine_get_memory(e, &m1);
    ASSERT_EQ(m1.plans, 1);
    ASSERT_EQ(m1.weight_copies, 1);
    outs one_before;
    ASSERT_OK(run_host(e, 1, in, &one_before));

    /* 4 and 8: the arena grows, batch 1 moves to it */
    ASSERT_OK(pan_engine_prepare(e, 4));
    ASSERT_OK(pan_engine_prepare(e, 8));
    pan_engine_memory m;
    pan_engine_get_memory(e, &m);
    fprintf(stderr, "  batch 1: arena %.1f MiB, workspace %.1f MiB; batches 1, 4, 8: arena %.1f MiB, workspace "
                    "%.1f MiB, weights %.1f MiB in %d copy, staging %.1f MiB\n",
            m1.arena / 1048576.0, m1.workspace / 1048576.0, m.arena / 1048576.0, m.workspace / 1048576.0,
            m.weights / 1048576.0, m.weight_copies, m.staging / 1048576.0);
    ASSERT_EQ(m.plans, 3);
    ASSERT_EQ(m.weight_copies, 1);
    ASSERT_EQ(m.weights, m1.weights);
    ASSERT_TRUE(m.arena > m1.arena);
    ASSERT_TRUE(m.workspace >= m1.workspace);
    /* everything the engine holds in the pool is those blocks */
    ASSERT_EQ(in_use() - before, m.arena + m.workspace + m.weights + m.staging);

    outs one_after, four, eight;
    ASSERT_OK(run_host(e, 1, in, &one_after));
    ASSERT_TRUE(same_bits(&one_before, &one_after, "batch 1 after the arena grew"));
    ASSERT_OK(run_host(e, 4, in, &four));
    ASSERT_OK(run_host(e, 8, in, &eight));

    /* batch sizes interleaved on two streams, no host sync between the runs */
    cudaStream_t s[2];
    ASSERT_EQ(cudaStreamCreateWithFlags(&s[0], cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cudaStreamCreateWithFlags(&s[1], cudaStreamNonBlocking), cudaSuccess);
    static const int order[] = {8, 1, 4, 8, 1, 8, 4, 1};
    enum { N_RUNS = sizeof order / sizeof order[0] };
    queued q[N_RUNS];
    for (int k = 0; k < N_RUNS; k++) ASSERT_OK(queue(e, order[k], in, per_image, s[k % 2], &q[k]));
    ASSERT_EQ(cudaStreamSynchronize(s[0]), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(s[1]), cudaSuccess);
    for (int k = 0; k < N_RUNS; k++) {
        ASSERT_OK(collect(&q[k]));
        const outs *want = q[k].batch == 1 ? &one_before : q[k].batch == 4 ? &four : &eight;
        char what[64];
        snprintf(what, sizeof what, "run %d (batch %d, stream %d)", k, q[k].batch, k % 2);
        ASSERT_TRUE(same_bits(want, &q[k].o, what));
        outs_free(&q[k].o);
    }
    cudaStreamDestroy(s[0]);
    cudaStreamDestroy(s[1]);

    outs_free(&one_before);
    outs_free(&one_after);
    outs_free(&four);
    outs_free(&eight);
    free(in);
    pan_engine_destroy(&e);
    ASSERT_EQ(in_use(), before); /* all of it back in the pool */
}

PAN_TEST_MAIN(batch_sizes_share_one_arena_workspace_and_weights)

#else
PAN_TEST(engine_shared_memory) { PAN_SKIP("built without the cuda engine backend"); }
PAN_TEST_MAIN(engine_shared_memory)
#endif
