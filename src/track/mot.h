/* MOTChallenge files, tracking metrics, synthetic scenes with ground truth, and the MOT result sink.
 *
 * MOTChallenge text: one object per line, comma-separated,
 *   frame, id, x, y, w, h, conf, [x3d, y3d, z3d]          results and public detections (id -1)
 *   frame, id, x, y, w, h, consider, class, visibility     ground truth (MOT16/17/20)
 * frame is 1-based; (x, y) is the top-left corner and w, h the size, in pixels, so the box is
 * [x, x + w] x [y, y + h] in the continuous convention of detection.h. */
#ifndef PANOPTES_MOT_H
#define PANOPTES_MOT_H

#include <stddef.h>
#include <stdint.h>

#include "panoptes/detection.h"
#include "panoptes/status.h"
#include "panoptes/track.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- sequences (mot_io.c) */

typedef struct pan_mot_row {
    int frame;   /* 1-based */
    int64_t id;  /* -1 for detections */
    float x, y, w, h;
    float conf;  /* score; in ground truth 0 marks a row not to evaluate */
    int cls;     /* ground-truth class (1 = pedestrian), -1 when the file has no such column */
    float vis;   /* ground-truth visibility 0..1, -1 when absent */
} pan_mot_row;

/* Rows sorted by frame (stable: file order within a frame). Rows of frame f (1..n_frames) are
 * rows[frame_start[f] .. frame_start[f + 1]). emb, when not NULL, holds emb_dim floats per row
 * (synthetic scenes only; files carry no embeddings). Zero-initialise before use. */
typedef struct pan_mot_seq {
    pan_mot_row *rows;
    size_t n, cap;
    int n_frames;
    size_t *frame_start; /* n_frames + 2 entries, built by pan_mot_seq_finish */
    float *emb;
    int emb_dim;
} pan_mot_seq;

/* Reads a MOTChallenge file (6 to 10 numeric fields a line; blank lines and '#' comments skipped).
 * On error returns PAN_NOTFOUND / PAN_IO / PAN_CORRUPT and, when err is not NULL, a message naming
 * the file and line ("gt.txt:12: field 3 (x) is not a number"). Ready to use: finished. */
pan_status pan_mot_read(const char *path, pan_mot_seq *seq, char *err, size_t err_size);
/* Writes rows as results: frame,id,x,y,w,h,conf,-1,-1,-1 (two decimals for boxes). */
pan_status pan_mot_write(const char *path, const pan_mot_seq *seq);
pan_status pan_mot_seq_push(pan_mot_seq *seq, const pan_mot_row *row);
/* Sorts by frame and builds frame_start; call after the last push. Rows with frame < 1 make it
 * fail with PAN_CORRUPT. */
pan_status pan_mot_seq_finish(pan_mot_seq *seq);
void pan_mot_seq_free(pan_mot_seq *seq);

/* Runs a fresh tracker (params, NULL for defaults) over detections det (frames 1..n_frames; ids
 * ignored; class 0; embeddings when det->emb is set, except rows of zeros, which stand for a
 * detection without one) and appends its confirmed tracks to res as
 * MOTChallenge results (Kalman-filtered boxes, id, score). res is finished. (mot_track.c) */
pan_status pan_mot_track(const pan_mot_seq *det, const pan_tracker_params *params, pan_mot_seq *res);

/* ---------------------------------------------------------------- metrics (metrics.c)
 * As published and as TrackEval computes them:
 *  CLEAR MOT (Bernardin & Stiefelhagen 2008): per frame, ground truth and results are matched
 *    optimally on IoU >= iou_thresh, keeping last frame's pairs where still valid. MOTA =
 *    1 - (FN + FP + IDSW) / GT; MOTP is the mean IoU of the matches (TrackEval's convention,
 *    higher is better). IDSW counts a ground-truth object matched to another id than the last one
 *    it was matched to. MT/PT/ML: objects tracked for > 80%, 20..80%, < 20% of their frames;
 *    Frag: times a tracked object's tracking resumed after a gap.
 *  ID metrics (Ristani et al. 2016): one global one-to-one matching of ground-truth ids to result
 *    ids maximising the frames where they overlap with IoU >= iou_thresh (IDTP);
 *    IDF1 = 2 IDTP / (GT + RES), IDP = IDTP / RES, IDR = IDTP / GT.
 *  HOTA (Luiten et al. 2021): averaged over localisation thresholds alpha = 0.05, 0.10, ..., 0.95
 *    (iou_thresh does not apply); HOTA = sqrt(DetA * AssA). */

typedef struct pan_mot_eval_params {
    float iou_thresh; /* 0.5 */
    /* 1: MOTChallenge pre-processing, as TrackEval for MOT16/17/20: results matched (IoU >= 0.5,
     * optimal per frame) to ground truth of a distractor class (2 person on vehicle, 7 static person,
     * 8 distractor, 12 reflection) are dropped; then only ground truth with conf != 0 and
     * class == 1 (or no class column) is evaluated. 0: every row counts. (1) */
    int mot_preprocess;
} pan_mot_eval_params;

pan_mot_eval_params pan_mot_eval_params_default(void);

#define PAN_HOTA_ALPHAS 19

typedef struct pan_mot_metrics {
    /* counts */
    int64_t gt_dets, res_dets, gt_ids, res_ids, frames;
    /* CLEAR MOT */
    double mota, motp;
    int64_t tp, fp, fn, idsw, frag, mt, pt, ml;
    /* ID */
    double idf1, idp, idr;
    int64_t idtp, idfp, idfn;
    /* HOTA, means over alpha, and HOTA per alpha */
    double hota, deta, assa, detre, detpr, assre, asspr, loca;
    double hota_alpha[PAN_HOTA_ALPHAS];
} pan_mot_metrics;

/* Both sequences must be finished. Duplicate ids within one frame (in either) are an error
 * (PAN_CORRUPT, logged with frame and id), as in TrackEval. */
pan_status pan_mot_evaluate(const pan_mot_seq *gt, const pan_mot_seq *res,
                            const pan_mot_eval_params *params, pan_mot_metrics *m);

/* ---------------------------------------------------------------- synthetic scenes (synth.c)
 * A deterministic scene (own PRNG; same seed, same scene on every machine with IEEE doubles) of
 * people walking: entering from the edges, crossing each other (some on purpose, head-on),
 * occluding each other (the one lower in the image is nearer), leaving, and some re-entering
 * later under the same ground-truth id. Detections have misses (more when occluded), false
 * positives, box jitter and scores that drop with occlusion, so both ByteTrack stages matter. */
typedef struct pan_synth_params {
    uint64_t seed;
    int frames;          /* 600 */
    int width, height;   /* 1280 x 720 */
    int objects;         /* people scheduled to enter, each at a random frame (40); entries
                            wait while max_concurrent are in view, so fewer may appear */
    int max_concurrent;  /* at most this many in view at once (15) */
    float miss_rate;     /* probability a fully visible person is not detected (0.08) */
    float fp_per_frame;  /* mean false positives per frame (1.0) */
    float jitter;        /* box noise std, relative to the box size (0.04) */
    float reenter_prob;  /* probability a person who leaves comes back later (0.3) */
    int emb_dim;         /* > 0: give each detection an embedding of this size (0) */
    float emb_noise;     /* embedding noise std per component, before normalising (0.05) */
} pan_synth_params;

pan_synth_params pan_synth_params_default(void);

/* Fills gt (frame, id, box, conf 1, class 1, visibility) and det (id -1, score; emb when asked).
 * Both are finished. */
pan_status pan_synth_generate(const pan_synth_params *p, pan_mot_seq *gt, pan_mot_seq *det);

/* ---------------------------------------------------------------- MOT result sink (io/mot_sink.c)
 * One file per camera, one line per confirmed track per frame:
 *   frame,id,x,y,w,h,conf,-1,-1,-1     frame 1-based, box top-left + size in pixels (2 decimals)
 * Written and flushed as each frame completes, so an interrupted run keeps every finished frame.
 * Tracks in a state other than confirmed (lost, removed) are not written: MOTChallenge results
 * are the boxes the tracker asserts in that frame. */
typedef struct pan_mot_sink pan_mot_sink;

/* Path for camera `camera` of n_cameras from a user pattern: a "%d" in the pattern is replaced by
 * the camera index; otherwise with several cameras "-cam<N>" goes before the extension
 * ("out.txt" -> "out-cam0.txt"), and with one camera the pattern is used as is. */
pan_status pan_mot_sink_path(char *buf, size_t size, const char *pattern, int camera, int n_cameras);
pan_status pan_mot_sink_create(pan_mot_sink **sink, const char *path);
/* frame is the 0-based frame index in the camera's stream; written as frame + 1. */
pan_status pan_mot_sink_write(pan_mot_sink *sink, int64_t frame, const pan_track_report *tracks, int n);
/* Flushes and closes; safe on NULL. Rows already written stay on disk. */
void pan_mot_sink_destroy(pan_mot_sink **sink);

#ifdef __cplusplus
}
#endif
#endif
