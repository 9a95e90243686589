/* Result files as pipeline consumers (outputs.h). */
#include "io/outputs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/annotate.h"
#include "panoptes/log.h"
#include "track/mot.h"

struct pan_outputs {
    pan_outputs_params p;
    pan_jsonl_sink *jsonl;
    /* MOT files by camera id, made on a camera's first frame */
    pan_mot_sink **mot;
    int n_mot;
    pan_annotate *annotate;        /* made on the annotated camera's first frame */
    pan_frame_pool *annotate_pool; /* host copies of device frames for it */
    int annotate_failed;
    char label[3][4200];           /* consumer names for messages */
};

pan_status pan_outputs_create(pan_outputs **out, const pan_outputs_params *p)
{
    *out = NULL;
    pan_outputs *o = calloc(1, sizeof *o);
    if (!o) return PAN_NOMEM;
    o->p = *p;
    pan_status st = PAN_OK;
    if (p->jsonl_path && (st = pan_jsonl_sink_create(&o->jsonl, p->jsonl_path))) goto fail;
    if (p->mot_dir && mkdir(p->mot_dir, 0777) && errno != EEXIST) {
        pan_log_error("sink", -1, "%s: cannot create the MOT folder: %s", p->mot_dir, strerror(errno));
        st = PAN_IO;
        goto fail;
    }
    *out = o;
    return PAN_OK;
fail:
    pan_outputs_destroy(&o);
    return st;
}

pan_jsonl_sink *pan_outputs_jsonl(pan_outputs *o) { return o ? o->jsonl : NULL; }

static pan_status jsonl_frame(void *opaque, const pan_frame_result *r)
{
    pan_outputs *o = opaque;
    return pan_jsonl_sink_write(o->jsonl, r);
}

static void jsonl_stop(void *opaque)
{
    pan_outputs *o = opaque;
    pan_jsonl_sink_destroy(&o->jsonl);
}

static pan_status mot_frame(void *opaque, const pan_frame_result *r)
{
    pan_outputs *o = opaque;
    if (r->camera >= o->n_mot) {
        int n = r->camera + 16;
        pan_mot_sink **m = realloc(o->mot, (size_t)n * sizeof *m);
        if (!m) return PAN_NOMEM;
        memset(m + o->n_mot, 0, (size_t)(n - o->n_mot) * sizeof *m);
        o->mot = m;
        o->n_mot = n;
    }
    pan_mot_sink **ms = &o->mot[r->camera];
    if (!*ms) {
        char path[4200];
        snprintf(path, sizeof path, "%s/cam%d.txt", o->p.mot_dir, r->camera);
        pan_status st = pan_mot_sink_create(ms, path);
        if (st) return st;
    }
    return pan_mot_sink_write(*ms, r->frame, r->tracks, r->n_tracks);
}

/* A camera that reached its end sends no more frames: its file is finished now, so that a
 * long-running service does not keep one open file per camera it ever had. */
static void mot_camera(void *opaque, const pan_camera_event *e)
{
    pan_outputs *o = opaque;
    int final = e->state == PAN_CAMERA_ENDED || e->state == PAN_CAMERA_FAILED || e->state == PAN_CAMERA_STOPPED ||
                e->state == PAN_CAMERA_REMOVED;
    if (final && e->camera >= 0 && e->camera < o->n_mot) pan_mot_sink_destroy(&o->mot[e->camera]);
}

static void mot_stop(void *opaque)
{
    pan_outputs *o = opaque;
    for (int i = 0; i < o->n_mot; i++) pan_mot_sink_destroy(&o->mot[i]);
}

/* The annotated video is a convenience: if it cannot be written, say so once and go on. */
static pan_status annotate_frame(void *opaque, const pan_frame_result *r)
{
    pan_outputs *o = opaque;
    const pan_frame *f = r->image;
    if (o->annotate_failed || r->camera != o->p.annotate_camera || !f) return PAN_OK;
    pan_frame *host = NULL;
    if (f->memory != PAN_MEMORY_HOST) {
        /* the one place pixels leave the GPU, on request; counted in the statistics */
        if (!o->annotate_pool && pan_frame_pool_create(&o->annotate_pool, f->width, f->height, f->format, 1)) {
            o->annotate_failed = 1;
            return PAN_OK;
        }
        if (pan_frame_pool_get(o->annotate_pool, 1, &host) || pan_frame_download(f, host)) {
            pan_log_warn("annotate", r->camera, "cannot copy frame %lld to the host; stopping the annotated video",
                         (long long)r->frame);
            pan_frame_unref(&host);
            o->annotate_failed = 1;
            return PAN_OK;
        }
        f = host;
    }
    int dw, dh;
    pan_frame_display_size(f, &dw, &dh); /* the video shows frames as displayed, like the boxes */
    if (!o->annotate && pan_annotate_create(&o->annotate, o->p.annotate_path, dw, dh, 25.0)) {
        pan_frame_unref(&host);
        o->annotate_failed = 1;
        return PAN_OK;
    }
    pan_annotate_set_overlay(o->annotate, o->p.annotate_overlay, o->p.annotate_overlay_opaque);
    pan_status st = pan_annotate_write(o->annotate, f, r);
    pan_frame_unref(&host);
    if (st) {
        pan_log_warn("annotate", r->camera, "%s: stopped writing the annotated video", o->p.annotate_path);
        pan_annotate_destroy(&o->annotate);
        o->annotate_failed = 1;
    }
    return PAN_OK;
}

static void annotate_stop(void *opaque)
{
    pan_outputs *o = opaque;
    pan_annotate_destroy(&o->annotate);
    pan_frame_pool_destroy(&o->annotate_pool);
}

pan_status pan_outputs_attach(pan_outputs *o, pan_pipeline *pl)
{
    pan_status st = PAN_OK;
    if (o->jsonl) {
        snprintf(o->label[0], sizeof o->label[0], "the JSON Lines output %s", o->p.jsonl_path);
        pan_consumer c = {.name = o->label[0], .opaque = o, .on_frame = jsonl_frame, .on_stop = jsonl_stop, .required = 1,
                          .no_image = 1};
        if ((st = pan_pipeline_add_consumer(pl, &c))) return st;
    }
    if (o->p.mot_dir) {
        snprintf(o->label[1], sizeof o->label[1], "the MOT output %s", o->p.mot_dir);
        pan_consumer c = {.name = o->label[1], .opaque = o, .on_frame = mot_frame, .on_camera = mot_camera,
                           .on_stop = mot_stop, .required = 1, .no_image = 1};
        if ((st = pan_pipeline_add_consumer(pl, &c))) return st;
    }
    if (o->p.annotate_path) {
        snprintf(o->label[2], sizeof o->label[2], "the annotated video %s", o->p.annotate_path);
        pan_consumer c = {.name = o->label[2], .opaque = o, .on_frame = annotate_frame, .on_stop = annotate_stop};
        if ((st = pan_pipeline_add_consumer(pl, &c))) return st;
    }
    return PAN_OK;
}

void pan_outputs_destroy(pan_outputs **po)
{
    pan_outputs *o = po ? *po : NULL;
    if (!o) return;
    jsonl_stop(o);
    mot_stop(o);
    annotate_stop(o);
    free(o->mot);
    free(o);
    *po = NULL;
}
