/* Analytics as a consumer of a pipeline (pipeline.h): the analytics object, its events file and
 * its MQTT publisher behind one pan_consumer. Register it BEFORE the JSONL consumer, so that a
 * frame's JSONL line (through pan_analytics_outputs_jsonl_extra) carries the counts including
 * that frame. */
#ifndef PANOPTES_ANALYTICS_CONSUMER_H
#define PANOPTES_ANALYTICS_CONSUMER_H

#include <stdio.h>

#include "analytics/analytics.h"
#include "io/annotate.h"
#include "panoptes/pipeline.h"

typedef struct pan_analytics_outputs_params {
    const char *analytics_path; /* the analytics file, or NULL (events without lines and zones) */
    const char *events_path;    /* JSON Lines of events ("-" = stdout), or NULL */
    const char *mqtt_url;       /* mqtt://host[:port]/prefix, or NULL */
    int mqtt_queue;             /* events kept while the broker is unreachable; 0 = 10000 */
    int n_cameras;              /* > 0: camera keys of the file must be below it */
} pan_analytics_outputs_params;

typedef struct pan_analytics_outputs pan_analytics_outputs;

/* Loads and checks the file, opens the events file, starts the MQTT publisher (which never waits
 * for the broker). PAN_INVAL for a missing or bad analytics file or a bad URL (err names the file,
 * camera key and field, or the URL: a usage error), PAN_IO for an events file that cannot be
 * opened, PAN_UNSUPPORTED for --mqtt in a build without libmosquitto. */
pan_status pan_analytics_outputs_create(pan_analytics_outputs **o, const pan_analytics_outputs_params *p, char *err,
                                        size_t err_size);
/* Registers the consumer on pl (before pan_pipeline_start). Required when it writes an events
 * file: a file that cannot be written fails the run, as for the other result files. */
pan_status pan_analytics_outputs_attach(pan_analytics_outputs *o, pan_pipeline *pl);
/* pan_jsonl_sink_set_extra's hook (opaque = the outputs): ,"analytics":{...} for the frame's camera. */
void pan_analytics_outputs_jsonl_extra(void *o, const pan_frame_result *r, FILE *f);
pan_analytics *pan_analytics_outputs_analytics(pan_analytics_outputs *o);
/* pan_outputs_params.annotate_overlay (opaque = pan_analytics_outputs_analytics()): draws the
 * camera's lines (with their `in` side and counts) and zones (with their occupancy). overlay.c */
void pan_analytics_overlay(void *analytics, const pan_frame_result *r, pan_annotate_canvas *canvas);
/* After pan_pipeline_stop: closes the events file, delivers what MQTT still holds (a few seconds
 * at most) and logs its counts. NULL-safe. */
void pan_analytics_outputs_destroy(pan_analytics_outputs **o);

#endif
