/* Internal: the stages after the batcher (detect → ReID → per-camera track → identities), kept
 * apart from the threading in pipeline_deliver.c. They run on the delivery thread only. */
#ifndef PANOPTES_PIPELINE_STAGES_H
#define PANOPTES_PIPELINE_STAGES_H

#include "panoptes/frame.h"
#include "panoptes/pipeline.h"

typedef struct pan_stages {
    const pan_pipeline_params *p;
    pan_backend backend;
    int batch;                    /* frames per detector batch */
    struct pan_stages_impl *impl; /* detector, ReID, identities */
} pan_stages;

/* Per-camera state of the stages (the camera's tracker); made on the camera's first frame. */
typedef struct pan_stages_cam pan_stages_cam;

/* auto → cuda when usable, else cpu; cuda requested but unusable → PAN_NOGPU with a message. */
pan_status pan_stages_resolve_backend(pan_backend requested, pan_backend *chosen);
pan_status pan_stages_create(pan_stages *s, const pan_pipeline_params *p, pan_backend backend);
/* The stages in two halves, so that one batch is detected while the one before it is tracked and
 * delivered (pipeline_deliver.c runs them on two threads):
 *   pan_stages_infer   detection and ReID of a batch into a pan_stages_batch (the GPU's work on
 *                      cuda, the cpu engine's on cpu); one thread
 *   pan_stages_finish  per frame, in order: tracking, identities, then deliver; one thread
 * A batch object carries one batch's results from the first half to the second; use two or more
 * to overlap. */
typedef struct pan_stages_batch pan_stages_batch;
pan_status pan_stages_batch_create(const pan_stages *s, pan_stages_batch **b);
void pan_stages_batch_destroy(pan_stages_batch **b);
pan_status pan_stages_infer(pan_stages *s, pan_frame **frames, int n, pan_stages_batch *b);
pan_status pan_stages_finish(pan_stages *s, pan_frame **frames, pan_stages_cam ***cams, int n, pan_stages_batch *b,
                             pan_status (*deliver)(void *opaque, int i, pan_frame_result *r), void *opaque);

/* Both halves on one thread (tests); cams[i] is frame i's camera state. For each frame in order, fills a
 * result (camera, frame, pts, size, detections, tracks; valid until the next frame's) and calls
 * deliver; a non-zero return from deliver stops the batch and is returned. */
pan_status pan_stages_process_batch(pan_stages *s, pan_frame **frames, pan_stages_cam ***cams, int n,
                                    pan_status (*deliver)(void *opaque, int i, pan_frame_result *r),
                                    void *opaque);
void pan_stages_cam_destroy(pan_stages_cam **c);
void pan_stages_destroy(pan_stages *s);

#endif
