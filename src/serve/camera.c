/* Camera descriptions for `panoptes serve` (src/serve/camera.h). */
#include "serve/camera.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A text field: a JSON string of 1..max bytes (0..max when may_be_empty) without control
 * characters (they would break log lines, metric labels and the status page). */
static pan_status set_text(char **dst, const json_t *v, size_t max, int may_be_empty, char *err, size_t n)
{
    if (!json_is_string(v)) {
        snprintf(err, n, "expected a string");
        return PAN_INVAL;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0 && !may_be_empty) {
        snprintf(err, n, "must not be empty");
        return PAN_INVAL;
    }
    if (len > max) {
        snprintf(err, n, "longer than %zu bytes", max);
        return PAN_INVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f) {
            snprintf(err, n, "contains a control character (byte %zu)", i);
            return PAN_INVAL;
        }
    }
    char *copy = len ? strdup(s) : NULL;
    if (len && !copy) return PAN_NOMEM;
    free(*dst);
    *dst = copy;
    return PAN_OK;
}

static pan_status get_int(const json_t *v, long long lo, long long hi, long long *out, char *err, size_t n)
{
    if (!json_is_integer(v)) {
        snprintf(err, n, "expected an integer from %lld to %lld", lo, hi);
        return PAN_INVAL;
    }
    long long x = json_integer_value(v);
    if (x < lo || x > hi) {
        snprintf(err, n, "%lld is out of range (%lld to %lld)", x, lo, hi);
        return PAN_INVAL;
    }
    *out = x;
    return PAN_OK;
}

pan_status pan_serve_camera_set(pan_serve_camera *c, const char *key, const json_t *v, char *err, size_t n)
{
    long long x;
    pan_status st;
    if (!strcmp(key, "uri")) return set_text(&c->uri, v, PAN_SERVE_URI_MAX, 0, err, n);
    if (!strcmp(key, "name")) return set_text(&c->name, v, PAN_SERVE_NAME_MAX, 1, err, n);
    if (!strcmp(key, "transport")) {
        const char *s = json_string_value(v);
        if (s && !strcmp(s, "tcp")) c->transport = 1;
        else if (s && !strcmp(s, "udp")) c->transport = 2;
        else {
            snprintf(err, n, "expected \"tcp\" or \"udp\"");
            return PAN_INVAL;
        }
        return PAN_OK;
    }
    if (!strcmp(key, "timeout_ms")) {
        if ((st = get_int(v, 1, 3600000, &x, err, n))) return st;
        c->timeout_ms = (int)x;
        return PAN_OK;
    }
    if (!strcmp(key, "reconnect")) {
        /* the user's 0 means "never retry"; the struct's 0 means "the default" */
        const char *s = json_string_value(v);
        if (s && !strcmp(s, "forever")) {
            c->reconnect = PAN_SERVE_RECONNECT_FOREVER;
            return PAN_OK;
        }
        if (s || !json_is_integer(v)) {
            snprintf(err, n, "expected a number of attempts (0 = none), -1 or \"forever\"");
            return PAN_INVAL;
        }
        if ((st = get_int(v, -1, 1000000, &x, err, n))) return st;
        c->reconnect = x == 0 ? PAN_SERVE_RECONNECT_NONE : (int)x;
        return PAN_OK;
    }
    if (!strcmp(key, "loop")) {
        if (!json_is_boolean(v)) {
            snprintf(err, n, "expected true or false");
            return PAN_INVAL;
        }
        c->loop = json_is_true(v) ? 1 : -1;
        return PAN_OK;
    }
    if (!strcmp(key, "max_frames")) {
        if ((st = get_int(v, 0, INT64_MAX, &x, err, n))) return st;
        c->max_frames = x == 0 ? -1 : x;
        return PAN_OK;
    }
    snprintf(err, n, "unknown field (known: " PAN_SERVE_CAMERA_FIELDS ")");
    return PAN_INVAL;
}

pan_status pan_serve_camera_check(const pan_serve_camera *c, char *err, size_t n)
{
    if (!c->uri) {
        snprintf(err, n, "uri: missing (every camera needs one)");
        return PAN_INVAL;
    }
    return PAN_OK;
}

pan_status pan_serve_camera_from_json(pan_serve_camera *c, const json_t *obj, char *err, size_t n)
{
    const char *key;
    json_t *v;
    char why[256];
    if (!json_is_object(obj)) {
        snprintf(err, n, "expected a JSON object such as {\"uri\": \"rtsp://...\", \"name\": \"door\"}");
        return PAN_INVAL;
    }
    json_object_foreach((json_t *)obj, key, v) {
        pan_status st = pan_serve_camera_set(c, key, v, why, sizeof why);
        if (st == PAN_INVAL) snprintf(err, n, "%.64s: %s", key, why);
        if (st) return st;
    }
    return pan_serve_camera_check(c, err, n);
}

json_t *pan_serve_camera_to_json(const pan_serve_camera *c)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "uri", json_string(c->uri ? c->uri : ""));
    json_object_set_new(o, "name", json_string(c->name ? c->name : ""));
    if (c->transport) json_object_set_new(o, "transport", json_string(c->transport == 2 ? "udp" : "tcp"));
    if (c->timeout_ms) json_object_set_new(o, "timeout_ms", json_integer(c->timeout_ms));
    if (c->reconnect == PAN_SERVE_RECONNECT_FOREVER) json_object_set_new(o, "reconnect", json_string("forever"));
    else if (c->reconnect) json_object_set_new(o, "reconnect", json_integer(c->reconnect == PAN_SERVE_RECONNECT_NONE ? 0 : c->reconnect));
    if (c->loop) json_object_set_new(o, "loop", json_boolean(c->loop > 0));
    if (c->max_frames) json_object_set_new(o, "max_frames", json_integer(c->max_frames < 0 ? 0 : c->max_frames));
    return o;
}

pan_status pan_serve_camera_copy(pan_serve_camera *dst, const pan_serve_camera *src)
{
    *dst = *src;
    dst->uri = src->uri ? strdup(src->uri) : NULL;
    dst->name = src->name ? strdup(src->name) : NULL;
    if ((src->uri && !dst->uri) || (src->name && !dst->name)) {
        pan_serve_camera_clear(dst);
        return PAN_NOMEM;
    }
    return PAN_OK;
}

static int str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

int pan_serve_camera_equal(const pan_serve_camera *a, const pan_serve_camera *b)
{
    return str_eq(a->uri, b->uri) && str_eq(a->name, b->name) && a->transport == b->transport &&
           a->timeout_ms == b->timeout_ms && a->reconnect == b->reconnect && a->loop == b->loop &&
           a->max_frames == b->max_frames;
}

void pan_serve_camera_clear(pan_serve_camera *c)
{
    if (!c) return;
    free(c->uri);
    free(c->name);
    memset(c, 0, sizeof *c);
}
