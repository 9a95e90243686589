/* Comparing the engine's cpu backend with ONNX Runtime on the models a generator wrote (the
 * manifest.txt format of tests/peers/make_onnx_models.py and tests/models/make_detector_families.py):
 * each (model, batch) entry is run here and its outputs compared with ORT's files.
 *   NMSE = Σ(ours − ort)² / Σ ort² <= tol_nmse, max |ours − ort| <= 1e-3 · max(1, max |ort|),
 *   and no NaN/Inf where ORT is finite. */
#ifndef PANOPTES_TESTS_ORT_MANIFEST_H
#define PANOPTES_TESTS_ORT_MANIFEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/engine.h"
#include "panoptes/status.h"

static inline float *ortm_read_bin(const char *path, size_t n)
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

typedef struct ortm_entry {
    char model[128];
    int batch, n_in, n_out;
    char in_name[4][64], in_file[4][192];
    int in_rank[4];
    int64_t in_dims[4][8];
    char out_name[16][64], out_file[16][192];
} ortm_entry;

/* 1 = an entry, 0 = end of file, -1 = malformed. */
static inline int ortm_read_entry(FILE *f, ortm_entry *e)
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

/* Tolerance (NMSE) for a model; print: 1 = print every output's figures, not only failures. */
typedef double (*ortm_tol_fn)(const char *model, int *print);

/* Runs every entry of dir/manifest.txt on the cpu backend and compares. Returns the number of
 * failures (also -1 for an unreadable manifest); *checked counts compared outputs. */
static inline int ortm_compare_dir(const char *dir, ortm_tol_fn tol, int *checked)
{
    char path[512];
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *mf = fopen(path, "r");
    if (!mf) return -1;
    ortm_entry e;
    int r, failures = 0;
    pan_engine_t *eng = NULL;
    char eng_model[128] = "";
    *checked = 0;
    while ((r = ortm_read_entry(mf, &e)) == 1) {
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
            ok = k >= 0 && k < 4 && n == pan_engine_input_numel(eng, k, e.batch) && (in_data[i] = ortm_read_bin(path, n));
            if (ok) inputs[k] = in_data[i];
        }
        for (int j = 0; j < e.n_out && ok; j++)
            ok = (outs[j] = malloc(pan_engine_output_numel(eng, j, e.batch) * sizeof(float) + 1)) != NULL;
        int st = ok ? pan_engine_run(eng, e.batch, inputs, outs) : PAN_INVAL;
        if (st) {
            fprintf(stderr, "  %s batch %d: run failed (%s)\n", e.model, e.batch, pan_status_name(st));
            failures++;
        }
        int print = 0;
        double tol_nmse = tol(e.model, &print);
        for (int j = 0; j < e.n_out && !st; j++) {
            int k = pan_engine_find_output(eng, e.out_name[j]);
            size_t n = k >= 0 ? pan_engine_output_numel(eng, k, e.batch) : 0;
            snprintf(path, sizeof path, "%s/%s", dir, e.out_file[j]);
            float *ref = n ? ortm_read_bin(path, n) : NULL;
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
            double nmse = den > 0 ? num / den : num, tol_abs = 1e-3 * fmax(1.0, maxr);
            int pass = !bad && nmse <= tol_nmse && maxd <= tol_abs;
            if (!pass || print)
                fprintf(stderr, "  %-20s b%d %-12s n=%-7zu nmse %.3g (<= %.0e) max|d| %.3g (<= %.3g)%s\n", e.model,
                        e.batch, e.out_name[j], n, nmse, tol_nmse, maxd, tol_abs, pass ? "" : "  FAIL");
            failures += !pass;
            (*checked)++;
            free(ref);
        }
        for (int i = 0; i < 4; i++) free(in_data[i]);
        for (int j = 0; j < 16; j++) free(outs[j]);
    }
    pan_engine_destroy(&eng);
    fclose(mf);
    return r == 0 ? failures : failures + 1;
}

#endif
