/* Events as JSON text: one object per event, the same bytes for the events file and MQTT.
 * Written by hand with a fixed schema (a few hundred bytes an event); names are escaped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/analytics_impl.h"

const char *pan_event_type_name(pan_event_type type)
{
    switch (type) {
    case PAN_EVENT_TRACK_START: return "track_start";
    case PAN_EVENT_TRACK_END: return "track_end";
    case PAN_EVENT_LINE_CROSS: return "line_cross";
    case PAN_EVENT_ZONE_ENTER: return "zone_enter";
    case PAN_EVENT_ZONE_EXIT: return "zone_exit";
    case PAN_EVENT_IDENTITY_LINK: return "identity_link";
    }
    return "unknown";
}

void pan__sb_printf(pan__sb *b, const char *fmt, ...)
{
    va_list ap;
    if (b->failed) return;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        int k = b->s ? vsnprintf(b->s + b->n, room, fmt, ap) : -2;
        va_end(ap);
        if (k == -1) return;
        if (k >= 0 && (size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 512;
        while (k >= 0 && cap < b->n + (size_t)k + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        if (!b->s) s[0] = 0;
        b->s = s, b->cap = cap;
    }
}

void pan__sb_free(pan__sb *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* Escapes per RFC 8259: quote, backslash and control characters; UTF-8 passes through. */
static void escape_to(void (*put)(void *, const char *, size_t), void *dst, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    put(dst, "\"", 1);
    for (const char *p = s;; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch && ch >= 0x20 && ch != '"' && ch != '\\') {
            run++;
            continue;
        }
        if (run) put(dst, p - run, run);
        run = 0;
        if (!ch) break;
        char e[7] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15], 0};
        if (ch == '"' || ch == '\\') e[1] = (char)ch, e[2] = 0;
        else if (ch == '\n') e[1] = 'n', e[2] = 0;
        else if (ch == '\t') e[1] = 't', e[2] = 0;
        put(dst, e, strlen(e));
    }
    put(dst, "\"", 1);
}

static void put_sb(void *dst, const char *s, size_t n) { pan__sb_printf(dst, "%.*s", (int)n, s); }
static void put_file(void *dst, const char *s, size_t n) { fwrite(s, 1, n, dst); }

void pan__sb_json_str(pan__sb *b, const char *s)
{
    if (!s) pan__sb_printf(b, "null");
    else escape_to(put_sb, b, s);
}

void pan__an_fput_json_str(FILE *f, const char *s)
{
    if (!s) fputs("null", f);
    else escape_to(put_file, f, s);
}

void pan__an_iso8601(double wall_s, char *buf, size_t size)
{
    time_t sec = (time_t)floor(wall_s);
    int ms = (int)((wall_s - (double)sec) * 1000.0);
    struct tm tm;
    if (ms > 999) ms = 999;
    if (ms < 0) ms = 0;
    gmtime_r(&sec, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static void num_or_null(pan__sb *b, const char *key, double v)
{
    if (isfinite(v)) pan__sb_printf(b, ",\"%s\":%.6f", key, v);
    else pan__sb_printf(b, ",\"%s\":null", key);
}

void pan__an_event_json(pan__sb *b, pan_event *ev)
{
    char when[40];
    b->n = 0;
    b->failed = 0;
    pan__an_iso8601(ev->wall_s, when, sizeof when);
    pan__sb_printf(b, "{\"event\":\"%s\",\"camera\":%d,\"camera_name\":", pan_event_type_name(ev->type), ev->camera);
    pan__sb_json_str(b, ev->camera_name);
    pan__sb_printf(b, ",\"frame\":%lld", (long long)ev->frame);
    num_or_null(b, "pts", ev->pts);
    pan__sb_printf(b, ",\"time\":\"%s\",\"track_id\":%lld,\"global_id\":%lld,\"class\":%d,\"label\":\"%s\","
                      "\"box\":[%.2f,%.2f,%.2f,%.2f]",
                   when, (long long)ev->track_id, (long long)ev->global_id, ev->class_id, pan_coco_label(ev->class_id),
                   ev->box[0], ev->box[1], ev->box[2], ev->box[3]);
    switch (ev->type) {
    case PAN_EVENT_TRACK_START:
        if (ev->continues) pan__sb_printf(b, ",\"continues\":%lld", (long long)ev->continues);
        break;
    case PAN_EVENT_TRACK_END:
        num_or_null(b, "first_seen", ev->first_seen);
        num_or_null(b, "last_seen", ev->last_seen);
        num_or_null(b, "duration_s", ev->duration_s);
        if (ev->continued_by) pan__sb_printf(b, ",\"continued_by\":%lld", (long long)ev->continued_by);
        break;
    case PAN_EVENT_LINE_CROSS:
        pan__sb_printf(b, ",\"line\":");
        pan__sb_json_str(b, ev->line);
        pan__sb_printf(b, ",\"direction\":\"%s\"", ev->direction);
        break;
    case PAN_EVENT_ZONE_ENTER:
    case PAN_EVENT_ZONE_EXIT:
        pan__sb_printf(b, ",\"zone\":");
        pan__sb_json_str(b, ev->zone);
        if (ev->type == PAN_EVENT_ZONE_EXIT) num_or_null(b, "dwell_s", ev->dwell_s);
        break;
    case PAN_EVENT_IDENTITY_LINK:
        pan__sb_printf(b, ",\"previous_global_id\":%lld", (long long)ev->previous_global_id);
        break;
    }
    pan__sb_printf(b, "}");
    ev->json = b->failed ? NULL : b->s;
}
