/* cpu decoder: libavcodec. Output frames are zero-copy views of libavcodec's own refcounted,
 * pooled buffers (an AVFrame reference held by the pan_frame); formats other than 8-bit 4:2:0
 * are converted to YUV420P through libswscale into a pan_frame_pool. The number of frames
 * out at once is bounded by max_frames: receive blocks until one comes back (back-pressure). */
#include <libavcodec/avcodec.h>
#include <libavutil/pixdesc.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef PANOPTES_HAVE_SWSCALE
#include <libswscale/swscale.h>
#endif

#include "decode/decoder_impl.h"
#include "io/av_log.h"
#include "panoptes/log.h"

typedef struct wrap_slot {
    pan_frame frame; /* first member */
    AVFrame *av;
    struct cpu_dec *owner;
    struct wrap_slot *next_free;
} wrap_slot;

typedef struct cpu_dec {
    AVCodecContext *ctx;
    AVFrame *tmp;
    AVPacket *pkt;
    double time_base;
    pthread_mutex_t lock;
    pthread_cond_t available;
    wrap_slot *slots;
    wrap_slot *free_list;
    int nslots, out, closing;
    int draining;
#ifdef PANOPTES_HAVE_SWSCALE
    struct SwsContext *sws;
    pan_frame_pool *conv_pool;
    int conv_w, conv_h;
#endif
    int warned_format;
} cpu_dec;

static void free_state(cpu_dec *c)
{
    if (c->slots)
        for (int i = 0; i < c->nslots; i++) av_frame_free(&c->slots[i].av);
    free(c->slots);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->available);
    free(c);
}

static void slot_release(pan_frame *f, void *opaque)
{
    cpu_dec *c = opaque;
    wrap_slot *s = (wrap_slot *)f;
    int last;
    av_frame_unref(s->av);
    pthread_mutex_lock(&c->lock);
    s->next_free = c->free_list;
    c->free_list = s;
    c->out--;
    last = c->closing && c->out == 0;
    pthread_cond_signal(&c->available);
    pthread_mutex_unlock(&c->lock);
    if (last) free_state(c);
}

static pan_status cpu_create(pan_decoder *dec, const pan_decoder_params *p)
{
    const AVCodecParameters *par = p->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    cpu_dec *c;
    int err;
    pan__av_log_install();
    if (!codec) {
        pan_log_error("decode", p->camera, "%s: no decoder for codec %s in this FFmpeg build", p->uri ? p->uri : "?",
                      avcodec_get_name(par->codec_id));
        return PAN_UNSUPPORTED;
    }
    c = calloc(1, sizeof *c);
    if (!c) return PAN_NOMEM;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->available, NULL);
    c->nslots = p->max_frames;
    c->slots = calloc((size_t)c->nslots, sizeof *c->slots);
    if (!c->slots) goto nomem;
    for (int i = 0; i < c->nslots; i++) {
        c->slots[i].av = av_frame_alloc();
        if (!c->slots[i].av) goto nomem;
        c->slots[i].owner = c;
        c->slots[i].next_free = c->free_list;
        c->free_list = &c->slots[i];
    }
    c->ctx = avcodec_alloc_context3(codec);
    c->tmp = av_frame_alloc();
    c->pkt = av_packet_alloc();
    if (!c->ctx || !c->tmp || !c->pkt) goto nomem;
    if ((err = avcodec_parameters_to_context(c->ctx, par)) < 0) goto averr;
    c->ctx->thread_count = p->threads > 0 ? p->threads : 1;
    c->ctx->pkt_timebase = (AVRational){p->time_base_num, p->time_base_den};
    c->time_base = p->time_base_den ? (double)p->time_base_num / p->time_base_den : 0;
    if ((err = avcodec_open2(c->ctx, codec, NULL)) < 0) goto averr;
    dec->priv = c;
    return PAN_OK;
averr:
    pan_log_error("decode", p->camera, "%s: cannot open the %s decoder: %s", p->uri ? p->uri : "?", codec->name,
                  av_err2str(err));
    avcodec_free_context(&c->ctx);
    av_frame_free(&c->tmp);
    av_packet_free(&c->pkt);
    free_state(c);
    return PAN_UNSUPPORTED;
nomem:
    if (c->ctx) avcodec_free_context(&c->ctx);
    av_frame_free(&c->tmp);
    av_packet_free(&c->pkt);
    free_state(c);
    return PAN_NOMEM;
}

static void cpu_destroy(pan_decoder *dec)
{
    cpu_dec *c = dec->priv;
    int free_now;
    if (!c) return;
    avcodec_free_context(&c->ctx);
    av_frame_free(&c->tmp);
    av_packet_free(&c->pkt);
#ifdef PANOPTES_HAVE_SWSCALE
    sws_freeContext(c->sws);
    pan_frame_pool_destroy(&c->conv_pool);
#endif
    /* Frames may still be held downstream; the state is freed when the last comes back. */
    pthread_mutex_lock(&c->lock);
    c->closing = 1;
    free_now = c->out == 0;
    pthread_mutex_unlock(&c->lock);
    if (free_now) free_state(c);
    dec->priv = NULL;
}

/* The first few damaged packets of a decoder are warnings; the rest go to DEBUG (a damaged live
 * stream would print one line per frame): the counters report them all. */
#define DAMAGE_WARNINGS 3
static void log_damage(pan_decoder *dec, const char *what, int err)
{
    const char *uri = dec->params.uri ? dec->params.uri : "?";
    if (dec->stats.errors <= DAMAGE_WARNINGS)
        pan_log_warn("decode", dec->params.camera, "%s: %s (%s)%s", uri, what, av_err2str(err),
                     dec->stats.errors == DAMAGE_WARNINGS ? "; further damage is counted, logged at debug level" : "");
    else
        pan_log_debug("decode", dec->params.camera, "%s: %s (%s)", uri, what, av_err2str(err));
}

static pan_status cpu_send(pan_decoder *dec, const pan_packet *pkt)
{
    cpu_dec *c = dec->priv;
    int err;
    if (!pkt) {
        c->draining = 1;
        err = avcodec_send_packet(c->ctx, NULL);
        return err == AVERROR_EOF || err >= 0 ? PAN_OK : PAN_IO;
    }
    const AVPacket *src = pkt->av_packet;
    if (src) {
        av_packet_unref(c->pkt);
        if (av_packet_ref(c->pkt, src) < 0) return PAN_NOMEM;
    } else {
        av_packet_unref(c->pkt);
        c->pkt->data = (uint8_t *)pkt->data;
        c->pkt->size = pkt->size;
        c->pkt->pts = pkt->pts == INT64_MIN ? AV_NOPTS_VALUE : pkt->pts;
        c->pkt->dts = pkt->dts == INT64_MIN ? AV_NOPTS_VALUE : pkt->dts;
        if (pkt->keyframe) c->pkt->flags |= AV_PKT_FLAG_KEY;
    }
    err = avcodec_send_packet(c->ctx, c->pkt);
    if (err == AVERROR(EAGAIN)) return PAN_EAGAIN;
    if (err < 0) {
        /* Damaged data: count it, keep the camera alive; the decoder resynchronises itself. The
         * packet's picture is lost. */
        dec->stats.errors++;
        dec->stats.lost++;
        log_damage(dec, "damaged packet skipped", err);
    }
    return PAN_OK;
}

static wrap_slot *take_slot(cpu_dec *c)
{
    wrap_slot *s;
    pthread_mutex_lock(&c->lock);
    while (!c->free_list) pthread_cond_wait(&c->available, &c->lock);
    s = c->free_list;
    c->free_list = s->next_free;
    c->out++;
    pthread_mutex_unlock(&c->lock);
    return s;
}

static void put_back(cpu_dec *c, wrap_slot *s)
{
    pthread_mutex_lock(&c->lock);
    s->next_free = c->free_list;
    c->free_list = s;
    c->out--;
    pthread_mutex_unlock(&c->lock);
}

static void fill_colour(pan_frame *f, const AVFrame *av)
{
    switch (av->colorspace) {
    case AVCOL_SPC_BT709: f->matrix = PAN_COLOR_BT709; break;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M: f->matrix = PAN_COLOR_BT601; break;
    default: f->matrix = av->height > 576 ? PAN_COLOR_BT709 : PAN_COLOR_BT601; break;
    }
    f->range = (av->color_range == AVCOL_RANGE_JPEG || av->format == AV_PIX_FMT_YUVJ420P) ? PAN_RANGE_FULL
                                                                                         : PAN_RANGE_LIMITED;
}

#ifdef PANOPTES_HAVE_SWSCALE
static pan_status convert_frame(pan_decoder *dec, cpu_dec *c, const AVFrame *av, pan_frame **out)
{
    pan_status st;
    if (!c->sws || c->conv_w != av->width || c->conv_h != av->height) {
        sws_freeContext(c->sws);
        pan_frame_pool_destroy(&c->conv_pool);
        c->sws = sws_getContext(av->width, av->height, av->format, av->width, av->height, AV_PIX_FMT_YUV420P,
                                SWS_BILINEAR, NULL, NULL, NULL);
        if (!c->sws) return PAN_UNSUPPORTED;
        st = pan_frame_pool_create(&c->conv_pool, av->width, av->height, PAN_PIXFMT_YUV420P, dec->params.max_frames);
        if (st) return st;
        c->conv_w = av->width;
        c->conv_h = av->height;
        if (!c->warned_format++)
            pan_log_info("decode", dec->params.camera, "%s: converting %s to yuv420p on the host",
                         dec->params.uri ? dec->params.uri : "?", av_get_pix_fmt_name(av->format));
    }
    pan_frame *f;
    st = pan_frame_pool_get(c->conv_pool, 0, &f);
    if (st) return st;
    sws_scale(c->sws, (const uint8_t *const *)av->data, av->linesize, 0, av->height, f->data, f->pitch);
    fill_colour(f, av);
    *out = f;
    return PAN_OK;
}
#endif

static pan_status cpu_receive(pan_decoder *dec, pan_frame **out)
{
    cpu_dec *c = dec->priv;
    *out = NULL;
    for (;;) {
        int err = avcodec_receive_frame(c->ctx, c->tmp);
        if (err == AVERROR(EAGAIN)) return PAN_EAGAIN;
        if (err == AVERROR_EOF) return PAN_EOF;
        if (err < 0) {
            dec->stats.errors++;
            dec->stats.lost++;
            log_damage(dec, "decoding error, continuing", err);
            continue;
        }
        if (c->tmp->decode_error_flags || (c->tmp->flags & AV_FRAME_FLAG_CORRUPT)) {
            dec->stats.errors++;
            dec->stats.concealed++;
        }
        break;
    }
    AVFrame *av = c->tmp;
    pan_frame *f = NULL;
    int64_t ts = av->best_effort_timestamp;
    double pts = ts != AV_NOPTS_VALUE ? (double)ts * c->time_base : NAN;
    if (av->format == AV_PIX_FMT_YUV420P || av->format == AV_PIX_FMT_YUVJ420P || av->format == AV_PIX_FMT_NV12) {
        wrap_slot *s = take_slot(c);
        av_frame_move_ref(s->av, av);
        f = &s->frame;
        memset(f, 0, sizeof *f);
        f->width = s->av->width;
        f->height = s->av->height;
        f->format = s->av->format == AV_PIX_FMT_NV12 ? PAN_PIXFMT_NV12 : PAN_PIXFMT_YUV420P;
        f->memory = PAN_MEMORY_HOST;
        f->device = -1;
        for (int i = 0; i < 3; i++) {
            f->data[i] = s->av->data[i];
            f->pitch[i] = s->av->linesize[i];
        }
        if (s->av->linesize[0] < 0) { /* bottom-up frames are not produced by video decoders */
            av_frame_unref(s->av);
            put_back(c, s);
            return PAN_UNSUPPORTED;
        }
        fill_colour(f, s->av);
        pan_frame_init_ref(f, slot_release, c);
    } else {
#ifdef PANOPTES_HAVE_SWSCALE
        pan_status st = convert_frame(dec, c, av, &f);
        av_frame_unref(av);
        if (st) return st;
#else
        pan_log_error("decode", dec->params.camera, "%s: pixel format %s is not supported",
                      dec->params.uri ? dec->params.uri : "?", av_get_pix_fmt_name(av->format));
        av_frame_unref(av);
        return PAN_UNSUPPORTED;
#endif
    }
    f->pts = pts;
    *out = f;
    return PAN_OK;
}

const pan_decoder_ops pan__decoder_cpu_ops = {
    .name = "cpu",
    .create = cpu_create,
    .destroy = cpu_destroy,
    .send_packet = cpu_send,
    .receive_frame = cpu_receive,
};
