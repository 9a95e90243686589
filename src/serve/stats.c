/* Statistics of `panoptes serve` as JSON (src/serve/engine.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve/engine.h"

const char *const pan_serve_state_names[PAN_SERVE_N_STATES] = {
    "connecting", "live", "retrying", "failed", "ended", "stopped",
};

void pan_serve_stats_free(pan_serve_stats *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_cameras; i++) {
        free(s->cameras[i].name);
        free(s->cameras[i].uri);
        free(s->cameras[i].error);
    }
    free(s->cameras);
    free(s->error);
    memset(s, 0, sizeof *s);
}

/* JSON has no NaN or infinity: such figures are written as null. */
static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }
static json_t *str(const char *s) { return json_string(s ? s : ""); }

json_t *pan_serve_camera_info_json(const pan_serve_camera_info *c)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "id", json_integer(c->id));
    json_object_set_new(o, "name", str(c->name));
    json_object_set_new(o, "uri", str(c->uri));
    json_object_set_new(o, "state", str(c->state));
    json_object_set_new(o, "fps", num(c->fps));
    json_object_set_new(o, "frames", json_integer(c->frames));
    json_object_set_new(o, "dropped", json_integer(c->dropped));
    json_object_set_new(o, "reconnects", json_integer(c->reconnects));
    json_object_set_new(o, "error", str(c->error));
    json_object_set_new(o, "status", str(c->status));
    json_object_set_new(o, "live", json_boolean(c->live));
    json_object_set_new(o, "decoder", str(c->decoder));
    json_object_set_new(o, "detections", json_integer(c->detections));
    json_object_set_new(o, "decode_errors", json_integer(c->decode_errors));
    json_object_set_new(o, "packets", json_integer(c->packets));
    json_object_set_new(o, "failed_attempts", json_integer(c->failed_attempts));
    json_object_set_new(o, "outage_s", num(c->outage_s));
    json_object_set_new(o, "thread_cpu_s", num(c->thread_cpu_s));
    return o;
}

json_t *pan_serve_stats_json(const pan_serve_stats *s)
{
    json_t *o = json_object(), *cams = json_array(), *hist = json_array();
    if (!o || !cams || !hist) {
        json_decref(o);
        json_decref(cams);
        json_decref(hist);
        return NULL;
    }
    json_object_set_new(o, "backend", str(s->backend));
    json_object_set_new(o, "running", json_boolean(s->running));
    json_object_set_new(o, "failed", json_boolean(s->failed));
    json_object_set_new(o, "status", str(s->status));
    json_object_set_new(o, "error", str(s->error));
    json_object_set_new(o, "uptime_s", num(s->uptime_s));
    json_object_set_new(o, "n_cameras", json_integer(s->n_cameras));
    json_object_set_new(o, "frames", json_integer(s->frames));
    json_object_set_new(o, "fps", num(s->fps));
    json_object_set_new(o, "steady_fps", num(s->steady_fps));
    json_object_set_new(o, "dropped", json_integer(s->dropped));
    json_object_set_new(o, "reconnects", json_integer(s->reconnects));
    json_object_set_new(o, "failed_cameras", json_integer(s->failed_cameras));
    json_object_set_new(o, "draining_cameras", json_integer(s->draining_cameras));
    json_object_set_new(o, "cpu_seconds", num(s->cpu_seconds));
    json_object_set_new(o, "cpu_ms_per_frame", num(s->cpu_ms_per_frame));
    json_object_set_new(o, "steady_cpu_ms_per_frame", num(s->steady_cpu_ms_per_frame));
    json_object_set_new(o, "cpu_ms_per_frame_cameras", num(s->cpu_ms_per_frame_cameras));
    json_object_set_new(o, "cpu_ms_per_frame_delivery", num(s->cpu_ms_per_frame_delivery));
    json_object_set_new(o, "cpu_ms_per_frame_other", num(s->cpu_ms_per_frame_other));
    json_object_set_new(o, "peak_rss_mib", num(s->peak_rss_mib));
    json_object_set_new(o, "device_mib_used", num(s->device_mib_used));
    json_object_set_new(o, "rss_mib", num(s->rss_mib));
    json_object_set_new(o, "device_mib_now", num(s->device_mib_now));
    json_object_set_new(o, "pixel_bytes_copied", json_integer(s->pixel_bytes_copied));
    json_object_set_new(o, "batches", json_integer(s->batches));
    json_object_set_new(o, "batch_max", json_integer(s->batch_max));
    json_object_set_new(o, "batch_mean", num(s->batch_mean));
    for (int k = 0; k < PAN_SERVE_BATCH_HIST; k++) json_array_append_new(hist, json_integer(s->batch_hist[k]));
    json_object_set_new(o, "batch_hist", hist);
    for (int i = 0; i < s->n_cameras; i++) json_array_append_new(cams, pan_serve_camera_info_json(&s->cameras[i]));
    json_object_set_new(o, "cameras", cams);
    return o;
}
