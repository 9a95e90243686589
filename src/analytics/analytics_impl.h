/* Internals of the analytics module shared by its files: the parsed analytics file, geometry,
 * per-camera state, and a small growable string for JSON. */
#ifndef PANOPTES_ANALYTICS_IMPL_H
#define PANOPTES_ANALYTICS_IMPL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/analytics.h"

/* ------------------------------------------------------------------------ the parsed file */

typedef struct pan__an_line {
    char *name;
    double a[2], b[2]; /* end points, source pixels */
    double band;       /* pixels */
    int *classes;      /* class ids that count, or NULL for all */
    int n_classes;
} pan__an_line;

typedef struct pan__an_zone {
    char *name;
    double (*poly)[2]; /* vertices, source pixels, in order (either winding) */
    int n;
    double band;
    int *classes;
    int n_classes;
} pan__an_zone;

typedef struct pan__an_cam_cfg {
    int camera; /* -1 for "*" */
    pan__an_line *lines;
    int n_lines;
    pan__an_zone *zones;
    int n_zones;
} pan__an_cam_cfg;

struct pan_analytics_config {
    pan__an_cam_cfg *cams;
    int n_cams;
    char *what; /* the file's name, for messages */
};

int pan__an_class_allowed(const int *classes, int n, int class_id);

/* ------------------------------------------------------------------------ geometry (geometry.c) */

/* Signed distance of p from the line a -> b (pixels; see analytics.h for the sign). */
double pan__an_line_distance(const double a[2], const double b[2], double px, double py);
/* 1 when the projection of p onto the line a -> b lies between a and b (inclusive). */
int pan__an_line_projects_within(const double a[2], const double b[2], double px, double py);
/* Signed distance of p from the polygon's boundary: positive inside (even-odd rule), negative
 * outside, pixels. */
double pan__an_polygon_distance(const double (*poly)[2], int n, double px, double py);
/* IoU of two [x1, y1, x2, y2] boxes. */
double pan__an_iou(const float a[4], const float b[4]);

/* ------------------------------------------------------------------------ JSON text (events.c) */

typedef struct pan__sb {
    char *s;
    size_t n, cap;
    int failed; /* out of memory: s holds what fitted */
} pan__sb;

void pan__sb_printf(pan__sb *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A JSON string literal (quotes, escapes) or null for NULL. */
void pan__sb_json_str(pan__sb *b, const char *s);
void pan__sb_free(pan__sb *b);
/* The same escaping straight to a file. */
void pan__an_fput_json_str(FILE *f, const char *s);
/* ISO 8601 UTC with milliseconds: 2026-12-05T10:11:12.345Z (buf >= 32 bytes). */
void pan__an_iso8601(double wall_s, char *buf, size_t size);

/* Fills ev->json from the other fields (into b, which the caller frees or reuses). */
void pan__an_event_json(pan__sb *b, pan_event *ev);

/* ------------------------------------------------------------------------ state (analytics.c) */

#define PAN__AN_HIST 8 /* bottom-centre points kept per track, for its velocity */

/* What counting knows of one physical object: one track, or a chain of tracks where each continues
 * the one before (see analytics.h). Line sides and zone visits live here, so a new id inherits them. */
typedef struct pan__an_obj {
    int refs;            /* track records pointing here; freed (and its visits closed) at 0 */
    int live;            /* of those, tracks not ended */
    int64_t last_frame;  /* last point seen, any of its tracks */
    double last_t;
    int64_t last_track, last_gid; /* the track that gave the last point, for zone_exit events */
    int last_class;
    float last_box[4];
    int64_t stamp;       /* scratch: counted in this occupancy pass */
    signed char *side;   /* per line: -1, +1 decided side, 0 not decided yet */
    unsigned char *inside; /* per zone */
    double *enter_t;     /* per zone: time of the zone_enter */
} pan__an_obj;

typedef struct pan__an_trk {
    int64_t id, global_id;
    int class_id;
    float box[4];
    int64_t first_frame, last_frame; /* frames with a confirmed report */
    double first_t, last_t;
    int64_t alive_frame;  /* last frame reported in any state (lost reports keep a track alive) */
    float hx[PAN__AN_HIST], hy[PAN__AN_HIST]; /* bottom centres, oldest first */
    int64_t hf[PAN__AN_HIST];
    int n_hist;
    pan__an_obj *obj;
    int ended;            /* track_end sent */
    int superseded;       /* a newer track continues it */
} pan__an_trk;

/* One past frame for traces: boxes no confirmed track explained (detections, tentative reports)
 * with track = 0, and the confirmed tracks' boxes with their ids. */
typedef struct pan__an_box {
    float box[4];
    int class_id;
    int64_t track;
} pan__an_box;

typedef struct pan__an_hframe {
    int64_t frame;  /* -1: empty slot */
    double t;
    pan__an_box *boxes;
    int n, cap;
} pan__an_hframe;

typedef struct pan__an_cam {
    int camera;
    char *name;
    const pan__an_line **lines; /* "*" first, then the camera's own; owned by the analytics' config copy */
    int n_lines;
    const pan__an_zone **zones;
    int n_zones;
    int64_t *in, *out;          /* per line */
    double **dwell;             /* per zone: finished visits, seconds */
    int *n_dwell, *cap_dwell;
    pan__an_trk *trk;           /* ascending id (the tracker's ids only grow) */
    int n_trk, cap_trk;
    pan__an_hframe *hist;       /* ring of trace_frames + 1 frames */
    int n_hist_slots;
    int width, height;          /* the current frame's size, 0 when unknown */
    int64_t frame;              /* the current frame */
    double t;
    int has_frame;
} pan__an_cam;

struct pan_analytics {
    pan_analytics_params p;
    pan_analytics_config *cfg;  /* a deep copy */
    pan__an_cam **cams;         /* by camera id, NULL until the camera's first frame */
    int n_cams;
    struct {
        pan_event_fn fn;
        void *opaque;
    } listeners[8];
    int n_listeners;
    int64_t events;
    pan__sb json;
    int64_t *gids;              /* global ids seen (open addressing, 0 = empty) */
    size_t n_gids, cap_gids;
    int64_t stamp;
};

/* The camera's state, made at its first use; NULL when out of memory. */
pan__an_cam *pan__an_get_cam(pan_analytics *a, int camera);
pan_status pan__an_config_copy(const pan_analytics_config *src, pan_analytics_config **dst);

/* trace.c */
pan_status pan__an_hist_push(pan__an_cam *c, const pan_analytics_frame *f, double t);
typedef struct pan__an_point {
    int64_t frame;
    double t;
    float box[4];
} pan__an_point;
/* The past of new track k (first reported at c->frame): up to cap points, oldest first, into pts;
 * *pred receives the track it continues, or NULL. */
/* 1 when box touches the border of the camera's frame (within 1% of its size, at least 4 px). */
int pan__an_at_border(const pan__an_cam *c, const float box[4]);
int pan__an_trace(const pan_analytics *a, pan__an_cam *c, const pan__an_trk *k, pan__an_point *pts, int cap,
                  pan__an_trk **pred);

#endif
