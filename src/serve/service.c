/* `panoptes serve` put together (src/serve/service.h). */
#include "serve/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics/consumer.h"
#include "io/outputs.h"
#include "panoptes/log.h"
#include "panoptes/pipeline.h"
#include "serve/api.h"
#include "serve/http.h"
#include "serve/pipeline_engine.h"
#include "serve/reload.h"

struct pan_serve_service {
    char *config_path;
    pan_serve_config over; /* the command line */
    pan_serve_config cfg;  /* what runs: the config file with the command line over it */
    char address[300];
    pan_outputs *outs;
    pan_analytics_outputs *analytics; /* lines, zones, events (file, MQTT); NULL when none asked */
    pan_pipeline *pl;
    pan_serve_pipeline *sp;
    pan_serve_api *api;
    pan_serve_http *http;
    /* the config file's cameras as started (defaults applied) and their ids, for reloads */
    pan_serve_camera *cams;
    int *ids;
    int n_cams;
    int stopped;
};

/* ---------------------------------------------------------------- config */

static pan_status over_str(char **dst, const char *src)
{
    if (!src) return PAN_OK;
    char *copy = strdup(src);
    if (!copy) return PAN_NOMEM;
    free(*dst);
    *dst = copy;
    return PAN_OK;
}

static void over_camera_options(pan_serve_camera *dst, const pan_serve_camera *src)
{
    if (src->transport) dst->transport = src->transport;
    if (src->timeout_ms) dst->timeout_ms = src->timeout_ms;
    if (src->reconnect) dst->reconnect = src->reconnect;
    if (src->loop) dst->loop = src->loop;
    if (src->max_frames) dst->max_frames = src->max_frames;
}

static pan_status overlay(pan_serve_config *d, const pan_serve_config *o, int with_cameras)
{
    pan_status st = PAN_OK;
    if ((st = over_str(&d->listen, o->listen)) || (st = over_str(&d->token_file, o->token_file)) ||
        (st = over_str(&d->backend, o->backend)) || (st = over_str(&d->model, o->model)) ||
        (st = over_str(&d->model_type, o->model_type)) ||
        (st = over_str(&d->reid, o->reid)) || (st = over_str(&d->jsonl, o->jsonl)) || (st = over_str(&d->mot, o->mot)) ||
        (st = over_str(&d->events, o->events)) || (st = over_str(&d->mqtt, o->mqtt)) ||
        (st = over_str(&d->analytics, o->analytics)))
        return st;
    if (o->classes) {
        int *c = malloc((size_t)o->n_classes * sizeof *c);
        if (!c) return PAN_NOMEM;
        memcpy(c, o->classes, (size_t)o->n_classes * sizeof *c);
        free(d->classes);
        d->classes = c;
        d->n_classes = o->n_classes;
    }
    if (o->overlaps) { /* the command line's --overlap options replace the file's list */
        double(*ov)[4] = malloc(((size_t)o->n_overlaps + 1) * sizeof *ov);
        if (!ov) return PAN_NOMEM;
        memcpy(ov, o->overlaps, (size_t)o->n_overlaps * sizeof *ov);
        free(d->overlaps);
        d->overlaps = ov;
        d->n_overlaps = o->n_overlaps;
    }
    if (o->score >= 0) d->score = o->score;
    if (o->detect >= 0) d->detect = o->detect;
    if (o->track >= 0) d->track = o->track;
    if (o->fallback_cpu >= 0) d->fallback_cpu = o->fallback_cpu;
    if (o->realtime >= 0) d->realtime = o->realtime;
    if (o->sync >= 0) d->sync = o->sync;
    if (o->reid_interval) d->reid_interval = o->reid_interval;
    if (o->batch) d->batch = o->batch;
    if (o->threads) d->threads = o->threads;
    if (o->io_threads) d->io_threads = o->io_threads;
    if (o->camera_queue) d->camera_queue = o->camera_queue;
    if (o->max_backoff_s) d->max_backoff_s = o->max_backoff_s;
    over_camera_options(&d->defaults, &o->defaults);
    for (int i = 0; with_cameras && i < o->n_cameras && !st; i++) st = pan_serve_config_add_camera(d, &o->cameras[i]);
    return st;
}

pan_status pan_serve_config_overlay(pan_serve_config *dst, const pan_serve_config *over)
{
    return overlay(dst, over, 1);
}

/* A camera with the defaults filled in where it says nothing itself. */
static pan_status with_defaults(pan_serve_camera *out, const pan_serve_camera *cam, const pan_serve_camera *defaults)
{
    pan_serve_camera d = *defaults;
    over_camera_options(&d, cam);
    d.uri = cam->uri;
    d.name = cam->name;
    return pan_serve_camera_copy(out, &d);
}

/* The token: the file's text without the whitespace around it. */
static char *read_token(const char *path, char *err, size_t n)
{
    char buf[4097];
    struct stat sb;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "token file %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077))
        pan_log_warn("serve", -1, "token file %s can be read by others than its owner (chmod 600 it)", path);
    fclose(f);
    buf[len] = '\0';
    char *s = buf, *e = buf + len;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) *--e = '\0';
    if (!*s || len == sizeof buf - 1 || strpbrk(s, " \t\r\n")) {
        snprintf(err, n, "token file %s: expected one token of 1 to 4096 characters without spaces", path);
        return NULL;
    }
    return strdup(s);
}

/* ---------------------------------------------------------------- cameras */

static pan_status start_camera(pan_serve_service *s, const pan_serve_camera *cam, int from_config)
{
    pan_serve_camera eff = {0};
    int id = -1;
    pan_status st = with_defaults(&eff, cam, &s->cfg.defaults);
    if (!st) st = pan_serve_pipeline_add(s->sp, &eff, &id);
    if (st) {
        pan_log_error("serve", -1, "cannot start camera %s: %s", cam->uri, pan_status_str(st));
    } else if (from_config) {
        pan_serve_camera *c = realloc(s->cams, (size_t)(s->n_cams + 1) * sizeof *c);
        int *ids = c ? realloc(s->ids, (size_t)(s->n_cams + 1) * sizeof *ids) : NULL;
        if (c) s->cams = c;
        if (ids) s->ids = ids;
        if (!c || !ids) {
            pan_serve_camera_clear(&eff);
            return PAN_NOMEM;
        }
        s->cams[s->n_cams] = eff;
        s->ids[s->n_cams++] = id;
        return PAN_OK;
    }
    pan_serve_camera_clear(&eff);
    return st;
}

/* ---------------------------------------------------------------- lifecycle */

static pan_status fail(char *err, size_t n, pan_status st, const char *fmt, const char *what)
{
    snprintf(err, n, fmt, what);
    return st;
}

pan_status pan_serve_config_pipeline_params(const pan_serve_config *c, const char *model_default,
                                            pan_pipeline_params *p, char *err, size_t n)
{
    pan_pipeline_params_default(p);
    if (c->backend) p->backend = (pan_backend)pan_backend_parse(c->backend);
    if (c->detect == 0) p->detect = 0, p->track = 0;
    if (c->track == 0) p->track = 0;
    p->model_path = c->model ? c->model : model_default;
    if (p->detect && !p->model_path)
        return fail(err, n, PAN_INVAL, "%s", "the default detector models/nanodet.json is missing: run scripts/setup.sh, "
                                              "give model: FILE (--model), or detect: false (--no-detect)");
    p->model_type = c->model_type;
    if (c->score >= 0) p->score_threshold = (float)c->score;
    p->classes = c->classes;
    p->n_classes = c->n_classes;
    p->reid = c->reid;
    if (c->reid && strcmp(c->reid, "default") && strcmp(c->reid, "off") && access(c->reid, R_OK))
        return fail(err, n, PAN_INVAL, "reid: '%s' is neither default, off nor a readable ONNX model", c->reid);
    if (c->reid_interval) p->reid_interval = c->reid_interval;
    if (c->batch) p->batch = c->batch;
    if (c->threads) p->decoder_threads = c->threads;
    p->io_threads = c->io_threads;
    p->camera_queue = c->camera_queue;
    p->fallback_cpu = c->fallback_cpu > 0;
    p->realtime = c->realtime > 0;
    if (c->max_backoff_s) p->backoff_max_ms = c->max_backoff_s * 1000;
    /* a service retries its cameras forever unless told otherwise (defaults.reconnect, per camera) */
    p->reconnect = PAN_RECONNECT_FOREVER;
    p->overlaps = (const double(*)[4])c->overlaps;
    p->n_overlaps = c->overlaps ? c->n_overlaps : 0;
    p->sync = c->sync > 0 ? 1 : c->sync == 0 ? -1 : 0; /* the pipeline's 0 is its default */
    return PAN_OK;
}

pan_status pan_serve_service_start(pan_serve_service **out, const char *config_path, const pan_serve_config *over,
                                   const char *model_default, char *err, size_t n)
{
    char host[256], why[512];
    int port;
    pan_status st;
    char *token = NULL;
    *out = NULL;
    err[0] = '\0';
    pan_serve_service *s = calloc(1, sizeof *s);
    if (!s) return PAN_NOMEM;
    pan_serve_config_init(&s->over);
    if ((st = overlay(&s->over, over, 1))) goto fail;
    if (config_path) {
        if (!(s->config_path = strdup(config_path))) goto nomem;
        if ((st = pan_serve_config_load(&s->cfg, config_path, err, n))) {
            st = PAN_INVAL;
            goto fail;
        }
    } else {
        pan_serve_config_init(&s->cfg);
    }
    if ((st = overlay(&s->cfg, &s->over, 0))) goto fail;
    const pan_serve_config *c = &s->cfg;

    if (pan_serve_parse_listen(c->listen ? c->listen : "127.0.0.1:8080", host, sizeof host, &port, why, sizeof why)) {
        st = fail(err, n, PAN_INVAL, "listen: %s", why);
        goto fail;
    }
    if (c->token_file && !(token = read_token(c->token_file, err, n))) {
        st = PAN_INVAL;
        goto fail;
    }
    pan_pipeline_params p;
    if ((st = pan_serve_config_pipeline_params(c, model_default, &p, err, n))) goto fail;

    if (c->analytics || c->events || c->mqtt) {
        /* camera keys of the analytics file are the ids the config's cameras get (0, 1, ... in
         * order); cameras added later through the API may be named by their ids too */
        pan_analytics_outputs_params ap = {.analytics_path = c->analytics, .events_path = c->events, .mqtt_url = c->mqtt};
        if ((st = pan_analytics_outputs_create(&s->analytics, &ap, err, n))) goto fail;
    }
    pan_outputs_params op = {.jsonl_path = c->jsonl, .mot_dir = c->mot};
    if ((st = pan_outputs_create(&s->outs, &op))) {
        st = fail(err, n, st, "cannot open the outputs (%s): see the message above", pan_status_str(st));
        goto fail;
    }
    if ((st = pan_pipeline_create(&s->pl, &p))) {
        st = fail(err, n, st, "cannot create the pipeline: %s (see the message above)", pan_status_str(st));
        goto fail;
    }
    /* analytics first: a frame's JSONL line then carries the counts including that frame */
    if (s->analytics && (st = pan_analytics_outputs_attach(s->analytics, s->pl))) goto fail;
    if (s->analytics && pan_outputs_jsonl(s->outs))
        pan_jsonl_sink_set_extra(pan_outputs_jsonl(s->outs), pan_analytics_outputs_jsonl_extra, s->analytics);
    if ((st = pan_serve_pipeline_create(&s->sp, s->pl)) || (st = pan_outputs_attach(s->outs, s->pl))) {
        st = fail(err, n, st, "cannot set up the pipeline's consumers: %s", pan_status_str(st));
        goto fail;
    }
    pan_serve_api_params ap = {.engine = pan_serve_pipeline_engine(s->sp), .token = token};
    if ((st = pan_serve_api_create(&s->api, &ap))) goto fail;
    pan_serve_http_params hp = {.host = host, .port = port, .api = s->api};
    if ((st = pan_serve_http_create(&s->http, &hp, err, n))) goto fail;
    snprintf(s->address, sizeof s->address, "%s%s%s:%d", strchr(host, ':') ? "[" : "", *host ? host : "0.0.0.0",
             strchr(host, ':') ? "]" : "", pan_serve_http_port(s->http));
    if ((st = pan_pipeline_start(s->pl))) {
        st = fail(err, n, st, "cannot start the pipeline: %s", pan_status_str(st));
        goto fail;
    }
    for (int i = 0; i < c->n_cameras; i++)
        if ((st = start_camera(s, &c->cameras[i], 1)) == PAN_NOMEM) goto nomem;
    for (int i = 0; i < s->over.n_cameras; i++)
        if ((st = start_camera(s, &s->over.cameras[i], 0)) == PAN_NOMEM) goto nomem;
    pan_log_info("serve", -1, "serving %d camera(s) on http://%s/ (%s backend)", c->n_cameras + s->over.n_cameras,
                 s->address, pan_backend_name(pan_pipeline_backend(s->pl)));
    free(token);
    *out = s;
    return PAN_OK;
nomem:
    st = fail(err, n, PAN_NOMEM, "%s", "out of memory");
fail:
    if (!err[0]) snprintf(err, n, "%s", pan_status_str(st));
    free(token);
    pan_serve_service_destroy(&s);
    return st;
}

const char *pan_serve_service_address(const pan_serve_service *s) { return s->address; }

/* Settings a reload cannot change in a running pipeline: named, so that nobody waits for them. */
static void warn_restart_needed(const pan_serve_config *a, const pan_serve_config *b)
{
#define STR_CHANGED(f) ((a->f == NULL) != (b->f == NULL) || (a->f && strcmp(a->f, b->f)))
    const char *changed[16];
    int k = 0;
    if (STR_CHANGED(listen)) changed[k++] = "listen";
    if (STR_CHANGED(backend)) changed[k++] = "backend";
    if (STR_CHANGED(model)) changed[k++] = "model";
    if (STR_CHANGED(model_type)) changed[k++] = "model_type";
    if (STR_CHANGED(reid)) changed[k++] = "reid";
    if (STR_CHANGED(jsonl) || STR_CHANGED(mot) || STR_CHANGED(events) || STR_CHANGED(mqtt)) changed[k++] = "outputs";
    if (STR_CHANGED(analytics)) changed[k++] = "analytics";
    if (a->n_classes != b->n_classes || (a->n_classes && memcmp(a->classes, b->classes, (size_t)a->n_classes * sizeof(int))))
        changed[k++] = "classes";
    if (a->score != b->score) changed[k++] = "score";
    if (a->detect != b->detect || a->track != b->track) changed[k++] = "detect/track";
    if (a->reid_interval != b->reid_interval || a->batch != b->batch || a->threads != b->threads ||
        a->io_threads != b->io_threads || a->camera_queue != b->camera_queue)
        changed[k++] = "reid_interval/batch/threads/io_threads/camera_queue";
    if (a->fallback_cpu != b->fallback_cpu || a->realtime != b->realtime || a->max_backoff_s != b->max_backoff_s)
        changed[k++] = "fallback_cpu/realtime/max_backoff_s";
    if (a->n_overlaps != b->n_overlaps ||
        (a->n_overlaps && memcmp(a->overlaps, b->overlaps, (size_t)a->n_overlaps * sizeof *a->overlaps)))
        changed[k++] = "overlaps";
    if (a->sync != b->sync) changed[k++] = "sync";
#undef STR_CHANGED
    for (int i = 0; i < k; i++)
        pan_log_warn("serve", -1, "reload: %s changed; restart the service to apply it", changed[i]);
}

pan_status pan_serve_service_reload(pan_serve_service *s)
{
    char err[768];
    pan_serve_config file, eff;
    pan_status st;
    if (!s->config_path) {
        pan_log_warn("serve", -1, "reload: no --config file to read again");
        return PAN_OK;
    }
    if ((st = pan_serve_config_load(&file, s->config_path, err, sizeof err))) {
        pan_log_error("serve", -1, "reload: %s; the service goes on as it was", err);
        return st;
    }
    pan_serve_config_init(&eff);
    if ((st = overlay(&eff, &file, 1)) || (st = overlay(&eff, &s->over, 0))) goto done;
    /* the new token first: a reload that rotates it takes effect before anything else */
    if (eff.token_file) {
        char *token = read_token(eff.token_file, err, sizeof err);
        if (token) pan_serve_api_set_token(s->api, token);
        else pan_log_error("serve", -1, "reload: %s; the old token stays", err);
        free(token);
    } else if (s->cfg.token_file) {
        pan_log_warn("serve", -1, "reload: no token_file any more: the API is open to anyone who can reach it");
        pan_serve_api_set_token(s->api, NULL);
    }
    warn_restart_needed(&s->cfg, &eff);
    /* the defaults may have changed: compare the cameras as they would start now */
    int n_want = eff.n_cameras;
    pan_serve_camera *want = calloc((size_t)n_want + 1, sizeof *want);
    int *keep = calloc((size_t)s->n_cams + 1, sizeof *keep), *add = calloc((size_t)eff.n_cameras + 1, sizeof *add);
    for (int j = 0; want && j < eff.n_cameras && !st; j++) st = with_defaults(&want[j], &eff.cameras[j], &eff.defaults);
    if (!want || !keep || !add || st) {
        st = PAN_NOMEM;
    } else {
        int changes = pan_serve_reload_plan(s->cams, s->n_cams, want, eff.n_cameras, keep, add), k = 0;
        for (int i = 0; i < s->n_cams; i++) {
            if (keep[i]) {
                s->cams[k] = s->cams[i], s->ids[k++] = s->ids[i];
                continue;
            }
            pan_status rs = pan_serve_pipeline_remove(s->sp, s->ids[i]);
            pan_log_info("serve", s->ids[i], "reload: %s %s", rs == PAN_NOTFOUND ? "already removed:" : "removed",
                         s->cams[i].uri);
            pan_serve_camera_clear(&s->cams[i]);
        }
        s->n_cams = k;
        /* start_camera applies s->cfg's defaults: the new ones */
        pan_serve_camera old_defaults = s->cfg.defaults;
        s->cfg.defaults = eff.defaults;
        for (int j = 0; j < eff.n_cameras; j++)
            if (add[j] && start_camera(s, &eff.cameras[j], 1) == PAN_OK)
                pan_log_info("serve", s->ids[s->n_cams - 1], "reload: started %s", eff.cameras[j].uri);
        s->cfg.defaults = old_defaults;
        pan_log_info("serve", -1, "reload: %s read again, %d change(s)", s->config_path, changes);
        /* what runs now is the new config */
        pan_serve_config tmp = s->cfg;
        s->cfg = eff;
        eff = tmp;
    }
    for (int j = 0; want && j < n_want; j++) pan_serve_camera_clear(&want[j]);
    free(want);
    free(keep);
    free(add);
done:
    pan_serve_config_free(&eff);
    pan_serve_config_free(&file);
    return st;
}

pan_status pan_serve_service_stop(pan_serve_service *s)
{
    if (s->stopped) return PAN_OK;
    s->stopped = 1;
    /* requests waiting for a snapshot return now; the server then waits for the others */
    pan_serve_pipeline_close(s->sp);
    pan_serve_http_destroy(&s->http);
    return s->pl ? pan_pipeline_stop(s->pl) : PAN_OK;
}

void pan_serve_service_destroy(pan_serve_service **ps)
{
    if (!ps || !*ps) return;
    pan_serve_service *s = *ps;
    *ps = NULL;
    pan_serve_pipeline_close(s->sp);
    pan_serve_http_destroy(&s->http);
    pan_pipeline_destroy(&s->pl); /* stops it if needed: the consumers' on_stop runs */
    pan_serve_pipeline_destroy(&s->sp);
    pan_outputs_destroy(&s->outs);
    pan_analytics_outputs_destroy(&s->analytics); /* after the pipeline: MQTT delivers what it holds */
    pan_serve_api_destroy(&s->api);
    for (int i = 0; i < s->n_cams; i++) pan_serve_camera_clear(&s->cams[i]);
    free(s->cams);
    free(s->ids);
    pan_serve_config_free(&s->cfg);
    pan_serve_config_free(&s->over);
    free(s->config_path);
    free(s);
}
