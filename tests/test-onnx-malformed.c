/* Malformed and hostile ONNX files: the importer returns a status and logs one error naming the
 * file, the node (name and op_type) and the tensor; it never crashes. Replays the fuzz corpus
 * (tests/fuzz/corpus-onnx/) and hand-made broken models written with a tiny protobuf encoder
 * below (field numbers from onnx.proto). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nn/ir.h"
#include "nn/onnx.h"
#include "panoptes/log.h"
#include "panoptes/status.h"
#include "test.h"

/* ---- protobuf encoding --------------------------------------------------------------------- */
typedef struct pb {
    uint8_t *d;
    size_t n, cap;
} pb;

static void pb_bytes(pb *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->d = realloc(b->d, b->cap);
    }
    if (n) memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void pb_varint(pb *b, uint64_t v)
{
    uint8_t t[10];
    int k = 0;
    do {
        t[k] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) t[k] |= 0x80;
        k++;
    } while (v);
    pb_bytes(b, t, (size_t)k);
}
static void pb_int(pb *b, int field, int64_t v) { pb_varint(b, (uint64_t)field << 3), pb_varint(b, (uint64_t)v); }
static void pb_len(pb *b, int field, const void *p, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    pb_bytes(b, p, n);
}
static void pb_str(pb *b, int field, const char *s) { pb_len(b, field, s, strlen(s)); }
static void pb_msg(pb *b, int field, pb *m)
{
    pb_len(b, field, m->d, m->n);
    free(m->d);
    memset(m, 0, sizeof *m);
}

/* TensorProto: dims=1, data_type=2, name=8, raw_data=9, data_location=14 */
static void tensor(pb *out, int field, const char *name, int rank, const int64_t *dims, int type, const void *raw,
                   size_t raw_n)
{
    pb t = {0};
    for (int i = 0; i < rank; i++) pb_int(&t, 1, dims[i]);
    pb_int(&t, 2, type);
    pb_str(&t, 8, name);
    if (raw) pb_len(&t, 9, raw, raw_n);
    pb_msg(out, field, &t);
}

/* ValueInfoProto name=1 type=2 {tensor_type=1 {elem_type=1, shape=2 {dim=1 {dim_value=1|dim_param=2}}}} */
static void value_info(pb *out, int field, const char *name, int rank, const int64_t *dims, const char *param_at2)
{
    pb shape = {0}, tt = {0}, tp = {0}, vi = {0};
    for (int i = 0; i < rank; i++) {
        pb d = {0};
        if (i == 0) pb_str(&d, 2, "batch");
        else if (i == 2 && param_at2) pb_str(&d, 2, param_at2);
        else pb_int(&d, 1, dims[i]);
        pb_msg(&shape, 1, &d);
    }
    pb_int(&tt, 1, 1);
    if (rank >= 0) pb_msg(&tt, 2, &shape);
    pb_msg(&tp, 1, &tt);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &tp);
    pb_msg(out, field, &vi);
}

/* NodeProto input=1 output=2 name=3 op_type=4 attribute=5; AttributeProto name=1 i=3 ints=8 type=20 */
static void node(pb *g, const char *name, const char *op, int n_in, const char *const *in, const char *out,
                 const char *ints_attr, int n_ints, const int64_t *ints)
{
    pb n = {0};
    for (int i = 0; i < n_in; i++) pb_str(&n, 1, in[i]);
    pb_str(&n, 2, out);
    pb_str(&n, 3, name);
    pb_str(&n, 4, op);
    if (ints_attr) {
        pb a = {0};
        pb_str(&a, 1, ints_attr);
        for (int i = 0; i < n_ints; i++) pb_int(&a, 8, ints[i]);
        pb_int(&a, 20, 7);
        pb_msg(&n, 5, &a);
    }
    pb_msg(g, 1, &n);
}

/* What to break in the reference model: x[B,2,4,4] -> Conv(w[3,2,1,1], b[3]) -> Relu -> y */
enum defect {
    OK = 0, NO_GRAPH, BAD_RAW_SIZE, HUGE_DIMS, NEG_DIM, UNKNOWN_OP, MISSING_INPUT, EXTERNAL_DATA, CYCLE,
    PRODUCED_TWICE, DYNAMIC_HW, CONV3D, NO_OPSET, OUTPUT_UNDEFINED, BAD_DTYPE, TWO_UNKNOWN_OPS,
};

static pb model(enum defect def)
{
    pb m = {0}, g = {0}, op = {0};
    float w[6] = {1, 2, 3, 4, 5, 6}, bias[3] = {0.1f, 0.2f, 0.3f};
    int64_t wd[4] = {3, 2, 1, 1}, bd[1] = {3}, xd[4] = {0, 2, 4, 4};
    if (def == HUGE_DIMS) wd[0] = INT64_C(1) << 40;
    if (def == NEG_DIM) wd[1] = -2;
    int rank = def == CONV3D ? 3 : 4;
    tensor(&g, 5, "w", rank, wd, def == BAD_DTYPE ? 8 /* STRING */ : 1, w, def == BAD_RAW_SIZE ? 20 : sizeof(float) * (rank == 3 ? 6 : 6));
    if (def == EXTERNAL_DATA) {
        pb t = {0};
        pb_int(&t, 1, 3);
        pb_int(&t, 2, 1);
        pb_str(&t, 8, "b");
        pb_int(&t, 14, 1);
        pb_msg(&g, 5, &t);
    } else {
        tensor(&g, 5, "b", 1, bd, 1, bias, sizeof bias);
    }
    value_info(&g, 11, "x", 4, xd, def == DYNAMIC_HW ? "height" : NULL);
    value_info(&g, 12, "y", -1, NULL, NULL);
    const char *conv_in[3] = {"x", def == MISSING_INPUT ? "nope" : "w", "b"};
    if (def == CYCLE) conv_in[0] = "y";
    int64_t ks[3] = {1, 1, 1};
    node(&g, "conv0", def == TWO_UNKNOWN_OPS ? "NotAConv" : "Conv", 3, conv_in, "h", "kernel_shape", def == CONV3D ? 3 : 2, ks);
    const char *relu_in[1] = {"h"};
    node(&g, "act0", def == UNKNOWN_OP || def == TWO_UNKNOWN_OPS ? "FancyAct" : "Relu", 1, relu_in, def == OUTPUT_UNDEFINED ? "z" : "y", NULL, 0, NULL);
    if (def == PRODUCED_TWICE) node(&g, "act1", "Relu", 1, relu_in, "y", NULL, 0, NULL);
    pb_str(&g, 2, "g");
    pb_int(&m, 1, 8); /* ir_version */
    if (def != NO_OPSET) {
        pb_str(&op, 1, "");
        pb_int(&op, 2, 13);
        pb_msg(&m, 8, &op);
    } else {
        pb_str(&op, 1, "com.example");
        pb_int(&op, 2, 1);
        pb_msg(&m, 8, &op);
    }
    if (def != NO_GRAPH) pb_msg(&m, 7, &g);
    else free(g.d);
    return m;
}

/* Captures error lines to check what they name. */
static char last_error[1024];
static void sink(void *opaque, pan_log_level level, const char *line)
{
    (void)opaque;
    if (level == PAN_LOG_ERROR) snprintf(last_error, sizeof last_error, "%s", line);
}

static int import(const void *d, size_t n, pan_graph **g)
{
    last_error[0] = 0;
    return pan__onnx_import_memory(d, n, "broken.onnx", g);
}

PAN_TEST(reference_model_imports)
{
    pan_log_set_sink(sink, NULL);
    pb m = model(OK);
    pan_graph *g = NULL;
    ASSERT_OK(import(m.d, m.n, &g));
    ASSERT_OK(pan__graph_infer_shapes(g, 2));
    const pan_tensor *y = &g->tensors[g->outputs[0]];
    ASSERT_EQ(y->rank, 4);
    ASSERT_EQ(y->dims[0], 2);
    ASSERT_EQ(y->dims[1], 3);
    pan__graph_destroy(&g);
    free(m.d);
}

PAN_TEST(each_defect_fails_with_a_message)
{
    static const struct {
        enum defect d;
        int status;
        const char *must_name[3];
    } cases[] = {
        {NO_GRAPH, PAN_MODEL, {"broken.onnx", "no graph"}},
        {BAD_RAW_SIZE, PAN_MODEL, {"broken.onnx", "'w'", "20 bytes"}},
        {HUGE_DIMS, PAN_MODEL, {"'w'"}},
        {NEG_DIM, PAN_MODEL, {"'w'"}},
        {UNKNOWN_OP, PAN_UNSUPPORTED, {"'act0'", "FancyAct"}},
        {MISSING_INPUT, PAN_MODEL, {"'conv0' (Conv)", "'nope'"}},
        {EXTERNAL_DATA, PAN_UNSUPPORTED, {"'b'", "external"}},
        {CYCLE, PAN_MODEL, {"broken.onnx"}},
        {PRODUCED_TWICE, PAN_MODEL, {"'y'", "twice"}},
        {DYNAMIC_HW, PAN_UNSUPPORTED, {"'x'", "height"}},
        {CONV3D, PAN_UNSUPPORTED, {"'conv0' (Conv)"}},
        {NO_OPSET, PAN_MODEL, {"opset"}},
        {OUTPUT_UNDEFINED, PAN_MODEL, {"'y'"}},
        {BAD_DTYPE, PAN_UNSUPPORTED, {"'w'", "element type"}},
        /* every unknown op of the model in one message, not only the first */
        {TWO_UNKNOWN_OPS, PAN_UNSUPPORTED, {"NotAConv (node 'conv0')", "FancyAct (node 'act0')", "ONNX importer"}},
    };
    pan_log_set_sink(sink, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pb m = model(cases[i].d);
        pan_graph *g = (pan_graph *)&m; /* must be reset to NULL on failure */
        int st = import(m.d, m.n, &g);
        fprintf(stderr, "    defect %d -> %s: %s\n", (int)cases[i].d, pan_status_name(st), last_error);
        ASSERT_EQ(st, cases[i].status);
        ASSERT_TRUE(g == NULL);
        for (int k = 0; k < 3 && cases[i].must_name[k]; k++) ASSERT_TRUE(strstr(last_error, cases[i].must_name[k]) != NULL);
        free(m.d);
    }
}

PAN_TEST(truncations_and_garbage)
{
    pan_log_set_level(PAN_LOG_QUIET);
    pb m = model(OK);
    int ok = 0, failed = 0;
    for (size_t n = 0; n < m.n; n++) {
        pan_graph *g = NULL;
        int st = import(m.d, n, &g);
        if (st == 0) {
            ok++;
            pan__graph_infer_shapes(g, 1);
            pan__graph_destroy(&g);
        } else {
            failed++;
            ASSERT_TRUE(st < 0 && g == NULL);
        }
    }
    ASSERT_GE(failed, (int)m.n - 2); /* a prefix is almost never a complete model */
    /* bit flips of every byte, and random bytes: no crash, a status either way */
    uint32_t seed = 12345;
    for (size_t i = 0; i < m.n; i++) {
        uint8_t save = m.d[i];
        m.d[i] ^= (uint8_t)(1u << (i % 8));
        pan_graph *g = NULL;
        if (import(m.d, m.n, &g) == 0) pan__graph_infer_shapes(g, 2), pan__graph_destroy(&g);
        m.d[i] = save;
    }
    uint8_t junk[512];
    for (int r = 0; r < 200; r++) {
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)((seed = seed * 1664525u + 1013904223u) >> 24);
        pan_graph *g = NULL;
        int st = import(junk, 1 + (size_t)r * 2, &g);
        if (st == 0) pan__graph_destroy(&g);
        else ASSERT_TRUE(g == NULL);
    }
    ASSERT_EQ(import("", 0, NULL), PAN_INVAL);
    pan_graph *g = NULL;
    ASSERT_EQ(import(junk, 0, &g), PAN_MODEL);
    ASSERT_EQ(pan__onnx_import("/nonexistent/model.onnx", &g), PAN_NOTFOUND);
    ASSERT_EQ(pan__onnx_import("/", &g), PAN_IO);
    (void)ok;
    free(m.d);
    pan_log_set_level(PAN_LOG_WARN);
}

PAN_TEST(fuzz_corpus_replays)
{
    const char *dir = pan_test_path("tests/fuzz/corpus-onnx");
    DIR *d = opendir(dir);
    if (!d) PAN_SKIP("%s missing", dir);
    pan_log_set_level(PAN_LOG_QUIET);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        pan_graph *g = NULL;
        int st = pan__onnx_import(path, &g);
        if (st == 0) {
            pan__graph_infer_shapes(g, 2);
            pan__graph_destroy(&g);
        } else {
            ASSERT_TRUE(st < 0 && g == NULL);
        }
        files++;
    }
    closedir(d);
    pan_log_set_level(PAN_LOG_WARN);
    ASSERT_GE(files, 3);
}

PAN_TEST_MAIN(reference_model_imports, each_defect_fails_with_a_message, truncations_and_garbage, fuzz_corpus_replays)
