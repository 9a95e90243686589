/* A camera as a user of `panoptes serve` describes it: in the config file, in POST /api/cameras,
 * or with --camera. One validator for every way in, so the three accept the same fields with the
 * same rules and the same messages.
 *
 * Fields (JSON types; the config file's YAML scalars are converted to them first):
 *   uri         string, required: a file, an Annex-B stream, rtsp:// or http(s):// URL
 *   name        string, at most PAN_SERVE_NAME_MAX bytes ("" = none)
 *   transport   "tcp" or "udp" (RTSP)
 *   timeout_ms  integer, network timeout per blocking step
 *   reconnect   integer attempts after a failure (0 = fail at once), -1 or "forever"
 *   loop        boolean: restart a file at its end
 *   max_frames  integer: stop after this many frames (0 = all) */
#ifndef PANOPTES_SERVE_CAMERA_H
#define PANOPTES_SERVE_CAMERA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "panoptes/status.h"

#define PAN_SERVE_URI_MAX 4096
#define PAN_SERVE_NAME_MAX 128
#define PAN_SERVE_CAMERA_FIELDS "uri, name, transport, timeout_ms, reconnect, loop, max_frames"

/* Values follow pan_camera_params (pipeline.h), so that the pipeline adapter copies them as they
 * are: 0 everywhere means "the service's default". */
typedef struct pan_serve_camera {
    char *uri;
    char *name;         /* NULL when none */
    int transport;      /* 0 = default, 1 = TCP, 2 = UDP */
    int timeout_ms;     /* 0 = default */
    int reconnect;      /* 0 = default, n > 0 attempts, -1 forever, -2 none (fail at once) */
    int loop;           /* 0 = default, 1 = loop, -1 = play once */
    int64_t max_frames; /* 0 = default, n > 0 frames, -1 = all */
} pan_serve_camera;

#define PAN_SERVE_RECONNECT_FOREVER (-1)
#define PAN_SERVE_RECONNECT_NONE (-2)

/* Sets one field from a JSON value. PAN_INVAL with a message in err (no field name in it: the
 * caller knows where the field came from) for an unknown key or a bad value. */
pan_status pan_serve_camera_set(pan_serve_camera *c, const char *key, const json_t *value, char *err, size_t n);
/* A whole camera from a JSON object: every field set, the uri present. err names the field. */
pan_status pan_serve_camera_from_json(pan_serve_camera *c, const json_t *obj, char *err, size_t n);
/* PAN_INVAL when the uri is missing. */
pan_status pan_serve_camera_check(const pan_serve_camera *c, char *err, size_t n);
/* The fields a user set, as JSON (for listings and logs); new reference or NULL. */
json_t *pan_serve_camera_to_json(const pan_serve_camera *c);
pan_status pan_serve_camera_copy(pan_serve_camera *dst, const pan_serve_camera *src);
/* Same uri, name and options (the config reload matches cameras with it). */
int pan_serve_camera_equal(const pan_serve_camera *a, const pan_serve_camera *b);
/* Frees the strings and zeroes the struct. */
void pan_serve_camera_clear(pan_serve_camera *c);

#endif
