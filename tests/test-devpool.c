/* Device memory pool: size classes, reuse (hits), no cudaMalloc after warm-up, reference
 * counting, peak and in-use statistics, dedicated arenas for large blocks, the limit, and the
 * leak report at shutdown. Skips without a GPU (the cpu-only stubs are checked instead). */
#include <stdint.h>
#ifdef PANOPTES_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include "core/devpool.h"
#include "core/gpu.h"
#include "panoptes/log.h"
#include "test.h"

PAN_TEST(devpool_class_sizes)
{
#ifndef PANOPTES_HAVE_CUDA
    PAN_SKIP("built without CUDA (stub pool)");
#else
    ASSERT_EQ(pan_devpool_class_size(1), 256);
    ASSERT_EQ(pan_devpool_class_size(256), 256);
    ASSERT_EQ(pan_devpool_class_size(257), 320);
    ASSERT_EQ(pan_devpool_class_size(511), 512);
    ASSERT_EQ(pan_devpool_class_size(512), 512);
    ASSERT_EQ(pan_devpool_class_size(1000), 1024);
    ASSERT_EQ(pan_devpool_class_size(3 * 416 * 416 * 2), 1048576); /* one NanoDet FP16 input (1.04e6 B): the 1 MiB class */
    for (size_t b = 1; b < ((size_t)1 << 30); b = b * 3 + 7) {
        size_t c = pan_devpool_class_size(b);
        ASSERT_GE(c, b);
        ASSERT_LE((double)c, b <= 256 ? 256.0 : 1.25 * (double)b + 1); /* at most 25% waste */
        if (b >= ((size_t)16 << 20)) ASSERT_LE((double)c, 1.0625 * (double)b + 1); /* large: 6.25% */
    }
    /* the classes meet where the step changes, and their sizes only grow with the index */
    ASSERT_EQ(pan_devpool_class_size(((size_t)16 << 20) - 1), (size_t)16 << 20);
    ASSERT_EQ(pan_devpool_class_size(((size_t)16 << 20) + 1), (size_t)17 << 20);
    ASSERT_EQ(pan_devpool_class_size((size_t)169 << 20), (size_t)176 << 20); /* NanoDet's batch-32 arena */
    ASSERT_EQ(pan_devpool_class_size(((size_t)31 << 20) + 1), (size_t)32 << 20);
#endif
}

PAN_TEST(devpool_reuse_and_stats)
{
#ifndef PANOPTES_HAVE_CUDA
    PAN_SKIP("built without CUDA (stub pool)");
#else
    if (!pan_gpu_available()) PAN_SKIP("no CUDA device");
    pan_devpool *pool = NULL;
    pan_devpool_params p = {.device = 0, .arena_bytes = 8 << 20};
    pan_devpool_stats s;
    ASSERT_OK(pan_devpool_create(&pool, &p));
    /* warm-up: the sizes a pipeline uses, once */
    static const size_t sizes[] = {100, 4096, 3 * 416 * 416 * 2, 777777, 64 * 3 * 416 * 416 * 2 /* large: dedicated */};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    pan_devblock *b[NS];
    for (int i = 0; i < NS; i++) {
        ASSERT_OK(pan_devpool_alloc(pool, sizes[i], "test", &b[i]));
        ASSERT_GE(pan_devblock_size(b[i]), sizes[i]);
        ASSERT_EQ(((uintptr_t)pan_devblock_ptr(b[i])) % 256, 0);
        ASSERT_OK(pan_gpu_check_device_ptr(pan_devblock_ptr(b[i]), "devpool test"));
    }
    /* the memory is usable to its last byte */
    for (int i = 0; i < NS; i++) ASSERT_EQ(cudaMemset(pan_devblock_ptr(b[i]), i, pan_devblock_size(b[i])), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    pan_devpool_get_stats(pool, &s);
    ASSERT_EQ(s.blocks_in_use, NS);
    ASSERT_EQ(s.misses, NS);
    ASSERT_EQ(s.hits, 0);
    size_t in_use = s.bytes_in_use;
    for (int i = 0; i < NS; i++) pan_devblock_unref(&b[i]);
    pan_devpool_get_stats(pool, &s);
    ASSERT_EQ(s.bytes_in_use, 0);
    ASSERT_EQ(s.peak_in_use, in_use);
    int64_t mallocs = s.cuda_mallocs;
    size_t arena = s.arena_bytes;
    ASSERT_GE(mallocs, 2); /* one shared arena + one dedicated */

    /* steady state: 1000 frames of the same sizes, interleaved, with extra references */
    for (int it = 0; it < 1000; it++) {
        for (int i = 0; i < NS; i++) ASSERT_OK(pan_devpool_alloc(pool, sizes[i], "test", &b[i]));
        pan_devblock *extra = pan_devblock_ref(b[2]);
        for (int i = 0; i < NS; i++) pan_devblock_unref(&b[i]);
        pan_devpool_get_stats(pool, &s);
        ASSERT_EQ(s.blocks_in_use, 1); /* b[2] lives on through its second reference */
        pan_devblock_unref(&extra);
        ASSERT_TRUE(extra == NULL);
    }
    pan_devpool_get_stats(pool, &s);
    ASSERT_EQ(s.cuda_mallocs, mallocs); /* no cudaMalloc after warm-up */
    ASSERT_EQ(s.arena_bytes, arena);
    ASSERT_EQ(s.hits, 1000 * NS);
    ASSERT_EQ(s.blocks_in_use, 0);
    ASSERT_EQ(pan_devpool_leak_report(pool), 0);
    fprintf(stderr, "  arena %zu MiB in %lld cudaMalloc, peak %.1f MiB, %lld hits, %lld misses\n", s.arena_bytes >> 20,
            (long long)s.cuda_mallocs, s.peak_in_use / 1048576.0, (long long)s.hits, (long long)s.misses);
    pan_devpool_destroy(&pool);
    ASSERT_TRUE(pool == NULL);
#endif
}

PAN_TEST(devpool_limit_and_leak_report)
{
#ifndef PANOPTES_HAVE_CUDA
    PAN_SKIP("built without CUDA (stub pool)");
#else
    if (!pan_gpu_available()) PAN_SKIP("no CUDA device");
    pan_devpool *pool = NULL;
    pan_devpool_params p = {.device = 0, .arena_bytes = 1 << 20, .limit_bytes = 2 << 20};
    ASSERT_OK(pan_devpool_create(&pool, &p));
    pan_devblock *a = NULL, *b = NULL, *c = NULL;
    ASSERT_OK(pan_devpool_alloc(pool, 200 << 10, "test.leaky", &a));
    ASSERT_OK(pan_devpool_alloc(pool, 200 << 10, "test.kept", &b));
    pan_log_set_level(PAN_LOG_QUIET);
    ASSERT_EQ(pan_devpool_alloc(pool, 3 << 20, "test.too-big", &c), PAN_DEVMEM); /* over the 2 MiB cap */
    ASSERT_TRUE(c == NULL);
    pan_log_set_level(PAN_LOG_WARN);
    pan_devblock_unref(&b);
    ASSERT_EQ(pan_devpool_leak_report(pool), 1); /* 'test.leaky' */
    /* destroy with a block out: reported, and the block stays valid until its last unref */
    pan_devpool_destroy(&pool);
    ASSERT_EQ(cudaMemset(pan_devblock_ptr(a), 0, pan_devblock_size(a)), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    pan_devblock_unref(&a);
#endif
}

PAN_TEST(devpool_stubs_without_gpu)
{
    if (pan_gpu_available()) PAN_SKIP("a GPU is present: the real pool is tested above");
    pan_devpool *pool = (pan_devpool *)1;
    ASSERT_NE(pan_devpool_get(0, &pool), PAN_OK);
    ASSERT_TRUE(pool == NULL);
}

PAN_TEST(devpool_trim_gives_back_free_large_blocks)
{
#ifndef PANOPTES_HAVE_CUDA
    PAN_SKIP("built without CUDA (stub pool)");
#else
    if (!pan_gpu_available()) PAN_SKIP("no CUDA device");
    pan_devpool *pool = NULL;
    pan_devpool_params p = {.device = 0, .arena_bytes = 8 << 20};
    pan_devpool_stats s0, s;
    ASSERT_OK(pan_devpool_create(&pool, &p));
    pan_devblock *small = NULL, *scratch = NULL, *kept = NULL;
    ASSERT_OK(pan_devpool_alloc(pool, 100, "test", &small));             /* a shared arena */
    ASSERT_OK(pan_devpool_alloc(pool, (size_t)24 << 20, "test", &scratch)); /* dedicated */
    ASSERT_OK(pan_devpool_alloc(pool, (size_t)12 << 20, "test", &kept));    /* dedicated, still in use */
    pan_devpool_get_stats(pool, &s0);
    ASSERT_EQ(pan_devpool_trim(pool), 0); /* nothing free yet */
    pan_devblock_unref(&scratch);
    pan_devblock_unref(&small); /* its arena is not one block: kept */
    ASSERT_EQ(pan_devpool_trim(pool), pan_devpool_class_size((size_t)24 << 20));
    pan_devpool_get_stats(pool, &s);
    ASSERT_EQ(s.arena_bytes, s0.arena_bytes - pan_devpool_class_size((size_t)24 << 20));
    ASSERT_EQ(s.arenas, s0.arenas - 1);
    ASSERT_EQ(s.blocks_in_use, 1);
    ASSERT_EQ(cudaMemset(pan_devblock_ptr(kept), 7, pan_devblock_size(kept)), cudaSuccess); /* untouched */
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    /* the same size again: carved anew, and the small one comes from its free list */
    ASSERT_OK(pan_devpool_alloc(pool, (size_t)24 << 20, "test", &scratch));
    ASSERT_OK(pan_devpool_alloc(pool, 100, "test", &small));
    pan_devpool_get_stats(pool, &s);
    ASSERT_EQ(s.cuda_mallocs, s0.cuda_mallocs + 1);
    ASSERT_EQ(s.arena_bytes, s0.arena_bytes);
    pan_devblock_unref(&scratch);
    pan_devblock_unref(&small);
    pan_devblock_unref(&kept);
    ASSERT_EQ(pan_devpool_leak_report(pool), 0);
    pan_devpool_destroy(&pool);
#endif
}

PAN_TEST_MAIN(devpool_class_sizes, devpool_reuse_and_stats, devpool_limit_and_leak_report, devpool_stubs_without_gpu,
              devpool_trim_gives_back_free_large_blocks)
