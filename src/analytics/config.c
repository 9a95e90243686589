/* The analytics file (format in analytics.h), read with jansson. Every error names the file, the
 * camera key and the line or zone (by name, or by position when it has none) and the field, since
 * the person fixing it has the file open in an editor. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics_impl.h"

#define LINE_BAND_DEFAULT 20.0
#define ZONE_BAND_DEFAULT 20.0

typedef struct ctx {
    const char *what; /* file name */
    const char *key;  /* camera key */
    char *err;
    size_t err_size;
} ctx;

static pan_status fail(const ctx *c, pan_status st, const char *fmt, ...)
{
    if (c->err && c->err_size) {
        int k = c->key ? snprintf(c->err, c->err_size, "%s: camera \"%s\", ", c->what, c->key)
                       : snprintf(c->err, c->err_size, "%s: ", c->what);
        if (k >= 0 && (size_t)k < c->err_size) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + k, c->err_size - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return st;
}

/* "line \"door\"" or "lines[2]" when the entry has no usable name yet. */
static void entry_name(char *buf, size_t n, const char *kind, const char *arr, int i, const char *name)
{
    if (name) snprintf(buf, n, "%s \"%s\"", kind, name);
    else snprintf(buf, n, "%s[%d]", arr, i);
}

static pan_status read_point(const ctx *c, const char *who, const char *field, json_t *pt, int k, double out[2])
{
    if (!json_is_array(pt) || json_array_size(pt) != 2 || !json_is_number(json_array_get(pt, 0)) ||
        !json_is_number(json_array_get(pt, 1)))
        return fail(c, PAN_INVAL, "%s: %s[%d] is not a point [x, y] (two numbers, source pixels)", who, field, k);
    out[0] = json_number_value(json_array_get(pt, 0));
    out[1] = json_number_value(json_array_get(pt, 1));
    if (!isfinite(out[0]) || !isfinite(out[1]) || fabs(out[0]) > 1e6 || fabs(out[1]) > 1e6)
        return fail(c, PAN_INVAL, "%s: %s[%d] is out of range", who, field, k);
    return PAN_OK;
}

static pan_status read_band(const ctx *c, const char *who, json_t *o, double def, double *band)
{
    json_t *v = json_object_get(o, "band");
    *band = def;
    if (!v) return PAN_OK;
    if (!json_is_number(v) || !(json_number_value(v) >= 0) || json_number_value(v) > 1e5)
        return fail(c, PAN_INVAL, "%s: band must be a number of pixels >= 0 (default %g)", who, def);
    *band = json_number_value(v);
    return PAN_OK;
}

static pan_status read_classes(const ctx *c, const char *who, json_t *o, int **classes, int *n)
{
    json_t *v = json_object_get(o, "classes"), *e;
    size_t i;
    *classes = NULL, *n = 0;
    if (!v) return PAN_OK;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 1000)
        return fail(c, PAN_INVAL, "%s: classes must be a non-empty list of COCO labels or ids ([\"person\"])", who);
    if (!(*classes = malloc(json_array_size(v) * sizeof **classes))) return PAN_NOMEM;
    json_array_foreach(v, i, e) {
        int id = -1;
        if (json_is_string(e)) id = pan_coco_class(json_string_value(e));
        else if (json_is_integer(e) && json_integer_value(e) >= 0 && json_integer_value(e) < 1000000)
            id = (int)json_integer_value(e);
        if (id < 0)
            return fail(c, PAN_INVAL, "%s: classes[%zu] is not a COCO label or class id (e.g. \"person\", 0)", who, i);
        (*classes)[(*n)++] = id;
    }
    return PAN_OK;
}

static pan_status check_members(const ctx *c, const char *who, json_t *o, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(k, allowed[i]);
        if (!ok) return fail(c, PAN_INVAL, "%s: unknown member \"%s\" (a typo?)", who, k);
    }
    return PAN_OK;
}

static pan_status read_name(const ctx *c, const char *who, json_t *o, char **name)
{
    json_t *v = json_object_get(o, "name");
    if (!json_is_string(v) || !json_string_length(v))
        return fail(c, PAN_INVAL, "%s: needs a \"name\" (a non-empty string)", who);
    return (*name = strdup(json_string_value(v))) ? PAN_OK : PAN_NOMEM;
}

static pan_status read_line(const ctx *c, json_t *o, int i, pan__an_line *l)
{
    static const char *const members[] = {"name", "points", "band", "classes", NULL};
    char who[160];
    pan_status st;
    json_t *name = json_is_object(o) ? json_object_get(o, "name") : NULL;
    entry_name(who, sizeof who, "line", "lines", i, json_is_string(name) ? json_string_value(name) : NULL);
    if (!json_is_object(o)) return fail(c, PAN_INVAL, "%s is not an object {\"name\": ..., \"points\": ...}", who);
    if ((st = check_members(c, who, o, members)) || (st = read_name(c, who, o, &l->name))) return st;
    json_t *pts = json_object_get(o, "points");
    if (!json_is_array(pts) || json_array_size(pts) != 2)
        return fail(c, PAN_INVAL, "%s: points must be two points [[x1, y1], [x2, y2]]", who);
    if ((st = read_point(c, who, "points", json_array_get(pts, 0), 0, l->a)) ||
        (st = read_point(c, who, "points", json_array_get(pts, 1), 1, l->b)))
        return st;
    if (hypot(l->b[0] - l->a[0], l->b[1] - l->a[1]) < 1e-6)
        return fail(c, PAN_INVAL, "%s: points: zero-length line (both ends at (%g, %g))", who, l->a[0], l->a[1]);
    if ((st = read_band(c, who, o, LINE_BAND_DEFAULT, &l->band))) return st;
    return read_classes(c, who, o, &l->classes, &l->n_classes);
}

static pan_status read_zone(const ctx *c, json_t *o, int i, pan__an_zone *z)
{
    static const char *const members[] = {"name", "polygon", "band", "classes", NULL};
    char who[160];
    pan_status st;
    json_t *name = json_is_object(o) ? json_object_get(o, "name") : NULL;
    entry_name(who, sizeof who, "zone", "zones", i, json_is_string(name) ? json_string_value(name) : NULL);
    if (!json_is_object(o)) return fail(c, PAN_INVAL, "%s is not an object {\"name\": ..., \"polygon\": ...}", who);
    if ((st = check_members(c, who, o, members)) || (st = read_name(c, who, o, &z->name))) return st;
    json_t *poly = json_object_get(o, "polygon");
    if (!json_is_array(poly))
        return fail(c, PAN_INVAL, "%s: polygon must be a list of points [[x, y], ...] (at least 3)", who);
    size_t n = json_array_size(poly);
    if (n < 3) return fail(c, PAN_INVAL, "%s: polygon has %zu point%s, a zone needs at least 3", who, n, n == 1 ? "" : "s");
    if (n > 10000) return fail(c, PAN_INVAL, "%s: polygon has %zu points (at most 10000)", who, n);
    if (!(z->poly = malloc(n * sizeof *z->poly))) return PAN_NOMEM;
    z->n = (int)n;
    for (size_t k = 0; k < n; k++)
        if ((st = read_point(c, who, "polygon", json_array_get(poly, k), (int)k, z->poly[k]))) return st;
    double area2 = 0; /* shoelace: a polygon of zero area has no inside */
    for (size_t k = 0, j = n - 1; k < n; j = k++)
        area2 += z->poly[j][0] * z->poly[k][1] - z->poly[k][0] * z->poly[j][1];
    if (fabs(area2) < 1e-6) return fail(c, PAN_INVAL, "%s: polygon has zero area (its points are on one line)", who);
    if ((st = read_band(c, who, o, ZONE_BAND_DEFAULT, &z->band))) return st;
    return read_classes(c, who, o, &z->classes, &z->n_classes);
}

static void free_cam(pan__an_cam_cfg *cc)
{
    for (int i = 0; i < cc->n_lines; i++) free(cc->lines[i].name), free(cc->lines[i].classes);
    for (int i = 0; i < cc->n_zones; i++) free(cc->zones[i].name), free(cc->zones[i].poly), free(cc->zones[i].classes);
    free(cc->lines);
    free(cc->zones);
}

void pan_analytics_config_destroy(pan_analytics_config **pc)
{
    if (!pc || !*pc) return;
    pan_analytics_config *c = *pc;
    for (int i = 0; i < c->n_cams; i++) free_cam(&c->cams[i]);
    free(c->cams);
    free(c->what);
    free(c);
    *pc = NULL;
}

/* Names must be unique within a camera, counting the "*" entries every camera gets. */
static pan_status check_names(const ctx *c0, const pan_analytics_config *cfg, const pan__an_cam_cfg *cc)
{
    const pan__an_cam_cfg *all = NULL;
    for (int i = 0; i < cfg->n_cams; i++)
        if (cfg->cams[i].camera < 0) all = &cfg->cams[i];
    const pan__an_cam_cfg *sets[2] = {cc, all && all != cc ? all : NULL};
    for (int s = 0; s < 2; s++)
        for (int t = s; t < 2 && sets[s]; t++) {
            if (!sets[t]) continue;
            for (int i = 0; i < sets[s]->n_lines; i++)
                for (int j = s == t ? i + 1 : 0; j < sets[t]->n_lines; j++)
                    if (!strcmp(sets[s]->lines[i].name, sets[t]->lines[j].name))
                        return fail(c0, PAN_INVAL, "line \"%s\": two lines have this name%s", sets[s]->lines[i].name,
                                    s != t ? " (one of them under \"*\")" : "");
            for (int i = 0; i < sets[s]->n_zones; i++)
                for (int j = s == t ? i + 1 : 0; j < sets[t]->n_zones; j++)
                    if (!strcmp(sets[s]->zones[i].name, sets[t]->zones[j].name))
                        return fail(c0, PAN_INVAL, "zone \"%s\": two zones have this name%s", sets[s]->zones[i].name,
                                    s != t ? " (one of them under \"*\")" : "");
        }
    return PAN_OK;
}

static pan_status parse_root(ctx *c, json_t *root, pan_analytics_config *cfg)
{
    static const char *const cam_members[] = {"lines", "zones", NULL};
    pan_status st;
    json_t *cams = json_is_object(root) ? json_object_get(root, "cameras") : NULL, *v;
    const char *key;
    if (!json_is_object(cams) || json_object_size(root) != 1)
        return fail(c, PAN_INVAL, "expects one object {\"cameras\": {\"0\": {\"lines\": [...], \"zones\": [...]}}}");
    if (!(cfg->cams = calloc(json_object_size(cams) + 1, sizeof *cfg->cams))) return PAN_NOMEM;
    json_object_foreach(cams, key, v) {
        pan__an_cam_cfg *cc = &cfg->cams[cfg->n_cams];
        char *end;
        c->key = key;
        errno = 0;
        long id = strtol(key, &end, 10);
        if (!strcmp(key, "*")) id = -1;
        else if (!*key || *end || id < 0 || id > 1000000000L || errno || key[0] == '+' || key[0] == ' ')
            return fail(c, PAN_INVAL, "unknown camera: the key must be a camera id (\"0\", \"1\", ...) or \"*\"");
        cc->camera = (int)id;
        cfg->n_cams++;
        if (!json_is_object(v)) return fail(c, PAN_INVAL, "expects an object {\"lines\": [...], \"zones\": [...]}");
        if ((st = check_members(c, "camera", v, cam_members))) return st;
        json_t *lines = json_object_get(v, "lines"), *zones = json_object_get(v, "zones"), *e;
        if ((lines && !json_is_array(lines)) || (zones && !json_is_array(zones)))
            return fail(c, PAN_INVAL, "lines and zones must be lists [...]");
        size_t nl = lines ? json_array_size(lines) : 0, nz = zones ? json_array_size(zones) : 0, i;
        if (nl > 1000 || nz > 1000) return fail(c, PAN_INVAL, "at most 1000 lines and 1000 zones per camera");
        if ((nl && !(cc->lines = calloc(nl, sizeof *cc->lines))) || (nz && !(cc->zones = calloc(nz, sizeof *cc->zones))))
            return PAN_NOMEM;
        if (lines)
            json_array_foreach(lines, i, e) {
                st = read_line(c, e, (int)i, &cc->lines[cc->n_lines]);
                cc->n_lines++; /* counted even when half read, so that it is freed */
                if (st) return st;
            }
        if (zones)
            json_array_foreach(zones, i, e) {
                st = read_zone(c, e, (int)i, &cc->zones[cc->n_zones]);
                cc->n_zones++;
                if (st) return st;
            }
    }
    for (int i = 0; i < cfg->n_cams; i++) {
        char key_buf[16];
        if (cfg->cams[i].camera < 0) c->key = "*";
        else snprintf(key_buf, sizeof key_buf, "%d", cfg->cams[i].camera), c->key = key_buf;
        if ((st = check_names(c, cfg, &cfg->cams[i]))) return st;
    }
    c->key = NULL;
    return PAN_OK;
}

static pan_status finish(ctx *c, json_t *root, json_error_t *je, pan_analytics_config **out)
{
    pan_status st;
    pan_analytics_config *cfg;
    if (!root)
        return fail(c, PAN_CORRUPT, "line %d, column %d: not valid JSON: %s", je->line, je->column, je->text);
    if (!(cfg = calloc(1, sizeof *cfg)) || !(cfg->what = strdup(c->what))) {
        free(cfg);
        json_decref(root);
        return PAN_NOMEM;
    }
    st = parse_root(c, root, cfg);
    json_decref(root);
    if (st == PAN_NOMEM) fail(c, st, "out of memory");
    if (st) pan_analytics_config_destroy(&cfg);
    *out = cfg;
    return st;
}

pan_status pan_analytics_config_parse(pan_analytics_config **out, const char *text, size_t len, const char *what,
                                      char *err, size_t err_size)
{
    ctx c = {what ? what : "analytics", NULL, err, err_size};
    json_error_t je;
    if (!out) return PAN_INVAL;
    *out = NULL;
    if (!text) return fail(&c, PAN_INVAL, "no text");
    return finish(&c, json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), &je, out);
}

pan_status pan_analytics_config_load(pan_analytics_config **out, const char *path, char *err, size_t err_size)
{
    ctx c = {path ? path : "(null)", NULL, err, err_size};
    json_error_t je;
    if (!out) return PAN_INVAL;
    *out = NULL;
    if (!path) return fail(&c, PAN_INVAL, "no file given");
    FILE *f = fopen(path, "rb");
    if (!f) return fail(&c, errno == ENOENT ? PAN_NOTFOUND : PAN_IO, "cannot open: %s", strerror(errno));
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    return finish(&c, root, &je, out);
}

pan_status pan_analytics_config_check_cameras(const pan_analytics_config *cfg, int n_cameras, char *err, size_t err_size)
{
    if (!cfg) return PAN_INVAL;
    for (int i = 0; i < cfg->n_cams; i++)
        if (cfg->cams[i].camera >= n_cameras) {
            char key[16];
            snprintf(key, sizeof key, "%d", cfg->cams[i].camera);
            ctx c = {cfg->what, key, err, err_size};
            return fail(&c, PAN_INVAL, "unknown camera: this run has %d camera%s (ids 0..%d)", n_cameras,
                        n_cameras == 1 ? "" : "s", n_cameras - 1);
        }
    return PAN_OK;
}

static int *dup_ints(const int *v, int n)
{
    if (!v) return NULL;
    int *d = malloc((size_t)n * sizeof *d);
    if (d) memcpy(d, v, (size_t)n * sizeof *d);
    return d;
}

pan_status pan__an_config_copy(const pan_analytics_config *src, pan_analytics_config **dst)
{
    pan_analytics_config *c = calloc(1, sizeof *c);
    *dst = NULL;
    if (!c || !(c->what = strdup(src->what ? src->what : "analytics")) ||
        !(c->cams = calloc((size_t)src->n_cams + 1, sizeof *c->cams)))
        goto fail;
    for (int i = 0; i < src->n_cams; i++) {
        const pan__an_cam_cfg *s = &src->cams[i];
        pan__an_cam_cfg *d = &c->cams[c->n_cams++];
        d->camera = s->camera;
        if ((s->n_lines && !(d->lines = calloc((size_t)s->n_lines, sizeof *d->lines))) ||
            (s->n_zones && !(d->zones = calloc((size_t)s->n_zones, sizeof *d->zones))))
            goto fail;
        for (int k = 0; k < s->n_lines; k++) {
            pan__an_line *l = &d->lines[d->n_lines++];
            *l = s->lines[k];
            l->name = strdup(s->lines[k].name);
            l->classes = dup_ints(s->lines[k].classes, s->lines[k].n_classes);
            if (!l->name || (s->lines[k].classes && !l->classes)) goto fail;
        }
        for (int k = 0; k < s->n_zones; k++) {
            pan__an_zone *z = &d->zones[d->n_zones++];
            *z = s->zones[k];
            z->name = strdup(s->zones[k].name);
            z->classes = dup_ints(s->zones[k].classes, s->zones[k].n_classes);
            z->poly = malloc((size_t)z->n * sizeof *z->poly);
            if (!z->name || !z->poly || (s->zones[k].classes && !z->classes)) goto fail;
            memcpy(z->poly, s->zones[k].poly, (size_t)z->n * sizeof *z->poly);
        }
    }
    *dst = c;
    return PAN_OK;
fail:
    pan_analytics_config_destroy(&c);
    return PAN_NOMEM;
}
