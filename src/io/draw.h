/* Boxes, track ids and labels drawn straight into a YUV 4:2:0 picture on the host (no RGB round
 * trip): what the annotated video (annotate.c) and serve's snapshots (serve/snapshot.c) show.
 * Box edges take the track's colour in luma and chroma; labels are white 5x7 glyphs on a dark
 * strip. Boxes follow detection.h: [x1, y1, x2, y2] in source pixels; anything outside the
 * picture is clipped. */
#ifndef PANOPTES_IO_DRAW_H
#define PANOPTES_IO_DRAW_H

#include <stdint.h>

#include "panoptes/detection.h"

/* Planar YUV 4:2:0: luma width x height, each chroma plane (width+1)/2 x (height+1)/2. */
typedef struct pan__yuv_canvas {
    uint8_t *y, *u, *v;
    int pitch_y, pitch_c; /* bytes per row */
    int width, height;    /* luma pixels */
} pan__yuv_canvas;

/* thick: edge width in pixels, drawn inwards. yuv: the colour (Y, Cb, Cr). */
void pan__draw_box(const pan__yuv_canvas *c, const float box[4], const uint8_t yuv[3], int thick);
/* The palette's colour k (0..7; taken modulo 8): tracks take their identity's. */
const uint8_t *pan__draw_colour(int64_t k);
/* A straight line from (x1, y1) to (x2, y2), thick x thick dots a pixel apart, clipped. */
void pan__draw_line(const pan__yuv_canvas *c, double x1, double y1, double x2, double y2, const uint8_t yuv[3],
                    int thick);
/* Text with its top-left corner at (x, y): digits, letters, '#', '.', ':', '-' (others blank). */
void pan__draw_text(const pan__yuv_canvas *c, int x, int y, const char *s);
/* A frame's results: each track (not removed) as a box in its identity's colour labelled
 * "#id label gN", thin when lost; without tracks, each detection labelled with its score; and
 * "cam N frame F" at the top left. */
void pan__draw_results(const pan__yuv_canvas *c, int camera, int64_t frame, const pan_detection *dets, int n_dets,
                       const pan_track_report *tracks, int n_tracks);

#endif
