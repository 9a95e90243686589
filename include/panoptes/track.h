/* Multi-object tracking: a tracker per camera (ByteTrack / BoT-SORT family) and a shared manager
 * of global identities that links the cameras' tracks.
 *
 * Per camera, each frame:  detections --pan_tracker_update--> reports (id per camera)
 *                          reports + track embeddings --pan_identity_assign--> reports.global_id
 *
 * Boxes follow detection.h: [x1, y1, x2, y2] in source pixels. Time in the identity manager is in
 * seconds on any clock common to all cameras (stream timestamps or frame index / fps).
 *
 * Threads: a pan_tracker belongs to one thread (one tracker per camera, updated by that camera's
 * thread); it holds no locks. A pan_identity is shared by all cameras and locks internally, so
 * any thread may call pan_identity_* at any time. */
#ifndef PANOPTES_TRACK_H
#define PANOPTES_TRACK_H

#include <stdint.h>

#include "panoptes/backend.h"
#include "panoptes/detection.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- per-camera tracker */

/* Thresholds follow ByteTrack / BoT-SORT's names and defaults. Costs are distances in [0, 1]:
 * 1 - IoU (optionally 1 - IoU * score), or half the cosine distance of embeddings. */
typedef struct pan_tracker_params {
    float high_thresh;      /* detections >= this take part in the first association (0.5) */
    float low_thresh;       /* detections in [low, high) only rescue existing tracks (0.1) */
    float new_track_thresh; /* an unmatched high detection >= this starts a track (0.6) */
    float match_thresh;     /* max cost, first association: tracks vs high detections (0.8) */
    float low_match_thresh; /* max cost, second association: tracked vs low detections (0.5) */
    float tentative_match_thresh; /* max cost, tentative tracks vs leftover high detections (0.7) */
    int min_hits;           /* consecutive matched frames before a track is confirmed and gets
                               an id (2); in the first frame of a run tracks confirm at once */
    int max_time_lost;      /* frames a lost track is kept for re-association (30) */
    int fuse_score;         /* 1: first-stage IoU cost is 1 - IoU * score, as ByteTrack on MOT17 (1) */
    int class_aware;        /* 1: never match a detection to a track of another class (1) */
    int report_lost;        /* 1: also report lost tracks (state LOST, predicted box) and each
                               removed confirmed track once (state REMOVED) (0) */
    /* Appearance (BoT-SORT): used only where both the track and the detection have embeddings. */
    float appearance_thresh; /* max half cosine distance (1 - cos) / 2 for an appearance match (0.25) */
    float proximity_thresh;  /* max IoU distance (1 - IoU) for appearance to count (0.5) */
    float embedding_alpha;   /* track embedding EMA: e = a * e + (1 - a) * new, renormalised (0.9) */
    /* Kalman noise, relative to box size (per frame): as in ByteTrack / BoT-SORT. */
    float std_weight_position; /* 1/20 */
    float std_weight_velocity; /* 1/160 */
    int camera;                /* for log lines only; -1 if none */
    /* Frame size in pixels, or 0 when unknown. When known, reported boxes are clamped to
     * [0, frame_width] x [0, frame_height] (the filter's estimate is not), and a lost track whose predicted centre
     * leaves the frame is removed at once: it walked out, and keeping it only invites someone
     * entering at the same border to take over its id. (Removing tracks lost while merely touching
     * an edge was tried and rejected: it split tracks of people walking along an edge.) (0, 0) */
    int frame_width, frame_height;
} pan_tracker_params;

pan_tracker_params pan_tracker_params_default(void);

typedef struct pan_tracker pan_tracker;

pan_status pan_tracker_create(pan_tracker **t, const pan_tracker_params *params);
void pan_tracker_destroy(pan_tracker **t);

/* Advances one frame (call it for every frame, also those with no detections: time is counted in
 * calls). dets may be NULL when n == 0; detections below low_thresh or with invalid boxes are
 * ignored. Detection embeddings, when present, must all have one dimension per tracker.
 * Writes at most max_out reports to out (confirmed tracks matched in this frame, plus lost and
 * removed ones with report_lost), in ascending id order. Returns PAN_LIMIT (with *n_out == max_out)
 * when more reports existed than fit; the tracker state is updated either way.
 * global_id of each report is 0: pan_identity_assign fills it. */
pan_status pan_tracker_update(pan_tracker *t, const pan_detection *dets, int n,
                              pan_track_report *out, int max_out, int *n_out);

/* Smoothed appearance embedding (L2-normalised) of a live track by its id, or NULL when the track
 * has none or is unknown. *dim receives its length. Valid until the next pan_tracker_update. */
const float *pan_tracker_embedding(const pan_tracker *t, int64_t id, int *dim);

/* The frame size for clamping reports and removing tracks that walked out (pan_tracker_params):
 * a stream can change size mid-way. Ignored when either is <= 0. */
void pan_tracker_set_frame_size(pan_tracker *t, int width, int height);

/* Frames processed so far; tracks currently alive (tentative, confirmed and lost). */
int64_t pan_tracker_frame(const pan_tracker *t);
int pan_tracker_live_tracks(const pan_tracker *t);

/* ---------------------------------------------------------------- global identities */

typedef struct pan_identity_params {
    float min_similarity;  /* cosine similarity needed to link a new track to an identity (0.6) */
    double max_gap_s;      /* an identity unseen for longer no longer takes new tracks and is
                              forgotten (time gating) (60 s) */
    float embedding_alpha; /* identity embedding EMA (0.9) */
    float overlap_iou;     /* min IoU between a track's box mapped into another camera and a box
                              seen there, for an overlap link (0.3) */
    double overlap_dt_s;   /* max time between the two observations of an overlap link (0.5 s) */
    int max_identities;    /* gallery capacity; the oldest identity is forgotten first (4096) */
    double link_window_s;  /* > 0: a track that had to open a new identity may still join an
                              existing one during its first link_window_s (its global_id changes
                              once), for evidence that arrives a few frames late. Off by default:
                              on the two-camera synthetic test it did not help (0) */
    /* Where the similarities of new tracks against the gallery are computed: CUDA = on the GPU
     * (one cuBLASLt product per call against a device copy of the gallery, kept current with the
     * rows changed since the last call) once the gallery holds gpu_min_gallery identities; below
     * that, or with CPU/AUTO, or when the GPU fails (logged once), on the host. Results agree to
     * FP32 rounding (tests/test-gpu-gallery.c); bench/bench_gallery.c measures the crossover. */
    pan_backend backend;   /* CPU */
    int device;            /* CUDA ordinal (0) */
    int gpu_min_gallery;   /* 1024; -1 = never on the GPU */
} pan_identity_params;

pan_identity_params pan_identity_params_default(void);

typedef struct pan_identity pan_identity;

pan_status pan_identity_create(pan_identity **im, const pan_identity_params *params);
void pan_identity_destroy(pan_identity **im);

/* Declares that cameras a and b overlap: h (3x3, row-major) maps a point (x, y, 1) in camera a's
 * pixels to camera b's (homogeneous; an affine map has h[6] = h[7] = 0, h[8] = 1; a crop offset
 * (ox, oy) of a in b is h = {1,0,ox, 0,1,oy, 0,0,1}). The inverse is derived for b -> a. A track
 * that starts in one camera while a box seen in the other within overlap_dt_s lies where its
 * mapped box lies (IoU >= overlap_iou) joins that box's identity, embeddings or not.
 * Mapped boxes are the bounding boxes of the four mapped corners: exact for crops and scalings,
 * an approximation under perspective. */
pan_status pan_identity_set_overlap(pan_identity *im, int camera_a, int camera_b, const double h[9]);

/* Fills reports[i].global_id for one camera's frame at time t_s. embeddings[i] is the track's
 * embedding (pan_tracker_embedding) or NULL; embeddings itself may be NULL. A new track takes, in
 * order: an overlap link, the most similar identity not currently held by another track of the
 * same camera (similarity >= min_similarity, seen within max_gap_s), or a new identity; it keeps
 * that id, except that a track that opened a new identity may join an existing one within
 * link_window_s. Reports with state REMOVED release their track's link. */
pan_status pan_identity_assign(pan_identity *im, int camera, double t_s, pan_track_report *reports,
                               int n, const float *const *embeddings, int dim);

/* Number of global identities handed out so far. */
int64_t pan_identity_count(pan_identity *im);

#ifdef __cplusplus
}
#endif
#endif
