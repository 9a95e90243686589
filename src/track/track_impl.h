/* Internals of the tracking module shared by its files (and its unit tests): the Kalman filter
 * on boxes and the linear assignment solver. Not part of the public API. */
#ifndef PANOPTES_TRACK_IMPL_H
#define PANOPTES_TRACK_IMPL_H

#include <stddef.h>

#include "panoptes/status.h"

/* ---------------------------------------------------------------- Kalman filter (kalman.c)
 * Constant-velocity model on xywh as in BoT-SORT: state (cx, cy, w, h, vcx, vcy, vw, vh), pixels and
 * pixels per frame; the measurement is (cx, cy, w, h). Noise standard deviations scale with the
 * box's width (x terms) and height (y terms), so a far, small person and a near, large one are
 * filtered alike. Doubles: the covariance update subtracts nearly equal numbers. */
typedef struct pan__kf {
    double mean[8];
    double cov[64]; /* row-major 8x8 */
} pan__kf;

typedef struct pan__kf_noise {
    double pos; /* std of position per frame, relative to size (1/20) */
    double vel; /* std of velocity per frame, relative to size (1/160) */
} pan__kf_noise;

void pan__kf_init(pan__kf *kf, const pan__kf_noise *nz, const double z[4]);
/* One frame ahead. freeze_size: zero the size velocities first (BoT-SORT does for lost tracks). */
void pan__kf_predict(pan__kf *kf, const pan__kf_noise *nz, int freeze_size);
/* Corrects with measurement z = (cx, cy, w, h). PAN_RANGE if the innovation covariance is not
 * positive definite (state left unchanged). */
pan_status pan__kf_update(pan__kf *kf, const pan__kf_noise *nz, const double z[4]);
/* Squared Mahalanobis distance of z to the projected state (4 degrees of freedom; the 95% gate of
 * chi-square(4) is 9.4877). */
double pan__kf_gating_distance(const pan__kf *kf, const pan__kf_noise *nz, const double z[4]);

/* Box conversions: [x1,y1,x2,y2] <-> (cx, cy, w, h). */
void pan__box_to_xywh(const float box[4], double z[4]);
void pan__xywh_to_box(const double z[4], float box[4]);
/* IoU of two [x1,y1,x2,y2] boxes; 0 when disjoint or degenerate. Inline, with plain compares
 * rather than fminf/fmaxf (libm calls at -O2): it is the tracker's innermost loop. */
static inline float pan__box_iou(const float a[4], const float b[4])
{
    float iw = (a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]);
    if (!(iw > 0.f)) return 0.f;
    float ih = (a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]);
    if (!(ih > 0.f)) return 0.f;
    float inter = iw * ih;
    float uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return uni > 0.f ? inter / uni : 0.f;
}

/* ---------------------------------------------------------------- assignment (assignment.c)
 * Rectangular linear assignment with a cost limit, solved exactly by shortest augmenting paths
 * (Jonker-Volgenant's augmentation with dual potentials, in Crouse's rectangular form).
 *
 * cost is n x m, row-major. A pair (i, j) may be matched only if cost is finite and <= limit.
 * Among such matchings it minimises sum over matched (cost - limit): each match must beat leaving
 * both its row and column unmatched, as in lap.lapjv(extend_cost=True, cost_limit=limit) that
 * ByteTrack uses. Sparse problems (tracking: each track overlaps few detections) are split into
 * the connected components of the allowed pairs, each solved on its own: exact, since no allowed
 * pair joins two components, and far cheaper than one dense solve. row_to_col[i] (n ints) gets the column or -1; col_to_row (m ints, may be NULL)
 * the row or -1. Workspace buffers are grown on demand and reused: no allocation per frame once
 * warm. Returns the sum of the matched costs in *total (may be NULL). */
typedef struct pan__lap_ws {
    double *d; /* dense solver: potentials, path costs */
    size_t d_cap;
    int *i;
    size_t i_cap;
    double *sub; /* one component's cost sub-matrix */
    size_t sub_cap;
    int *g; /* component bookkeeping */
    size_t g_cap;
} pan__lap_ws;

pan_status pan__lap_solve(pan__lap_ws *ws, const double *cost, int n, int m, double limit,
                          int *row_to_col, int *col_to_row, double *total);
void pan__lap_ws_free(pan__lap_ws *ws);

#endif
