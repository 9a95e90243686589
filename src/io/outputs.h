/* The result files of `panoptes run` as consumers of a pipeline: JSON Lines, MOTChallenge files
 * (one per camera) and the annotated video of one camera. They receive results through
 * pan_consumer like any caller of the library. */
#ifndef PANOPTES_OUTPUTS_H
#define PANOPTES_OUTPUTS_H

#include "io/annotate.h"
#include "io/sink.h"
#include "panoptes/pipeline.h"

typedef struct pan_outputs_params {
    const char *jsonl_path;    /* JSON Lines ("-" = stdout); NULL = none */
    const char *mot_dir;       /* DIR/cam<id>.txt per camera; NULL = none */
    const char *annotate_path; /* annotated MP4 of camera annotate_camera; NULL = none */
    int annotate_camera;
    pan_annotate_overlay_fn annotate_overlay; /* extra drawing on the video (the analytics'), or NULL */
    void *annotate_overlay_opaque;
} pan_outputs_params;

typedef struct pan_outputs pan_outputs;

/* Opens what can be opened at once (the JSONL file, the MOT folder), so that an output that
 * cannot be written fails before any camera runs. Errors name the path. */
pan_status pan_outputs_create(pan_outputs **o, const pan_outputs_params *p);
/* Registers the consumers on pl (before pan_pipeline_start). The JSONL and MOT files are
 * required: when one cannot be written the pipeline fails. The annotated video is not: it stops
 * with a warning and the run goes on. */
pan_status pan_outputs_attach(pan_outputs *o, pan_pipeline *pl);
/* The JSONL sink (for pan_jsonl_sink_set_extra), or NULL. */
pan_jsonl_sink *pan_outputs_jsonl(pan_outputs *o);
/* After pan_pipeline_stop (the consumers' on_stop closed the files). NULL-safe. */
void pan_outputs_destroy(pan_outputs **o);

#endif
