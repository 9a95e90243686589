/* Engine intermediate representation: a graph of typed tensors and ops (internal to src/nn).
 *
 * Conventions
 *  - Logical layout of 4-D activations is NCHW; conv weights are OIHW ([out, in/group, kh, kw]).
 *    Importers of NHWC formats (TF.js) wrap ops in Transposes; the passes remove the pairs.
 *    Backends may store tensors in another physical layout (cuda: NHWC) but the IR shapes stay
 *    logical.
 *  - Op semantics follow ONNX (opset 13+) unless stated: numpy broadcasting for binary ops,
 *    negative axes counted from the end, Reshape 0 = copy the input dim (unless allowzero), -1 =
 *    inferred. Parameter arrays that ONNX 13 passes as inputs (Reshape shape, Slice
 *    starts/ends/axes/steps, Pad pads, Split sizes, Squeeze/Unsqueeze axes, Resize scales/sizes,
 *    Expand shape, ConstantOfShape shape) are INPUTS here too; importers turn attribute forms of
 *    older opsets into constant inputs. They must be constant once shapes are inferred for a
 *    concrete batch (shape subgraphs such as Shape -> Gather -> Concat are folded then).
 *    Exceptions (attributes, because backends fuse them): Clip min/max (attrs.unary.alpha/beta),
 *    Transpose perm, Concat/Softmax/Gather/Flatten axis.
 *  - Shapes: the imported graph holds dims[0] == PAN_DIM_BATCH on batched graph inputs and
 *    whatever the model declares elsewhere (PAN_DIM_UNKNOWN when it does not). pan__graph_infer_shapes(g, b)
 *    makes every shape concrete for batch b, folding constant subgraphs on the way; a graph is
 *    then "planned" for that batch (memory plan, backend compile). One imported graph, many
 *    planned clones (pan__graph_clone shares constant data with the original).
 *  - Constants live in tensor->data (host, dense, row-major, dtype as tagged). Integer shape
 *    parameters may be I32 or I64; importers prefer I64.
 *  - Optional inputs that are absent are -1 in node->inputs.
 *
 * Errors: every builder returns a pan_status (negative) and logs, naming g->source, the node and
 * the tensor. Nothing aborts on bad input.
 *
 * Graph outputs: TF.js models list them sorted by name (NanoDet: Identity, Identity_1..5 = class
 * scores of strides 8/16/32, then box distributions of strides 8/16/32); ONNX in graph order.
 *
 * CHANGE LOG (keep additive): v1 2026-11-27 first version. v1.1: Split size -1 (TF SplitV);
 * Resize sizes may have 2 elements (H, W). v1.2: pan__graph_fold_constants. v1.3: name hash
 * (pan__graph_find_tensor O(1)), node/tensor count limits, heap-ordered pan__graph_sort.
 * v1.4: pan__f2i / pan__d2f (no UB on NaN or huge values). v1.5: ops generated from the op table
 * (op_table.h); pan__graph_check_backend lists every op a backend lacks in one message. v1.6: the
 * detector families' ops (TopK, GatherElements, ArgMax, ReduceSum/Max/Min, LayerNormalization,
 * Where, comparisons and logic, Erf, Gelu, Floor, Mod, Tile, GridSample, Einsum; op_table_ext.h). */
#ifndef PANOPTES_NN_IR_H
#define PANOPTES_NN_IR_H

#include <stddef.h>
#include <stdint.h>

#include "nn/engine.h"
#include "panoptes/status.h"

#define PAN_MAX_DIMS PAN_ENGINE_MAX_DIMS
#define PAN_DIM_BATCH (-1)   /* symbolic batch, only dims[0] of batched tensors */
#define PAN_DIM_UNKNOWN (-2) /* not known before shape inference */
/* Sanity limits against hostile files: any dim and any tensor beyond these is PAN_MODEL. */
#define PAN_MAX_DIM_VALUE (INT64_C(1) << 31)
#define PAN_MAX_TENSOR_ELEMS (INT64_C(1) << 32)

/* Ops: generated from PAN_OP_TABLE (op_table.h), which lists each op's inputs, attributes, shape
 * rule, cpu kernel and cuda lowering. */
#include "nn/op_table.h"

typedef enum pan_op {
#define PAN__OP_ENUM(id, name, kind, attrs, onnx, shape, cpu, cuda) PAN_OP_##id,
    PAN_OP_TABLE(PAN__OP_ENUM)
#undef PAN__OP_ENUM
    PAN_OP_COUNT
} pan_op;

/* The table's kind and onnx columns. */
typedef enum pan_op_kind { PAN_OPK_OTHER = 0, PAN_OPK_UNARY, PAN_OPK_BINARY } pan_op_kind;
typedef enum pan_op_onnx { PAN_ONNX_NO = 0, PAN_ONNX_AS_IS, PAN_ONNX_OWN } pan_op_onnx;

const char *pan__op_name(pan_op op);
pan_op_kind pan__op_kind(pan_op op);
pan_op_onnx pan__op_onnx(pan_op op);
const char *pan__op_attrs(pan_op op); /* the table's attrs column ("none", "conv", ...) */
/* The op whose table name is `name` (exact, case-sensitive), or -1. */
int pan__op_from_name(const char *name);
/* One of the unary elementwise ops (kind UNARY): output shaped as the input, attrs.unary. */
static inline int pan__op_is_unary(pan_op op) { return pan__op_kind(op) == PAN_OPK_UNARY; }
/* Binary elementwise with numpy broadcasting (kind BINARY). */
static inline int pan__op_is_binary(pan_op op) { return pan__op_kind(op) == PAN_OPK_BINARY; }

/* Activation fused into a conv (or the op of a unary node). */
typedef enum pan_act {
    PAN_ACT_NONE = 0,
    PAN_ACT_RELU,
    PAN_ACT_LEAKY_RELU,   /* alpha */
    PAN_ACT_SIGMOID,
    PAN_ACT_HARD_SIGMOID, /* alpha, beta */
    PAN_ACT_HARD_SWISH,
    PAN_ACT_SILU,
    PAN_ACT_CLIP,         /* alpha = min, beta = max */
    PAN_ACT_TANH,
} pan_act;

typedef enum pan_auto_pad {
    PAN_AUTO_PAD_NOTSET = 0, /* explicit pads */
    PAN_AUTO_PAD_VALID,
    PAN_AUTO_PAD_SAME_UPPER, /* extra padding at the end (TF "SAME") */
    PAN_AUTO_PAD_SAME_LOWER,
} pan_auto_pad;

typedef enum pan_pad_mode { PAN_PAD_CONSTANT = 0, PAN_PAD_REFLECT, PAN_PAD_EDGE } pan_pad_mode;

typedef enum pan_resize_mode { PAN_RESIZE_NEAREST = 0, PAN_RESIZE_LINEAR, PAN_RESIZE_CUBIC } pan_resize_mode;
/* How output pixel x maps to input coordinate u (ONNX coordinate_transformation_mode):
 * HALF_PIXEL u = (x+0.5)/s-0.5 (TF half_pixel_centers); ASYMMETRIC u = x/s (TF default);
 * ALIGN_CORNERS u = x*(in-1)/(out-1); PYTORCH_HALF_PIXEL as HALF_PIXEL but 0 when out == 1;
 * TF_HALF_PIXEL_FOR_NN u = (x+0.5)/s (TF nearest with half_pixel_centers). */
typedef enum pan_resize_coord {
    PAN_RESIZE_HALF_PIXEL = 0,
    PAN_RESIZE_ASYMMETRIC,
    PAN_RESIZE_ALIGN_CORNERS,
    PAN_RESIZE_PYTORCH_HALF_PIXEL,
    PAN_RESIZE_TF_HALF_PIXEL_FOR_NN,
} pan_resize_coord;
typedef enum pan_resize_nearest {
    PAN_NEAREST_ROUND_PREFER_FLOOR = 0, /* ONNX default */
    PAN_NEAREST_ROUND_PREFER_CEIL,
    PAN_NEAREST_FLOOR,
    PAN_NEAREST_CEIL,
} pan_resize_nearest;

typedef struct pan_conv_attrs {
    int64_t strides[2];   /* H, W; 0 = 1 */
    int64_t dilations[2]; /* H, W; 0 = 1 */
    int64_t pads[4];      /* top, left, bottom, right (ONNX order: begins then ends) */
    int64_t group;        /* 0 = 1; group == C_in == C_out is depthwise */
    pan_auto_pad auto_pad; /* resolved into pads by shape inference */
    pan_act act;          /* fused activation (PAN_ACT_NONE when none) */
    float act_alpha, act_beta;
    int residual_after_act; /* see PAN_OP_CONV */
} pan_conv_attrs;

typedef struct pan_pool_attrs {
    int64_t kernel[2], strides[2], dilations[2]; /* H, W; 0 = 1 for strides/dilations */
    int64_t pads[4];                             /* top, left, bottom, right */
    pan_auto_pad auto_pad;
    int ceil_mode;
    int count_include_pad; /* AVGPOOL: divide by the full kernel area */
} pan_pool_attrs;

typedef struct pan_unary_attrs { float alpha, beta; } pan_unary_attrs;
typedef struct pan_cast_attrs { pan_dtype to; } pan_cast_attrs;
typedef struct pan_axis_attrs { int64_t axis; } pan_axis_attrs;
typedef struct pan_batchnorm_attrs { float epsilon; } pan_batchnorm_attrs;
typedef struct pan_reshape_attrs {
    int allowzero;
    /* TF.js graphs converted with batch 1 carry shapes like [1, 80, -1]. When set and the input
     * is batched, a leading 1 in the target shape means "the batch" (so batch > 1 works). */
    int batch_leading;
} pan_reshape_attrs;
typedef struct pan_transpose_attrs { int n_perm; int64_t perm[PAN_MAX_DIMS]; } pan_transpose_attrs;
typedef struct pan_pad_attrs { pan_pad_mode mode; } pan_pad_attrs;
typedef struct pan_shape_attrs { int64_t start, end; } pan_shape_attrs;
typedef struct pan_fill_attrs { pan_dtype dtype; double value; } pan_fill_attrs;
typedef struct pan_resize_attrs {
    pan_resize_mode mode;
    pan_resize_coord coord;
    pan_resize_nearest nearest;
    float cubic_coeff_a; /* ONNX default -0.75 */
    int exclude_outside;
} pan_resize_attrs;
typedef struct pan_gemm_attrs { float alpha, beta; int trans_a, trans_b; } pan_gemm_attrs;
typedef struct pan_reduce_attrs { int keepdims; int noop_with_empty_axes; } pan_reduce_attrs;

/* TopK: (0: x, 1: k I64 [1]) -> (values, indices I64). largest 0 = the smallest; sorted is
 * honoured as ONNX allows (always sorted here). Ties: the lower index first. */
typedef struct pan_topk_attrs { int64_t axis; int largest, sorted; } pan_topk_attrs;
/* ArgMax / ArgMin: I64 indices along axis; ties: the first (select_last_index: the last). */
typedef struct pan_argmax_attrs { int64_t axis; int keepdims, select_last_index; } pan_argmax_attrs;
/* LayerNormalization: normalised over dims [axis, rank); (0: x, 1: scale, 2?: bias). */
typedef struct pan_layernorm_attrs { int64_t axis; float epsilon; } pan_layernorm_attrs;
/* GridSample: (0: x [N, C, H, W], 1: grid [N, Ho, Wo, 2] of (x, y) in [-1, 1]) -> [N, C, Ho, Wo]. */
typedef enum pan_grid_mode { PAN_GRID_BILINEAR = 0, PAN_GRID_NEAREST, PAN_GRID_BICUBIC } pan_grid_mode;
typedef enum pan_grid_padding { PAN_GRID_ZEROS = 0, PAN_GRID_BORDER, PAN_GRID_REFLECTION } pan_grid_padding;
typedef struct pan_gridsample_attrs { pan_grid_mode mode; pan_grid_padding padding; int align_corners; } pan_gridsample_attrs;
/* Mod: fmod 0 = the sign of the divisor (Python, integers only), 1 = C fmod */
typedef struct pan_mod_attrs { int fmod; } pan_mod_attrs;
/* Einsum of 1 or 2 operands, parsed: letter ids (0..51) per dim of each operand and the output. */
#define PAN_EINSUM_MAX_OPS 2
typedef struct pan_einsum_attrs {
    int n_ops;
    int rank[PAN_EINSUM_MAX_OPS], out_rank;
    int8_t sub[PAN_EINSUM_MAX_OPS][PAN_MAX_DIMS], out[PAN_MAX_DIMS];
} pan_einsum_attrs;

typedef struct pan_no_attrs { char unused; } pan_no_attrs; /* the table's "none" */

typedef union pan_attrs {
    pan_no_attrs none;
    pan_conv_attrs conv;
    pan_pool_attrs pool;
    pan_unary_attrs unary;
    pan_cast_attrs cast;
    pan_axis_attrs axis;
    pan_batchnorm_attrs bn;
    pan_reshape_attrs reshape;
    pan_transpose_attrs transpose;
    pan_pad_attrs pad;
    pan_shape_attrs shape;
    pan_fill_attrs fill;
    pan_resize_attrs resize;
    pan_gemm_attrs gemm;
    pan_reduce_attrs reduce;
    pan_topk_attrs topk;
    pan_argmax_attrs argmax;
    pan_layernorm_attrs layernorm;
    pan_gridsample_attrs gridsample;
    pan_mod_attrs mod;
    pan_einsum_attrs einsum;
} pan_attrs;

enum {
    PAN_TENSOR_CONST = 1 << 0,  /* data holds the value */
    PAN_TENSOR_INPUT = 1 << 1,  /* graph input, fed by the caller */
    PAN_TENSOR_OUTPUT = 1 << 2, /* graph output */
    PAN_TENSOR_BATCHED = 1 << 3, /* dims[0] is the batch (set on inputs, propagated by inference) */
};

typedef struct pan_tensor {
    char *name;
    pan_dtype dtype;
    int rank;
    int64_t dims[PAN_MAX_DIMS];
    int flags;
    void *data;    /* constants: dense host data, numel * dtype size bytes */
    int owns_data; /* 0 when shared with the graph this one was cloned from */
    int producer;  /* node index, -1 for constants and inputs */
    /* memory plan (pan__graph_plan_memory): byte offset in the activation arena, -1 = none */
    int64_t offset;
    int64_t nbytes;
} pan_tensor;

typedef struct pan_node {
    pan_op op;
    char *name;
    int n_inputs, n_outputs;
    int *inputs;  /* tensor indices, -1 = absent optional input */
    int *outputs;
    pan_attrs attrs;
    int dead;     /* removed by a pass; skipped everywhere, dropped by pan__graph_compact */
} pan_node;

typedef struct pan_graph {
    char *source; /* model file, for messages */
    pan_tensor *tensors;
    int n_tensors, cap_tensors;
    pan_node *nodes; /* topological order after pan__graph_sort */
    int n_nodes, cap_nodes;
    int *inputs, n_inputs;
    int *outputs, n_outputs;
    int batch; /* concrete batch after pan__graph_infer_shapes, 0 before */
    /* name -> tensor index, open addressing (-1 = empty); kept by pan__graph_add_tensor (v1.3) */
    int *name_hash;
    int name_hash_cap; /* power of two, 0 = none yet */
    /* model metadata as key, value pairs (ONNX metadata_props), imported graphs only (v1.6) */
    char **meta;
    int n_meta;
} pan_graph;

/* Size limits against hostile files (PAN_LIMIT beyond). */
#define PAN_MAX_NODES (1 << 16)
#define PAN_MAX_TENSORS (1 << 18)

/* ---- building (importers) ------------------------------------------------------------ */
pan_status pan__graph_create(pan_graph **g, const char *source);
void pan__graph_destroy(pan_graph **g);
/* Clone for planning: constant data is shared (owns_data 0), everything else copied. */
pan_status pan__graph_clone(const pan_graph *g, pan_graph **out);

/* Each returns the new tensor index (>= 0) or a negative pan_status. dims may be NULL for rank 0.
 * Names must be unique (the importer's names; pan__graph_unique_name makes fresh ones). */
int pan__graph_add_tensor(pan_graph *g, const char *name, pan_dtype dtype, int rank, const int64_t *dims);
/* Graph input; dims[0] may be PAN_DIM_BATCH (marks it batched). */
int pan__graph_add_input(pan_graph *g, const char *name, pan_dtype dtype, int rank, const int64_t *dims);
/* Constant: copies numel*size bytes from data (data NULL: zero-filled). */
int pan__graph_add_const(pan_graph *g, const char *name, pan_dtype dtype, int rank, const int64_t *dims,
                         const void *data);
/* Constant that takes ownership of malloc'ed data (freed with the graph, also on failure). */
int pan__graph_add_const_owned(pan_graph *g, const char *name, pan_dtype dtype, int rank, const int64_t *dims,
                               void *data);
/* Convenience: 1-D I64 constant. */
int pan__graph_add_const_i64(pan_graph *g, const char *name, int n, const int64_t *values);
pan_status pan__graph_mark_output(pan_graph *g, int tensor);
/* Adds a node; inputs may hold -1 for absent optional inputs; attrs may be NULL (zeroed).
 * Outputs must be tensors without a producer. Returns the node index or a negative status. */
int pan__graph_add_node(pan_graph *g, pan_op op, const char *name, int n_inputs, const int *inputs,
                        int n_outputs, const int *outputs, const pan_attrs *attrs);
int pan__graph_find_tensor(const pan_graph *g, const char *name);
/* Model metadata: copies key and value (v1.6); the value of key or NULL. */
pan_status pan__graph_add_meta(pan_graph *g, const char *key, const char *value);
const char *pan__graph_meta(const pan_graph *g, const char *key);
/* "<base>_<counter>" not used by any tensor yet; returns a static-free malloc'ed string. */
char *pan__graph_unique_name(const pan_graph *g, const char *base);

/* ---- checking and inference ----------------------------------------------------------- */
/* Topologically sorts the nodes; PAN_MODEL on cycles, dangling or doubly produced tensors,
 * unset outputs. Also drops dead nodes and unreferenced tensors are kept (indices stable). */
pan_status pan__graph_sort(pan_graph *g);
/* Makes all shapes concrete for `batch` and folds constant subgraphs (nodes whose inputs are all
 * constant become constants, evaluated with the cpu kernels). PAN_SHAPE / PAN_MODEL /
 * PAN_UNSUPPORTED with a message naming the node, op and tensors. */
pan_status pan__graph_infer_shapes(pan_graph *g, int batch);

/* Folds the nodes whose inputs are all constant (never Shape), independently of the batch: run
 * once on an imported graph so that every planned clone shares the results (e.g. TF's HWIO
 * filters transposed to OIHW). Errors as pan__graph_infer_shapes. (v1.2) */
pan_status pan__graph_fold_constants(pan_graph *g);

/* ---- helpers ------------------------------------------------------------------------- */
/* Float -> integer and double -> float without undefined behaviour on hostile values: NaN is 0,
 * out-of-range values saturate (C leaves such casts undefined). (v1.4) */
static inline int64_t pan__f2i(double v)
{
    if (!(v == v)) return 0;
    if (v >= 9.2e18) return INT64_C(9200000000000000000);
    if (v <= -9.2e18) return -INT64_C(9200000000000000000);
    return (int64_t)v;
}
static inline float pan__d2f(double v)
{
    if (v > 3.4028234663852886e38) return (float)__builtin_inf();
    if (v < -3.4028234663852886e38) return -(float)__builtin_inf();
    return (float)v; /* NaN converts fine */
}
int64_t pan__tensor_numel(const pan_tensor *t); /* -1 when a dim is not concrete */
/* "[1,3,416,416]" into buf (for messages). */
const char *pan__dims_str(int rank, const int64_t *dims, char *buf, size_t size);
/* Reads element i of an integer or float constant as int64 / double. */
int64_t pan__tensor_get_i64(const pan_tensor *t, int64_t i);
double pan__tensor_get_f64(const pan_tensor *t, int64_t i);
/* Number of live consumers of tensor t (graph outputs count as one). */
int pan__graph_consumers(const pan_graph *g, int t);
/* Removes dead nodes and renumbers nothing else. */
void pan__graph_compact(pan_graph *g);

/* ---- unsupported ops, all in one message (op_table.c) ------------------------------------- */
/* Distinct op names with a count and the first node, collected over a whole model so that one
 * error names every op that is missing instead of stopping at the first. */
typedef struct pan_op_missing {
    struct pan_op_missing_entry { char *op, *node; int count; } *v;
    int n, cap;
    int nomem; /* an allocation failed: the report says so */
} pan_op_missing;
void pan__op_missing_add(pan_op_missing *m, const char *op, const char *node);
/* Logs one error "<source>: <n> op(s) ... not supported by <who>: A (2 nodes, first 'x'), B ('y').
 * <hint>" and returns PAN_UNSUPPORTED when anything was added (PAN_OK otherwise); frees m. */
pan_status pan__op_missing_report(pan_op_missing *m, const char *source, const char *who, const char *hint);
/* Every live node of g whose op has no kernel on the backend (has[op] == 0), in one message naming
 * the backend. PAN_UNSUPPORTED when any, else PAN_OK. */
pan_status pan__graph_check_backend(const pan_graph *g, const char *backend, const unsigned char *has);

/* ---- passes (passes.c) ------------------------------------------------------------------ */
/* On a graph inferred for a batch. Each keeps the graph's outputs bit-for-bit meaning-equal. */
pan_status pan__pass_remove_identity(pan_graph *g);
pan_status pan__pass_transposes(pan_graph *g);   /* sink transposes through elementwise ops, cancel pairs */
pan_status pan__pass_fold_pad(pan_graph *g);     /* constant Pad into conv/maxpool pads */
pan_status pan__pass_fold_batchnorm(pan_graph *g);
pan_status pan__pass_fuse_conv(pan_graph *g);    /* conv + bias add + activation + residual add */
pan_status pan__passes_run_all(pan_graph *g);

/* ---- memory plan (memplan.c) ------------------------------------------------------------- */
/* Assigns tensor->offset/nbytes for every non-constant tensor, reusing memory after a tensor's
 * last use; Reshape/Flatten/Squeeze/Unsqueeze/Identity outputs alias their input. float_bytes:
 * bytes per floating element on the backend (4 cpu FP32, 2 cuda FP16); integers keep their size.
 * align: byte alignment of every offset (>= 64 recommended). */
pan_status pan__graph_plan_memory(pan_graph *g, size_t float_bytes, size_t align, size_t *arena_bytes);

/* ---- importers --------------------------------------------------------------------------- */
/* Each builds a graph with symbolic batch. On failure *g is NULL and the error was logged. */
pan_status pan__tfjs_import(const char *model_json_path, pan_graph **g);
/* Same from memory (fuzzing, tests): model.json text and one concatenated weights buffer. */
pan_status pan__tfjs_import_memory(const char *json, size_t json_len, const void *weights, size_t weights_len,
                                   const char *source, pan_graph **g);
/* ONNX importer (src/nn/onnx*.c). engine.c calls it when PANOPTES_HAVE_ONNX is defined (the
 * build found onnx.proto), else reports PAN_UNSUPPORTED. */
pan_status pan__onnx_import(const char *path, pan_graph **g);

#endif
