/* Internal: cuDNN convolutions of the cuda engine backend (cuda_conv_cuda.c).
 *
 * Legacy cuDNN API: x and y are NHWC FP16 (CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF), weights are
 * KRSC FP16 ([out, kh, kw, in/group], cuDNN's NHWC filter format), compute type FP32 and
 * CUDNN_TENSOR_OP_MATH, so the tensor cores accumulate in FP32. Padding is symmetric per axis
 * (the backend pads explicitly first where the model's padding is not). Bias, activation and
 * residual are applied afterwards by pan__cu_conv_epilogue (cuDNN fuses only ReLU). */
#ifndef PANOPTES_NN_CUDA_CONV_H
#define PANOPTES_NN_CUDA_CONV_H

#include <stddef.h>

#include "panoptes/status.h"

typedef struct pan_cu_conv_shape {
    int n, c, h, w;       /* input, logical NCHW sizes */
    int k, r, s;          /* output channels, kernel height, width */
    int oh, ow;
    int pad_h, pad_w, stride_h, stride_w, dil_h, dil_w;
    int group;
} pan_cu_conv_shape;

typedef struct pan_cu_conv pan_cu_conv;

/* handle: cudnnHandle_t. Picks the fastest algorithm whose workspace fits ws_limit bytes with
 * cudnnFindConvolutionForwardAlgorithmEx, running it on x/w/y/ws (device buffers of the right sizes;
 * their contents are overwritten where they are outputs). Algorithms found are cached per shape
 * and workspace limit for the process, so repeated shapes and later batch sizes search once. */
pan_status pan__cu_conv_create(pan_cu_conv **conv, void *handle, const pan_cu_conv_shape *shape, const void *x,
                               const void *w, void *y, void *ws, size_t ws_limit, const char *name);
/* Workspace bytes the chosen algorithm needs. */
size_t pan__cu_conv_workspace(const pan_cu_conv *conv);
/* y = conv(x, w) on the stream set on the handle. */
pan_status pan__cu_conv_run(const pan_cu_conv *conv, void *handle, const void *x, const void *w, void *y, void *ws,
                            size_t ws_bytes);
void pan__cu_conv_destroy(pan_cu_conv **conv);
/* "IMPLICIT_PRECOMP_GEMM" etc., for logs. */
const char *pan__cu_conv_algo_name(const pan_cu_conv *conv);

#endif
