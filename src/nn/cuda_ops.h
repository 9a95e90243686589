/* Internal: kernels of the cuda engine backend (src/nn/cuda_ops.cu), callable from C.
 *
 * Storage: floating activations are FP16 (__half) with FP32 arithmetic inside every kernel.
 * 4-D activations are NHWC in memory (channels innermost, what cuDNN's tensor-core convolutions
 * want); other tensors are dense row-major in their logical order. Kernels that do not care
 * about layout take a pan_cu_iter: an iteration space of up to PAN_CU_MAX_RANK dims with, per
 * operand, a stride in elements for each dim (0 = broadcast along it). The host builds these
 * from the IR's logical shapes (cuda_backend_cuda.c), collapsing dims that are contiguous in
 * every operand, so most launches see rank 1 or 2.
 *
 * Indices are 32-bit: the backend refuses tensors of 2^31 elements or more.
 * Every launcher enqueues on `stream` (a cudaStream_t) and returns a cudaError_t as int
 * (0 = cudaSuccess), the launch error if any; nothing here synchronises. */
#ifndef PANOPTES_NN_CUDA_OPS_H
#define PANOPTES_NN_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PAN_CU_MAX_RANK 8

typedef struct pan_cu_iter {
    int rank;                        /* >= 1 */
    int dims[PAN_CU_MAX_RANK];       /* outermost first */
    int stride[3][PAN_CU_MAX_RANK];  /* elements; operand 0 = destination, 1 = source a, 2 = source b */
    int offset[3];                   /* element offset of each operand's first element */
} pan_cu_iter;

/* Unary ops and fused activations; alpha/beta as in ir.h (LeakyRelu alpha, Clip min/max,
 * HardSigmoid alpha/beta). */
typedef enum pan_cu_unop {
    PAN_CU_U_NONE = 0, /* identity */
    PAN_CU_U_RELU,
    PAN_CU_U_LEAKY_RELU,
    PAN_CU_U_SIGMOID,
    PAN_CU_U_TANH,
    PAN_CU_U_HARD_SIGMOID,
    PAN_CU_U_HARD_SWISH,
    PAN_CU_U_SILU,
    PAN_CU_U_CLIP,
    PAN_CU_U_EXP,
    PAN_CU_U_LOG,
    PAN_CU_U_SQRT,
    PAN_CU_U_NEG,
    PAN_CU_U_ABS,
} pan_cu_unop;

typedef enum pan_cu_binop {
    PAN_CU_B_ADD = 0,
    PAN_CU_B_SUB,
    PAN_CU_B_MUL,
    PAN_CU_B_DIV,
    PAN_CU_B_POW,
    PAN_CU_B_MAX,
    PAN_CU_B_MIN,
} pan_cu_binop;

/* Element kinds for copies (pan_dtype values of engine.h: F32 = 0, F16 = 1, ...). Copies
 * between F32 and F16 convert (round to nearest); other pairs must be equal (bytes moved). */
int pan__cu_copy(const pan_cu_iter *it, const void *src, int src_dtype, void *dst, int dst_dtype, void *stream);

/* y[i] = op(x[i]) for n FP16 values (x == y allowed). */
int pan__cu_unary(int op, float alpha, float beta, const void *x, void *y, int64_t n, void *stream);

/* y = a op b over it (operand 0 = y, 1 = a, 2 = b), FP16. */
int pan__cu_binary(int op, const pan_cu_iter *it, const void *a, const void *b, void *y, void *stream);

/* Conv epilogue: x is the convolution's NHWC FP16 output, n elements with C channels (channel =
 * index % C); the result goes to y, whose pixels are ystride channels apart (ystride = C and
 * y = x: in place; ystride > C: straight into a slice of a channel concat, y pointing at the
 * slice's first channel):
 *   y = act(x + bias[c] + res)      res_after_act = 0
 *   y = act(x + bias[c]) + res      res_after_act = 1
 * bias (FP32, C values) and res (FP16, packed like x) may be NULL. */
int pan__cu_conv_epilogue(const void *x, void *y, int ystride, const float *bias, const void *res, int64_t n, int C,
                          int act, float alpha, float beta, int res_after_act, void *stream);

/* y = x * scale[c] + shift[c] with c = (index / div) % C (batch-norm in inference form), FP16. */
int pan__cu_channel_affine(const void *x, void *y, int64_t n, int C, int64_t div, const float *scale,
                           const float *shift, void *stream);

/* 2-D pooling over NHWC FP16. Pads: top, left, bottom, right (padding counts as -inf for max). */
typedef struct pan_cu_pool2d {
    int n, c, h, w, oh, ow;
    int kh, kw, sh, sw, dh, dw;
    int pt, pl, pb, pr;
    int is_max;
    int count_include_pad; /* average: divide by the window clipped to the padded input */
} pan_cu_pool2d;
int pan__cu_pool2d(const pan_cu_pool2d *p, const void *x, void *y, void *stream);
/* Global pooling: x NHWC [n, hw, c] -> y [n, c]. */
int pan__cu_global_pool(int is_max, int n, int hw, int c, const void *x, void *y, void *stream);

/* Resize (nearest or bilinear) of NHWC FP16; modes are ir.h's pan_resize_coord / pan_resize_nearest.
 * scale_h/w: output/input as the coordinate transform uses it. */
typedef struct pan_cu_resize {
    int n, c, h, w, oh, ow;
    int linear;
    int coord;
    int nearest;
    float scale_h, scale_w;
} pan_cu_resize;
int pan__cu_resize(const pan_cu_resize *p, const void *x, void *y, void *stream);

/* Softmax along one axis: `rows` iterates over every other dim (operand 0 = y, 1 = x), the axis
 * has len elements at stride ystride / xstride. FP32 inside, FP16 in and out. */
int pan__cu_softmax(const pan_cu_iter *rows, int len, int ystride, int xstride, const void *x, void *y, void *stream);

/* Copy in logical row-major order between two shapes of equal element count (Reshape across
 * physical layouts): element L of the logical order goes from the source's position of L to
 * the destination's. Dims/strides in elements. */
typedef struct pan_cu_reshape {
    int src_rank, dst_rank;
    int src_dims[PAN_CU_MAX_RANK], src_strides[PAN_CU_MAX_RANK];
    int dst_dims[PAN_CU_MAX_RANK], dst_strides[PAN_CU_MAX_RANK];
} pan_cu_reshape;
int pan__cu_reshape(const pan_cu_reshape *p, int64_t numel, const void *x, void *y, int elem_bytes, void *stream);

/* Pad (constant / reflect / edge, ir.h's pan_pad_mode) of FP16. dims are the OUTPUT's, in the
 * order the iteration wants (the output's physical order); in_dims/in_strides/begin per the same dims. */
typedef struct pan_cu_pad {
    int rank;
    int dims[PAN_CU_MAX_RANK];
    int out_strides[PAN_CU_MAX_RANK];
    int in_dims[PAN_CU_MAX_RANK], in_strides[PAN_CU_MAX_RANK];
    int begin[PAN_CU_MAX_RANK];
    int mode;
    float value;
} pan_cu_pad;
int pan__cu_pad(const pan_cu_pad *p, const void *x, void *y, void *stream);

/* Direct convolution for inputs with few channels (an image's 3), in cuda_ops_conv_direct.cu.
 * cuDNN's tensor-core kernels want 8 FP16 channels a pixel, and padding the input to 8 costs a
 * copy of it 8/C times its size in the arena (NanoDet at batch 32: 84.5 MiB, half the arena);
 * this kernel reads the C channels as they are, FP32 arithmetic. x NHWC [n, h, w, c], w KRSC
 * [k][r][s][c], y NHWC [n, oh, ow, k], all FP16; zero padding pad_h/pad_w at the top/left (the
 * bottom/right pads are implied by oh/ow). bias (FP32 [k], or NULL) and the activation act
 * (PAN_CU_U_*, alpha, beta; PAN_CU_U_NONE: none) are applied before the store when the lowering
 * fuses them; a residual or a concat's slice leaves them to the epilogue step.
 * Limits: c * r * s <= PAN_CU_DIRECT_TAPS, PAN_CU_DIRECT_SMEM_BYTES(k, c * r * s) <=
 * PAN_CU_DIRECT_SMEM (weights and bias live in shared memory, FP32, k rounded up to 8). */
#define PAN_CU_DIRECT_TAPS 64
#define PAN_CU_DIRECT_SMEM (48 * 1024)
#define PAN_CU_DIRECT_SMEM_BYTES(k, taps) ((size_t)(((k) + 7) / 8 * 8) * (size_t)((taps) + 1) * 4)
typedef struct pan_cu_dconv {
    int n, c, h, w, k, r, s, oh, ow;
    int pad_h, pad_w, stride_h, stride_w, dil_h, dil_w;
    int act;
    float alpha, beta;
} pan_cu_dconv;
int pan__cu_conv_direct(const pan_cu_dconv *p, const void *x, const void *w, const float *bias, void *y,
                        void *stream);

#ifdef __cplusplus
}
#endif
#endif
