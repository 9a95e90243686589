/* Batched GPU preprocessing: frames of many cameras, still where the decoder left them in
 * device memory (NVDEC surfaces, NV12, or device YUV420P), become one FP16 input tensor with
 * ONE kernel launch per batch. Semantics: src/vision/preprocess.h, identical to
 * pan_preprocess_cpu within ±1 on the 0–255 scale (tests/test-gpu-preprocess.c checks it).
 *
 * Output layout: n images of 3·W·H FP16 values each, image i at out + i·3·W·H; inside one image
 * NCHW (three W·H planes, channel order of params->channels) or NHWC (3 values per pixel).
 *
 * Life of a batch, for the pipeline:
 *   pan_preprocess_gpu_run(pp, frames, n, out, lb, stream);   // checks residency, launches, returns
 *   ... enqueue the detector on `stream` ...
 *   pan_preprocess_gpu_wait(pp) or sync the stream, THEN pan_frame_unref each frame.
 * The kernel reads the frames asynchronously: a frame unref'd before the kernel has run would
 * unmap its NVDEC surface under it. Frames decoded by NVDEC on another (per-camera) stream are
 * waited for on the device (cudaStreamWaitEvent on the event recorded after their map): no host
 * wait. Not thread-safe: one object per batching thread. */
#ifndef PANOPTES_PREPROCESS_GPU_H
#define PANOPTES_PREPROCESS_GPU_H

#include "panoptes/frame.h"
#include "vision/preprocess.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pan_preprocess_gpu pan_preprocess_gpu;

/* max_batch: most frames per run (descriptor space); device: CUDA ordinal. */
pan_status pan_preprocess_gpu_create(pan_preprocess_gpu **pp, const pan_preprocess_params *params, int max_batch, int device);
void pan_preprocess_gpu_destroy(pan_preprocess_gpu **pp);
/* frames: n device frames (NV12 or YUV420P, any sizes and colour descriptions, one per camera
 * or several per camera); out_fp16: device buffer of n·3·W·H halves; lb (may be NULL): n
 * letterboxes to map detections back; stream: cudaStream_t (NULL = legacy default stream).
 * PAN_RESIDENCY (naming the stage) when a plane or out is not device memory. */
pan_status pan_preprocess_gpu_run(pan_preprocess_gpu *pp, pan_frame *const *frames, int n, void *out_fp16,
                                  pan_letterbox *lb, void *stream);
/* Waits on the host until the last run's kernel has finished (its frames may then be unref'd). */
pan_status pan_preprocess_gpu_wait(pan_preprocess_gpu *pp);
/* Bytes of one output image: 3·W·H·2. */
size_t pan_preprocess_gpu_image_bytes(const pan_preprocess_params *params);

#ifdef __cplusplus
}
#endif
#endif
