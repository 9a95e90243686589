/* cpu detector backend: pan_preprocess_cpu into one host input batch, then pan_engine_run. */
#include <stdlib.h>

#include "panoptes/log.h"
#include "vision/detector_impl.h"

typedef struct cpu_ctx {
    pan_engine_t *engine;
    int max_batch;
    float *input;
    size_t input_per_image;
    int n_out;
    float **outputs;
} cpu_ctx;

static pan_status cpu_run(pan__detector_backend *b, pan_frame *const *frames, int n, const pan_preprocess_params *pp,
                          pan_letterbox *lb, float *const **outputs)
{
    cpu_ctx *c = b->ctx;
    if (n < 1 || n > c->max_batch) return PAN_INVAL;
    for (int i = 0; i < n; i++) {
        pan_status st = pan_preprocess_cpu(frames[i], pp, c->input + (size_t)i * c->input_per_image, &lb[i]);
        if (st) {
            if (st == PAN_RESIDENCY)
                pan_log_error("detector", frames[i]->camera,
                              "frame %lld is in device memory but the detector runs on the cpu backend; "
                              "use the cpu decoder or the cuda backend",
                              (long long)frames[i]->index);
            else
                pan_log_error("detector", frames[i]->camera, "preprocess of frame %lld failed: %s",
                              (long long)frames[i]->index, pan_status_str(st));
            return st;
        }
    }
    const float *in[1] = {c->input};
    pan_status st = pan_engine_run(c->engine, n, in, c->outputs);
    if (st) return st;
    *outputs = c->outputs;
    return PAN_OK;
}

static void cpu_destroy(pan__detector_backend *b)
{
    if (!b) return;
    cpu_ctx *c = b->ctx;
    if (c) {
        for (int j = 0; j < c->n_out && c->outputs; j++) free(c->outputs[j]);
        free(c->outputs);
        free(c->input);
        free(c);
    }
    free(b);
}

pan_status pan__detector_cpu_create(pan__detector_backend **out, pan_engine_t *engine, int max_batch)
{
    *out = NULL;
    if (pan_engine_num_inputs(engine) != 1) {
        pan_log_error("detector", -1, "the model has %d inputs; a detector takes one image input",
                      pan_engine_num_inputs(engine));
        return PAN_MODEL;
    }
    pan__detector_backend *b = calloc(1, sizeof *b);
    cpu_ctx *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        return PAN_NOMEM;
    }
    b->name = "cpu";
    b->ctx = c;
    b->run = cpu_run;
    b->destroy = cpu_destroy;
    c->engine = engine;
    c->max_batch = max_batch;
    c->input_per_image = pan_engine_input_numel(engine, 0, 1);
    c->input = malloc(c->input_per_image * (size_t)max_batch * sizeof(float));
    c->n_out = pan_engine_num_outputs(engine);
    c->outputs = calloc((size_t)c->n_out, sizeof *c->outputs);
    if (!c->input || !c->outputs) goto nomem;
    for (int j = 0; j < c->n_out; j++) {
        c->outputs[j] = malloc(pan_engine_output_numel(engine, j, max_batch) * sizeof(float) + 1);
        if (!c->outputs[j]) goto nomem;
    }
    *out = b;
    return PAN_OK;
nomem:
    cpu_destroy(b);
    return PAN_NOMEM;
}
