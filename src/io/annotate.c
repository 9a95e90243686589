/* Annotated-video sink (src/io/annotate.h). Draws (io/draw.h) straight into a YUV420P copy of the
 * frame: box edges in the track's colour (chroma + luma), labels as white 5x7 glyphs on a dark
 * strip, so no RGB round trip is needed. */
#include "io/annotate.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/av_log.h"
#include "io/draw.h"
#include "panoptes/log.h"

struct pan_annotate {
    char *path;
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *pic;
    AVPacket *pkt;
    int64_t next_pts;
    int64_t frame_dur; /* 90 kHz: the last interval between input frames (packets' duration) */
    int header_written;
    pan_annotate_overlay_fn overlay;
    void *overlay_opaque;
};

/* The encoder's picture as a canvas for io/draw.h (YUV 4:2:0: U and V rows are equally long). */
static pan__yuv_canvas canvas_of(AVFrame *p)
{
    pan__yuv_canvas c = {p->data[0], p->data[1], p->data[2], p->linesize[0], p->linesize[1], p->width, p->height};
    return c;
}

/* The canvas handed to overlays is the picture being drawn. */
void pan_annotate_set_overlay(pan_annotate *a, pan_annotate_overlay_fn fn, void *opaque)
{
    if (!a) return;
    a->overlay = fn;
    a->overlay_opaque = opaque;
}

void pan_annotate_draw_line(pan_annotate_canvas *cv, double x1, double y1, double x2, double y2, int colour, int thick)
{
    pan__yuv_canvas c = canvas_of((AVFrame *)cv);
    pan__draw_line(&c, x1, y1, x2, y2, pan__draw_colour(colour), thick);
}

void pan_annotate_draw_text(pan_annotate_canvas *cv, int x, int y, const char *text)
{
    pan__yuv_canvas c = canvas_of((AVFrame *)cv);
    if (text) pan__draw_text(&c, x, y, text);
}

static pan_status fail_av(pan_annotate *a, const char *what, int err)
{
    pan_log_error("annotate", -1, "%s: %s: %s", a->path, what, av_err2str(err));
    return PAN_IO;
}

pan_status pan_annotate_create(pan_annotate **out, const char *path, int width, int height, double fps)
{
    pan_annotate *a;
    int err;
    pan_status st = PAN_NOMEM;
    *out = NULL;
    pan__av_log_install();
    if (!path || width <= 0 || height <= 0) return PAN_INVAL;
    a = calloc(1, sizeof *a);
    if (!a || !(a->path = strdup(path))) {
        free(a);
        return PAN_NOMEM;
    }
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!codec) {
        pan_log_error("annotate", -1, "%s: this FFmpeg build has no H.264 or MPEG-4 encoder", path);
        st = PAN_UNSUPPORTED;
        goto fail;
    }
    if ((err = avformat_alloc_output_context2(&a->fmt, NULL, NULL, path)) < 0) {
        st = fail_av(a, "cannot choose a container from the file name (use .mp4)", err);
        goto fail;
    }
    a->enc = avcodec_alloc_context3(codec);
    a->st = avformat_new_stream(a->fmt, NULL);
    a->pic = av_frame_alloc();
    a->pkt = av_packet_alloc();
    if (!a->enc || !a->st || !a->pic || !a->pkt) goto fail;
    AVRational rate = av_d2q(fps > 0 ? fps : 25.0, 1000);
    a->enc->width = width & ~1;
    a->enc->height = height & ~1;
    a->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    /* Timestamps come from the frames' own pts (90 kHz), so dropped or variable-rate frames keep
     * their timing; rate only guides the encoder's rate control. */
    a->enc->time_base = (AVRational){1, 90000};
    a->frame_dur = llrint(90000.0 / (fps > 0 ? fps : 25.0));
    a->enc->framerate = rate;
    a->enc->gop_size = 50;
    if (a->fmt->oformat->flags & AVFMT_GLOBALHEADER) a->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (codec->id == AV_CODEC_ID_H264) {
        av_opt_set(a->enc->priv_data, "preset", "veryfast", 0);
        av_opt_set(a->enc->priv_data, "crf", "23", 0);
    } else {
        a->enc->bit_rate = (int64_t)width * height * 4;
    }
    if ((err = avcodec_open2(a->enc, codec, NULL)) < 0) {
        st = fail_av(a, "cannot open the encoder", err);
        goto fail;
    }
    avcodec_parameters_from_context(a->st->codecpar, a->enc);
    a->st->time_base = a->enc->time_base;
    if (!(a->fmt->oformat->flags & AVFMT_NOFILE) && (err = avio_open(&a->fmt->pb, path, AVIO_FLAG_WRITE)) < 0) {
        st = fail_av(a, "cannot open for writing", err);
        goto fail;
    }
    if ((err = avformat_write_header(a->fmt, NULL)) < 0) {
        st = fail_av(a, "cannot write the header", err);
        goto fail;
    }
    a->header_written = 1;
    a->pic->format = AV_PIX_FMT_YUV420P;
    a->pic->width = a->enc->width;
    a->pic->height = a->enc->height;
    if (av_frame_get_buffer(a->pic, 0) < 0) goto fail;
    *out = a;
    return PAN_OK;
fail:
    pan_annotate_destroy(&a);
    return st;
}

static pan_status drain(pan_annotate *a)
{
    for (;;) {
        int err = avcodec_receive_packet(a->enc, a->pkt);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return PAN_OK;
        if (err < 0) return fail_av(a, "encoding failed", err);
        /* without a duration the last frame falls outside the MP4 edit list and players drop it */
        if (a->pkt->duration <= 0) a->pkt->duration = a->frame_dur;
        av_packet_rescale_ts(a->pkt, a->enc->time_base, a->st->time_base);
        a->pkt->stream_index = a->st->index;
        err = av_interleaved_write_frame(a->fmt, a->pkt);
        if (err < 0) return fail_av(a, "write failed", err);
    }
}

/* Sample of plane `k` (0 = Y, 1 = Cb, 2 = Cr) of a host frame at stored position (x, y) in that
 * plane's own samples. */
static inline uint8_t plane_at(const pan_frame *f, int k, int x, int y)
{
    if (k == 0) return f->data[0][(size_t)y * f->pitch[0] + x];
    if (f->format == PAN_PIXFMT_YUV420P) return f->data[k][(size_t)y * f->pitch[k] + x];
    return f->data[1][(size_t)y * f->pitch[1] + 2 * x + (k - 1)];
}

/* The picture as displayed (a frame with a display rotation is turned, sample by sample: the
 * boxes drawn over it are in displayed pixels). Luma and each chroma plane turn on their own
 * grid; 4:2:0 chroma of an even-sized picture maps exactly. */
static void copy_rotated(AVFrame *p, const pan_frame *f)
{
    for (int k = 0; k < 3; k++) {
        int pw = k ? p->width / 2 : p->width, ph = k ? p->height / 2 : p->height;
        int sw = k ? (f->width + 1) / 2 : f->width, sh = k ? (f->height + 1) / 2 : f->height;
        for (int y = 0; y < ph; y++) {
            uint8_t *row = p->data[k] + (size_t)y * p->linesize[k];
            for (int x = 0; x < pw; x++) {
                int u = x, v = y; /* stored position of displayed (x, y): display_rotation.h */
                if (f->rotation == 90) u = y, v = sh - 1 - x;
                else if (f->rotation == 180) u = sw - 1 - x, v = sh - 1 - y;
                else if (f->rotation == 270) u = sw - 1 - y, v = x;
                row[x] = plane_at(f, k, u < 0 ? 0 : u, v < 0 ? 0 : v);
            }
        }
    }
}

/* The stored picture as it is (no rotation): rows copied, NV12 chroma split into two planes. */
static void copy_straight(AVFrame *p, const pan_frame *f)
{
    int cw = p->width / 2, ch = p->height / 2;
    for (int y = 0; y < p->height; y++) memcpy(p->data[0] + (size_t)y * p->linesize[0], f->data[0] + (size_t)y * f->pitch[0], (size_t)p->width);
    for (int y = 0; y < ch; y++) {
        if (f->format == PAN_PIXFMT_YUV420P) {
            memcpy(p->data[1] + (size_t)y * p->linesize[1], f->data[1] + (size_t)y * f->pitch[1], (size_t)cw);
            memcpy(p->data[2] + (size_t)y * p->linesize[2], f->data[2] + (size_t)y * f->pitch[2], (size_t)cw);
        } else {
            const uint8_t *src = f->data[1] + (size_t)y * f->pitch[1];
            for (int x = 0; x < cw; x++) {
                p->data[1][(size_t)y * p->linesize[1] + x] = src[2 * x];
                p->data[2][(size_t)y * p->linesize[2] + x] = src[2 * x + 1];
            }
        }
    }
}

pan_status pan_annotate_write(pan_annotate *a, const pan_frame *f, const pan_frame_result *r)
{
    if (f->memory != PAN_MEMORY_HOST) return PAN_RESIDENCY;
    int dw, dh;
    pan_frame_display_size(f, &dw, &dh);
    if (dw < a->pic->width || dh < a->pic->height) return PAN_SHAPE;
    if (av_frame_make_writable(a->pic) < 0) return PAN_NOMEM;
    AVFrame *p = a->pic;
    if (f->rotation) copy_rotated(p, f);
    else copy_straight(p, f);
    if (a->overlay) a->overlay(a->overlay_opaque, r, (pan_annotate_canvas *)p);
    pan__yuv_canvas c = canvas_of(p);
    pan__draw_results(&c, r->camera, r->frame, r->detections, r->n_detections, r->tracks, r->n_tracks);
    int64_t pts = isfinite(f->pts) ? llrint(f->pts * 90000.0) : a->next_pts;
    if (pts < a->next_pts) pts = a->next_pts; /* strictly increasing for the muxer */
    if (a->next_pts > 0 && pts - (a->next_pts - 1) > 0) a->frame_dur = pts - (a->next_pts - 1);
    p->pts = pts;
    a->next_pts = pts + 1;
    int err = avcodec_send_frame(a->enc, p);
    if (err < 0) return fail_av(a, "encoding failed", err);
    return drain(a);
}

void pan_annotate_destroy(pan_annotate **pa)
{
    pan_annotate *a;
    if (!pa || !*pa) return;
    a = *pa;
    *pa = NULL;
    if (a->header_written) {
        avcodec_send_frame(a->enc, NULL);
        drain(a);
        av_write_trailer(a->fmt);
    }
    if (a->fmt && !(a->fmt->oformat->flags & AVFMT_NOFILE)) avio_closep(&a->fmt->pb);
    avformat_free_context(a->fmt);
    avcodec_free_context(&a->enc);
    av_frame_free(&a->pic);
    av_packet_free(&a->pkt);
    free(a->path);
    free(a);
}
