/* The `panoptes serve` config file (src/serve/config.h), read with libyaml's document loader:
 * every node keeps the line it started on, so every message names the line and the key. */
#include "serve/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "panoptes/detection.h"
#include "vision/detector.h"

/* What the walk needs: the document, the file's name for messages, where messages go. */
typedef struct walk {
    yaml_document_t *doc;
    const char *name;
    char *err;
    size_t n;
} walk;

static pan_status fail_at(walk *w, const yaml_node_t *node, const char *key, const char *fmt, ...)
{
    char why[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(w->err, w->n, "%s:%zu: %s: %s", w->name, node ? node->start_mark.line + 1 : 0, key, why);
    return PAN_INVAL;
}

static const char *scalar(const yaml_node_t *node)
{
    return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

static int is_plain(const yaml_node_t *node) { return node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE; }

/* YAML 1.1's booleans, as people write them in config files. */
static int plain_bool(const char *s, int *out)
{
    static const char *const t[] = {"true", "yes", "on"}, *const f[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, t[i])) return *out = 1, 1;
        if (!strcasecmp(s, f[i])) return *out = 0, 1;
    }
    return 0;
}

static int plain_int(const char *s, long long *out)
{
    char *end;
    if (!*s || isspace((unsigned char)*s)) return 0;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*end || errno) return 0;
    *out = x;
    return 1;
}

/* A scalar as the JSON value it reads as: plain ints, booleans and null are typed, the rest
 * (and everything quoted) are strings. New reference. */
static json_t *scalar_json(const yaml_node_t *node, int typed)
{
    const char *s = scalar(node);
    long long x;
    int b;
    if (typed && is_plain(node)) {
        if (!*s || !strcmp(s, "~") || !strcasecmp(s, "null")) return json_null();
        if (plain_int(s, &x)) return json_integer(x);
        if (plain_bool(s, &b)) return json_boolean(b);
    }
    return json_stringn(s, node->data.scalar.length);
}

static pan_status get_string(walk *w, const yaml_node_t *node, const char *key, char **dst)
{
    const char *s = scalar(node);
    if (!s) return fail_at(w, node, key, "expected a string");
    if (!*s) return fail_at(w, node, key, "must not be empty");
    char *copy = strdup(s);
    if (!copy) return PAN_NOMEM;
    free(*dst);
    *dst = copy;
    return PAN_OK;
}

static pan_status get_int(walk *w, const yaml_node_t *node, const char *key, long long lo, long long hi, int *dst)
{
    const char *s = scalar(node);
    long long x;
    if (!s || !plain_int(s, &x)) return fail_at(w, node, key, "expected an integer from %lld to %lld", lo, hi);
    if (x < lo || x > hi) return fail_at(w, node, key, "%lld is out of range (%lld to %lld)", x, lo, hi);
    *dst = (int)x;
    return PAN_OK;
}

static pan_status get_bool(walk *w, const yaml_node_t *node, const char *key, int *dst)
{
    const char *s = scalar(node);
    if (!s || !plain_bool(s, dst)) return fail_at(w, node, key, "expected true or false");
    return PAN_OK;
}

/* Sets one camera field from a YAML scalar. A plain scalar that reads as a number or a boolean
 * but is refused as one is tried again as a string, so that `name: 12` or `name: no` mean what
 * they say. */
static pan_status camera_field(walk *w, pan_serve_camera *cam, const char *path, const yaml_node_t *knode,
                               const yaml_node_t *vnode)
{
    const char *key = scalar(knode);
    char why[256], where[96];
    snprintf(where, sizeof where, "%s.%s", path, key);
    if (!scalar(vnode)) return fail_at(w, vnode, where, "expected a single value, not a list or mapping");
    json_t *v = scalar_json(vnode, 1);
    if (!v) return PAN_NOMEM;
    pan_status st = pan_serve_camera_set(cam, key, v, why, sizeof why);
    if (st == PAN_INVAL && !json_is_string(v)) {
        json_decref(v);
        if (!(v = scalar_json(vnode, 0))) return PAN_NOMEM;
        char why2[256];
        if (pan_serve_camera_set(cam, key, v, why2, sizeof why2) == PAN_OK) st = PAN_OK;
    }
    json_decref(v);
    if (st == PAN_INVAL) return fail_at(w, knode, where, "%s", why);
    return st;
}

/* Walks a mapping, refusing duplicate keys and keys that are not plain strings. */
#define FOR_PAIRS(node, pair) \
    for (yaml_node_pair_t *pair = (node)->data.mapping.pairs.start; pair < (node)->data.mapping.pairs.top; pair++)

static pan_status check_keys(walk *w, const yaml_node_t *map, const char *path)
{
    FOR_PAIRS(map, p) {
        const yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        if (!scalar(k)) return fail_at(w, k, path, "keys must be plain names");
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++)
            if (!strcmp(scalar(yaml_document_get_node(w->doc, q->key)), scalar(k)))
                return fail_at(w, k, path, "'%s' is given twice", scalar(k));
    }
    return PAN_OK;
}

static pan_status camera_map(walk *w, pan_serve_camera *cam, const char *path, const yaml_node_t *map, int need_uri)
{
    pan_status st = check_keys(w, map, path);
    if (st) return st;
    FOR_PAIRS(map, p) {
        const yaml_node_t *k = yaml_document_get_node(w->doc, p->key), *v = yaml_document_get_node(w->doc, p->value);
        if (!need_uri && (!strcmp(scalar(k), "uri") || !strcmp(scalar(k), "name")))
            return fail_at(w, k, path, "%s belongs to a camera, not to the defaults", scalar(k));
        if ((st = camera_field(w, cam, path, k, v))) return st;
    }
    if (need_uri && !cam->uri) return fail_at(w, map, path, "a camera needs a uri");
    return PAN_OK;
}

static pan_status cameras_seq(walk *w, pan_serve_config *c, const yaml_node_t *seq)
{
    if (seq->type == YAML_SCALAR_NODE && !*scalar(seq)) return PAN_OK; /* "cameras:" with nothing */
    if (seq->type != YAML_SEQUENCE_NODE)
        return fail_at(w, seq, "cameras", "expected a list (\"- uri: ...\" items, or plain URIs)");
    int i = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++, i++) {
        const yaml_node_t *item = yaml_document_get_node(w->doc, *it);
        pan_serve_camera cam = {0};
        char path[32];
        pan_status st;
        snprintf(path, sizeof path, "cameras[%d]", i);
        if (item->type == YAML_SCALAR_NODE) {
            json_t *v = scalar_json(item, 0);
            char why[256];
            if (!v) return PAN_NOMEM;
            st = pan_serve_camera_set(&cam, "uri", v, why, sizeof why);
            json_decref(v);
            if (st == PAN_INVAL) st = fail_at(w, item, path, "%s", why);
        } else if (item->type == YAML_MAPPING_NODE) {
            st = camera_map(w, &cam, path, item, 1);
        } else {
            st = fail_at(w, item, path, "expected a URI or a mapping with uri, name, ...");
        }
        if (!st) st = pan_serve_config_add_camera(c, &cam);
        pan_serve_camera_clear(&cam);
        if (st) return st;
    }
    return PAN_OK;
}

static pan_status outputs_map(walk *w, pan_serve_config *c, const yaml_node_t *map)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail_at(w, map, "outputs", "expected a mapping (jsonl: FILE, mot: DIR, events: FILE, mqtt: URL)");
    pan_status st = check_keys(w, map, "outputs");
    if (st) return st;
    FOR_PAIRS(map, p) {
        const yaml_node_t *k = yaml_document_get_node(w->doc, p->key), *v = yaml_document_get_node(w->doc, p->value);
        const char *key = scalar(k);
        if (!strcmp(key, "jsonl")) st = get_string(w, v, "outputs.jsonl", &c->jsonl);
        else if (!strcmp(key, "mot")) st = get_string(w, v, "outputs.mot", &c->mot);
        else if (!strcmp(key, "events")) st = get_string(w, v, "outputs.events", &c->events);
        else if (!strcmp(key, "mqtt")) st = get_string(w, v, "outputs.mqtt", &c->mqtt);
        else st = fail_at(w, k, "outputs", "unknown output '%s' (known: jsonl, mot, events, mqtt)", key);
        if (st) return st;
    }
    return PAN_OK;
}

static pan_status classes_node(walk *w, pan_serve_config *c, const yaml_node_t *v)
{
    char *list = NULL, why[256];
    pan_status st = PAN_OK;
    if (v->type == YAML_SCALAR_NODE) {
        list = strdup(scalar(v));
    } else if (v->type == YAML_SEQUENCE_NODE) {
        size_t len = 1;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            const yaml_node_t *item = yaml_document_get_node(w->doc, *it);
            if (!scalar(item)) return fail_at(w, item, "classes", "expected class names or ids");
            len += strlen(scalar(item)) + 1;
        }
        if ((list = calloc(1, len)))
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                if (*list) strcat(list, ",");
                strcat(list, scalar(yaml_document_get_node(w->doc, *it)));
            }
    } else {
        return fail_at(w, v, "classes", "expected a list such as [person, car]");
    }
    if (!list) return PAN_NOMEM;
    free(c->classes);
    c->classes = NULL;
    st = pan_serve_parse_classes(list, &c->classes, &c->n_classes, why, sizeof why);
    free(list);
    if (st == PAN_INVAL) return fail_at(w, v, "classes", "%s", why);
    return st;
}

/* overlaps: a list of [A, B, DX, DY] (or "A,B,DX,DY" strings, as run's --overlap). */
static pan_status overlaps_node(walk *w, pan_serve_config *c, const yaml_node_t *v)
{
    if (v->type == YAML_SCALAR_NODE && !*scalar(v)) return PAN_OK; /* "overlaps:" with nothing */
    if (v->type != YAML_SEQUENCE_NODE)
        return fail_at(w, v, "overlaps", "expected a list of [A, B, DX, DY] (camera ids and a shift in pixels)");
    int n = (int)(v->data.sequence.items.top - v->data.sequence.items.start), i = 0;
    if (n > PAN_SERVE_MAX_OVERLAPS)
        return fail_at(w, v, "overlaps", "%d entries; at most %d", n, PAN_SERVE_MAX_OVERLAPS);
    double(*ov)[4] = calloc((size_t)n + 1, sizeof *ov);
    if (!ov) return PAN_NOMEM;
    pan_status st = PAN_OK;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top && !st; it++, i++) {
        const yaml_node_t *item = yaml_document_get_node(w->doc, *it);
        char text[256] = "", why[256], where[32];
        snprintf(where, sizeof where, "overlaps[%d]", i);
        if (item->type == YAML_SCALAR_NODE) {
            snprintf(text, sizeof text, "%s", scalar(item));
        } else if (item->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *e = item->data.sequence.items.start; e < item->data.sequence.items.top && !st; e++) {
                const char *x = scalar(yaml_document_get_node(w->doc, *e));
                if (!x) st = fail_at(w, item, where, "expected [A, B, DX, DY] (numbers)");
                else snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s", *text ? "," : "", x);
            }
        } else {
            st = fail_at(w, item, where, "expected [A, B, DX, DY] (camera ids and a shift in pixels)");
        }
        if (!st && pan_serve_parse_overlap(text, ov[i], why, sizeof why)) st = fail_at(w, item, where, "%s", why);
    }
    if (st) {
        free(ov);
        return st;
    }
    free(c->overlaps);
    c->overlaps = ov;
    c->n_overlaps = n;
    return PAN_OK;
}

static pan_status top_key(walk *w, pan_serve_config *c, const yaml_node_t *k, const yaml_node_t *v)
{
    const char *key = scalar(k);
    char why[256], host[256];
    int port;
    pan_status st;
    if (!strcmp(key, "cameras")) return cameras_seq(w, c, v);
    if (!strcmp(key, "outputs")) return outputs_map(w, c, v);
    if (!strcmp(key, "classes")) return classes_node(w, c, v);
    if (!strcmp(key, "overlaps")) return overlaps_node(w, c, v);
    if (!strcmp(key, "defaults")) {
        if (v->type != YAML_MAPPING_NODE) return fail_at(w, v, "defaults", "expected a mapping of camera options");
        return camera_map(w, &c->defaults, "defaults", v, 0);
    }
    if (v->type != YAML_SCALAR_NODE) return fail_at(w, v, key, "expected a single value, not a list or mapping");
    if (!strcmp(key, "listen")) {
        if ((st = get_string(w, v, key, &c->listen))) return st;
        if (pan_serve_parse_listen(c->listen, host, sizeof host, &port, why, sizeof why)) return fail_at(w, v, key, "%s", why);
        return PAN_OK;
    }
    if (!strcmp(key, "token_file")) return get_string(w, v, key, &c->token_file);
    if (!strcmp(key, "analytics")) return get_string(w, v, key, &c->analytics);
    if (!strcmp(key, "model")) return get_string(w, v, key, &c->model);
    if (!strcmp(key, "reid")) return get_string(w, v, key, &c->reid);
    if (!strcmp(key, "model_type")) {
        pan_detector_kind kind;
        if (pan_detector_kind_parse(scalar(v), &kind)) /* the message run gives for --model-type */
            return fail_at(w, v, key, "takes one of %s, not '%s'", pan_detector_kind_names(), scalar(v));
        return get_string(w, v, key, &c->model_type);
    }
    if (!strcmp(key, "backend")) {
        const char *s = scalar(v);
        if (strcmp(s, "auto") && strcmp(s, "cpu") && strcmp(s, "cuda"))
            return fail_at(w, v, key, "'%s' is not a backend (auto, cpu or cuda)", s);
        return get_string(w, v, key, &c->backend);
    }
    if (!strcmp(key, "score")) {
        char *end;
        double x = strtod(scalar(v), &end);
        if (!*scalar(v) || *end || !(x >= 0 && x <= 1)) return fail_at(w, v, key, "expected a number from 0 to 1");
        c->score = x;
        return PAN_OK;
    }
    if (!strcmp(key, "detect")) return get_bool(w, v, key, &c->detect);
    if (!strcmp(key, "track")) return get_bool(w, v, key, &c->track);
    if (!strcmp(key, "fallback_cpu")) return get_bool(w, v, key, &c->fallback_cpu);
    if (!strcmp(key, "realtime")) return get_bool(w, v, key, &c->realtime);
    if (!strcmp(key, "sync")) return get_bool(w, v, key, &c->sync);
    if (!strcmp(key, "reid_interval")) return get_int(w, v, key, 1, 1000, &c->reid_interval);
    if (!strcmp(key, "batch")) return get_int(w, v, key, 0, 4096, &c->batch); /* as run --batch */
    if (!strcmp(key, "threads")) return get_int(w, v, key, 1, 64, &c->threads);
    if (!strcmp(key, "io_threads")) return get_int(w, v, key, 0, 256, &c->io_threads);
    if (!strcmp(key, "camera_queue")) return get_int(w, v, key, 0, 64, &c->camera_queue);
    if (!strcmp(key, "max_backoff_s")) return get_int(w, v, key, 1, 86400, &c->max_backoff_s);
    return fail_at(w, k, key,
                   "unknown key (known: listen, token_file, backend, model, model_type, classes, score, detect, track, "
                   "reid, reid_interval, batch, threads, io_threads, camera_queue, fallback_cpu, max_backoff_s, realtime, overlaps, sync, "
                   "analytics, outputs, defaults, cameras)");
}

void pan_serve_config_init(pan_serve_config *c)
{
    memset(c, 0, sizeof *c);
    c->score = -1;
    c->detect = c->track = c->fallback_cpu = c->realtime = c->sync = -1;
}

pan_status pan_serve_config_parse(pan_serve_config *c, const char *name, const char *text, size_t len, char *err,
                                  size_t n)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    walk w = {&doc, name, err, n};
    pan_status st = PAN_OK;
    pan_serve_config_init(c);
    if (!yaml_parser_initialize(&parser)) return PAN_NOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, n, "%s:%zu:%zu: not valid YAML: %s%s%s", name, parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1, parser.problem ? parser.problem : "syntax error",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return PAN_INVAL;
    }
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && !(root->type == YAML_SCALAR_NODE && !*scalar(root))) { /* an empty file is an empty config */
        if (root->type != YAML_MAPPING_NODE) {
            st = fail_at(&w, root, "(top level)", "expected a mapping of keys such as 'listen:' and 'cameras:'");
        } else if (!(st = check_keys(&w, root, "(top level)"))) {
            FOR_PAIRS(root, p) {
                st = top_key(&w, c, yaml_document_get_node(&doc, p->key), yaml_document_get_node(&doc, p->value));
                if (st) break;
            }
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (st) {
        if (st == PAN_NOMEM) snprintf(err, n, "%s: out of memory", name);
        pan_serve_config_free(c);
    }
    return st;
}

pan_status pan_serve_config_load(pan_serve_config *c, const char *path, char *err, size_t n)
{
    pan_serve_config_init(c);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, n, "%s: %s", path, strerror(errno));
        return PAN_NOTFOUND;
    }
    /* A config file is small; anything past 1 MiB is not one. */
    size_t cap = 1 << 20, len;
    char *text = malloc(cap + 1);
    if (!text) {
        fclose(f);
        return PAN_NOMEM;
    }
    len = fread(text, 1, cap + 1, f);
    int bad = ferror(f);
    fclose(f);
    pan_status st;
    if (bad) {
        snprintf(err, n, "%s: cannot read it", path);
        st = PAN_IO;
    } else if (len > cap) {
        snprintf(err, n, "%s: larger than 1 MiB: not a config file?", path);
        st = PAN_LIMIT;
    } else {
        st = pan_serve_config_parse(c, path, text, len, err, n);
    }
    free(text);
    return st;
}

pan_status pan_serve_config_add_camera(pan_serve_config *c, const pan_serve_camera *cam)
{
    pan_serve_camera *grown = realloc(c->cameras, (size_t)(c->n_cameras + 1) * sizeof *grown);
    if (!grown) return PAN_NOMEM;
    c->cameras = grown;
    pan_status st = pan_serve_camera_copy(&c->cameras[c->n_cameras], cam);
    if (!st) c->n_cameras++;
    return st;
}

pan_status pan_serve_parse_classes(const char *list, int **ids, int *n, char *err, size_t n_err)
{
    char *copy = strdup(list), *save = NULL;
    int *out = calloc(strlen(list) / 2 + 1, sizeof *out), k = 0;
    pan_status st = PAN_OK;
    if (!copy || !out) {
        st = PAN_NOMEM;
        goto done;
    }
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok)) tok++;
        char *end = tok + strlen(tok);
        while (end > tok && isspace((unsigned char)end[-1])) *--end = '\0';
        long long x;
        int id = plain_int(tok, &x) ? (x >= 0 && x < PAN_COCO_CLASSES ? (int)x : -1) : pan_coco_class(tok);
        if (id < 0) {
            snprintf(err, n_err, "'%s' is not a COCO class name or id (0-%d), e.g. person, car", tok, PAN_COCO_CLASSES - 1);
            st = PAN_INVAL;
            goto done;
        }
        out[k++] = id;
    }
    if (k == 0) {
        snprintf(err, n_err, "no class given (e.g. person,car)");
        st = PAN_INVAL;
    }
done:
    free(copy);
    if (st) {
        free(out);
        return st;
    }
    *ids = out;
    *n = k;
    return PAN_OK;
}

pan_status pan_serve_parse_overlap(const char *s, double out[4], char *err, size_t n)
{
    double v[4];
    const char *p = s;
    for (int k = 0; k < 4; k++) {
        char *end;
        while (isspace((unsigned char)*p)) p++;
        errno = 0;
        v[k] = strtod(p, &end);
        if (end == p || errno || !isfinite(v[k])) goto bad;
        p = end;
        while (isspace((unsigned char)*p)) p++;
        if (*p != (k < 3 ? ',' : '\0')) goto bad;
        if (k < 3) p++;
    }
    if (v[0] != floor(v[0]) || v[1] != floor(v[1]) || v[0] < 0 || v[1] < 0 || v[0] > INT_MAX || v[1] > INT_MAX ||
        v[0] == v[1]) {
        snprintf(err, n, "'%s': A and B must be two different camera ids (integers >= 0)", s);
        return PAN_INVAL;
    }
    memcpy(out, v, sizeof v);
    return PAN_OK;
bad:
    snprintf(err, n, "'%s': expected A,B,DX,DY: two camera ids and a shift in pixels (pixel (x, y) of camera A is "
                     "(x+DX, y+DY) in camera B)", s);
    return PAN_INVAL;
}

pan_status pan_serve_parse_listen(const char *s, char *host, size_t host_n, int *port, char *err, size_t n)
{
    const char *colon, *h = s;
    size_t hl;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            snprintf(err, n, "'%s': expected [IPv6]:PORT, e.g. [::1]:8080", s);
            return PAN_INVAL;
        }
        h = s + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s))) {
            snprintf(err, n, "'%s': expected ADDR:PORT, e.g. 127.0.0.1:8080 ([::1]:8080 for IPv6)", s);
            return PAN_INVAL;
        }
        hl = (size_t)(colon - s);
    }
    long long p;
    if (!plain_int(colon + 1, &p) || p < 0 || p > 65535 || colon[1] == '-' || colon[1] == '+') {
        snprintf(err, n, "'%s': the port must be a number from 0 to 65535 (0 = any free port)", s);
        return PAN_INVAL;
    }
    if (hl >= host_n) {
        snprintf(err, n, "'%s': address too long", s);
        return PAN_INVAL;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return PAN_OK;
}

void pan_serve_config_free(pan_serve_config *c)
{
    if (!c) return;
    free(c->listen);
    free(c->token_file);
    free(c->backend);
    free(c->model);
    free(c->model_type);
    free(c->classes);
    free(c->overlaps);
    free(c->reid);
    free(c->jsonl);
    free(c->events);
    free(c->mqtt);
    free(c->analytics);
    free(c->mot);
    pan_serve_camera_clear(&c->defaults);
    for (int i = 0; i < c->n_cameras; i++) pan_serve_camera_clear(&c->cameras[i]);
    free(c->cameras);
    pan_serve_config_init(c);
}
