/* JPEG for snapshots: TurboJPEG compresses the YUV 4:2:0 planes as they are (no RGB step). */
#ifndef PANOPTES_SERVE_JPEG_H
#define PANOPTES_SERVE_JPEG_H

#include <stddef.h>

#include "panoptes/status.h"
#include "serve/snapshot.h"

/* quality 1..100. *out is freed with pan_serve_jpeg_free. */
pan_status pan_serve_jpeg_encode(const pan_serve_image *img, int quality, unsigned char **out, size_t *size);
void pan_serve_jpeg_free(void *buf);

#endif
