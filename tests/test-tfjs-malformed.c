/* TF.js importer: a tiny valid model (NHWC conv, SAME padding, float16 bias, BiasAdd, Relu)
 * checked against a direct computation, then hand-broken models written to a temp folder, each
 * of which must fail with the expected status and a message naming the file and node/weight,
 * never crash. (The fuzzer, tests/fuzz/fuzz-tfjs.c, explores the rest.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/engine.h"
#include "panoptes/log.h"
#include "test.h"

static char g_dir[64];
static char g_last[2048];

static void sink(void *opaque, pan_log_level level, const char *line)
{
    (void)opaque;
    if (level == PAN_LOG_ERROR) snprintf(g_last, sizeof g_last, "%s", line);
}

static const char *dir(void)
{
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/panoptes-tfjs-XXXXXX");
        if (!mkdtemp(g_dir)) return "/tmp";
    }
    return g_dir;
}

static void write_file(const char *name, const void *data, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

#define PH "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},\"shape\":{\"shape\":{\"dim\":[{\"size\":\"1\"},{\"size\":\"4\"},{\"size\":\"4\"},{\"size\":\"2\"}]}}}}"
#define CONSTS "{\"name\":\"w\",\"op\":\"Const\"},{\"name\":\"b\",\"op\":\"Const\"}"
/* "U0FNRQ==" = SAME, "TkhXQw==" = NHWC */
#define CONV(in, strides) "{\"name\":\"conv\",\"op\":\"Conv2D\",\"input\":[\"" in "\",\"w\"],\"attr\":{\"strides\":{\"list\":{\"i\":[" strides "]}},\"padding\":{\"s\":\"U0FNRQ==\"},\"data_format\":{\"s\":\"TkhXQw==\"}}}"
#define TAIL "{\"name\":\"add\",\"op\":\"BiasAdd\",\"input\":[\"conv\",\"b\"]},{\"name\":\"out\",\"op\":\"Relu\",\"input\":[\"add\"]}"
#define GOOD_NODES PH "," CONSTS "," CONV("x", "\"1\",\"1\",\"1\",\"1\"") "," TAIL
#define MANIFEST(path, wshape, bq) "[{\"paths\":[\"" path "\"],\"weights\":[{\"name\":\"w\",\"shape\":[" wshape "],\"dtype\":\"float32\"},{\"name\":\"b\",\"shape\":[3],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"" bq "\"}}]}]"
#define GOOD_MANIFEST MANIFEST("w.bin", "3,3,2,3", "float16")

static void write_model(const char *name, const char *nodes, const char *manifest)
{
    char buf[8192];
    int n = snprintf(buf, sizeof buf, "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[%s]},\"weightsManifest\":%s}",
                     nodes, manifest);
    write_file(name, buf, (size_t)n);
}

static float W[54];
static const float BIAS[3] = {0.5f, -1.0f, 0.25f};
static const uint16_t BIAS_F16[3] = {0x3800, 0xBC00, 0x3400}; /* 0.5, -1, 0.25 */

static void write_weights(const char *name, size_t bytes)
{
    uint8_t buf[512];
    for (int i = 0; i < 54; i++) W[i] = (float)((i * 7) % 11 - 5) / 8.0f;
    memcpy(buf, W, sizeof W);
    memcpy(buf + sizeof W, BIAS_F16, sizeof BIAS_F16);
    write_file(name, buf, bytes);
}

static pan_status create(const char *model, pan_engine_t **e)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir(), model);
    pan_engine_params p = {.model_path = path, .backend = PAN_BACKEND_CPU};
    g_last[0] = 0;
    return pan_engine_create(e, &p);
}

PAN_TEST(valid_model_matches_direct_conv)
{
    write_weights("w.bin", 222);
    write_model("good.json", GOOD_NODES, GOOD_MANIFEST);
    pan_engine_t *e = NULL;
    ASSERT_OK(create("good.json", &e));
    pan_engine_tensor_info oi;
    ASSERT_OK(pan_engine_output_info(e, 0, &oi));
    ASSERT_STREQ(oi.name, "out");
    ASSERT_EQ(oi.dims[3], 3); /* NHWC stays the model's layout: [N,4,4,3] */
    float x[32], y[48];
    for (int i = 0; i < 32; i++) x[i] = (float)(i % 5) - 2;
    ASSERT_OK(pan_engine_run(e, 1, (const float *const[]){x}, (float *[]){y}));
    /* direct NHWC conv, SAME (pad 1), HWIO filter, + bias, relu */
    for (int oy = 0; oy < 4; oy++)
        for (int ox = 0; ox < 4; ox++)
            for (int o = 0; o < 3; o++) {
                float s = BIAS[o];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++)
                        for (int c = 0; c < 2; c++) {
                            int iy = oy + ky - 1, ix = ox + kx - 1;
                            if (iy < 0 || iy > 3 || ix < 0 || ix > 3) continue;
                            s += x[(iy * 4 + ix) * 2 + c] * W[((ky * 3 + kx) * 2 + c) * 3 + o];
                        }
                ASSERT_NEAR(y[(oy * 4 + ox) * 3 + o], s > 0 ? s : 0, 1e-5);
            }
    pan_engine_destroy(&e);
}

typedef struct bad_case {
    const char *what;
    const char *nodes, *manifest;
    size_t bin_bytes; /* of w.bin written for this case */
    pan_status expect;
    const char *mention; /* must appear in the error line */
} bad_case;

PAN_TEST(broken_models_fail_cleanly)
{
    static const bad_case cases[] = {
        {"unknown op", PH "," CONSTS ",{\"name\":\"conv\",\"op\":\"FancyOp\",\"input\":[\"x\"]}," TAIL, GOOD_MANIFEST, 222,
         PAN_UNSUPPORTED, "FancyOp"},
        {"every unknown op in one message",
         PH "," CONSTS ",{\"name\":\"conv\",\"op\":\"FancyOp\",\"input\":[\"x\"]},{\"name\":\"add\",\"op\":\"OtherOp\",\"input\":[\"conv\",\"b\"]},{\"name\":\"out\",\"op\":\"FancyOp\",\"input\":[\"add\"]}",
         GOOD_MANIFEST, 222, PAN_UNSUPPORTED, "FancyOp (2 nodes, first 'conv'), OtherOp (node 'add')"},
        {"missing shard", GOOD_NODES, MANIFEST("nope.bin", "3,3,2,3", "float16"), 222, PAN_NOTFOUND, "nope.bin"},
        {"truncated shard", GOOD_NODES, GOOD_MANIFEST, 100, PAN_CORRUPT, "'w'"},
        {"weights one byte short", GOOD_NODES, GOOD_MANIFEST, 221, PAN_CORRUPT, "'b'"},
        {"negative dim", GOOD_NODES, MANIFEST("w.bin", "3,-3,2,3", "float16"), 222, PAN_MODEL, "'w'"},
        {"absurd dims", GOOD_NODES, MANIFEST("w.bin", "300000,300000,300000,3", "float16"), 222, PAN_MODEL, "'w'"},
        {"unknown quantization", GOOD_NODES, MANIFEST("w.bin", "3,3,2,3", "int4"), 222, PAN_UNSUPPORTED, "int4"},
        {"path escapes the folder", GOOD_NODES, MANIFEST("../../etc/passwd", "3,3,2,3", "float16"), 222, PAN_MODEL,
         "passwd"},
        {"input names no node", PH "," CONSTS "," CONV("nothing", "\"1\",\"1\",\"1\",\"1\"") "," TAIL, GOOD_MANIFEST,
         222, PAN_MODEL, "nothing"},
        {"cycle", PH "," CONSTS "," CONV("x", "\"1\",\"1\",\"1\",\"1\"") ",{\"name\":\"add\",\"op\":\"AddV2\",\"input\":[\"conv\",\"out\"]},{\"name\":\"out\",\"op\":\"Relu\",\"input\":[\"add\"]},{\"name\":\"fin\",\"op\":\"Sigmoid\",\"input\":[\"out\"]}",
         GOOD_MANIFEST, 222, PAN_MODEL, "cycle"},
        {"zero stride", PH "," CONSTS "," CONV("x", "\"1\",\"0\",\"1\",\"1\"") "," TAIL, GOOD_MANIFEST, 222,
         PAN_UNSUPPORTED, "strides"},
        {"filter does not fit", GOOD_NODES, MANIFEST("w.bin", "3,3,1,3", "float16"), 222, PAN_SHAPE, "conv"},
        {"const without weight", PH ",{\"name\":\"w\",\"op\":\"Const\"},{\"name\":\"q\",\"op\":\"Const\"}", GOOD_MANIFEST,
         222, PAN_MODEL, "'q'"},
        {"duplicate node", GOOD_NODES "," TAIL, GOOD_MANIFEST, 222, PAN_MODEL, "twice"},
        {"absurd input", "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":{\"dim\":[{\"size\":\"1\"},{\"size\":\"99999999999\"}]}}}}",
         GOOD_MANIFEST, 222, PAN_MODEL, "absurd"},
        {"nodes not an array", "5", GOOD_MANIFEST, 222, PAN_MODEL, "node"},
    };
    pan_log_set_sink(sink, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        char name[32];
        snprintf(name, sizeof name, "bad%zu.json", i);
        /* "nodes not an array" needs the raw text */
        if (!strcmp(c->nodes, "5")) {
            const char *t = "{\"modelTopology\":{\"node\":5},\"weightsManifest\":[]}";
            write_file(name, t, strlen(t));
        } else {
            write_model(name, c->nodes, c->manifest);
        }
        write_weights("w.bin", c->bin_bytes);
        pan_engine_t *e = NULL;
        pan_status st = create(name, &e);
        fprintf(stderr, "  %-24s -> %-16s %s\n", c->what, pan_status_name(st), g_last);
        ASSERT_EQ(st, c->expect);
        ASSERT_TRUE(e == NULL);
        ASSERT_TRUE(strstr(g_last, name) || strstr(g_last, "w.bin") || strstr(g_last, "nope.bin"));
        ASSERT_TRUE(strstr(g_last, c->mention) != NULL);
    }
    /* not JSON, empty file */
    write_file("junk.json", "{\"modelTopology\": [", 19);
    write_file("empty.json", "", 0);
    pan_engine_t *e = NULL;
    ASSERT_EQ(create("junk.json", &e), PAN_CORRUPT);
    ASSERT_TRUE(strstr(g_last, "junk.json") != NULL);
    ASSERT_EQ(create("empty.json", &e), PAN_CORRUPT);
    ASSERT_EQ(create("does-not-exist.json", &e), PAN_NOTFOUND);
    pan_log_set_sink(NULL, NULL);
}

/* Inputs the fuzzer once crashed on (tests/fuzz/regress-tfjs/: model.json text, NUL, weights):
 * imported and, when small, run; any status is fine, a crash or sanitizer report is not. */
PAN_TEST(fuzz_regressions_replay)
{
    static const char *files[] = {"transpose-sink-empty-const", "nan-to-int"};
    pan_log_set_level(PAN_LOG_QUIET);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "tests/fuzz/regress-tfjs/%s", files[i]);
        FILE *f = fopen(pan_test_path(path), "rb");
        ASSERT_TRUE(f);
        static char buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        char *nul = memchr(buf, 0, n);
        size_t jl = nul ? (size_t)(nul - buf) : n;
        write_file("regress.json", buf, jl);
        write_file("w.bin", nul ? nul + 1 : "", nul ? n - jl - 1 : 0);
        pan_engine_t *e = NULL;
        if (create("regress.json", &e) == PAN_OK) {
            int ni = pan_engine_num_inputs(e), no = pan_engine_num_outputs(e);
            float *in[8] = {0}, *out[8] = {0};
            for (int k = 0; k < ni && k < 8; k++) in[k] = calloc(pan_engine_input_numel(e, k, 1) + 1, sizeof(float));
            for (int k = 0; k < no && k < 8; k++) out[k] = calloc(pan_engine_output_numel(e, k, 1) + 1, sizeof(float));
            if (ni <= 8 && no <= 8) pan_engine_run(e, 1, (const float *const *)in, out);
            for (int k = 0; k < 8; k++) {
                free(in[k]);
                free(out[k]);
            }
            pan_engine_destroy(&e);
        }
        fprintf(stderr, "  %s: replayed\n", files[i]);
    }
    pan_log_set_level(PAN_LOG_INFO);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir());
    if (system(cmd)) fprintf(stderr, "  could not remove %s\n", dir());
}

PAN_TEST_MAIN(valid_model_matches_direct_conv, broken_models_fail_cleanly, fuzz_regressions_replay)
