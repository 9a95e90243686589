/* The engine interface of `panoptes serve` (serve/engine.h) on a real pan_pipeline: cameras are
 * added and removed on it, its statistics are translated, and a consumer on it feeds snapshots
 * (serve/snapshot.h) and ends them when a camera does. */
#ifndef PANOPTES_SERVE_PIPELINE_ENGINE_H
#define PANOPTES_SERVE_PIPELINE_ENGINE_H

#include "panoptes/pipeline.h"
#include "serve/engine.h"

typedef struct pan_serve_pipeline pan_serve_pipeline;

/* Registers its consumer on pl: call before pan_pipeline_start. pl stays the caller's. */
pan_status pan_serve_pipeline_create(pan_serve_pipeline **sp, pan_pipeline *pl);
/* The table the HTTP API calls (valid until destroy). */
pan_serve_engine pan_serve_pipeline_engine(pan_serve_pipeline *sp);
/* Adds a camera (the same as the API's add_camera). */
pan_status pan_serve_pipeline_add(pan_serve_pipeline *sp, const pan_serve_camera *cam, int *id);
pan_status pan_serve_pipeline_remove(pan_serve_pipeline *sp, int id);
/* Wakes requests waiting for snapshots (PAN_CLOSED): call before stopping the HTTP server. */
void pan_serve_pipeline_close(pan_serve_pipeline *sp);
/* After pan_pipeline_stop. NULL-safe. */
void pan_serve_pipeline_destroy(pan_serve_pipeline **sp);

#endif
