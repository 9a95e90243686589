/* The events file: one event per line (JSON Lines), flushed per event so that a reader following
 * the file (tail -f) or an interrupted run sees every event already emitted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panoptes/log.h"
#include "analytics/analytics.h"

struct pan_event_file {
    FILE *f;
    int owns;
    char *path;
    pan_status status;
};

pan_status pan_event_file_create(pan_event_file **out, const char *path)
{
    pan_event_file *e;
    if (!out || !path) return PAN_INVAL;
    *out = NULL;
    if (!(e = calloc(1, sizeof *e)) || !(e->path = strdup(path))) {
        free(e);
        return PAN_NOMEM;
    }
    e->owns = strcmp(path, "-") != 0;
    e->f = e->owns ? fopen(path, "w") : stdout;
    if (!e->f) {
        pan_log_error("events", -1, "%s: cannot open for writing: %s (does its folder exist?)", path, strerror(errno));
        free(e->path);
        free(e);
        return PAN_IO;
    }
    *out = e;
    return PAN_OK;
}

void pan_event_file_write(void *opaque, const pan_event *ev)
{
    pan_event_file *e = opaque;
    if (!e || e->status) return;
    fputs(ev->json, e->f);
    fputc('\n', e->f);
    if (fflush(e->f) != 0 || ferror(e->f)) {
        e->status = PAN_IO;
        pan_log_error("events", ev->camera, "%s: write failed: %s (disk full?); no more events are written there",
                      e->path, strerror(errno));
    }
}

pan_status pan_event_file_status(const pan_event_file *e) { return e ? e->status : PAN_INVAL; }

void pan_event_file_destroy(pan_event_file **pe)
{
    if (!pe || !*pe) return;
    pan_event_file *e = *pe;
    if (e->owns && fclose(e->f) != 0 && !e->status)
        pan_log_error("events", -1, "%s: closing failed: %s", e->path, strerror(errno));
    free(e->path);
    free(e);
    *pe = NULL;
}
