/* Shared CUDA context, streams, events and residency checks (src/core/gpu.h).
 *
 * The runtime API's device context *is* the driver's primary context, so cudaSetDevice +
 * cudaFree(0) retains it once and every module (the runtime-API kernels, cuBLASLt, cuDNN and
 * nvcuvid through the driver API) works in the same context: no context is created, pushed or
 * popped per frame. */
#include "core/gpu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda_check.h"
#include "decode/nvdec_frame.h"
#include "panoptes/log.h"

#define PAN_GPU_MAX_DEVICES 64

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_count; /* devices seen at the first call; 0 without driver */

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int retained[PAN_GPU_MAX_DEVICES];
static size_t stack_default[PAN_GPU_MAX_DEVICES]; /* per-thread stack when the context was retained */
static _Thread_local int thread_device = -1; /* device made current on this thread */

static atomic_int strict_mode = -1; /* -1: not read from the environment yet */
static atomic_ullong violations;

static void probe(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        /* No driver, no device, or a driver older than the runtime: not an error here, the
         * caller picks the cpu backend. Say why at INFO so `--backend auto` is explainable. */
        pan_log_info("gpu", -1, "no usable CUDA device: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
        (void)cudaGetLastError();
        n = 0;
    }
    probe_count = n;
}

int pan_gpu_device_count(void)
{
    pthread_once(&probe_once, probe);
    return probe_count;
}

int pan_gpu_available(void) { return pan_gpu_device_count() > 0; }

pan_status pan_gpu_init(int device)
{
    if (thread_device == device) return PAN_OK;
    if (device < 0 || device >= pan_gpu_device_count() || device >= PAN_GPU_MAX_DEVICES) {
        pan_log_error("gpu", -1, "CUDA device %d not found (%d device(s) visible); check CUDA_VISIBLE_DEVICES",
                      device, pan_gpu_device_count());
        return PAN_NOGPU;
    }
    pthread_mutex_lock(&init_lock);
    if (!retained[device]) {
        /* How host threads wait for the GPU (event/stream syncs, and NVDEC's wait for a picture
         * in cuvidMapVideoFrame): blocking by default, so that dozens of camera threads waiting
         * on the decoder sleep instead of spinning on cores the pipeline needs. Must be set
         * before the primary context becomes active. PANOPTES_CUDA_SYNC=spin|yield|block|auto. */
        const char *m = getenv("PANOPTES_CUDA_SYNC");
        unsigned flags = cudaDeviceScheduleBlockingSync;
        if (m && !strcmp(m, "spin")) flags = cudaDeviceScheduleSpin;
        else if (m && !strcmp(m, "yield")) flags = cudaDeviceScheduleYield;
        else if (m && !strcmp(m, "auto")) flags = cudaDeviceScheduleAuto;
        if (cudaSetDevice(device) == cudaSuccess && cudaSetDeviceFlags(flags) != cudaSuccess) {
            (void)cudaGetLastError(); /* context already active (another library got there first): keep its mode */
            pan_log_info("gpu", -1, "device %d: CUDA sync mode left as the context has it", device);
        }
    }
    pthread_mutex_unlock(&init_lock);
    PAN_CUDA_CHECK(cudaSetDevice(device));
    pthread_mutex_lock(&init_lock);
    if (!retained[device]) {
        /* cudaFree(0) forces the runtime to create (or adopt) the primary context now, so that
         * its start-up cost (hundreds of ms) is paid here rather than inside the first frame. */
        cudaError_t e = cudaFree(0);
        if (e != cudaSuccess) {
            pthread_mutex_unlock(&init_lock);
            return pan__cuda_status(e, "cudaFree(0)", __FILE__, __LINE__);
        }
        retained[device] = 1;
        if (cudaDeviceGetLimit(&stack_default[device], cudaLimitStackSize) != cudaSuccess) (void)cudaGetLastError();
        char name[256];
        pan_gpu_device_name(device, name, sizeof name);
        pan_log_info("gpu", -1, "device %d: %s, primary context retained", device, name);
    }
    pthread_mutex_unlock(&init_lock);
    thread_device = device;
    return PAN_OK;
}

void pan_gpu_shutdown(void)
{
    /* The primary context lives until the process ends; cudaDeviceReset would tear it down
     * under libraries (cuDNN, nvcuvid) that may still hold handles, so only sync here. */
    pthread_mutex_lock(&init_lock);
    for (int d = 0; d < PAN_GPU_MAX_DEVICES; d++)
        if (retained[d] && cudaSetDevice(d) == cudaSuccess) (void)cudaDeviceSynchronize();
    pthread_mutex_unlock(&init_lock);
}

pan_status pan_gpu_device_name(int device, char *name, size_t size)
{
    struct cudaDeviceProp prop;
    if (!name || size == 0) return PAN_INVAL;
    snprintf(name, size, "none");
    if (device < 0 || device >= pan_gpu_device_count()) return PAN_NOGPU;
    PAN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    snprintf(name, size, "%s", prop.name);
    return PAN_OK;
}

size_t pan_gpu_stack_trim(void)
{
    size_t stack = 0, free0 = 0, free1 = 0, total = 0;
    int dev = thread_device;
    if (dev < 0 || dev >= PAN_GPU_MAX_DEVICES || !stack_default[dev]) return 0;
    if (cudaDeviceGetLimit(&stack, cudaLimitStackSize) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    if (stack <= stack_default[dev]) return 0;
    (void)cudaMemGetInfo(&free0, &total);
    if (cudaDeviceSetLimit(cudaLimitStackSize, stack_default[dev]) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    (void)cudaMemGetInfo(&free1, &total);
    size_t back = free1 > free0 ? free1 - free0 : 0;
    pan_log_info("gpu", -1, "per-thread stack back from %zu to %zu bytes: %.1f MiB of local memory given back",
                 stack, stack_default[dev], back / 1048576.0);
    return back;
}

pan_status pan_gpu_mem_info(size_t *free_bytes, size_t *total_bytes)
{
    size_t f = 0, t = 0;
    if (!pan_gpu_available()) return PAN_NOGPU;
    PAN_CUDA_CHECK(cudaMemGetInfo(&f, &t));
    if (free_bytes) *free_bytes = f;
    if (total_bytes) *total_bytes = t;
    return PAN_OK;
}

pan_status pan_gpu_stream_create(void **stream)
{
    cudaStream_t s = NULL;
    if (!stream) return PAN_INVAL;
    *stream = NULL;
    PAN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    *stream = s;
    return PAN_OK;
}

void pan_gpu_stream_destroy(void **stream)
{
    if (!stream || !*stream) return;
    (void)pan__cuda_status(cudaStreamDestroy((cudaStream_t)*stream), "cudaStreamDestroy", __FILE__, __LINE__);
    *stream = NULL;
}

pan_status pan_gpu_stream_sync(void *stream)
{
    PAN_CUDA_CHECK(cudaStreamSynchronize((cudaStream_t)stream));
    return PAN_OK;
}

pan_status pan_gpu_event_create(void **event)
{
    cudaEvent_t e = NULL;
    if (!event) return PAN_INVAL;
    *event = NULL;
    PAN_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    *event = e;
    return PAN_OK;
}

void pan_gpu_event_destroy(void **event)
{
    if (!event || !*event) return;
    (void)pan__cuda_status(cudaEventDestroy((cudaEvent_t)*event), "cudaEventDestroy", __FILE__, __LINE__);
    *event = NULL;
}

pan_status pan_gpu_event_record(void *event, void *stream)
{
    PAN_CUDA_CHECK(cudaEventRecord((cudaEvent_t)event, (cudaStream_t)stream));
    return PAN_OK;
}

pan_status pan_gpu_event_sync(void *event)
{
    PAN_CUDA_CHECK(cudaEventSynchronize((cudaEvent_t)event));
    return PAN_OK;
}

pan_status pan_gpu_stream_wait_event(void *stream, void *event)
{
    PAN_CUDA_CHECK(cudaStreamWaitEvent((cudaStream_t)stream, (cudaEvent_t)event, 0));
    return PAN_OK;
}

pan_status pan_gpu_frame_wait(const struct pan_frame *frame, void *stream)
{
    void *ev = frame ? pan__nvdec_frame_event(frame) : NULL;
    if (!ev) return PAN_OK;
    PAN_CUDA_CHECK(cudaStreamWaitEvent((cudaStream_t)stream, (cudaEvent_t)ev, 0));
    return PAN_OK;
}

/* ---- residency ---- */

int pan_gpu_strict(void)
{
    int s = atomic_load_explicit(&strict_mode, memory_order_relaxed);
    if (s < 0) {
        const char *env = getenv("PANOPTES_STRICT_GPU");
        s = !(env && (!strcmp(env, "0") || !strcmp(env, "off") || !strcmp(env, "false")));
        atomic_store(&strict_mode, s);
    }
    return s;
}

void pan_gpu_set_strict(int strict) { atomic_store(&strict_mode, strict ? 1 : 0); }

uint64_t pan_gpu_residency_violations(void) { return atomic_load(&violations); }

static const char *memtype_name(enum cudaMemoryType t)
{
    switch (t) {
    case cudaMemoryTypeUnregistered: return "unregistered host memory";
    case cudaMemoryTypeHost: return "page-locked host memory";
    case cudaMemoryTypeDevice: return "device memory";
    case cudaMemoryTypeManaged: return "managed memory";
    default: return "unknown memory";
    }
}

pan_status pan_gpu_check_device_ptr(const void *p, const char *stage)
{
    struct cudaPointerAttributes attr;
    if (!stage) stage = "?";
    if (!p) {
        pan_log_error("gpu", -1, "GPU-only violation in %s: NULL buffer", stage);
        return PAN_INVAL;
    }
    /* Driver-side lookup of the address range: ~0.2 µs, done once per buffer per stage entry
     * (not per pixel), so it stays on in release builds. Managed memory is refused too: it
     * migrates to the host on a CPU touch, which is the silent fallback strict mode forbids. */
    cudaError_t e = cudaPointerGetAttributes(&attr, p);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        attr.type = cudaMemoryTypeUnregistered;
    }
    if (attr.type == cudaMemoryTypeDevice) return PAN_OK;
    atomic_fetch_add(&violations, 1);
    if (pan_gpu_strict()) {
        pan_log_error("gpu", -1, "GPU-only violation in %s: buffer %p is %s, not device memory "
                      "(a host copy crept into the GPU path; PANOPTES_STRICT_GPU=0 only downgrades this to a warning)",
                      stage, p, memtype_name(attr.type));
        return PAN_RESIDENCY;
    }
    pan_log_warn("gpu", -1, "GPU-only violation in %s: buffer %p is %s (strict mode off)", stage, p,
                 memtype_name(attr.type));
    return PAN_OK;
}

