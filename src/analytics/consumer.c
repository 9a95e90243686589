/* Analytics as a pipeline consumer (consumer.h). */
#include <stdlib.h>
#include <string.h>

#include "analytics/consumer.h"
#include "analytics/mqtt.h"
#include "panoptes/log.h"

struct pan_analytics_outputs {
    pan_analytics *a;
    pan_event_file *ef;
    pan_mqtt *mq;
    char *events_path;
    char name[64];
};

pan_status pan_analytics_outputs_create(pan_analytics_outputs **out, const pan_analytics_outputs_params *p, char *err,
                                        size_t err_size)
{
    pan_analytics_config *cfg = NULL;
    pan_status st;
    pan_analytics_outputs *o;
    *out = NULL;
    if (!(o = calloc(1, sizeof *o))) return PAN_NOMEM;
    if (p->analytics_path) {
        /* a missing or bad file is the user's to fix: all PAN_INVAL */
        if (pan_analytics_config_load(&cfg, p->analytics_path, err, err_size) ||
            (p->n_cameras > 0 && pan_analytics_config_check_cameras(cfg, p->n_cameras, err, err_size))) {
            st = PAN_INVAL;
            goto fail;
        }
    }
    if ((st = pan_analytics_create(&o->a, cfg, NULL))) {
        snprintf(err, err_size, "cannot create the analytics: %s", pan_status_str(st));
        goto fail;
    }
    if (p->mqtt_url) {
        pan_mqtt_params mp;
        pan_mqtt_params_default(&mp);
        if (p->mqtt_queue > 0) mp.queue_max = p->mqtt_queue;
        if ((st = pan_mqtt_create(&o->mq, p->mqtt_url, &mp, err, err_size))) goto fail;
        pan_analytics_add_listener(o->a, pan_mqtt_publish_event, o->mq);
    }
    if (p->events_path) {
        if ((st = pan_event_file_create(&o->ef, p->events_path))) {
            snprintf(err, err_size, "%s: cannot open the events file for writing (does its folder exist?)",
                     p->events_path);
            goto fail;
        }
        pan_analytics_add_listener(o->a, pan_event_file_write, o->ef);
        o->events_path = strdup(p->events_path);
    }
    snprintf(o->name, sizeof o->name, "analytics");
    pan_analytics_config_destroy(&cfg);
    *out = o;
    return PAN_OK;
fail:
    pan_analytics_config_destroy(&cfg);
    pan_analytics_outputs_destroy(&o);
    return st;
}

static pan_status on_frame(void *opaque, const pan_frame_result *r)
{
    pan_analytics_outputs *o = opaque;
    pan_analytics_frame f = {r->camera, r->name, r->frame, r->pts, r->width, r->height,
                             r->detections, r->n_detections, r->tracks, r->n_tracks};
    pan_status st = pan_analytics_update(o->a, &f);
    if (st == PAN_INVAL) return PAN_OK; /* a frame out of order is logged and skipped, not fatal */
    if (!st && o->ef) st = pan_event_file_status(o->ef);
    return st;
}

/* A camera that is done (ended, failed, stopped, removed): its open tracks and visits end now. */
static void on_camera(void *opaque, const pan_camera_event *ev)
{
    pan_analytics_outputs *o = opaque;
    if (ev->state == PAN_CAMERA_FAILED || ev->state == PAN_CAMERA_ENDED || ev->state == PAN_CAMERA_STOPPED ||
        ev->state == PAN_CAMERA_REMOVED)
        pan_analytics_end_camera(o->a, ev->camera);
}

static void on_stop(void *opaque)
{
    pan_analytics_outputs *o = opaque;
    pan_analytics_finish(o->a);
}

pan_status pan_analytics_outputs_attach(pan_analytics_outputs *o, pan_pipeline *pl)
{
    pan_consumer c = {.name = o->name, .opaque = o, .on_frame = on_frame, .on_camera = on_camera,
                      .on_stop = on_stop, .required = o->ef != NULL, .no_image = 1};
    return pan_pipeline_add_consumer(pl, &c);
}

void pan_analytics_outputs_jsonl_extra(void *opaque, const pan_frame_result *r, FILE *f)
{
    pan_analytics_outputs *o = opaque;
    pan_analytics_write_frame(o->a, r->camera, f);
}

pan_analytics *pan_analytics_outputs_analytics(pan_analytics_outputs *o) { return o ? o->a : NULL; }

void pan_analytics_outputs_destroy(pan_analytics_outputs **po)
{
    if (!po || !*po) return;
    pan_analytics_outputs *o = *po;
    pan_event_file_destroy(&o->ef);
    pan_mqtt_destroy(&o->mq, NULL); /* logs its counts */
    pan_analytics_destroy(&o->a);
    free(o->events_path);
    free(o);
    *po = NULL;
}
