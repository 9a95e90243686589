/* libmicrohttpd server for `panoptes serve` (src/serve/http.h). */
#include "serve/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "panoptes/log.h"

struct pan_serve_http {
    struct MHD_Daemon *daemon;
    pan_serve_api *api;
    size_t max_body;
    int port;
};

/* One request in progress: its body so far. */
typedef struct request_state {
    char *body;
    size_t len, cap;
    int too_big;
} request_state;

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    if (!PAN_LOG_ENABLED(PAN_LOG_WARN)) return;
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n') line[--n] = '\0';
    pan_log_warn("serve", -1, "http: %s", line);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    request_state *rs = *con_cls;
    if (!rs) return;
    free(rs->body);
    free(rs);
    *con_cls = NULL;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, pan_serve_response *r)
{
    struct MHD_Response *resp;
    if (r->body && r->free_body)
        resp = MHD_create_response_from_buffer_with_free_callback(r->len, r->body, r->free_body);
    else
        resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        pan_serve_response_clear(r);
        return MHD_NO;
    }
    r->body = NULL; /* the response owns it now */
    if (r->content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->location[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
    if (r->www_authenticate) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"panoptes\"");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    pan_serve_response_clear(r);
    return ret;
}

static enum MHD_Result too_big(pan_serve_http *h, struct MHD_Connection *conn)
{
    pan_serve_response r = {0};
    pan_serve_response_error(&r, 413, "request body larger than %zu bytes", h->max_body);
    return send_response(conn, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    pan_serve_http *h = cls;
    request_state *rs = *con_cls;
    if (!rs) {
        if (!(rs = calloc(1, sizeof *rs))) return MHD_NO;
        *con_cls = rs;
        /* a declared length over the limit is refused before the body is read (no 100 Continue) */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > h->max_body) {
            rs->too_big = 1;
            return too_big(h, conn);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t add = *upload_data_size;
        *upload_data_size = 0;
        if (rs->too_big || rs->len + add > h->max_body) { /* chunked, or more than declared */
            rs->too_big = 1;
            return MHD_YES;
        }
        if (rs->len + add + 1 > rs->cap) {
            size_t cap = rs->cap ? rs->cap : 1024;
            while (cap < rs->len + add + 1) cap *= 2;
            char *grown = realloc(rs->body, cap);
            if (!grown) return MHD_NO;
            rs->body = grown;
            rs->cap = cap;
        }
        memcpy(rs->body + rs->len, upload_data, add);
        rs->len += add;
        rs->body[rs->len] = '\0';
        return MHD_YES;
    }
    if (rs->too_big) return too_big(h, conn);

    /* url is the path, already percent-decoded; MHD keeps the query string apart */
    pan_serve_request req = {
        .method = method,
        .path = url,
        .authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        .body = rs->body,
        .body_len = rs->len,
    };
    pan_serve_response r;
    pan_serve_api_handle(h->api, &req, &r);
    pan_log_debug("serve", -1, "%s %s -> %d", method, url, r.status);
    return send_response(conn, &r);
}

/* Binds the listening socket here rather than in MHD, so that a failure says why (errno). */
static int bind_socket(const char *host, int port, int *is_v6, char *err, size_t n)
{
    struct addrinfo hints = {0}, *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(*host ? host : "0.0.0.0", service, &hints, &res);
    if (rc) {
        snprintf(err, n, "%s:%d: %s", host, port, gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
            saved = errno;
            close(fd);
            fd = -1;
            continue;
        }
        *is_v6 = ai->ai_family == AF_INET6;
    }
    freeaddrinfo(res);
    if (fd < 0) snprintf(err, n, "cannot listen on %s%s%s:%d: %s", strchr(host, ':') ? "[" : "", host,
                         strchr(host, ':') ? "]" : "", port, strerror(saved));
    return fd;
}

pan_status pan_serve_http_create(pan_serve_http **out, const pan_serve_http_params *p, char *err, size_t n)
{
    int is_v6 = 0;
    *out = NULL;
    pan_serve_http *h = calloc(1, sizeof *h);
    if (!h) return PAN_NOMEM;
    h->api = p->api;
    h->max_body = p->max_body ? p->max_body : 64 * 1024;
    int fd = bind_socket(p->host ? p->host : "127.0.0.1", p->port, &is_v6, err, n);
    if (fd < 0) {
        free(h);
        return PAN_NET;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (is_v6) flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, /* first, or MHD logs to stderr before it */
                                 MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)(p->max_connections > 0 ? p->max_connections : 64),
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                 MHD_OPTION_END);
    if (!h->daemon) {
        close(fd);
        free(h);
        snprintf(err, n, "cannot start the HTTP server (libmicrohttpd) on port %d", p->port);
        return PAN_NET;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : p->port;
    *out = h;
    return PAN_OK;
}

int pan_serve_http_port(const pan_serve_http *h) { return h->port; }

void pan_serve_http_destroy(pan_serve_http **ph)
{
    if (!ph || !*ph) return;
    pan_serve_http *h = *ph;
    *ph = NULL;
    MHD_stop_daemon(h->daemon);
    free(h);
}
