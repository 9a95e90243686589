/* The HTTP server of `panoptes serve` (libmicrohttpd): a thread per connection (a snapshot
 * request may wait for its camera's next frame without holding up the others), at most
 * max_connections at once, request bodies up to max_body bytes (413 beyond), everything else
 * handed to serve/api.c. */
#ifndef PANOPTES_SERVE_HTTP_H
#define PANOPTES_SERVE_HTTP_H

#include <stddef.h>

#include "panoptes/status.h"
#include "serve/api.h"

typedef struct pan_serve_http_params {
    const char *host;     /* numeric IPv4 or IPv6 address, or a name; "" = every IPv4 address */
    int port;             /* 0 = any free port (pan_serve_http_port says which) */
    pan_serve_api *api;
    size_t max_body;      /* 0 = 64 KiB */
    int max_connections;  /* 0 = 64 */
} pan_serve_http_params;

typedef struct pan_serve_http pan_serve_http;

/* Binds and starts serving. err says why not ("127.0.0.1:8080: Address already in use"). */
pan_status pan_serve_http_create(pan_serve_http **http, const pan_serve_http_params *params, char *err, size_t n);
int pan_serve_http_port(const pan_serve_http *http);
/* Stops accepting, waits for the requests in progress, frees. NULL-safe. */
void pan_serve_http_destroy(pan_serve_http **http);

#endif
