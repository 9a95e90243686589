/* Result sinks. Every sink writes a frame's results as soon as the frame completes and flushes,
 * so an interrupted run keeps every finished frame. */
#ifndef PANOPTES_SINK_H
#define PANOPTES_SINK_H

#include <stdint.h>

#include "panoptes/detection.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything known about one frame of one camera after the pipeline's stages. */
typedef struct pan_frame_result {
    int camera;     /* 0-based index of the camera on the command line */
    int64_t frame;  /* 0-based index of the frame in its camera's stream */
    double pts;     /* seconds; NAN when unknown (written as null) */
    int width, height;
    const pan_detection *detections;
    int n_detections;
    const pan_track_report *tracks;
    int n_tracks;
} pan_frame_result;

/* JSON Lines: one object per frame per camera:
 * {"camera":0,"frame":12,"pts":0.48,"width":768,"height":576,
 *  "detections":[{"class":0,"label":"person","score":0.91,"box":[x1,y1,x2,y2]}],
 *  "tracks":[{"id":3,"global_id":2,"class":0,"label":"person","score":0.88,"box":[...],"state":"confirmed"}]}
 * Boxes in source pixels (see detection.h), two decimals. path "-" writes to stdout. */
typedef struct pan_jsonl_sink pan_jsonl_sink;
pan_status pan_jsonl_sink_create(pan_jsonl_sink **sink, const char *path);
pan_status pan_jsonl_sink_write(pan_jsonl_sink *sink, const pan_frame_result *r);
void pan_jsonl_sink_destroy(pan_jsonl_sink **sink);

#ifdef __cplusplus
}
#endif
#endif
