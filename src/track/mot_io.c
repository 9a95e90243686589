/* MOTChallenge text files: reading (with line-numbered errors), writing, and frame indexing. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track/mot.h"

/* Frames beyond this are refused: the frame index is allocated densely (a 10-hour 30 fps video
 * has 1.08 M frames). */
#define PAN_MOT_MAX_FRAME 10000000

static void set_err(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    if (!err || !size) return;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

pan_status pan_mot_seq_push(pan_mot_seq *s, const pan_mot_row *row)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        pan_mot_row *r = realloc(s->rows, cap * sizeof *r);
        if (!r) return PAN_NOMEM;
        s->rows = r;
        if (s->emb_dim > 0) {
            float *e = realloc(s->emb, cap * (size_t)s->emb_dim * sizeof *e);
            if (!e) return PAN_NOMEM;
            s->emb = e;
        }
        s->cap = cap;
    }
    s->rows[s->n++] = *row;
    return PAN_OK;
}

void pan_mot_seq_free(pan_mot_seq *s)
{
    if (!s) return;
    free(s->rows);
    free(s->frame_start);
    free(s->emb);
    memset(s, 0, sizeof *s);
}

pan_status pan_mot_seq_finish(pan_mot_seq *s)
{
    int maxf = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->rows[i].frame < 1 || s->rows[i].frame > PAN_MOT_MAX_FRAME) return PAN_CORRUPT;
        if (s->rows[i].frame > maxf) maxf = s->rows[i].frame;
    }
    size_t *start = calloc((size_t)maxf + 2, sizeof *start);
    if (!start) return PAN_NOMEM;
    /* Counting sort by frame: stable, O(n + frames). */
    for (size_t i = 0; i < s->n; i++) start[s->rows[i].frame + 1]++;
    for (int f = 1; f <= maxf; f++) start[f + 1] += start[f];
    int sorted = 1;
    for (size_t i = 1; i < s->n && sorted; i++) sorted = s->rows[i - 1].frame <= s->rows[i].frame;
    if (!sorted) {
        pan_mot_row *r = malloc(s->n * sizeof *r);
        float *e = s->emb_dim > 0 ? malloc(s->n * (size_t)s->emb_dim * sizeof *e) : NULL;
        size_t *pos = malloc(((size_t)maxf + 2) * sizeof *pos);
        if (!r || !pos || (s->emb_dim > 0 && !e)) {
            free(r), free(e), free(pos), free(start);
            return PAN_NOMEM;
        }
        memcpy(pos, start, ((size_t)maxf + 2) * sizeof *pos);
        for (size_t i = 0; i < s->n; i++) {
            size_t k = pos[s->rows[i].frame]++;
            r[k] = s->rows[i];
            if (e) memcpy(e + k * s->emb_dim, s->emb + i * s->emb_dim, (size_t)s->emb_dim * sizeof *e);
        }
        free(pos);
        free(s->rows);
        s->rows = r;
        s->cap = s->n;
        if (e) {
            free(s->emb);
            s->emb = e;
        }
    }
    free(s->frame_start);
    s->frame_start = start;
    s->n_frames = maxf;
    return PAN_OK;
}

static const char *const field_names[] = {"frame", "id", "x", "y", "w", "h", "conf", "class/x3d",
                                          "visibility/y3d", "z3d"};

pan_status pan_mot_read(const char *path, pan_mot_seq *s, char *err, size_t err_size)
{
    pan_status st = PAN_OK;
    char *line = NULL;
    size_t line_cap = 0;
    long lineno = 0;
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "r");
    if (!f) {
        set_err(err, err_size, "%s: cannot open (%s)%s", path, strerror(errno),
                errno == ENOENT ? ": check the path" : "");
        return errno == ENOENT ? PAN_NOTFOUND : PAN_IO;
    }
    while (getline(&line, &line_cap, f) >= 0) {
        double v[10];
        int nf = 0;
        char *p = line;
        lineno++;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\n' || *p == '\r' || *p == 0 || *p == '#') continue;
        for (;;) {
            char *end;
            if (nf == 10) {
                set_err(err, err_size, "%s:%ld: more than 10 fields (MOTChallenge has 6 to 10)", path, lineno);
                st = PAN_CORRUPT;
                goto done;
            }
            errno = 0;
            v[nf] = strtod(p, &end);
            if (end == p || errno == ERANGE || !isfinite(v[nf])) {
                set_err(err, err_size, "%s:%ld: field %d (%s) is not a finite number", path, lineno,
                        nf + 1, field_names[nf]);
                st = PAN_CORRUPT;
                goto done;
            }
            nf++;
            p = end;
            while (*p == ' ' || *p == '\t') p++;
            if (*p == ',') {
                p++;
                while (*p == ' ' || *p == '\t') p++;
                if (*p == '\n' || *p == '\r' || *p == 0) break; /* tolerate a trailing comma */
                continue;
            }
            if (*p == '\n' || *p == '\r' || *p == 0) break;
            set_err(err, err_size, "%s:%ld: unexpected character '%c' after field %d (fields are "
                    "comma-separated numbers)", path, lineno, *p, nf);
            st = PAN_CORRUPT;
            goto done;
        }
        if (nf < 6) {
            set_err(err, err_size, "%s:%ld: %d fields, need at least 6 (frame,id,x,y,w,h)", path, lineno, nf);
            st = PAN_CORRUPT;
            goto done;
        }
        if (v[0] != floor(v[0]) || v[0] < 1 || v[0] > PAN_MOT_MAX_FRAME) {
            set_err(err, err_size, "%s:%ld: frame %g is not an integer in 1..%d (MOTChallenge frames "
                    "are 1-based)", path, lineno, v[0], PAN_MOT_MAX_FRAME);
            st = PAN_CORRUPT;
            goto done;
        }
        if (v[1] != floor(v[1]) || fabs(v[1]) > 9.0e15) {
            set_err(err, err_size, "%s:%ld: id %g is not an integer", path, lineno, v[1]);
            st = PAN_CORRUPT;
            goto done;
        }
        for (int k = 2; k < nf; k++)
            if (fabs(v[k]) > 1.0e9) { /* would not survive the float conversion usefully */
                set_err(err, err_size, "%s:%ld: field %d (%s) = %g is out of range (|value| <= 1e9)",
                        path, lineno, k + 1, field_names[k], v[k]);
                st = PAN_CORRUPT;
                goto done;
            }
        if (v[4] < 0 || v[5] < 0) {
            set_err(err, err_size, "%s:%ld: negative box size %gx%g (fields 5-6 are width, height)",
                    path, lineno, v[4], v[5]);
            st = PAN_CORRUPT;
            goto done;
        }
        pan_mot_row r = {(int)v[0], (int64_t)v[1], (float)v[2], (float)v[3], (float)v[4], (float)v[5],
                         nf > 6 ? (float)v[6] : 1.f, -1, -1.f};
        if (nf == 9) { /* ground truth layout: conf, class, visibility */
            r.cls = (int)v[7];
            r.vis = (float)v[8];
        }
        if ((st = pan_mot_seq_push(s, &r))) {
            set_err(err, err_size, "%s: out of memory at line %ld", path, lineno);
            goto done;
        }
    }
    if (ferror(f)) {
        set_err(err, err_size, "%s: read error after line %ld", path, lineno);
        st = PAN_IO;
        goto done;
    }
    if ((st = pan_mot_seq_finish(s))) set_err(err, err_size, "%s: cannot index frames", path);
done:
    free(line);
    fclose(f);
    if (st) pan_mot_seq_free(s);
    return st;
}

pan_status pan_mot_write(const char *path, const pan_mot_seq *s)
{
    FILE *f = fopen(path, "w");
    if (!f) return errno == ENOENT ? PAN_NOTFOUND : PAN_IO;
    for (size_t i = 0; i < s->n; i++) {
        const pan_mot_row *r = &s->rows[i];
        fprintf(f, "%d,%lld,%.2f,%.2f,%.2f,%.2f,%.4g,-1,-1,-1\n", r->frame, (long long)r->id, r->x,
                r->y, r->w, r->h, r->conf);
    }
    int bad = ferror(f);
    if (fclose(f) || bad) return PAN_IO;
    return PAN_OK;
}
