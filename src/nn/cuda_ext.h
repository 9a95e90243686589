/* The cuda backend's extension steps: the detector families' ops (op_table_ext.h) on the GPU.
 *
 * A PAN_CU_STEP_EXT step owns one of the parameter blocks below (malloc'ed by the lowering in
 * cuda_lower_select_cuda.c / cuda_lower_math_cuda.c, freed with the exec); running it calls
 * block->run with the step's four operands resolved to device pointers, p = {y, a, b, c} (each
 * block says what they hold) and the stream. Launchers live in cuda_ops_ext.cu (elementwise and
 * indexing), cuda_ops_reduce.cu (reductions, LayerNorm, ArgMax, TopK) and cuda_ops_attn.cu
 * (MatMul of two activations, GridSample, Einsum); each returns a cudaError_t as int.
 *
 * Storage as cuda_ops.h: floating tensors FP16 (FP32 arithmetic inside), integers as their
 * dtype, BOOL one byte; every operand is addressed through per-logical-dim element strides
 * (NHWC activations, row-major constants, broadcast = stride 0), so layouts never matter here. */
#ifndef PANOPTES_NN_CUDA_EXT_H
#define PANOPTES_NN_CUDA_EXT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PAN_CU_EXT_RANK 8

typedef struct pan_cu_ext pan_cu_ext;
typedef int (*pan_cu_ext_fn)(const pan_cu_ext *e, void *const *p, void *stream);
struct pan_cu_ext {
    pan_cu_ext_fn run;
};

/* Iteration over an output of `rank` logical dims with per-operand element strides. */
typedef struct pan_cu_xiter {
    int rank;
    int dims[PAN_CU_EXT_RANK];
    int st[4][PAN_CU_EXT_RANK]; /* operand 0 = the output, 1.. the inputs */
    int64_t n;                  /* Π dims */
} pan_cu_xiter;

/* Element kinds (pan_dtype values of engine.h: F32 0, F16 1, I32 2, I64 3, U8 4, BOOL 5, I8 6). */
enum { PAN_CU_T_F16 = 1, PAN_CU_T_I32 = 2, PAN_CU_T_I64 = 3, PAN_CU_T_U8 = 4, PAN_CU_T_BOOL = 5, PAN_CU_T_I8 = 6 };

/* ---- cuda_ops_ext.cu --------------------------------------------------------------------------- */
/* Gather / GatherElements (y, a = data, b = indices I32/I64): it over the output, st[1] = the data's
 * strides for the output dims it follows (0 for the dims the index comes from), st[2] = the
 * indices' strides; element = data[Σ o·st1 + v·axis_stride], v = indices[Σ o·st2] (+ axis_len when
 * negative; out-of-range indices are clamped: ONNX Runtime reports them, a kernel cannot).
 * Tile (mode 1, y, a): data[Σ (o mod mod[d])·st1]. */
typedef struct pan_cu_gather {
    pan_cu_ext base;
    pan_cu_xiter it;
    int mode;            /* 0 gather, 1 tile */
    int axis_stride, axis_len;
    int idx_dtype;
    int mod[PAN_CU_EXT_RANK];
    int elem;            /* bytes per element */
} pan_cu_gather;
int pan__cu_ext_gather(const pan_cu_ext *e, void *const *p, void *stream);

/* Where (y, a = condition BOOL, b = x, c = y-input): it operands 0 y, 1 cond, 2 x, 3 y-input. */
typedef struct pan_cu_where {
    pan_cu_ext base;
    pan_cu_xiter it;
    int elem;
} pan_cu_where;
int pan__cu_ext_where(const pan_cu_ext *e, void *const *p, void *stream);

/* Elementwise binary ops over it (y, a, b) on F16, I32, I64 or BOOL inputs:
 * comparisons and logic (BOOL out), integer arithmetic, Mod. */
typedef enum pan_cu_xop {
    PAN_CU_X_EQ = 0, PAN_CU_X_LT, PAN_CU_X_GT, PAN_CU_X_LE, PAN_CU_X_GE, PAN_CU_X_AND, PAN_CU_X_OR, PAN_CU_X_XOR,
    PAN_CU_X_ADD, PAN_CU_X_SUB, PAN_CU_X_MUL, PAN_CU_X_DIV, PAN_CU_X_MOD, PAN_CU_X_FMOD,
} pan_cu_xop;
typedef struct pan_cu_xbin {
    pan_cu_ext base;
    pan_cu_xiter it;
    int op, in_dtype, out_dtype;
} pan_cu_xbin;
int pan__cu_ext_binop(const pan_cu_ext *e, void *const *p, void *stream);

/* Unary (y, a), n contiguous elements: Not (BOOL), Erf, Gelu (alpha 1: tanh form), Floor, Ceil (F16);
 * Cast between any two element kinds (it over the output, operands 0 y, 1 x). */
typedef enum pan_cu_xunop { PAN_CU_XU_NOT = 0, PAN_CU_XU_ERF, PAN_CU_XU_GELU, PAN_CU_XU_FLOOR, PAN_CU_XU_CEIL, PAN_CU_XU_CAST } pan_cu_xunop;
typedef struct pan_cu_xun {
    pan_cu_ext base;
    pan_cu_xiter it;
    int op;
    float alpha;
    int in_dtype, out_dtype;
} pan_cu_xun;
int pan__cu_ext_unop(const pan_cu_ext *e, void *const *p, void *stream);

/* ---- cuda_ops_reduce.cu ------------------------------------------------------------------------ */
/* Reductions (y, a): out iterates the kept dims (st[0] y, st[1] x), red the reduced ones (st[1] x).
 * One warp per output element. op: 0 sum, 1 mean, 2 max, 3 min; F16 or I64. */
typedef struct pan_cu_reduce {
    pan_cu_ext base;
    pan_cu_xiter out, red;
    int op, dtype;
} pan_cu_reduce;
int pan__cu_ext_reduce(const pan_cu_ext *e, void *const *p, void *stream);

/* ArgMax / ArgMin (y I64, a): out as for reductions (y, x), the axis: len elements x_stride apart. */
typedef struct pan_cu_argmax {
    pan_cu_ext base;
    pan_cu_xiter out;
    int len, x_stride, is_min, last, dtype;
} pan_cu_argmax;
int pan__cu_ext_argmax(const pan_cu_ext *e, void *const *p, void *stream);

/* LayerNormalization (y, a = x, b = scale, c = bias or NULL): rows iterate the outer dims (st[0] y,
 * st[1] x), inner the normalised ones (st[0] y, st[1] x); scale / bias are row-major over the
 * inner dims (or one value). One warp per row, FP32 statistics. */
typedef struct pan_cu_layernorm {
    pan_cu_ext base;
    pan_cu_xiter rows, inner;
    float eps;
    int scale_scalar, bias_scalar;
} pan_cu_layernorm;
int pan__cu_ext_layernorm(const pan_cu_ext *e, void *const *p, void *stream);

/* TopK (y = values, a = x, b unused, c = indices I64): rows iterate every dim but the axis (st[0] y,
 * st[1] x, st[2] indices); along the axis len inputs x_stride apart, k outputs y_stride / i_stride
 * apart; sorted, ties by the lower index (as the cpu kernel and ONNX Runtime). One block per row:
 * a radix select of the k-th value, then a bitonic sort of the k kept. k <= PAN_CU_TOPK_MAX. */
#define PAN_CU_TOPK_MAX 2048
typedef struct pan_cu_topk {
    pan_cu_ext base;
    pan_cu_xiter rows;
    int len, k, x_stride, y_stride, i_stride, largest, dtype;
} pan_cu_topk;
int pan__cu_ext_topk(const pan_cu_ext *e, void *const *p, void *stream);

/* ---- cuda_ops_attn.cu -------------------------------------------------------------------------- */
/* Y = alpha·A·B (+ beta·C): batch iterates the leading dims (st[0] y, st[1] A, st[2] B, st[3] C),
 * then M×K · K×N with element strides per row / column of each operand (transposes and NHWC are
 * strides); C (Gemm) broadcast over [M, N] by its strides (0 = broadcast), or absent. Tiled in
 * shared memory, FP16 operands, FP32 accumulation. */
typedef struct pan_cu_matmul {
    pan_cu_ext base;
    pan_cu_xiter batch;
    int M, N, K;
    int a_rs, a_cs, b_rs, b_cs, y_rs, y_cs, c_rs, c_cs;
    float alpha, beta;
    int has_c;
} pan_cu_matmul;
int pan__cu_ext_matmul(const pan_cu_ext *e, void *const *p, void *stream);

/* GridSample (y, a = x [N, C, H, W], b = grid [N, Ho, Wo, 2]): strides per logical dim of each;
 * mode/padding as ir.h's pan_grid_mode / pan_grid_padding. */
typedef struct pan_cu_gridsample {
    pan_cu_ext base;
    int N, C, H, W, Ho, Wo;
    int xs[4], gs[4], ys[4];
    int mode, padding, align;
} pan_cu_gridsample;
int pan__cu_ext_gridsample(const pan_cu_ext *e, void *const *p, void *stream);

/* Einsum (y, a, b = second operand or NULL): out iterates the output letters (st[0] y, st[1] a,
 * st[2] b), sum the summed letters (st[1] a, st[2] b). One thread per output element. */
typedef struct pan_cu_einsum {
    pan_cu_ext base;
    pan_cu_xiter out, sum;
    int n_ops;
} pan_cu_einsum;
int pan__cu_ext_einsum(const pan_cu_ext *e, void *const *p, void *stream);

#ifdef __cplusplus
}
#endif
#endif
