/* The HTTP API of `panoptes serve`, apart from the HTTP server that carries it (serve/http.c):
 * a request (method, path, Authorization header, body) in, a response (status, type, body) out,
 * so that every route and every error is tested without a socket.
 *
 *   GET    /                                  status page (HTML + JS)          open
 *   GET    /metrics                           Prometheus text format           open
 *   GET    /api/health                        200 running, 503 failed/stopping open
 *   GET    /api/stats                         the pipeline's statistics
 *   GET    /api/cameras                       [{"id", "name", "uri", "state", "fps", "frames", ...}]
 *   POST   /api/cameras                       {"uri": ..., "name": ..., options} -> 201 {"id": N}
 *   GET    /api/cameras/{id}                  one camera
 *   DELETE /api/cameras/{id}                  204; its results so far stay in the outputs
 *   GET    /api/cameras/{id}/snapshot.jpg     its latest frame with boxes and track ids
 *
 * With a token, every other /api request needs "Authorization: Bearer TOKEN" (401 otherwise);
 * the routes marked open stay open (the page holds no data; it asks for the token when the API
 * refuses it). Errors are JSON, {"error": "what went wrong and what to do"}: 400 malformed JSON,
 * unknown fields, bad values, an id that is not a number; 404 unknown camera or path; 405 a
 * method the path does not take; 413 a body over the limit (serve/http.c); 503 stopping. */
#ifndef PANOPTES_SERVE_API_H
#define PANOPTES_SERVE_API_H

#include <stddef.h>

#include "panoptes/status.h"
#include "serve/engine.h"

typedef struct pan_serve_request {
    const char *method;        /* "GET", "HEAD", "POST", "DELETE", ... */
    const char *path;          /* without the query string */
    const char *authorization; /* the header's value, or NULL */
    const char *body;          /* may be NULL when body_len is 0 */
    size_t body_len;
} pan_serve_request;

typedef struct pan_serve_response {
    int status;               /* HTTP status */
    const char *content_type; /* static string */
    void *body;               /* owned: freed by free_body */
    size_t len;
    void (*free_body)(void *);
    const char *allow;        /* 405: the methods the path takes */
    char location[48];        /* 201: the new camera's path */
    int www_authenticate;     /* 401: ask for a bearer token */
} pan_serve_response;

typedef struct pan_serve_api_params {
    pan_serve_engine engine;
    const char *token;        /* NULL = no authentication */
    int snapshot_timeout_ms;  /* how long a snapshot waits for the camera's next frame; 0 = 2000 */
    int jpeg_quality;         /* 0 = 80 */
} pan_serve_api_params;

typedef struct pan_serve_api pan_serve_api;

pan_status pan_serve_api_create(pan_serve_api **api, const pan_serve_api_params *params);
/* Replaces the token (SIGHUP re-reads the token file); NULL turns authentication off. */
pan_status pan_serve_api_set_token(pan_serve_api *api, const char *token);
/* Thread-safe: the HTTP server calls it from a thread per connection. */
void pan_serve_api_handle(pan_serve_api *api, const pan_serve_request *req, pan_serve_response *resp);
/* A JSON error response {"error": message}. */
void pan_serve_response_error(pan_serve_response *resp, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void pan_serve_response_clear(pan_serve_response *resp);
void pan_serve_api_destroy(pan_serve_api **api);

/* The status page (serve/page.c). */
extern const char pan_serve_page_html[];
extern const size_t pan_serve_page_html_len;

#endif
