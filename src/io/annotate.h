/* Annotated video: frames with boxes, track ids and labels drawn, encoded on the CPU through
 * libavcodec (H.264 via libx264 where the FFmpeg build has it, else MPEG-4 part 2) into MP4.
 * For people to look at; off by default since it needs the pixels on the host. */
#ifndef PANOPTES_ANNOTATE_H
#define PANOPTES_ANNOTATE_H

#include "panoptes/frame.h"
#include "io/sink.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pan_annotate pan_annotate;

/* fps: the stream's nominal frame rate (rate-control hint); timestamps come from the frames' pts. */
pan_status pan_annotate_create(pan_annotate **a, const char *path, int width, int height, double fps);
/* frame must be in host memory (NV12 or YUV420P) of the size given at create. */
pan_status pan_annotate_write(pan_annotate *a, const pan_frame *frame, const pan_frame_result *r);
/* Flushes the encoder and finishes the file. NULL-safe. */
void pan_annotate_destroy(pan_annotate **a);

/* Overlays: a consumer's own drawing on each frame (the analytics' lines and zones with their
 * counters), made after the picture is copied and before the boxes, in the frame's pixels (as
 * analysed, i.e. displayed). The canvas is valid only during the call. */
typedef struct pan_annotate_canvas pan_annotate_canvas;
typedef void (*pan_annotate_overlay_fn)(void *opaque, const pan_frame_result *r, pan_annotate_canvas *canvas);
void pan_annotate_set_overlay(pan_annotate *a, pan_annotate_overlay_fn fn, void *opaque);
/* A straight line (clipped to the frame) in palette colour `colour` (0..7), `thick` pixels wide. */
void pan_annotate_draw_line(pan_annotate_canvas *c, double x1, double y1, double x2, double y2, int colour, int thick);
/* White 5x7 text on a dark strip, top-left corner at (x, y). */
void pan_annotate_draw_text(pan_annotate_canvas *c, int x, int y, const char *text);

#ifdef __cplusplus
}
#endif
#endif
