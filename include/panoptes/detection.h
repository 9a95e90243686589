/* Detections and tracks: the compact per-frame metadata that crosses from the GPU to the host.
 *
 * Box convention everywhere in Panoptes: [x1, y1, x2, y2] in source-frame pixels, continuous
 * coordinates where the frame spans [0, width] x [0, height] (pixel i covers [i, i+1)), so
 * width = x2 - x1. */
#ifndef PANOPTES_DETECTION_H
#define PANOPTES_DETECTION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PAN_COCO_CLASSES 80

/* COCO-80 label of a class id ("person" for 0); "unknown" outside the range. */
const char *pan_coco_label(int class_id);
/* Class id of a COCO label, or -1. */
int pan_coco_class(const char *label);

typedef struct pan_detection {
    float box[4]; /* x1, y1, x2, y2, source pixels */
    float score;  /* 0..1 */
    int class_id;
    /* Appearance embedding (L2-normalised, embedding_dim floats) or NULL. Owned by whoever
     * produced the detection list and valid until that list is released. */
    const float *embedding;
    int embedding_dim;
} pan_detection;

typedef enum pan_track_state {
    PAN_TRACK_TENTATIVE = 0, /* seen, not yet confirmed */
    PAN_TRACK_CONFIRMED,     /* matched in this frame */
    PAN_TRACK_LOST,          /* not matched recently; kept for re-association */
    PAN_TRACK_REMOVED,       /* gone; reported once */
} pan_track_state;

const char *pan_track_state_name(pan_track_state state);

/* One track as reported for one frame. */
typedef struct pan_track_report {
    int64_t id;        /* per camera, 1-based, never reused within a run */
    int64_t global_id; /* across cameras, 1-based; 0 when not linked yet */
    int class_id;
    float score;
    float box[4]; /* x1, y1, x2, y2, source pixels (Kalman-filtered) */
    pan_track_state state;
} pan_track_report;

#ifdef __cplusplus
}
#endif
#endif
