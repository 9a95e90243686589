/* cpu-only builds: the batched GPU preprocessing links and says there is no GPU. */
#ifndef PANOPTES_HAVE_CUDA
#include "vision/preprocess_gpu.h"

pan_status pan_preprocess_gpu_create(pan_preprocess_gpu **pp, const pan_preprocess_params *params, int max_batch, int device)
{
    (void)params, (void)max_batch, (void)device;
    if (pp) *pp = NULL;
    return PAN_NOGPU;
}
void pan_preprocess_gpu_destroy(pan_preprocess_gpu **pp)
{
    if (pp) *pp = NULL;
}
pan_status pan_preprocess_gpu_run(pan_preprocess_gpu *pp, pan_frame *const *frames, int n, void *out_fp16,
                                  pan_letterbox *lb, void *stream)
{
    (void)pp, (void)frames, (void)n, (void)out_fp16, (void)lb, (void)stream;
    return PAN_NOGPU;
}
pan_status pan_preprocess_gpu_wait(pan_preprocess_gpu *pp)
{
    (void)pp;
    return PAN_NOGPU;
}
size_t pan_preprocess_gpu_image_bytes(const pan_preprocess_params *p)
{
    return (size_t)3 * (size_t)p->width * (size_t)p->height * 2;
}
#endif
