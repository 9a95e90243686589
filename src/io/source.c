/* libavformat source: opens a camera URI and yields compressed packets of its best video stream. */
#include "io/source.h"

#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/av_log.h"
#include "panoptes/log.h"

struct pan_source {
    pan_source_params params;
    char *uri;
    AVFormatContext *fmt;
    AVPacket *pkt;
    int stream;
    pan_source_info info;
    atomic_int interrupted;
    int network;         /* rtsp://, http://...: every blocking step has a deadline */
    int64_t deadline_us; /* absolute time (av_gettime_relative) a blocking step must end by */
    /* looping: timestamps of later passes are shifted by the duration of the earlier ones */
    int64_t serial;
    int64_t loop_offset;   /* in stream time base */
    int64_t pass_end;      /* largest pts+duration seen in this pass */
};

static int stop_asked(pan_source *s)
{
    return atomic_load(&s->interrupted) || (s->params.stop && s->params.stop(s->params.stop_opaque));
}

static int interrupt_cb(void *opaque)
{
    pan_source *s = opaque;
    if (stop_asked(s)) return 1;
    return s->deadline_us && av_gettime_relative() > s->deadline_us;
}

static int is_network(const char *uri)
{
    return strstr(uri, "://") && strncmp(uri, "file:", 5) != 0;
}

int pan_source_uri_is_network(const char *uri) { return uri && is_network(uri); }

static pan_status status_from_av(int err)
{
    switch (err) {
    case AVERROR(ENOENT): return PAN_NOTFOUND;
    case AVERROR(ENOMEM): return PAN_NOMEM;
    case AVERROR_INVALIDDATA: return PAN_CORRUPT;
    case AVERROR_DEMUXER_NOT_FOUND:
    case AVERROR_PROTOCOL_NOT_FOUND:
    case AVERROR_DECODER_NOT_FOUND: return PAN_UNSUPPORTED;
    case AVERROR_EXIT: return PAN_INTERRUPTED;
    case AVERROR(ETIMEDOUT): return PAN_TIMEOUT;
    case AVERROR(ECONNREFUSED):
    case AVERROR(ECONNRESET):
    case AVERROR(EHOSTUNREACH):
    case AVERROR(ENETUNREACH): return PAN_NET;
    case AVERROR_EOF: return PAN_EOF;
    default: return PAN_IO;
    }
}

static void fill_colour(pan_source_info *info, const AVCodecParameters *par)
{
    /* Unspecified matrices follow the common convention: BT.709 for HD (height > 576), else BT.601. */
    switch (par->color_space) {
    case AVCOL_SPC_BT709: info->matrix = PAN_COLOR_BT709; break;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M:
    case AVCOL_SPC_FCC:
    case AVCOL_SPC_SMPTE240M: info->matrix = PAN_COLOR_BT601; break;
    default: info->matrix = par->height > 576 ? PAN_COLOR_BT709 : PAN_COLOR_BT601; break;
    }
    info->range = par->color_range == AVCOL_RANGE_JPEG ? PAN_RANGE_FULL : PAN_RANGE_LIMITED;
    if (par->format == AV_PIX_FMT_YUVJ420P) info->range = PAN_RANGE_FULL;
    const char *sp = par->color_space == AVCOL_SPC_UNSPECIFIED ? "unspecified" : av_color_space_name(par->color_space);
    snprintf(info->color_desc, sizeof info->color_desc, "%s/%s", sp ? sp : "unspecified",
             info->range == PAN_RANGE_FULL ? "pc" : "tv");
}

pan_status pan_source_create(pan_source **out, const pan_source_params *params)
{
    pan_source *s = NULL;
    AVDictionary *opts = NULL;
    int err;
    pan_status st = PAN_NOMEM;
    int cam = params ? params->camera : -1;

    *out = NULL;
    pan__av_log_install();
    if (!params || !params->uri || !*params->uri) {
        pan_log_error("source", cam, "no camera URI given");
        return PAN_INVAL;
    }
    s = calloc(1, sizeof *s);
    if (!s) return PAN_NOMEM;
    s->params = *params;
    s->uri = strdup(params->uri);
    s->stream = -1;
    atomic_init(&s->interrupted, 0);
    if (!s->uri) goto fail;
    s->params.uri = s->uri;
    int timeout_ms = params->timeout_ms > 0 ? params->timeout_ms : 5000;

    s->fmt = avformat_alloc_context();
    s->pkt = av_packet_alloc();
    if (!s->fmt || !s->pkt) goto fail;
    s->fmt->interrupt_callback.callback = interrupt_cb;
    s->fmt->interrupt_callback.opaque = s;

    /* Network timeouts are ours alone (the interrupt callback's deadline on every blocking step),
     * not FFmpeg's socket options: the RTSP demuxer reports its own socket timeout, and even an
     * interrupt, as "invalid data", so only a deadline we set tells a timeout apart. */
    if (is_network(s->uri)) {
        if (!strncmp(s->uri, "rtsp://", 7))
            av_dict_set(&opts, "rtsp_transport", params->rtsp_udp ? "udp" : "tcp", 0);
        s->network = 1;
    }
    s->deadline_us = av_gettime_relative() + (int64_t)timeout_ms * 1000 * (is_network(s->uri) ? 1 : 6);
    err = avformat_open_input(&s->fmt, s->uri, NULL, &opts);
    av_dict_free(&opts);
    if (err < 0) {
        char msg[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(err, msg, sizeof msg);
        st = status_from_av(err);
        if (stop_asked(s)) st = PAN_INTERRUPTED;
        else if (st == PAN_INTERRUPTED || (s->network && av_gettime_relative() > s->deadline_us))
            st = PAN_TIMEOUT; /* our deadline fired */
        if (st == PAN_TIMEOUT) snprintf(msg, sizeof msg, "no answer within %d ms", timeout_ms);
        pan_log_error("source", cam, "%s: cannot open: %s%s", s->uri, msg,
                      st == PAN_NOTFOUND ? " (check the path)" :
                      st == PAN_TIMEOUT ? " (camera did not answer in time; check the address and network)" :
                      st == PAN_CORRUPT ? " (not a video file Panoptes can read, or damaged)" : "");
        goto fail_nofmt;
    }
    /* A live stream is probed for up to FFmpeg's analyzeduration (5 s) of real time, so the deadline
     * is reset for this step. The deadline must not cut a read short unnoticed: an interrupted
     * read can leave RTSP-over-TCP mid-packet, and the connection is then unusable. */
    if (s->network) s->deadline_us = av_gettime_relative() + ((int64_t)timeout_ms + 5000) * 1000;
    err = avformat_find_stream_info(s->fmt, NULL);
    if (err >= 0 && s->deadline_us && av_gettime_relative() > s->deadline_us) err = AVERROR_EXIT;
    if (err < 0) {
        st = status_from_av(err);
        if (stop_asked(s)) st = PAN_INTERRUPTED;
        else if (st == PAN_INTERRUPTED || (s->network && av_gettime_relative() > s->deadline_us)) st = PAN_TIMEOUT;
        pan_log_error("source", cam, "%s: cannot read stream information (%s); %s", s->uri,
                      st == PAN_TIMEOUT ? "no data within the timeout" : av_err2str(err),
                      s->network ? "the camera sent no usable video" : "the file may be truncated or damaged");
        goto fail;
    }
    s->deadline_us = 0;
    s->stream = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (s->stream < 0) {
        pan_log_error("source", cam, "%s: holds no video stream", s->uri);
        st = PAN_UNSUPPORTED;
        goto fail;
    }
    AVStream *vs = s->fmt->streams[s->stream];
    for (unsigned i = 0; i < s->fmt->nb_streams; i++)
        if ((int)i != s->stream) s->fmt->streams[i]->discard = AVDISCARD_ALL;
    const AVCodecParameters *par = vs->codecpar;
    if (par->width <= 0 || par->height <= 0) {
        pan_log_error("source", cam, "%s: video stream has no valid frame size (%dx%d); the file may be damaged",
                      s->uri, par->width, par->height);
        st = PAN_CORRUPT;
        goto fail;
    }
    snprintf(s->info.container, sizeof s->info.container, "%s", s->fmt->iformat->name);
    snprintf(s->info.codec, sizeof s->info.codec, "%s", avcodec_get_name(par->codec_id));
    s->info.codec_id = par->codec_id;
    s->info.width = par->width;
    s->info.height = par->height;
    AVRational fr = vs->avg_frame_rate.num ? vs->avg_frame_rate : vs->r_frame_rate;
    s->info.fps = fr.num && fr.den ? av_q2d(fr) : 0;
    s->info.duration = s->fmt->duration > 0 ? (double)s->fmt->duration / AV_TIME_BASE : 0;
    s->info.frames = vs->nb_frames;
    s->info.bit_rate = par->bit_rate ? par->bit_rate : s->fmt->bit_rate;
    fill_colour(&s->info, par);
    /* Live: a stream that is not a file. HTTP serves both: a known duration makes it a file (an
     * MP4, an HLS playlist that ends), none a live feed (MPEG-TS or MJPEG over HTTP, live HLS). */
    if (s->network) s->info.is_live = strncmp(s->uri, "http", 4) != 0 || s->info.duration <= 0;
    s->pass_end = AV_NOPTS_VALUE;
    *out = s;
    return PAN_OK;
fail:
    avformat_close_input(&s->fmt);
fail_nofmt:
    av_packet_free(&s->pkt);
    free(s->uri);
    free(s);
    return st;
}

void pan_source_destroy(pan_source **ps)
{
    pan_source *s;
    if (!ps || !*ps) return;
    s = *ps;
    *ps = NULL;
    avformat_close_input(&s->fmt);
    av_packet_free(&s->pkt);
    free(s->uri);
    free(s);
}

const pan_source_info *pan_source_get_info(const pan_source *s) { return &s->info; }
const void *pan_source_codecpar(const pan_source *s) { return s->fmt->streams[s->stream]->codecpar; }

void pan_source_time_base(const pan_source *s, int *num, int *den)
{
    AVRational tb = s->fmt->streams[s->stream]->time_base;
    *num = tb.num;
    *den = tb.den;
}

void pan_source_interrupt(pan_source *s) { atomic_store(&s->interrupted, 1); }

static pan_status rewind_for_loop(pan_source *s)
{
    AVStream *vs = s->fmt->streams[s->stream];
    int err = avformat_seek_file(s->fmt, s->stream, INT64_MIN, vs->start_time != AV_NOPTS_VALUE ? vs->start_time : 0,
                                 INT64_MAX, AVSEEK_FLAG_BACKWARD);
    if (err < 0) err = av_seek_frame(s->fmt, s->stream, 0, AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_BYTE);
    if (err < 0) {
        pan_log_error("source", s->params.camera, "%s: cannot loop: seeking to the start failed (%s)", s->uri,
                      av_err2str(err));
        return PAN_IO;
    }
    if (s->pass_end != AV_NOPTS_VALUE) {
        int64_t start = vs->start_time != AV_NOPTS_VALUE ? vs->start_time : 0;
        s->loop_offset += s->pass_end - start;
    }
    s->pass_end = AV_NOPTS_VALUE;
    s->serial++;
    pan_log_debug("source", s->params.camera, "looping %s (pass %lld)", s->uri, (long long)s->serial);
    return PAN_OK;
}

pan_status pan_source_read(pan_source *s, pan_packet *p)
{
    int err, rewinds = 0;
    int timeout_ms = s->params.timeout_ms > 0 ? s->params.timeout_ms : 5000;
    memset(p, 0, sizeof *p);
    for (;;) {
        av_packet_unref(s->pkt);
        s->deadline_us = s->network ? av_gettime_relative() + (int64_t)timeout_ms * 1000 : 0;
        err = av_read_frame(s->fmt, s->pkt);
        int timed_out = err < 0 && s->deadline_us && av_gettime_relative() > s->deadline_us;
        s->deadline_us = 0;
        if (timed_out && !stop_asked(s)) err = AVERROR_EXIT; /* whatever the demuxer made of it */
        if (s->info.is_live && err == AVERROR_EOF) {
            if (stop_asked(s)) return PAN_INTERRUPTED;
            pan_log_warn("source", s->params.camera, "%s: the camera ended the stream", s->uri);
            return PAN_EOF;
        }
        if (err == AVERROR_EOF || (err < 0 && !s->info.is_live && avio_feof(s->fmt->pb))) {
            if (!s->params.loop || rewinds++ > 0) return PAN_EOF; /* an empty pass: stop */
            pan_status st = rewind_for_loop(s);
            if (st) return st;
            continue;
        }
        if (err < 0) {
            pan_status st = status_from_av(err);
            if (stop_asked(s)) return PAN_INTERRUPTED;
            if (err == AVERROR_EXIT) st = PAN_TIMEOUT; /* our deadline fired */
            pan_log_error("source", s->params.camera, "%s: read failed: %s", s->uri,
                          st == PAN_TIMEOUT ? "no data within the timeout" : av_err2str(err));
            return st;
        }
        if (s->pkt->stream_index != s->stream) continue;
        break;
    }
    AVStream *vs = s->fmt->streams[s->stream];
    int64_t pts = s->pkt->pts != AV_NOPTS_VALUE ? s->pkt->pts : s->pkt->dts;
    if (pts != AV_NOPTS_VALUE) {
        int64_t end = pts + (s->pkt->duration > 0 ? s->pkt->duration : 0);
        if (s->pass_end == AV_NOPTS_VALUE || end > s->pass_end) s->pass_end = end;
    }
    p->data = s->pkt->data;
    p->size = s->pkt->size;
    p->pts = s->pkt->pts != AV_NOPTS_VALUE ? s->pkt->pts + s->loop_offset : INT64_MIN;
    p->dts = s->pkt->dts != AV_NOPTS_VALUE ? s->pkt->dts + s->loop_offset : INT64_MIN;
    if (s->pkt->pts != AV_NOPTS_VALUE) {
        s->pkt->pts += s->loop_offset;
        p->pts_seconds = (double)p->pts * av_q2d(vs->time_base);
    } else {
        p->pts_seconds = NAN;
    }
    if (s->pkt->dts != AV_NOPTS_VALUE) s->pkt->dts += s->loop_offset;
    p->keyframe = (s->pkt->flags & AV_PKT_FLAG_KEY) != 0;
    p->serial = s->serial;
    p->av_packet = s->pkt;
    return PAN_OK;
}
