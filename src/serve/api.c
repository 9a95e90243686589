/* Routes of the `panoptes serve` HTTP API (src/serve/api.h). */
#include "serve/api.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panoptes/log.h"
#include "serve/jpeg.h"
#include "serve/metrics.h"
#include "serve/snapshot.h"

struct pan_serve_api {
    pan_serve_engine engine;
    pthread_mutex_t token_mu;
    char *token;
    int snapshot_timeout_ms;
    int jpeg_quality;
};

pan_status pan_serve_api_create(pan_serve_api **out, const pan_serve_api_params *p)
{
    pan_serve_api *api = calloc(1, sizeof *api);
    *out = NULL;
    if (!api) return PAN_NOMEM;
    api->engine = p->engine;
    api->snapshot_timeout_ms = p->snapshot_timeout_ms > 0 ? p->snapshot_timeout_ms : 2000;
    api->jpeg_quality = p->jpeg_quality > 0 && p->jpeg_quality <= 100 ? p->jpeg_quality : 80;
    pthread_mutex_init(&api->token_mu, NULL);
    if (p->token && !(api->token = strdup(p->token))) {
        pan_serve_api_destroy(&api);
        return PAN_NOMEM;
    }
    *out = api;
    return PAN_OK;
}

pan_status pan_serve_api_set_token(pan_serve_api *api, const char *token)
{
    char *copy = token ? strdup(token) : NULL;
    if (token && !copy) return PAN_NOMEM;
    pthread_mutex_lock(&api->token_mu);
    free(api->token);
    api->token = copy;
    pthread_mutex_unlock(&api->token_mu);
    return PAN_OK;
}

void pan_serve_api_destroy(pan_serve_api **papi)
{
    if (!papi || !*papi) return;
    pan_serve_api *api = *papi;
    *papi = NULL;
    free(api->token);
    pthread_mutex_destroy(&api->token_mu);
    free(api);
}

void pan_serve_response_clear(pan_serve_response *r)
{
    if (r->body && r->free_body) r->free_body(r->body);
    memset(r, 0, sizeof *r);
}

static void set_body(pan_serve_response *r, int status, const char *type, void *body, size_t len, void (*fr)(void *))
{
    pan_serve_response_clear(r);
    r->status = status;
    r->content_type = type;
    r->body = body;
    r->len = len;
    r->free_body = fr;
}

/* Takes the reference. */
static void reply_json(pan_serve_response *r, int status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        set_body(r, 500, "application/json", strdup("{\"error\":\"out of memory\"}"), 25, free);
        return;
    }
    set_body(r, status, "application/json", text, strlen(text), free);
}

void pan_serve_response_error(pan_serve_response *r, int status, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_json(r, status, json_pack("{s:s}", "error", msg));
}

static void method_not_allowed(pan_serve_response *r, const char *method, const char *path, const char *allow)
{
    pan_serve_response_error(r, 405, "%s is not allowed on %s (allowed: %s)", method, path, allow);
    r->allow = allow;
}

/* Constant-time: how long the comparison takes says nothing about how much of the token matched. */
static int authorized(pan_serve_api *api, const char *header)
{
    int ok;
    pthread_mutex_lock(&api->token_mu);
    if (!api->token) {
        ok = 1;
    } else if (!header || strncmp(header, "Bearer ", 7)) {
        ok = 0;
    } else {
        const char *given = header + 7;
        size_t a = strlen(given), b = strlen(api->token);
        unsigned diff = (unsigned)(a != b);
        for (size_t i = 0; i < b; i++) diff |= (unsigned char)(given[i < a ? i : 0] ^ api->token[i]);
        ok = diff == 0;
    }
    pthread_mutex_unlock(&api->token_mu);
    return ok;
}

/* A camera id in a path: 1 to 9 decimal digits, nothing else. */
static int parse_id(const char *s, size_t len, int *id)
{
    if (len == 0 || len > 9) return 0;
    int x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        x = x * 10 + (s[i] - '0');
    }
    *id = x;
    return 1;
}

static pan_status stats(pan_serve_api *api, pan_serve_stats *s, pan_serve_response *r)
{
    memset(s, 0, sizeof *s);
    pan_status st = api->engine.get_stats(api->engine.opaque, s);
    if (st) pan_serve_response_error(r, 500, "cannot read the pipeline's statistics: %s", pan_status_str(st));
    return st;
}

static const pan_serve_camera_info *find_camera(const pan_serve_stats *s, int id)
{
    for (int i = 0; i < s->n_cameras; i++)
        if (s->cameras[i].id == id) return &s->cameras[i];
    return NULL;
}

static void get_health(pan_serve_api *api, pan_serve_response *r)
{
    pan_serve_stats s;
    if (stats(api, &s, r)) return;
    const char *state = s.failed ? "failed" : s.running ? "running" : "stopping";
    json_t *o = json_pack("{s:s,s:f,s:i,s:i}", "status", state, "uptime_s", s.uptime_s, "cameras", s.n_cameras,
                          "failed_cameras", s.failed_cameras);
    if (o && s.failed) json_object_set_new(o, "error", json_string(s.error ? s.error : ""));
    reply_json(r, s.running && !s.failed ? 200 : 503, o);
    pan_serve_stats_free(&s);
}

static void get_cameras(pan_serve_api *api, pan_serve_response *r)
{
    pan_serve_stats s;
    if (stats(api, &s, r)) return;
    json_t *a = json_array();
    for (int i = 0; a && i < s.n_cameras; i++) json_array_append_new(a, pan_serve_camera_info_json(&s.cameras[i]));
    reply_json(r, 200, a);
    pan_serve_stats_free(&s);
}

static void post_camera(pan_serve_api *api, const pan_serve_request *req, pan_serve_response *r)
{
    json_error_t jerr;
    char why[512];
    pan_serve_camera cam = {0};
    int id = -1;
    if (req->body_len == 0) {
        pan_serve_response_error(r, 400, "empty body: send a JSON object such as {\"uri\": \"rtsp://...\", \"name\": \"door\"}");
        return;
    }
    json_t *o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        pan_serve_response_error(r, 400, "malformed JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        return;
    }
    pan_status st = pan_serve_camera_from_json(&cam, o, why, sizeof why);
    json_decref(o);
    if (st == PAN_INVAL) {
        pan_serve_response_error(r, 400, "%s", why);
    } else if (st) {
        pan_serve_response_error(r, 500, "%s", pan_status_str(st));
    } else if ((st = api->engine.add_camera(api->engine.opaque, &cam, &id))) {
        if (st == PAN_LIMIT) pan_serve_response_error(r, 409, "too many cameras at once: remove one first");
        else if (st == PAN_CLOSED) pan_serve_response_error(r, 503, "the service is stopping");
        else pan_serve_response_error(r, 500, "cannot add camera %s: %s", cam.uri, pan_status_str(st));
    } else {
        pan_log_info("serve", id, "added %s%s%s through the API", cam.uri, cam.name ? " as " : "", cam.name ? cam.name : "");
        reply_json(r, 201, json_pack("{s:i}", "id", id));
        snprintf(r->location, sizeof r->location, "/api/cameras/%d", id);
    }
    pan_serve_camera_clear(&cam);
}

static void get_camera(pan_serve_api *api, int id, pan_serve_response *r)
{
    pan_serve_stats s;
    if (stats(api, &s, r)) return;
    const pan_serve_camera_info *c = find_camera(&s, id);
    if (c) reply_json(r, 200, pan_serve_camera_info_json(c));
    else pan_serve_response_error(r, 404, "no camera %d (GET /api/cameras lists them)", id);
    pan_serve_stats_free(&s);
}

static void delete_camera(pan_serve_api *api, int id, pan_serve_response *r)
{
    pan_status st = api->engine.remove_camera(api->engine.opaque, id);
    if (st == PAN_NOTFOUND) {
        pan_serve_response_error(r, 404, "no camera %d (GET /api/cameras lists them)", id);
    } else if (st) {
        pan_serve_response_error(r, st == PAN_CLOSED ? 503 : 500, "cannot remove camera %d: %s", id, pan_status_str(st));
    } else {
        pan_log_info("serve", id, "removed through the API");
        set_body(r, 204, NULL, NULL, 0, NULL);
    }
}

static void get_snapshot(pan_serve_api *api, int id, pan_serve_response *r)
{
    pan_serve_image *img = NULL;
    pan_status st = api->engine.snapshot(api->engine.opaque, id, api->snapshot_timeout_ms, &img);
    switch (st) {
    case PAN_OK: break;
    case PAN_NOTFOUND: pan_serve_response_error(r, 404, "no camera %d (GET /api/cameras lists them)", id); return;
    case PAN_EOF: pan_serve_response_error(r, 404, "camera %d ended before a snapshot was taken", id); return;
    case PAN_TIMEOUT:
        pan_serve_response_error(r, 503, "camera %d sent no frame within %d ms (GET /api/cameras/%d says why)", id,
                                 api->snapshot_timeout_ms, id);
        return;
    case PAN_CLOSED: pan_serve_response_error(r, 503, "the service is stopping"); return;
    default: pan_serve_response_error(r, 500, "snapshot of camera %d: %s", id, pan_status_str(st)); return;
    }
    unsigned char *jpeg;
    size_t len;
    st = pan_serve_jpeg_encode(img, api->jpeg_quality, &jpeg, &len);
    pan_serve_image_unref(&img);
    if (st) pan_serve_response_error(r, 500, "snapshot of camera %d: JPEG encoding failed", id);
    else set_body(r, 200, "image/jpeg", jpeg, len, pan_serve_jpeg_free);
}

static void get_metrics(pan_serve_api *api, pan_serve_response *r)
{
    pan_serve_stats s;
    size_t len;
    if (stats(api, &s, r)) return;
    char *text = pan_serve_metrics_text(&s, &len);
    pan_serve_stats_free(&s);
    if (!text) pan_serve_response_error(r, 500, "out of memory");
    else set_body(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, free);
}

/* /api/cameras/{id}[/snapshot.jpg] */
static void camera_routes(pan_serve_api *api, const pan_serve_request *req, const char *rest, pan_serve_response *r)
{
    const char *slash = strchr(rest, '/');
    size_t id_len = slash ? (size_t)(slash - rest) : strlen(rest);
    int id, get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    if (!parse_id(rest, id_len, &id)) {
        pan_serve_response_error(r, 400, "camera id '%.*s' is not a number (GET /api/cameras lists the ids)",
                                 (int)(id_len > 64 ? 64 : id_len), rest);
        return;
    }
    if (!slash) {
        if (get) get_camera(api, id, r);
        else if (!strcmp(req->method, "DELETE")) delete_camera(api, id, r);
        else method_not_allowed(r, req->method, req->path, "GET, DELETE");
    } else if (!strcmp(slash, "/snapshot.jpg")) {
        if (get) get_snapshot(api, id, r);
        else method_not_allowed(r, req->method, req->path, "GET");
    } else {
        pan_serve_response_error(r, 404, "no such path: %.200s", req->path);
    }
}

void pan_serve_api_handle(pan_serve_api *api, const pan_serve_request *req, pan_serve_response *r)
{
    char path[512];
    int get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    memset(r, 0, sizeof *r);
    /* one trailing slash is forgiven ("/api/cameras/") */
    size_t len = strlen(req->path);
    if (len >= sizeof path) {
        pan_serve_response_error(r, 404, "no such path (%zu bytes long)", len);
        return;
    }
    memcpy(path, req->path, len + 1);
    if (len > 1 && path[len - 1] == '/') path[--len] = '\0';

    if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
        if (get) set_body(r, 200, "text/html; charset=utf-8", (void *)pan_serve_page_html, pan_serve_page_html_len, NULL);
        else method_not_allowed(r, req->method, path, "GET");
        return;
    }
    if (!strcmp(path, "/metrics")) {
        if (get) get_metrics(api, r);
        else method_not_allowed(r, req->method, path, "GET");
        return;
    }
    if (!strcmp(path, "/api/health")) {
        if (get) get_health(api, r);
        else method_not_allowed(r, req->method, path, "GET");
        return;
    }
    if (strncmp(path, "/api/", 5) && strcmp(path, "/api")) {
        pan_serve_response_error(r, 404, "no such path: %.200s (the API is under /api, the status page at /)", path);
        return;
    }
    if (!authorized(api, req->authorization)) {
        pan_serve_response_error(r, 401, "this service needs \"Authorization: Bearer TOKEN\" (the token is in the "
                                         "file given with --token-file)");
        r->www_authenticate = 1;
        return;
    }
    if (!strcmp(path, "/api/stats")) {
        pan_serve_stats s;
        if (!get) method_not_allowed(r, req->method, path, "GET");
        else if (!stats(api, &s, r)) reply_json(r, 200, pan_serve_stats_json(&s)), pan_serve_stats_free(&s);
    } else if (!strcmp(path, "/api/cameras")) {
        if (get) get_cameras(api, r);
        else if (!strcmp(req->method, "POST")) post_camera(api, req, r);
        else method_not_allowed(r, req->method, path, "GET, POST");
    } else if (!strncmp(path, "/api/cameras/", 13)) {
        camera_routes(api, req, path + 13, r);
    } else {
        pan_serve_response_error(r, 404, "no such path: %.200s (see GET /api/cameras, /api/stats, /api/health)", path);
    }
}
