/* JSON Lines sink (schema in src/io/sink.h). Written by hand with a fixed schema: a
 * per-frame object is a few hundred bytes and formatting it must stay cheap. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panoptes/log.h"
#include "io/sink.h"

struct pan_jsonl_sink {
    FILE *f;
    int owns;
    char *path;
    pan_jsonl_extra_fn extra;
    void *extra_opaque;
};

void pan_jsonl_sink_set_extra(pan_jsonl_sink *s, pan_jsonl_extra_fn fn, void *opaque)
{
    s->extra = fn;
    s->extra_opaque = opaque;
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

pan_status pan_jsonl_sink_create(pan_jsonl_sink **out, const char *path)
{
    pan_jsonl_sink *s;
    *out = NULL;
    if (!path) return PAN_INVAL;
    s = calloc(1, sizeof *s);
    if (!s) return PAN_NOMEM;
    s->path = strdup(path);
    if (!strcmp(path, "-")) {
        s->f = stdout;
    } else {
        s->f = fopen(path, "w");
        s->owns = 1;
    }
    if (!s->f || !s->path) {
        pan_log_error("sink", -1, "%s: cannot open for writing: %s", path, strerror(errno));
        free(s->path);
        free(s);
        return PAN_IO;
    }
    *out = s;
    return PAN_OK;
}

static void write_box(FILE *f, const float b[4])
{
    fprintf(f, "[%.2f,%.2f,%.2f,%.2f]", b[0], b[1], b[2], b[3]);
}

pan_status pan_jsonl_sink_write(pan_jsonl_sink *s, const pan_frame_result *r)
{
    FILE *f = s->f;
    fprintf(f, "{\"camera\":%d,", r->camera);
    if (r->name) {
        fputs("\"name\":", f);
        write_string(f, r->name);
        fputc(',', f);
    }
    fprintf(f, "\"frame\":%lld,", (long long)r->frame);
    if (isfinite(r->pts)) fprintf(f, "\"pts\":%.6f,", r->pts);
    else fputs("\"pts\":null,", f);
    fprintf(f, "\"width\":%d,\"height\":%d,\"detections\":[", r->width, r->height);
    for (int i = 0; i < r->n_detections; i++) {
        const pan_detection *d = &r->detections[i];
        fprintf(f, "%s{\"class\":%d,\"label\":\"%s\",\"score\":%.4f,\"box\":", i ? "," : "", d->class_id,
                pan_coco_label(d->class_id), d->score);
        write_box(f, d->box);
        fputc('}', f);
    }
    fputs("],\"tracks\":[", f);
    for (int i = 0; i < r->n_tracks; i++) {
        const pan_track_report *t = &r->tracks[i];
        fprintf(f, "%s{\"id\":%lld,\"global_id\":%lld,\"class\":%d,\"label\":\"%s\",\"score\":%.4f,\"box\":",
                i ? "," : "", (long long)t->id, (long long)t->global_id, t->class_id, pan_coco_label(t->class_id),
                t->score);
        write_box(f, t->box);
        fprintf(f, ",\"state\":\"%s\"}", pan_track_state_name(t->state));
    }
    fputc(']', f);
    if (s->extra) s->extra(s->extra_opaque, r, f);
    fputs("}\n", f);
    if (fflush(f) != 0 || ferror(f)) {
        pan_log_error("sink", r->camera, "%s: write failed: %s (disk full?)", s->path, strerror(errno));
        return PAN_IO;
    }
    return PAN_OK;
}

void pan_jsonl_sink_destroy(pan_jsonl_sink **ps)
{
    pan_jsonl_sink *s;
    if (!ps || !*ps) return;
    s = *ps;
    *ps = NULL;
    if (s->owns) fclose(s->f);
    else fflush(s->f);
    free(s->path);
    free(s);
}
