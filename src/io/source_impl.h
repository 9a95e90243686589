/* Internal to the source module (source.c, source_probe.c, source_scan.c). */
#ifndef PANOPTES_IO_SOURCE_IMPL_H
#define PANOPTES_IO_SOURCE_IMPL_H

#include <libavformat/avformat.h>

#include "io/source.h"

/* Fills everything in info that the stream and container say (not is_live, rtsp_transport). */
void pan__source_describe(AVFormatContext *fmt, AVStream *vs, pan_source_info *info);
/* Display rotation of a stream, clockwise degrees 0/90/180/270. */
int pan__source_stream_rotation(const AVStream *vs);

#endif
