/* Result sinks. Every sink writes a frame's results as soon as the frame completes and flushes,
 * so an interrupted run keeps every finished frame. */
#ifndef PANOPTES_SINK_H
#define PANOPTES_SINK_H

#include <stdint.h>

#include <stdio.h>

#include "panoptes/detection.h"
#include "panoptes/pipeline.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* JSON Lines: one object per frame per camera:
 * {"camera":0,["name":"door",]"frame":12,"pts":0.48,"width":768,"height":576,
 *  "detections":[{"class":0,"label":"person","score":0.91,"box":[x1,y1,x2,y2]}],
 *  "tracks":[{"id":3,"global_id":2,"class":0,"label":"person","score":0.88,"box":[...],"state":"confirmed"}]}
 * Boxes in source pixels (see detection.h), two decimals. path "-" writes to stdout. */
typedef struct pan_jsonl_sink pan_jsonl_sink;
pan_status pan_jsonl_sink_create(pan_jsonl_sink **sink, const char *path);
pan_status pan_jsonl_sink_write(pan_jsonl_sink *sink, const pan_frame_result *r);
/* More members of a frame's object, written after "tracks" by fn: `,"key":value...` into f. */
typedef void (*pan_jsonl_extra_fn)(void *opaque, const pan_frame_result *r, FILE *f);
void pan_jsonl_sink_set_extra(pan_jsonl_sink *sink, pan_jsonl_extra_fn fn, void *opaque);
void pan_jsonl_sink_destroy(pan_jsonl_sink **sink);

#ifdef __cplusplus
}
#endif
#endif
