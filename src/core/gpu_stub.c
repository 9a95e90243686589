/* cpu-only builds: the GPU API links; there is no device, nothing is ever copied. */
#ifndef PANOPTES_HAVE_CUDA
#include "core/gpu.h"

#include <stdio.h>

int pan_gpu_available(void) { return 0; }
int pan_gpu_device_count(void) { return 0; }
pan_status pan_gpu_init(int device)
{
    (void)device;
    return PAN_NOGPU;
}
void pan_gpu_shutdown(void) {}
pan_status pan_gpu_device_name(int device, char *name, size_t size)
{
    (void)device;
    if (name && size) snprintf(name, size, "none");
    return PAN_NOGPU;
}
size_t pan_gpu_stack_trim(void) { return 0; }
pan_status pan_gpu_mem_info(size_t *free_bytes, size_t *total_bytes)
{
    if (free_bytes) *free_bytes = 0;
    if (total_bytes) *total_bytes = 0;
    return PAN_NOGPU;
}
pan_status pan_gpu_stream_create(void **stream)
{
    if (stream) *stream = NULL;
    return PAN_NOGPU;
}
void pan_gpu_stream_destroy(void **stream)
{
    if (stream) *stream = NULL;
}
pan_status pan_gpu_stream_sync(void *stream)
{
    (void)stream;
    return PAN_NOGPU;
}
pan_status pan_gpu_event_create(void **event)
{
    if (event) *event = NULL;
    return PAN_NOGPU;
}
void pan_gpu_event_destroy(void **event)
{
    if (event) *event = NULL;
}
pan_status pan_gpu_event_record(void *event, void *stream)
{
    (void)event, (void)stream;
    return PAN_NOGPU;
}
pan_status pan_gpu_event_sync(void *event)
{
    (void)event;
    return PAN_NOGPU;
}
pan_status pan_gpu_stream_wait_event(void *stream, void *event)
{
    (void)stream, (void)event;
    return PAN_NOGPU;
}
pan_status pan_gpu_frame_wait(const struct pan_frame *frame, void *stream)
{
    (void)frame, (void)stream;
    return PAN_NOGPU;
}
pan_status pan_gpu_check_device_ptr(const void *p, const char *stage)
{
    (void)p, (void)stage;
    return PAN_NOGPU;
}
void pan_gpu_set_strict(int strict) { (void)strict; }
int pan_gpu_strict(void) { return 1; }
uint64_t pan_gpu_residency_violations(void) { return 0; }
#endif

#ifndef PANOPTES_HAVE_CUDA
#include "panoptes/frame.h"
pan_status pan_frame_download(const pan_frame *src, pan_frame *dst)
{
    (void)src, (void)dst;
    return PAN_NOGPU;
}
#endif
