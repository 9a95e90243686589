/* The GPU: one shared CUDA context per device, streams, and the residency rules of the GPU path.
 *
 * Context (phase 1.3). Every module uses the device's *primary* context: pan_gpu_init(dev)
 * retains it once (cudaSetDevice + cudaFree(0), which makes the runtime create or adopt the
 * primary context) and makes it current on the calling thread; any other thread that touches
 * the device calls pan_gpu_init(dev) too, which then only sets the device (no context is
 * created, pushed or popped per frame). NVDEC (driver API) and the runtime share this context.
 *
 * Residency (phase 1.1). Each GPU stage checks the buffers it reads or writes at its entry with
 * pan_gpu_check_device_ptr(ptr, "stage name"). In strict mode (the default) a pointer that is
 * not device memory is a hard PAN_RESIDENCY error naming the stage, never a silent fallback.
 * Bytes of pixel data copied between host and device are counted (pan_gpu_count_pixel_copy);
 * the run summary prints the run's own count (pan_gpu_pixel_copy_scope), which must be 0 on the
 * cuda backend.
 *
 * In builds without CUDA every function links and returns PAN_NOGPU (or 0 / "none"). */
#ifndef PANOPTES_GPU_H
#define PANOPTES_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the build has CUDA, a driver is loaded and at least one CUDA device is visible.
 * Cheap after the first call (the answer is cached). */
int pan_gpu_available(void);
/* Number of CUDA devices (0 without a driver or without CUDA). */
int pan_gpu_device_count(void);

/* Retains device `device`'s primary context once per process and makes the device current on
 * the calling thread. Call it on every thread before its first CUDA call; cheap afterwards.
 * PAN_NOGPU when there is no such device. */
pan_status pan_gpu_init(int device);
/* Releases what pan_gpu_init retained (at process shutdown, after every GPU object is gone). */
void pan_gpu_shutdown(void);

/* "NVIDIA H100 80GB HBM3"; writes "none" when unavailable. */
pan_status pan_gpu_device_name(int device, char *name, size_t size);
/* Free and total device memory in bytes (cudaMemGetInfo) of the current device. */
pan_status pan_gpu_mem_info(size_t *free_bytes, size_t *total_bytes);

/* A kernel that needs more local memory than the per-thread stack raises the stack for the whole
 * context, and the driver keeps local memory for it on every thread the GPU can hold at once (on
 * an H100, 2048 threads on each of 132 SMs: 264 MiB per KiB of stack) until the stack is set
 * again. Planning tries kernels it does not keep: after it, this sets the stack back to the
 * context's default (a later kernel that needs more raises it again). Returns the bytes given
 * back (0 when there was nothing to do or no GPU). */
size_t pan_gpu_stack_trim(void);

/* Streams are cudaStream_t passed as void * so that C code needs no CUDA header.
 * Created non-blocking (they never synchronise with the legacy default stream). */
pan_status pan_gpu_stream_create(void **stream);
void pan_gpu_stream_destroy(void **stream);
pan_status pan_gpu_stream_sync(void *stream);

/* Events (cudaEvent_t as void *), created without timing (cheapest). */
pan_status pan_gpu_event_create(void **event);
void pan_gpu_event_destroy(void **event);
pan_status pan_gpu_event_record(void *event, void *stream);
pan_status pan_gpu_event_sync(void *event);
/* Makes `stream` wait on the device for `event` (no host wait). */
pan_status pan_gpu_stream_wait_event(void *stream, void *event);

/* A device frame's pixels may still be being written on its producer's stream (NVDEC's map
 * post-processes into the output surface on the camera's stream). A consumer on any other
 * stream — the legacy default stream (NULL) included — calls this before reading the planes:
 * the stream waits on the device for the frame's ready event, the host does not wait.
 * pan_preprocess_gpu_run does it itself. PAN_OK (nothing to do) for frames without an event. */
struct pan_frame;
pan_status pan_gpu_frame_wait(const struct pan_frame *frame, void *stream);

/* ---- residency -------------------------------------------------------------------------- */

/* PAN_OK when p is device memory (cudaMalloc'd, pool or mapped NVDEC surface) on any device.
 * Otherwise, in strict mode, logs "GPU-only violation in <stage>: ..." and returns
 * PAN_RESIDENCY; with strict mode off it logs a warning and returns PAN_OK.
 * NULL is PAN_INVAL. */
pan_status pan_gpu_check_device_ptr(const void *p, const char *stage);
/* Strict mode is on by default; PANOPTES_STRICT_GPU=0 in the environment turns it off. */
void pan_gpu_set_strict(int strict);
int pan_gpu_strict(void);
/* Residency violations seen so far (strict or not). */
uint64_t pan_gpu_residency_violations(void);

/* Host<->device copies of pixel data must be counted by whoever makes them (test and debug
 * tools only; the cuda pipeline makes none). Thread-safe; counted in every build (gpu_copies.c). */
void pan_gpu_count_pixel_copy(size_t bytes);
/* All copies of the process so far (monotonic). A run's own figure is its scope's, not this. */
uint64_t pan_gpu_pixel_bytes_copied(void);
/* Per-run accounting. `counter` (zeroed by the caller, living as long as the run) receives the
 * copies made by the calling thread from now on, in addition to the process total, until the
 * thread joins another scope or NULL. A pipeline calls it with its run's counter first thing in
 * every thread it starts (and NULL before the thread ends), and reports
 * pan_gpu_pixel_copy_scope_read(&counter): copies by the consumers it calls (--annotate's
 * downloads) count, copies by the rest of the process do not. */
void pan_gpu_pixel_copy_scope(uint64_t *counter);
uint64_t pan_gpu_pixel_copy_scope_read(const uint64_t *counter);

#ifdef __cplusplus
}
#endif
#endif
