/* The engine's operator table: one row per IR op, from which the op enum (ir.h), the names, the
 * shape rules (infer*.c), the cpu kernels (cpu_ops.c), the cuda lowering (cuda_lower_cuda.c) and the
 * ONNX importer's generic path (onnx_ops.c) are generated, X-macro style like PAN_STATUS_TABLE.
 *
 * X(id, name, kind, attrs, onnx, shape, cpu, cuda)
 *   id     the enum value PAN_OP_<id>. Rows may be inserted anywhere: nothing stores op numbers.
 *   name   the op's ONNX op_type (also how messages and profiles name it).
 *   kind   UNARY: elementwise, one float input, parameters in attrs.unary (passes sink transposes
 *          through it); BINARY: elementwise with numpy broadcasting, inputs (a, b); OTHER.
 *   attrs  the member of pan_attrs the op reads (none: no attributes); checked at compile time.
 *   onnx   how the ONNX importer builds it: AS_IS = one node with the ONNX node's inputs and outputs
 *          as they are and no attributes (enough for Relu, Add, MatMul, Where...); OWN = a converter
 *          of its own in onnx_ops*.c (attributes, opset differences); NO = not an ONNX op (made by
 *          the passes or the TF.js importer).
 *   shape  the shape and dtype rule, pan_status f(pan_graph *, pan_node *), declared in infer_ops.h.
 *   cpu    the cpu kernel, pan_status f(const pan_cpu_call *), declared in cpu_ops.h. Every op needs
 *          one: constant folding evaluates nodes with it.
 *   cuda   the cuda lowering, pan_status f(pan_cu_exec *, int node_idx, const pan_node *), declared
 *          in cuda_lower.h; NULL where the cuda backend lacks the op (the engine then lists every such
 *          op of a model in one message, see pan__graph_check_backend).
 * Inputs are listed per op as (slot: meaning); "?" marks optional. Semantics follow ONNX (opset 13+)
 * unless stated; see ir.h for the conventions.
 *
 * Adding an op: a row here, its shape rule, its cpu kernel (and a cuda lowering, or NULL), and for
 * ONNX either AS_IS or a converter named in onnx_ops.c's dispatch; TF.js ops are mapped in
 * tfjs_ops*.c. tests/test-op-table.c checks that the columns are consistent. */
#ifndef PANOPTES_NN_OP_TABLE_H
#define PANOPTES_NN_OP_TABLE_H

#include "nn/op_table_ext.h" /* rules, kernels and lowerings of the detector families' ops */

/* clang-format off */
#define PAN_OP_TABLE(X)                                                                                          \
    X(IDENTITY, "Identity", OTHER, none, AS_IS, pan__infer_same, pan__cpu_data, pan__cu_lower_reshape)            \
    /* (0: x NCHW, 1: w OIHW, 2?: bias [O], 3?: residual, same shape as y).                                     \
     * y = act(conv(x) + bias) + residual when attrs.conv.residual_after_act, else act(conv(x) + bias + residual) */ \
    X(CONV, "Conv", OTHER, conv, OWN, pan__infer_conv, pan__cpu_conv, pan__cu_lower_conv)                          \
    /* (0: x NC..., 1: scale, 2: bias, 3: mean, 4: var), inference form */                                      \
    X(BATCHNORM, "BatchNormalization", OTHER, bn, OWN, pan__infer_batchnorm, pan__cpu_batchnorm,                  \
      pan__cu_lower_batchnorm)                                                                                   \
    X(RELU, "Relu", UNARY, unary, AS_IS, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)                  \
    X(LEAKY_RELU, "LeakyRelu", UNARY, unary, OWN, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)         \
    X(SIGMOID, "Sigmoid", UNARY, unary, AS_IS, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)            \
    X(TANH, "Tanh", UNARY, unary, AS_IS, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)                  \
    /* max(0, min(1, alpha*x + beta)); ONNX default alpha 0.2, beta 0.5 */                                      \
    X(HARD_SIGMOID, "HardSigmoid", UNARY, unary, OWN, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)     \
    /* x * max(0, min(1, x/6 + 0.5)) */                                                                          \
    X(HARD_SWISH, "HardSwish", UNARY, unary, AS_IS, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)       \
    /* x * sigmoid(x); made by fusion from Mul(x, Sigmoid(x)) */                                                 \
    X(SILU, "SiLU", UNARY, unary, NO, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)                     \
    /* min(max(x, alpha), beta); +-INFINITY when absent */                                                       \
    X(CLIP, "Clip", UNARY, unary, OWN, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)                    \
    X(EXP, "Exp", UNARY, unary, AS_IS, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)                    \
    X(LOG, "Log", UNARY, unary, AS_IS, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)                    \
    X(SQRT, "Sqrt", UNARY, unary, AS_IS, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)                  \
    X(NEG, "Neg", UNARY, unary, AS_IS, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)                    \
    X(ABS, "Abs", UNARY, unary, AS_IS, pan__infer_unary, pan__cpu_unary, pan__cu_lower_unary)                    \
    X(CAST, "Cast", OTHER, cast, OWN, pan__infer_cast, pan__cpu_cast, pan__cu_lower_cast_any)                        \
    /* binary elementwise with numpy broadcasting: (0: a, 1: b) */                                               \
    X(ADD, "Add", BINARY, none, AS_IS, pan__infer_binary, pan__cpu_binary, pan__cu_lower_binary_any)                 \
    X(SUB, "Sub", BINARY, none, AS_IS, pan__infer_binary, pan__cpu_binary, pan__cu_lower_binary_any)                 \
    X(MUL, "Mul", BINARY, none, AS_IS, pan__infer_binary, pan__cpu_binary, pan__cu_lower_binary_any)                 \
    /* integer division truncates toward zero (C), as ONNX */                                                    \
    X(DIV, "Div", BINARY, none, AS_IS, pan__infer_binary, pan__cpu_binary, pan__cu_lower_binary_any)                 \
    X(POW, "Pow", BINARY, none, AS_IS, pan__infer_binary, pan__cpu_binary, pan__cu_lower_binary)                 \
    X(MAX, "Max", BINARY, none, OWN, pan__infer_binary, pan__cpu_binary, pan__cu_lower_binary)                   \
    X(MIN, "Min", BINARY, none, OWN, pan__infer_binary, pan__cpu_binary, pan__cu_lower_binary)                   \
    /* (0..n-1) along attrs.axis.axis */                                                                         \
    X(CONCAT, "Concat", OTHER, axis, OWN, pan__infer_concat, pan__cpu_data, pan__cu_lower_concat_split)          \
    /* (0: x, 1?: sizes I64) along attrs.axis.axis into n_outputs parts (equal parts, the last smaller,         \
     * when sizes is absent; one size may be -1 = the rest, as TF SplitV) */                                     \
    X(SPLIT, "Split", OTHER, axis, OWN, pan__infer_split, pan__cpu_data, pan__cu_lower_concat_split)             \
    /* (0: x, 1: starts, 2: ends, 3?: axes, 4?: steps) */                                                        \
    X(SLICE, "Slice", OTHER, none, OWN, pan__infer_slice, pan__cpu_data, pan__cu_lower_transpose_expand_slice)   \
    /* (0: x, 1: shape I64) */                                                                                   \
    X(RESHAPE, "Reshape", OTHER, reshape, OWN, pan__infer_reshape, pan__cpu_data, pan__cu_lower_reshape)         \
    /* attrs.transpose.perm (n_perm 0 = reverse the dims) */                                                     \
    X(TRANSPOSE, "Transpose", OTHER, transpose, OWN, pan__infer_transpose, pan__cpu_data,                        \
      pan__cu_lower_transpose_expand_slice)                                                                      \
    /* attrs.axis.axis: [prod(d<axis), prod(d>=axis)] */                                                         \
    X(FLATTEN, "Flatten", OTHER, axis, OWN, pan__infer_flatten, pan__cpu_data, pan__cu_lower_reshape)            \
    /* (0: x, 1?: axes); all size-1 dims when absent */                                                          \
    X(SQUEEZE, "Squeeze", OTHER, none, OWN, pan__infer_squeeze, pan__cpu_data, pan__cu_lower_reshape)            \
    /* (0: x, 1: axes) */                                                                                        \
    X(UNSQUEEZE, "Unsqueeze", OTHER, none, OWN, pan__infer_unsqueeze, pan__cpu_data, pan__cu_lower_reshape)      \
    /* (0: x, 1: shape) numpy broadcast to shape */                                                              \
    X(EXPAND, "Expand", OTHER, none, AS_IS, pan__infer_expand, pan__cpu_data, pan__cu_lower_transpose_expand_slice) \
    /* (0: x, 1: pads I64 [2*rank] = begins then ends, 2?: value scalar) attrs.pad.mode */                       \
    X(PAD, "Pad", OTHER, pad, OWN, pan__infer_pad, pan__cpu_data, pan__cu_lower_pad)                             \
    /* (0: data, 1: indices I32/I64) attrs.axis.axis */                                                          \
    X(GATHER, "Gather", OTHER, axis, OWN, pan__infer_gather, pan__cpu_data, pan__cu_lower_gather)                                \
    /* (0: x) -> I64 [rank] (attrs.shape start/end, end 0 = rank) */                                             \
    X(SHAPE, "Shape", OTHER, shape, OWN, pan__infer_shape, pan__cpu_data, NULL)                                  \
    /* (0: shape I64) attrs.fill */                                                                              \
    X(CONSTANT_OF_SHAPE, "ConstantOfShape", OTHER, fill, OWN, pan__infer_constant_of_shape, pan__cpu_data, NULL) \
    /* TF: (0: indices [n] or [n,r], 1: output_shape, 2: values (scalar or [n]), 3: default) */                  \
    X(SPARSE_TO_DENSE, "SparseToDense", OTHER, none, NO, pan__infer_sparse_to_dense, pan__cpu_data, NULL)        \
    /* pooling, NCHW, attrs.pool; max pooling's padding counts as -inf */                                        \
    X(MAXPOOL, "MaxPool", OTHER, pool, OWN, pan__infer_pool, pan__cpu_pool2d, pan__cu_lower_pool)                \
    X(AVGPOOL, "AveragePool", OTHER, pool, OWN, pan__infer_pool, pan__cpu_pool2d, pan__cu_lower_pool)            \
    X(GLOBAL_AVGPOOL, "GlobalAveragePool", OTHER, none, AS_IS, pan__infer_pool, pan__cpu_global_pool,            \
      pan__cu_lower_pool)                                                                                        \
    X(GLOBAL_MAXPOOL, "GlobalMaxPool", OTHER, none, AS_IS, pan__infer_pool, pan__cpu_global_pool,                \
      pan__cu_lower_pool)                                                                                        \
    /* (0: x NCHW, 1?: roi (ignored), 2?: scales F32 [4], 3?: sizes I64 [4] or [2]=H,W) */                       \
    X(RESIZE, "Resize", OTHER, resize, OWN, pan__infer_resize, pan__cpu_resize, pan__cu_lower_resize)            \
    /* attrs.axis.axis (opset 13: along one axis) */                                                             \
    X(SOFTMAX, "Softmax", OTHER, axis, OWN, pan__infer_softmax, pan__cpu_softmax, pan__cu_lower_softmax)         \
    /* (0: A, 1: B, 2?: C): alpha*A'B' + beta*C, 2-D */                                                          \
    X(GEMM, "Gemm", OTHER, gemm, OWN, pan__infer_gemm, pan__cpu_gemm, pan__cu_lower_matmul)                        \
    /* numpy matmul, batched, broadcast leading dims */                                                          \
    X(MATMUL, "MatMul", OTHER, none, AS_IS, pan__infer_matmul, pan__cpu_matmul, pan__cu_lower_matmul)              \
    /* (0: x, 1?: axes) attrs.reduce */                                                                          \
    X(REDUCE_MEAN, "ReduceMean", OTHER, reduce, OWN, pan__infer_reduce, pan__cpu_reduce_mean, pan__cu_lower_reduce) \
    /* ---- the detector families' ops (issue #20; op_table_ext.h) ---- */                                     \
    /* (0: x, 1?: axes) attrs.reduce; Max/Min of an empty reduction is -inf/+inf */                              \
    X(REDUCE_SUM, "ReduceSum", OTHER, reduce, OWN, pan__infer_reduce, pan__cpu_reduce, pan__cu_lower_reduce)       \
    X(REDUCE_MAX, "ReduceMax", OTHER, reduce, OWN, pan__infer_reduce, pan__cpu_reduce, pan__cu_lower_reduce)       \
    X(REDUCE_MIN, "ReduceMin", OTHER, reduce, OWN, pan__infer_reduce, pan__cpu_reduce, pan__cu_lower_reduce)       \
    /* (0: data, 1: indices I32/I64 shaped as the output) attrs.axis.axis */                                     \
    X(GATHER_ELEMENTS, "GatherElements", OTHER, axis, OWN, pan__infer_gather_elements, pan__cpu_gather_elements,  \
      pan__cu_lower_gather_elements)                                                                             \
    /* (0: x, 1: k I64 [1]) -> (0: values, 1: indices I64) */                                                    \
    X(TOPK, "TopK", OTHER, topk, OWN, pan__infer_topk, pan__cpu_topk, pan__cu_lower_topk)                        \
    /* (0: x) -> I64 indices */                                                                                  \
    X(ARGMAX, "ArgMax", OTHER, argmax, OWN, pan__infer_argmax, pan__cpu_argmax, pan__cu_lower_argmax)           \
    X(ARGMIN, "ArgMin", OTHER, argmax, OWN, pan__infer_argmax, pan__cpu_argmax, pan__cu_lower_argmax)           \
    /* (0: x, 1: scale, 2?: bias) over dims [axis, rank); the optional Mean/InvStdDev outputs are refused */    \
    X(LAYER_NORM, "LayerNormalization", OTHER, layernorm, OWN, pan__infer_layernorm, pan__cpu_layernorm,         \
      pan__cu_lower_layernorm)                                                                                   \
    /* (0: condition BOOL, 1: x, 2: y), three-way numpy broadcasting */                                         \
    X(WHERE, "Where", OTHER, none, AS_IS, pan__infer_where, pan__cpu_where, pan__cu_lower_where)                 \
    /* comparisons and logic: broadcasting binary ops with BOOL results (logic: BOOL inputs) */                  \
    X(EQUAL, "Equal", OTHER, none, AS_IS, pan__infer_compare, pan__cpu_compare, pan__cu_lower_compare)           \
    X(LESS, "Less", OTHER, none, AS_IS, pan__infer_compare, pan__cpu_compare, pan__cu_lower_compare)             \
    X(GREATER, "Greater", OTHER, none, AS_IS, pan__infer_compare, pan__cpu_compare, pan__cu_lower_compare)       \
    X(LESS_OR_EQUAL, "LessOrEqual", OTHER, none, AS_IS, pan__infer_compare, pan__cpu_compare,                    \
      pan__cu_lower_compare)                                                                                     \
    X(GREATER_OR_EQUAL, "GreaterOrEqual", OTHER, none, AS_IS, pan__infer_compare, pan__cpu_compare,              \
      pan__cu_lower_compare)                                                                                     \
    X(AND, "And", OTHER, none, AS_IS, pan__infer_compare, pan__cpu_compare, pan__cu_lower_compare)               \
    X(OR, "Or", OTHER, none, AS_IS, pan__infer_compare, pan__cpu_compare, pan__cu_lower_compare)                 \
    X(XOR, "Xor", OTHER, none, AS_IS, pan__infer_compare, pan__cpu_compare, pan__cu_lower_compare)               \
    X(NOT, "Not", OTHER, none, AS_IS, pan__infer_same, pan__cpu_not, pan__cu_lower_not)                          \
    /* unary, float: erf(x); Gelu x·Φ(x) (attrs.unary.alpha 1: the tanh approximation); floor; ceil */         \
    X(ERF, "Erf", UNARY, unary, AS_IS, pan__infer_unary, pan__cpu_unary_ext, pan__cu_lower_unary_ext)            \
    X(GELU, "Gelu", UNARY, unary, OWN, pan__infer_unary, pan__cpu_unary_ext, pan__cu_lower_unary_ext)            \
    X(FLOOR, "Floor", UNARY, unary, AS_IS, pan__infer_unary, pan__cpu_unary_ext, pan__cu_lower_unary_ext)        \
    X(CEIL, "Ceil", UNARY, unary, AS_IS, pan__infer_unary, pan__cpu_unary_ext, pan__cu_lower_unary_ext)          \
    /* broadcasting remainder, attrs.mod.fmod (0: sign of the divisor, integers) */                             \
    X(MOD, "Mod", BINARY, mod, OWN, pan__infer_binary, pan__cpu_mod, pan__cu_lower_binary_any)                   \
    /* (0: x, 1: repeats I64 [rank]) */                                                                          \
    X(TILE, "Tile", OTHER, none, AS_IS, pan__infer_tile, pan__cpu_tile, pan__cu_lower_tile)                      \
    /* (0: x [N, C, H, W], 1: grid [N, Ho, Wo, 2]) attrs.gridsample */                                          \
    X(GRID_SAMPLE, "GridSample", OTHER, gridsample, OWN, pan__infer_grid_sample, pan__cpu_grid_sample,           \
      pan__cu_lower_grid_sample)                                                                                 \
    /* (0..n_ops-1) attrs.einsum: Σ over the letters absent from the output of the product */                   \
    X(EINSUM, "Einsum", OTHER, einsum, OWN, pan__infer_einsum, pan__cpu_einsum, pan__cu_lower_einsum)          \
    /* (0: start, 1: limit, 2: delta), scalars; constant once the batch is known (folded) */                   \
    X(RANGE, "Range", OTHER, none, OWN, pan__infer_range, pan__cpu_range, NULL)
/* clang-format on */

#endif
