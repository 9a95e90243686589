/* Pixel bytes copied between host and device are counted per run (issue #16, item 10): a run's
 * scope counts the copies of the threads that joined it and nothing else — not what an earlier
 * stage of the same process copied (bench_reid's summary showed 5,308,416 bytes left from its
 * ReID stage), nor what a second run beside it copies. The process total still sees all. */
#include <pthread.h>

#include "core/gpu.h"
#include "test.h"

typedef struct worker {
    uint64_t *scope;
    size_t bytes;
    int times;
} worker;

static void *copy_in_scope(void *arg)
{
    worker *w = arg;
    pan_gpu_pixel_copy_scope(w->scope);
    for (int i = 0; i < w->times; i++) pan_gpu_count_pixel_copy(w->bytes);
    pan_gpu_pixel_copy_scope(NULL);
    pan_gpu_count_pixel_copy(1); /* after leaving: the process's, not the run's */
    return NULL;
}

PAN_TEST(pixel_copies_counted_per_run)
{
    uint64_t before = pan_gpu_pixel_bytes_copied();
    pan_gpu_count_pixel_copy(5308416); /* an earlier stage of this process, in no run */
    uint64_t run_a = 0, run_b = 0;
    worker w[3] = {{&run_a, 100, 1000}, {&run_a, 3, 7}, {&run_b, 64, 10}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++) ASSERT_EQ(pthread_create(&th[i], NULL, copy_in_scope, &w[i]), 0);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    ASSERT_EQ(pan_gpu_pixel_copy_scope_read(&run_a), 100 * 1000 + 3 * 7);
    ASSERT_EQ(pan_gpu_pixel_copy_scope_read(&run_b), 64 * 10);
    ASSERT_EQ(pan_gpu_pixel_copy_scope_read(NULL), 0);
    ASSERT_EQ(pan_gpu_pixel_bytes_copied() - before, 5308416 + 100 * 1000 + 3 * 7 + 64 * 10 + 3);
}

/* A thread that joined no scope adds to none (the main thread here, after the runs above). */
PAN_TEST(pixel_copies_outside_a_run_reach_no_run)
{
    uint64_t run = 0;
    pan_gpu_pixel_copy_scope(&run);
    pan_gpu_count_pixel_copy(10);
    pan_gpu_pixel_copy_scope(NULL);
    pan_gpu_count_pixel_copy(20);
    ASSERT_EQ(pan_gpu_pixel_copy_scope_read(&run), 10);
}

PAN_TEST_MAIN(pixel_copies_counted_per_run, pixel_copies_outside_a_run_reach_no_run)
