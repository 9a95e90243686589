/* A minimal HTTP/1.1 client for the `panoptes serve` tests: one request per connection
 * (Connection: close), the whole reply read into memory. Plain sockets, so that the tests need no
 * client library and can send what a careful client never would (huge declared lengths, chunked
 * bodies, malformed JSON). */
#ifndef PANOPTES_TEST_SERVE_HTTP_H
#define PANOPTES_TEST_SERVE_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct http_reply {
    int status;      /* 0 when the exchange failed */
    char head[4096]; /* status line and headers */
    char *body;      /* malloc'd, NUL-terminated */
    size_t len;
} http_reply;

static inline void http_reply_free(http_reply *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* A header's value from the reply ("" when absent), copied into a static slot. */
static inline const char *http_header(const http_reply *r, const char *name)
{
    static __thread char value[512];
    size_t n = strlen(name);
    value[0] = '\0';
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (!strncasecmp(line, name, n) && line[n] == ':') {
            line += n + 1;
            while (*line == ' ') line++;
            const char *end = strstr(line, "\r\n");
            size_t len = end ? (size_t)(end - line) : strlen(line);
            if (len >= sizeof value) len = sizeof value - 1;
            memcpy(value, line, len);
            value[len] = '\0';
            break;
        }
    }
    return value;
}

static inline int http_send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

/* Sends raw bytes as the request (headers and body as given) and reads the reply. */
static inline int http_raw(int port, const char *request, size_t len, http_reply *out)
{
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    http_send_all(fd, request, len); /* the server may answer (413) before taking it all */
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
        ssize_t k = recv(fd, buf + n, cap - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fd);
    buf[n] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
        free(buf);
        out->status = 0;
        return -1;
    }
    size_t head = (size_t)(sep - buf);
    if (head >= sizeof out->head) head = sizeof out->head - 1;
    memcpy(out->head, buf, head);
    out->head[head] = '\0';
    out->len = n - (size_t)(sep + 4 - buf);
    out->body = malloc(out->len + 1);
    memcpy(out->body, sep + 4, out->len);
    out->body[out->len] = '\0';
    free(buf);
    return 0;
}

/* One request; extra: more header lines, each ending in \r\n (or NULL). */
static inline int http_do(int port, const char *method, const char *path, const char *extra, const char *body, http_reply *out)
{
    size_t blen = body ? strlen(body) : 0;
    size_t cap = strlen(path) + (extra ? strlen(extra) : 0) + blen + 256;
    char *req = malloc(cap);
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s", method, path,
                     extra ? extra : "");
    if (body) n += snprintf(req + n, cap - (size_t)n, "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    if (body) memcpy(req + n, body, blen);
    int rc = http_raw(port, req, (size_t)n + blen, out);
    free(req);
    return rc;
}

#endif
