/* One thread per camera: source → decoder → the shared frame queue. */
#include <stdlib.h>

#include "panoptes/decoder.h"
#include "panoptes/frame.h"
#include "panoptes/log.h"
#include "pipeline_internal.h"


/* Pushes a frame, waking up now and then to notice an interrupt. */
static pan_status push_frame(run *r, pan_frame *f)
{
    for (;;) {
        pan_status st = pan_queue_push(r->frames, f, 200);
        if (st != PAN_TIMEOUT) return st;
        if (pan__pipeline_stop_requested()) return PAN_INTERRUPTED;
    }
}

static pan_status drain_decoder(run *r, camera *c, pan_decoder *dec, int64_t *emitted)
{
    for (;;) {
        pan_frame *f = NULL;
        pan_status st = pan_decoder_receive_frame(dec, &f);
        if (st == PAN_EAGAIN || st == PAN_EOF) return st;
        if (st) return st;
        if (r->p->max_frames > 0 && *emitted >= r->p->max_frames) {
            pan_frame_unref(&f);
            continue;
        }
        st = push_frame(r, f);
        if (st) {
            pan_frame_unref(&f);
            return st;
        }
        (*emitted)++;
    }
}

static pan_decoder_kind pick_decoder(run *r) { return r->backend == PAN_BACKEND_CUDA ? PAN_DECODER_NVDEC : PAN_DECODER_CPU; }

void *pan__camera_main(void *arg)
{
    camera *c = arg;
    run *r = c->run;
    const pan_pipeline_params *p = r->p;
    pan_source *src = NULL;
    pan_decoder *dec = NULL;
    pan_status st;
    int64_t emitted = 0;
    pan_source_params sp = {.uri = c->uri, .camera = c->index, .loop = p->loop, .timeout_ms = p->timeout_ms};

    st = pan_source_create(&src, &sp);
    if (st) goto done;
    pthread_mutex_lock(&c->lock);
    c->src = src;
    pthread_mutex_unlock(&c->lock);
    if (pan__pipeline_stop_requested()) pan_source_interrupt(src);

    const pan_source_info *info = pan_source_get_info(src);
    pan_decoder_params dp = {
        .kind = pick_decoder(r),
        .camera = c->index,
        .uri = c->uri,
        .codecpar = pan_source_codecpar(src),
        .max_frames = pan_queue_capacity(r->frames) + 4,
        .threads = p->decoder_threads > 0 ? p->decoder_threads : 1,
    };
    pan_source_time_base(src, &dp.time_base_num, &dp.time_base_den);
    st = pan_stages_camera_decoder_params(&r->stages, c->index, &dp);
    if (st) goto done;
    st = pan_decoder_create(&dec, &dp);
    if (st && dp.kind == PAN_DECODER_NVDEC && p->fallback_cpu) {
        pan_log_warn("pipeline", c->index, "%s: NVDEC cannot decode this stream; using the cpu decoder (--fallback cpu)",
                     c->uri);
        dp.kind = PAN_DECODER_CPU;
        st = pan_decoder_create(&dec, &dp);
    }
    if (st) goto done;
    c->sum->decoder = dp.kind;
    pan_log_info("pipeline", c->index, "%s: %s %dx%d %.2f fps, %s, decoder %s", c->uri, info->codec, info->width,
                 info->height, info->fps, info->color_desc, pan_decoder_kind_name(dp.kind));

    for (;;) {
        pan_packet pkt;
        if (pan__pipeline_stop_requested()) {
            st = PAN_INTERRUPTED;
            break;
        }
        if (p->max_frames > 0 && emitted >= p->max_frames) {
            st = PAN_EOF;
            break;
        }
        st = pan_source_read(src, &pkt);
        if (st == PAN_EOF) break;
        if (st) break; /* logged by the source */
        for (;;) {
            pan_status s2 = pan_decoder_send_packet(dec, &pkt);
            if (s2 == PAN_EAGAIN) {
                s2 = drain_decoder(r, c, dec, &emitted);
                if (s2 != PAN_EAGAIN && s2 != PAN_EOF) {
                    st = s2;
                    goto stop;
                }
                continue;
            }
            if (s2) {
                st = s2;
                goto stop;
            }
            break;
        }
        st = drain_decoder(r, c, dec, &emitted);
        if (st != PAN_EAGAIN && st != PAN_EOF) goto stop;
        st = PAN_OK;
    }
    if (st == PAN_EOF || st == PAN_OK) {
        /* end of input: drain what the decoder still holds */
        pan_status s2 = pan_decoder_send_packet(dec, NULL);
        if (!s2) s2 = drain_decoder(r, c, dec, &emitted);
        st = (s2 == PAN_EOF || s2 == PAN_EAGAIN) ? PAN_OK : s2;
    }
stop:
    if (st == PAN_EOF) st = PAN_OK;
    if (st == PAN_CLOSED || st == PAN_INTERRUPTED) st = pan__pipeline_stop_requested() ? PAN_OK : st;
    pan_decoder_get_stats(dec, &c->sum->decode);
done:
    c->sum->status = st;
    if (st)
        pan_log_error("pipeline", c->index, "%s: camera stopped: %s (other cameras continue)", c->uri,
                      pan_status_str(st));
    pan_decoder_destroy(&dec);
    pthread_mutex_lock(&c->lock);
    c->src = NULL;
    pthread_mutex_unlock(&c->lock);
    pan_source_destroy(&src);
    if (atomic_fetch_sub(&r->live, 1) == 1) pan_queue_close(r->frames);
    return NULL;
}

void pan__camera_interrupt_all(run *r)
{
    for (int i = 0; i < r->p->n_cameras; i++) {
        camera *c = &r->cams[i];
        pthread_mutex_lock(&c->lock);
        if (c->src) pan_source_interrupt(c->src);
        pthread_mutex_unlock(&c->lock);
    }
}

