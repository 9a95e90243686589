/* ONNX models through the engine's cpu backend vs ONNX Runtime (CPU) on the same inputs.
 *
 * tests/peers/make_onnx_models.py (Debian python3-onnx) writes small models covering every
 * supported op family (opsets 9..17, attribute and input forms), a YOLOv8n-shaped detector and an
 * OSNet-like ReID model, all with a dynamic batch, plus seeded inputs for batch 1 and 3;
 * tests/peers/ort_run.js runs them with onnxruntime-node. Tolerances (FP32 on both sides; only the
 * order of summation differs):
 *   NMSE = Σ(ours − ort)² / Σ ort²  <= 1e-9 (op models), 1e-8 (the two deep models; measured
 *                                      ~1e-14 and ~1e-13)
 *   max |ours − ort|                <= 1e-3 · max(1, max |ort|)
 * and NaN/Inf must not appear where ORT has finite values.
 * Skips (77) when python3-onnx, node or tests/peers/node_modules (onnxruntime-node) is missing. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "nn/engine.h"
#include "panoptes/status.h"
#include "test.h"

static const char *find_python(void)
{
    static const char *cands[] = {"/usr/bin/python3", "python3"};
    char cmd[256];
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        snprintf(cmd, sizeof cmd, "%s -c 'import onnx, numpy' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0) return cands[i];
    }
    return NULL;
}

static float *read_bin(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *v = malloc(n * sizeof(float) + 1);
    size_t got = v ? fread(v, sizeof(float), n, f) : 0;
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != n || extra) {
        free(v);
        return NULL;
    }
    return v;
}

typedef struct entry {
    char model[128];
    int batch, n_in, n_out;
    char in_name[4][64], in_file[4][192];
    int in_rank[4];
    int64_t in_dims[4][8];
    char out_name[16][64], out_file[16][192];
} entry;

static int read_entry(FILE *f, entry *e)
{
    memset(e, 0, sizeof *e);
    if (fscanf(f, " model %127s %d %d %d", e->model, &e->batch, &e->n_in, &e->n_out) != 4) return 0;
    if (e->n_in < 1 || e->n_in > 4 || e->n_out < 1 || e->n_out > 16) return -1;
    for (int i = 0; i < e->n_in; i++) {
        if (fscanf(f, " in %63s %191s %d", e->in_name[i], e->in_file[i], &e->in_rank[i]) != 3 || e->in_rank[i] > 8)
            return -1;
        for (int k = 0; k < e->in_rank[i]; k++)
            if (fscanf(f, "%lld", (long long *)&e->in_dims[i][k]) != 1) return -1;
    }
    for (int i = 0; i < e->n_out; i++)
        if (fscanf(f, " out %63s %191s", e->out_name[i], e->out_file[i]) != 2) return -1;
    return 1;
}

PAN_TEST(engine_matches_onnxruntime)
{
    const char *py = find_python();
    if (!py) PAN_SKIP_PEER("python3 with the onnx module (Debian python3-onnx) not found");
    if (access(pan_test_path("tests/peers/node_modules/onnxruntime-node/package.json"), R_OK) ||
        system("node --version >/dev/null 2>&1"))
        PAN_SKIP_PEER("node or tests/peers/node_modules/onnxruntime-node missing: cd tests/peers && npm install --ignore-scripts");
    char dir[] = "/tmp/panoptes-onnx-ort-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char cmd[4096], path[512];
    snprintf(cmd, sizeof cmd, "%s '%s' '%s' --batches 1,3", py, pan_test_path("tests/peers/make_onnx_models.py"), dir);
    ASSERT_EQ(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "node '%s' '%s/manifest.json'", pan_test_path("tests/peers/ort_run.js"), dir);
    ASSERT_EQ(system(cmd), 0);
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *mf = fopen(path, "r");
    ASSERT_TRUE(mf != NULL);
    entry e;
    int r, checked = 0, failures = 0;
    pan_engine_t *eng = NULL;
    char eng_model[128] = "";
    while ((r = read_entry(mf, &e)) == 1) {
        if (strcmp(eng_model, e.model)) {
            pan_engine_destroy(&eng);
            pan_engine_params ep;
            memset(&ep, 0, sizeof ep);
            snprintf(path, sizeof path, "%s/%s", dir, e.model);
            ep.model_path = path;
            ep.backend = PAN_BACKEND_CPU;
            ep.max_batch = 3;
            int st = pan_engine_create(&eng, &ep);
            if (st) {
                fprintf(stderr, "  %s: pan_engine_create: %s\n", e.model, pan_status_name(st));
                failures++;
                eng_model[0] = 0;
                continue;
            }
            snprintf(eng_model, sizeof eng_model, "%s", e.model);
        }
        const float *inputs[4] = {0};
        float *in_data[4] = {0}, *outs[16] = {0};
        int ok = pan_engine_num_inputs(eng) == e.n_in && pan_engine_num_outputs(eng) == e.n_out;
        for (int i = 0; i < e.n_in && ok; i++) {
            int k = pan_engine_find_input(eng, e.in_name[i]);
            size_t n = 1;
            for (int d = 0; d < e.in_rank[i]; d++) n *= (size_t)e.in_dims[i][d];
            snprintf(path, sizeof path, "%s/%s", dir, e.in_file[i]);
            ok = k >= 0 && k < 4 && n == pan_engine_input_numel(eng, k, e.batch) && (in_data[i] = read_bin(path, n));
            if (ok) inputs[k] = in_data[i];
        }
        for (int j = 0; j < e.n_out && ok; j++)
            ok = (outs[j] = malloc(pan_engine_output_numel(eng, j, e.batch) * sizeof(float) + 1)) != NULL;
        int st = ok ? pan_engine_run(eng, e.batch, inputs, outs) : PAN_INVAL;
        if (st) {
            fprintf(stderr, "  %s batch %d: run failed (%s)\n", e.model, e.batch, pan_status_name(st));
            failures++;
        }
        int deep = !strncmp(e.model, "yolo", 4) || !strncmp(e.model, "osnet", 5);
        for (int j = 0; j < e.n_out && !st; j++) {
            int k = pan_engine_find_output(eng, e.out_name[j]);
            size_t n = k >= 0 ? pan_engine_output_numel(eng, k, e.batch) : 0;
            snprintf(path, sizeof path, "%s/%s", dir, e.out_file[j]);
            float *ref = n ? read_bin(path, n) : NULL;
            if (!ref) {
                fprintf(stderr, "  %s batch %d output %s: missing or of another size than ORT's (%zu)\n", e.model,
                        e.batch, e.out_name[j], n);
                failures++;
                continue;
            }
            double num = 0, den = 0, maxd = 0, maxr = 0;
            int bad = 0;
            for (size_t i = 0; i < n; i++) {
                double a = outs[k][i], b = ref[i];
                if (isfinite(b) && !isfinite(a)) bad = 1;
                num += (a - b) * (a - b);
                den += b * b;
                maxd = fmax(maxd, fabs(a - b));
                maxr = fmax(maxr, fabs(b));
            }
            double nmse = den > 0 ? num / den : num;
            double tol_nmse = deep ? 1e-8 : 1e-9, tol_abs = 1e-3 * fmax(1.0, maxr);
            int pass = !bad && nmse <= tol_nmse && maxd <= tol_abs;
            if (!pass || deep)
                fprintf(stderr, "  %-24s b%d %-10s n=%-7zu nmse %.3g (<= %.0e) max|d| %.3g (<= %.3g)%s\n", e.model,
                        e.batch, e.out_name[j], n, nmse, tol_nmse, maxd, tol_abs, pass ? "" : "  FAIL");
            failures += !pass;
            checked++;
            free(ref);
        }
        for (int i = 0; i < 4; i++) free(in_data[i]);
        for (int j = 0; j < 16; j++) free(outs[j]);
    }
    pan_engine_destroy(&eng);
    fclose(mf);
    ASSERT_EQ(r, 0);
    fprintf(stderr, "  %d outputs compared with ONNX Runtime, %d failures\n", checked, failures);
    ASSERT_EQ(failures, 0);
    ASSERT_GE(checked, 60);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)!system(cmd);
}

PAN_TEST_MAIN(engine_matches_onnxruntime)
