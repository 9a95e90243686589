/* mqtt://host[:port][/prefix] for --mqtt. Strict: a typo should fail at start with a message,
 * not publish to a topic nobody listens to. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/mqtt.h"

#define EXPECT "expects mqtt://host[:port][/prefix], e.g. mqtt://127.0.0.1:1883/panoptes"

static pan_status bad(char *err, size_t n, const char *url, const char *why)
{
    if (err && n) snprintf(err, n, "MQTT URL '%s': %s; %s", url ? url : "", why, EXPECT);
    return PAN_INVAL;
}

pan_status pan_mqtt_url_parse(const char *url, char *host, size_t host_size, int *port, char *prefix,
                              size_t prefix_size, char *err, size_t err_size)
{
    const char *p, *h, *he, *slash;
    if (!url || !host || !port || !prefix || host_size < 2 || prefix_size < 2) return bad(err, err_size, url, "missing");
    if (!strncmp(url, "mqtts://", 8) || !strncmp(url, "ssl://", 6))
        return bad(err, err_size, url, "TLS is not supported (use a local broker bridge or a VPN)");
    if (strncmp(url, "mqtt://", 7)) return bad(err, err_size, url, "the scheme must be mqtt://");
    for (p = url; *p; p++)
        if (iscntrl((unsigned char)*p) || *p == ' ') return bad(err, err_size, url, "it contains spaces or control characters");
    h = url + 7;
    slash = strchr(h, '/');
    const char *auth_end = slash ? slash : h + strlen(h);
    if (memchr(h, '@', (size_t)(auth_end - h))) return bad(err, err_size, url, "user names and passwords are not supported");
    if (*h == '[') { /* [IPv6] */
        he = memchr(h, ']', (size_t)(auth_end - h));
        if (!he) return bad(err, err_size, url, "an IPv6 host needs its closing ']'");
        h++;
        p = he + 1;
    } else {
        he = h;
        while (he < auth_end && *he != ':') he++;
        p = he;
    }
    if (he == h) return bad(err, err_size, url, "no host");
    if ((size_t)(he - h) >= host_size) return bad(err, err_size, url, "the host name is too long");
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = 0;
    *port = 1883;
    if (p < auth_end) {
        if (*p != ':') return bad(err, err_size, url, "unexpected characters after the host");
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || end != auth_end || v < 1 || v > 65535)
            return bad(err, err_size, url, "the port must be a number in 1..65535");
        *port = (int)v;
    }
    const char *pre = slash ? slash + 1 : "";
    size_t n = strlen(pre);
    while (n && pre[n - 1] == '/') n--; /* "prefix/" is "prefix" */
    if (!n) pre = "panoptes", n = strlen(pre);
    if (n >= prefix_size) return bad(err, err_size, url, "the topic prefix is too long");
    if (memchr(pre, '+', n) || memchr(pre, '#', n))
        return bad(err, err_size, url, "the topic prefix cannot hold the MQTT wildcards + or #");
    if (pre[0] == '/' || strstr(pre, "//")) return bad(err, err_size, url, "the topic prefix has an empty level (//)");
    memcpy(prefix, pre, n);
    prefix[n] = 0;
    return PAN_OK;
}
