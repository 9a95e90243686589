/* Pixel bytes copied between host and device (DESIGN.md, rule 1 of the GPU path): counted by
 * whoever copies (pan_frame_download, test and debug tools), read per process and per scope.
 *
 * A scope is a counter that the copies made by the threads that joined it are added to as well
 * (pan_gpu_pixel_copy_scope). A pipeline makes one per run and has each of its threads join it,
 * so that its summary counts its own copies only: not those of an earlier stage of the same
 * process (bench_reid's ReID stage left 5,308,416 bytes in the run summary), nor those of a
 * second pipeline running beside it. Compiled in every build: cpu-only builds count too (their
 * callers copy nothing, but the accounting is the same and is tested without a GPU). */
#include <stdatomic.h>
#include <stddef.h>

#include "core/gpu.h"

static atomic_ullong process_bytes;
static _Thread_local uint64_t *thread_scope; /* this thread's scope counter, or NULL */

void pan_gpu_count_pixel_copy(size_t bytes)
{
    atomic_fetch_add_explicit(&process_bytes, bytes, memory_order_relaxed);
    if (thread_scope) __atomic_fetch_add(thread_scope, (uint64_t)bytes, __ATOMIC_RELAXED);
}

uint64_t pan_gpu_pixel_bytes_copied(void) { return atomic_load_explicit(&process_bytes, memory_order_relaxed); }

void pan_gpu_pixel_copy_scope(uint64_t *counter) { thread_scope = counter; }

uint64_t pan_gpu_pixel_copy_scope_read(const uint64_t *counter)
{
    return counter ? __atomic_load_n(counter, __ATOMIC_RELAXED) : 0;
}
