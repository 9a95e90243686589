/* Analytics: counting lines and zones per camera, turning tracks into events (track_start,
 * track_end, line_cross, zone_enter, zone_exit, identity_link) for files and MQTT, and keeping the
 * counts that the JSONL lines and the counts file report. See README.md, "Analytics and events".
 *
 *   pan_analytics_config_load(&cfg, "lines.json", err, n)   the analytics file (config.c)
 *   pan_analytics_create(&a, cfg, &params)                  cfg may be destroyed afterwards
 *   pan_analytics_add_listener(a, fn, opaque)               events file, MQTT, your code
 *   pan_analytics_update(a, &frame)                         every frame of every camera, in order
 *   pan_analytics_end_camera(a, camera) / _finish(a)        open tracks and zone visits end
 *   pan_analytics_write_frame(a, camera, f)                 ,"analytics":{...} for the JSONL line
 *   pan_analytics_write_counts(a, camera, f)                the final counts
 *   pan_analytics_destroy(&a)
 *
 * Geometry. Coordinates are source pixels (the frame spans [0, width] x [0, height], y down). A
 * track's reference point is the bottom centre of its box. For a line a -> b the signed distance
 * of p is s(p) = ((b.x - a.x)(p.y - a.y) - (b.y - a.y)(p.x - a.x)) / |b - a|: positive on the
 * right of a -> b as seen on screen (y down), e.g. below a line drawn left to right. A side is
 * decided only where |s| >= band; in the band the last decided side holds, so jitter never counts.
 * A change of decided side - to + counts `in`, + to - `out`, when the point's projection onto the
 * line falls between a and b at that moment. A zone is a polygon; a point is decided inside when
 * at least band/2 inside its boundary, outside when at least band/2 outside (the same hysteresis).
 *
 * Robust counting. The per-camera tracker reports a track only once it is confirmed, and may lose
 * a person's id in an occlusion and give them a new one. Counting state therefore belongs to an
 * *object*: one track, or a chain of tracks where a new one continues one that vanished. When a
 * track first appears, its past is traced back through the detections (and tentative reports) of
 * the previous frames that no confirmed track explained, by overlap with its extrapolated box, for
 * up to trace_frames frames. Where that trace (or the new track's first box) meets the last box of
 * a track that vanished since, or lies where such a track's motion carried it, the new track
 * continues that track's object. The trace is then replayed through the lines and zones, so a
 * crossing made before confirmation, or across an id change, is counted once, at the frame it
 * happened. A track whose last box touched the frame's border walked out, and one whose first box
 * touches it walked in: neither is continued. `robust = 0` counts on the confirmed tracks alone (the naive rule, for comparison and
 * for ground truth).
 *
 * Threads: one pan_analytics belongs to one thread (the pipeline's delivery thread); listeners are
 * called on it. */
#ifndef PANOPTES_ANALYTICS_H
#define PANOPTES_ANALYTICS_H

#include <stdint.h>
#include <stdio.h>

#include "panoptes/detection.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ the analytics file */

/* {"cameras": {"0": {"lines": [{"name": "door", "points": [[x1, y1], [x2, y2]], "band": 20,
 *                               "classes": ["person"]}],
 *                    "zones": [{"name": "queue", "polygon": [[x, y], ...], "band": 10}]},
 *              "*": {...}}}
 * Camera keys are camera ids ("0", "1", ...); "*" applies to every camera (its lines and zones
 * come before the camera's own). band (pixels) and classes (COCO labels or ids) are optional:
 * band 20 (pixels) for lines and zones; every class. Names are unique within a camera. */
typedef struct pan_analytics_config pan_analytics_config;

/* Reads and checks the file. Errors (PAN_NOTFOUND, PAN_IO, PAN_CORRUPT for bad JSON, PAN_INVAL
 * for a bad value) fill err with a message naming the file, the camera key and the field:
 * "lines.json: camera \"0\", zone \"queue\": polygon has 2 points, a zone needs at least 3". */
pan_status pan_analytics_config_load(pan_analytics_config **cfg, const char *path, char *err, size_t err_size);
/* The same from text in memory; `what` names it in messages (a file name, "serve config"). */
pan_status pan_analytics_config_parse(pan_analytics_config **cfg, const char *text, size_t len, const char *what,
                                      char *err, size_t err_size);
/* PAN_INVAL, with a message naming the key, when the file names a camera id >= n_cameras. */
pan_status pan_analytics_config_check_cameras(const pan_analytics_config *cfg, int n_cameras, char *err,
                                              size_t err_size);
void pan_analytics_config_destroy(pan_analytics_config **cfg);

/* ------------------------------------------------------------------------ the analytics object */

typedef struct pan_analytics_params {
    int robust;           /* 1: trace before confirmation and continuation (default); 0: naive */
    double fps;           /* frame rate for frames without a pts: t = frame / fps (30) */
    /* A track not reported for more than this many frames has ended (tracks also end at once when
     * reported REMOVED). Keep it >= the tracker's max_time_lost, or a track that comes back after
     * an occlusion starts over (31: the default tracker keeps lost tracks 30 frames). */
    int end_after_frames;
    int trace_frames;     /* how far back a new track's past is traced (45) */
    int trace_max_gap;    /* frames without a match the trace bridges (8) */
    float trace_iou;      /* least IoU between the extrapolated box and a box of the trace (0.3) */
    /* A vanished track may be continued this long after it was last seen (90). Long occlusions are
     * what breaks tracks: on the synthetic scenes 30 frames left a third of the breaks unrepaired. */
    int continue_frames;
    /* Continuation by motion: the new track's first point within this many box heights of where
     * the vanished track's last velocity carried it (plus 2 px per frame of gap). (0.6) */
    float continue_dist;
} pan_analytics_params;

void pan_analytics_params_default(pan_analytics_params *p);

/* One frame of one camera: the fields of the pipeline's pan_frame_result that analytics reads. */
typedef struct pan_analytics_frame {
    int camera;
    const char *name;                /* the camera's name, or NULL */
    int64_t frame;                   /* 0-based, increasing per camera (gaps allowed) */
    double pts;                      /* seconds; NAN when unknown */
    int width, height;               /* the frame (boxes lie in [0, width] x [0, height]); 0 = unknown */
    const pan_detection *detections; /* may be NULL (then no trace before confirmation) */
    int n_detections;
    const pan_track_report *tracks;  /* confirmed (and, when the tracker reports them, tentative,
                                        lost and removed) tracks */
    int n_tracks;
} pan_analytics_frame;

typedef enum pan_event_type {
    PAN_EVENT_TRACK_START = 0, /* a track was confirmed */
    PAN_EVENT_TRACK_END,       /* first_seen, last_seen, duration_s (continued_by when it was) */
    PAN_EVENT_LINE_CROSS,      /* line, direction */
    PAN_EVENT_ZONE_ENTER,      /* zone */
    PAN_EVENT_ZONE_EXIT,       /* zone, dwell_s */
    PAN_EVENT_IDENTITY_LINK,   /* the track joined global identity global_id (previous_global_id) */
} pan_event_type;

const char *pan_event_type_name(pan_event_type type);

/* One event. `json` is the whole event as one JSON object (no newline), as written to the events
 * file and published over MQTT:
 * {"event":"line_cross","camera":0,"camera_name":"door","frame":412,"pts":13.733,
 *  "time":"2026-12-05T10:11:12.345Z","track_id":7,"global_id":3,"class":0,"label":"person",
 *  "box":[x1,y1,x2,y2],"line":"door","direction":"in"}
 * Valid only during the listener call. */
typedef struct pan_event {
    pan_event_type type;
    int camera;
    const char *camera_name; /* or NULL */
    int64_t frame;
    double pts;              /* seconds; NAN when unknown */
    double wall_s;           /* wall-clock time of the event, seconds since 1970 (UTC) */
    int64_t track_id, global_id;
    int class_id;
    float box[4];
    const char *line, *direction; /* line_cross */
    const char *zone;             /* zone_enter, zone_exit */
    double dwell_s;               /* zone_exit */
    double first_seen, last_seen, duration_s; /* track_end: times (as pts) */
    int64_t continues, continued_by;          /* track_start / track_end of a continued track, or 0 */
    int64_t previous_global_id;               /* identity_link */
    const char *json;
} pan_event;

typedef void (*pan_event_fn)(void *opaque, const pan_event *event);

typedef struct pan_analytics pan_analytics;

pan_status pan_analytics_create(pan_analytics **a, const pan_analytics_config *cfg, const pan_analytics_params *params);
void pan_analytics_destroy(pan_analytics **a);
/* Listeners are called for every event, in order of registration (at most 8). */
pan_status pan_analytics_add_listener(pan_analytics *a, pan_event_fn fn, void *opaque);
/* Advances the frame's camera. Cameras are independent; a camera's frames must come in order. */
pan_status pan_analytics_update(pan_analytics *a, const pan_analytics_frame *frame);
/* The camera's tracks end (track_end, zone_exit); call when it ends. Its counts are kept. */
pan_status pan_analytics_end_camera(pan_analytics *a, int camera);
/* Every camera's tracks end. */
pan_status pan_analytics_finish(pan_analytics *a);

/* Writes ,"analytics":{"lines":{"door":{"in":N,"out":M}},"zones":{"queue":{"person":K}}} for the
 * camera (cumulative line counts, current occupancy by class); nothing for a camera without lines
 * or zones. The JSONL sink's extra-member hook. */
void pan_analytics_write_frame(pan_analytics *a, int camera, FILE *f);
/* Writes {"lines":{"door":{"in":N,"out":M}},"zones":{"queue":{"dwell_s":[...]}}} and a newline:
 * the camera's final counts (call after finish for complete dwell lists). */
pan_status pan_analytics_write_counts(pan_analytics *a, int camera, FILE *f);

/* Counts of one camera's line / zone by name; PAN_NOTFOUND if none has that name. */
pan_status pan_analytics_line_counts(const pan_analytics *a, int camera, const char *line, int64_t *in, int64_t *out);
/* Dwell times (seconds) of the finished visits of a zone, in order of exit; valid until the next call. */
pan_status pan_analytics_zone_dwell(const pan_analytics *a, int camera, const char *zone, const double **dwell_s,
                                    int *n);
/* Current occupancy of a zone, all classes. */
pan_status pan_analytics_zone_occupancy(const pan_analytics *a, int camera, const char *zone, int *n);
/* Events emitted so far, all types. */
int64_t pan_analytics_event_count(const pan_analytics *a);

/* ------------------------------------------------------------------------ events file (event_file.c) */

/* A listener writing one event per line (JSON Lines), flushed per event. path "-" = stdout. */
typedef struct pan_event_file pan_event_file;
pan_status pan_event_file_create(pan_event_file **ef, const char *path);
/* For pan_analytics_add_listener (opaque = the pan_event_file). A write error is logged once. */
void pan_event_file_write(void *ef, const pan_event *event);
/* PAN_IO when a write failed. */
pan_status pan_event_file_status(const pan_event_file *ef);
void pan_event_file_destroy(pan_event_file **ef);

#ifdef __cplusplus
}
#endif
#endif
