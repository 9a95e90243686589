/* Internal: the stages after the batcher (detect → track → identities → sinks), kept apart from
 * the threading in pipeline.c. */
#ifndef PANOPTES_PIPELINE_STAGES_H
#define PANOPTES_PIPELINE_STAGES_H

#include "decode/decoder.h"
#include "panoptes/frame.h"
#include "panoptes/pipeline.h"
#include "io/sink.h"

typedef struct pan_stages {
    const pan_pipeline_params *p;
    pan_backend backend;
    int batch;                 /* frames per detector batch */
    pan_jsonl_sink *jsonl;
    struct pan_stages_impl *impl; /* detector, trackers, identities, other sinks */
} pan_stages;

/* auto → cuda when usable, else cpu; cuda requested but unusable → PAN_NOGPU with a message. */
pan_status pan_stages_resolve_backend(pan_backend requested, pan_backend *chosen);
pan_status pan_stages_create(pan_stages *s, const pan_pipeline_params *p, pan_backend backend);
/* Lets the stages set per-camera decoder parameters (CUDA stream, device) before the decoder is made. */
pan_status pan_stages_camera_decoder_params(pan_stages *s, int camera, pan_decoder_params *dp);
pan_status pan_stages_process_batch(pan_stages *s, pan_frame **frames, int n, pan_run_summary *sum);
void pan_stages_destroy(pan_stages *s, pan_run_summary *sum);

#endif
