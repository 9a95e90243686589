/* Internal: the one host implementation of sampling a YUV frame, shared by the preprocessing
 * reference (preprocess.c) and the ReID crops (roi_crop.c) so both follow src/vision/
 * preprocess.h's rules (bilinear, pixel centres aligned, edges clamped, 4:2:0 chroma centre-sited,
 * BT.601/709 and limited/full range). */
#ifndef PANOPTES_VISION_FRAME_SAMPLE_H
#define PANOPTES_VISION_FRAME_SAMPLE_H

#include "panoptes/frame.h"

/* R'G'B' (0–255, clamped) of host frame f at stored position (u, v); pixel (x, y)'s centre is
 * (x, y) in these coordinates. NV12 or YUV420P. */
void pan__frame_sample_rgb(const pan_frame *f, float u, float v, float rgb[3]);
/* Same at displayed position (ud, vd): the frame's rotation applied (display_rotation.h). */
void pan__frame_sample_rgb_displayed(const pan_frame *f, float ud, float vd, float rgb[3]);

/* Many samples on a grid (a crop): each column's source positions worked out once, then whole
 * rows. pan__frame_sample_rgb is the one-sample case of the same code. */
typedef struct pan__sample_tap {
    int i0, i1; /* the two source positions, clamped to the plane */
    float a;    /* the weight of i1 */
} pan__sample_tap;
pan__sample_tap pan__sample_tap_make(float u, int n);
/* Luma and chroma taps of stored column position u. */
void pan__frame_col_taps(const pan_frame *f, float u, pan__sample_tap *luma, pan__sample_tap *chroma);
/* RGB (3 floats each) of n samples at stored row position v, one per column's taps. */
void pan__frame_sample_row_rgb(const pan_frame *f, float v, int n, const pan__sample_tap *luma,
                               const pan__sample_tap *chroma, float *rgb);

#endif
