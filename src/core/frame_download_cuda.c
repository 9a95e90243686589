/* Device → host copy of a frame's planes (pan_frame_download in include/panoptes/frame.h). */
#include <cuda_runtime_api.h>

#include "core/cuda_check.h"
#include "panoptes/frame.h"
#include "core/gpu.h"

pan_status pan_frame_download(const pan_frame *src, pan_frame *dst)
{
    if (!src || !dst || src->memory != PAN_MEMORY_DEVICE || dst->memory != PAN_MEMORY_HOST ||
        src->format != dst->format || src->width != dst->width || src->height != dst->height)
        return PAN_INVAL;
    int planes = pan_pixfmt_planes(src->format);
    size_t bytes = 0;
    for (int i = 0; i < planes; i++) {
        /* NV12 chroma: height/2 rows of width bytes (interleaved CbCr); YUV420P: width/2 x height/2 */
        size_t w = i == 0 || src->format == PAN_PIXFMT_NV12 ? (size_t)src->width : (size_t)(src->width + 1) / 2;
        size_t h = i == 0 ? (size_t)src->height : (size_t)(src->height + 1) / 2;
        if (src->format == PAN_PIXFMT_NV12 && i == 1) w = (size_t)((src->width + 1) / 2) * 2;
        PAN_CUDA_CHECK(cudaMemcpy2D(dst->data[i], (size_t)dst->pitch[i], src->data[i], (size_t)src->pitch[i], w, h,
                                    cudaMemcpyDeviceToHost));
        bytes += w * h;
    }
    pan_gpu_count_pixel_copy(bytes);
    dst->camera = src->camera;
    dst->index = src->index;
    dst->pts = src->pts;
    dst->matrix = src->matrix;
    dst->range = src->range;
    dst->rotation = src->rotation;
    return PAN_OK;
}
