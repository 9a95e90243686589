/* MOTChallenge result sink (format in src/track/mot.h): one text file per camera,
 * a line per confirmed track per frame, flushed at the end of every frame. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panoptes/log.h"
#include "track/mot.h"

struct pan_mot_sink {
    FILE *f;
    char *path;
    int failed; /* a write error was reported once; later frames are still attempted */
};

pan_status pan_mot_sink_path(char *buf, size_t size, const char *pattern, int camera, int n_cameras)
{
    int n;
    if (!buf || !size || !pattern || camera < 0) return PAN_INVAL;
    const char *pct = strstr(pattern, "%d");
    if (pct) {
        /* Only the first "%d" is substituted; the pattern is never used as a format string. */
        n = snprintf(buf, size, "%.*s%d%s", (int)(pct - pattern), pattern, camera, pct + 2);
    } else if (n_cameras <= 1) {
        n = snprintf(buf, size, "%s", pattern);
    } else {
        const char *slash = strrchr(pattern, '/'), *dot = strrchr(pattern, '.');
        if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : pattern)) dot = pattern + strlen(pattern);
        n = snprintf(buf, size, "%.*s-cam%d%s", (int)(dot - pattern), pattern, camera, dot);
    }
    return n < 0 || (size_t)n >= size ? PAN_RANGE : PAN_OK;
}

pan_status pan_mot_sink_create(pan_mot_sink **out, const char *path)
{
    if (!out) return PAN_INVAL;
    *out = NULL;
    if (!path || !*path) return PAN_INVAL;
    pan_mot_sink *s = calloc(1, sizeof *s);
    if (!s) return PAN_NOMEM;
    s->path = strdup(path);
    s->f = fopen(path, "w");
    if (!s->f || !s->path) {
        int err = errno;
        pan_log_error("sink", -1, "%s: cannot open the MOT results file for writing: %s (check that "
                      "the folder exists and is writable)", path, strerror(err));
        if (s->f) fclose(s->f);
        free(s->path);
        free(s);
        return err == ENOENT ? PAN_NOTFOUND : PAN_IO;
    }
    *out = s;
    return PAN_OK;
}

pan_status pan_mot_sink_write(pan_mot_sink *s, int64_t frame, const pan_track_report *t, int n)
{
    if (!s || frame < 0 || n < 0 || (n > 0 && !t)) return PAN_INVAL;
    for (int i = 0; i < n; i++) {
        if (t[i].state != PAN_TRACK_CONFIRMED) continue;
        const float *b = t[i].box;
        fprintf(s->f, "%lld,%lld,%.2f,%.2f,%.2f,%.2f,%.4f,-1,-1,-1\n", (long long)frame + 1,
                (long long)t[i].id, b[0], b[1], b[2] - b[0], b[3] - b[1], t[i].score);
    }
    /* Flush per frame: an interrupted run keeps every finished frame. */
    if (fflush(s->f) || ferror(s->f)) {
        if (!s->failed)
            pan_log_error("sink", -1, "%s: write failed at frame %lld: %s (disk full?)", s->path,
                          (long long)frame, strerror(errno));
        s->failed = 1;
        clearerr(s->f);
        return PAN_IO;
    }
    return PAN_OK;
}

void pan_mot_sink_destroy(pan_mot_sink **ps)
{
    if (!ps || !*ps) return;
    pan_mot_sink *s = *ps;
    if (fclose(s->f)) pan_log_error("sink", -1, "%s: closing failed: %s", s->path, strerror(errno));
    free(s->path);
    free(s);
    *ps = NULL;
}
