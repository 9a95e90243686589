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

#ifdef __cplusplus
}
#endif
#endif
