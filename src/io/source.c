/* libavformat source: opens a camera URI and yields compressed packets of its best video stream. */
#include "io/source.h"

#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/av_log.h"
#include "io/source_impl.h"
#include "panoptes/log.h"

/* Read errors in a row after which a damaged file is given up (each is one damaged packet the
 * demuxer skipped; a demuxer that cannot move past the damage returns the same error forever). */
#define MAX_READ_ERRORS 64

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

/* While opening, the end of the input is an error, never the normal end of a camera: a file that
 * ends inside its header cannot be read (corrupt: the camera fails), a network stream that ends
 * before its first packets is lost. */
static pan_status open_status_from_av(const pan_source *s, int err)
{
    pan_status st = status_from_av(err);
    return st != PAN_EOF ? st : s->network ? PAN_NET : PAN_CORRUPT;
}

/* Opens the URI with the current deadline. RTSP goes over `transport` ("tcp"/"udp"). On failure
 * s->fmt is freed (avformat_open_input frees it) and made again, ready for another attempt. */
static int open_input(pan_source *s, const char *transport)
{
    AVDictionary *opts = NULL;
    if (transport) av_dict_set(&opts, "rtsp_transport", transport, 0);
    int err = avformat_open_input(&s->fmt, s->uri, NULL, &opts);
    av_dict_free(&opts);
    if (err < 0 && !s->fmt) {
        s->fmt = avformat_alloc_context();
        if (!s->fmt) return AVERROR(ENOMEM);
        s->fmt->interrupt_callback.callback = interrupt_cb;
        s->fmt->interrupt_callback.opaque = s;
    }
    return err;
}

/* An MP4 whose index (moov) follows its media data, read from a server that cannot seek (HTTP
 * without range requests): the demuxer had to read past every sample to reach the index, and
 * cannot go back to them. Every read would fail; the debug log alone said "Stream ends
 * prematurely" while the camera reported 0 frames and success. */
static int index_behind_unseekable_input(pan_source *s, AVStream *vs)
{
    if (!s->fmt->pb || (s->fmt->pb->seekable & AVIO_SEEKABLE_NORMAL)) return 0;
    if (!strstr(s->fmt->iformat->name, "mp4") || avformat_index_get_entries_count(vs) <= 0) return 0;
    const AVIndexEntry *first = avformat_index_get_entry(vs, 0);
    return first && avio_tell(s->fmt->pb) > first->pos + first->size;
}

pan_status pan_source_create(pan_source **out, const pan_source_params *params)
{
    pan_source *s = NULL;
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
    const char *transport = NULL;
    if (is_network(s->uri)) {
        if (!strncmp(s->uri, "rtsp://", 7) || !strncmp(s->uri, "rtsps://", 8)) transport = params->rtsp_udp ? "udp" : "tcp";
        s->network = 1;
    }
    s->deadline_us = av_gettime_relative() + (int64_t)timeout_ms * 1000 * (is_network(s->uri) ? 1 : 6);
    err = open_input(s, transport);
    if (err == AVERROR(EPROTONOSUPPORT) && transport && !strcmp(transport, "tcp") && !stop_asked(s)) {
        /* RTSP "461 Unsupported transport": the server (VLC's RTSP output, some cameras) will not
         * send RTP over TCP. Ask again for UDP rather than fail with "Protocol not supported". */
        pan_log_warn("source", cam, "%s: the server refuses RTP over TCP (RTSP 461 Unsupported transport); "
                     "trying UDP (--rtsp-transport udp skips this step)", s->uri);
        transport = "udp";
        s->deadline_us = av_gettime_relative() + (int64_t)timeout_ms * 1000;
        err = open_input(s, transport);
    }
    if (!s->fmt) goto fail_nofmt;
    {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        s->info.opened_at = (double)now.tv_sec + now.tv_nsec * 1e-9;
    }
    s->stats.first_pts = NAN;
    s->stats.clock_offset = NAN;
    s->stats.rtcp_delay = NAN;
    s->stats.arrival_offset = NAN;
    if (err < 0) {
        char msg[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(err, msg, sizeof msg);
        st = open_status_from_av(s, err);
        if (stop_asked(s)) st = PAN_INTERRUPTED;
        else if (st == PAN_INTERRUPTED || (s->network && av_gettime_relative() > s->deadline_us))
            st = PAN_TIMEOUT; /* our deadline fired */
        if (st == PAN_TIMEOUT) snprintf(msg, sizeof msg, "no answer within %d ms", timeout_ms);
        if (st == PAN_INTERRUPTED) {
            /* stopped while connecting (remove_camera, stop, SIGINT): not an error of the camera */
            pan_log_debug("source", cam, "%s: opening interrupted: the camera is being stopped", s->uri);
            goto fail;
        }
        pan_log_error("source", cam, "%s: cannot open: %s%s", s->uri, msg,
                      st == PAN_NOTFOUND ? " (check the path)" :
                      st == PAN_TIMEOUT ? " (camera did not answer in time; check the address and network)" :
                      err == AVERROR_EOF && !s->network ? " (the file ends inside its header: truncated)" :
                      st == PAN_CORRUPT ? " (not a video file Panoptes can read, or damaged)" :
                      err == AVERROR(EPROTONOSUPPORT) && transport ? " (the server refused RTP over both TCP and UDP)" : "");
        goto fail;
    }
    /* A live stream is probed for up to FFmpeg's analyzeduration (5 s) of real time, so the deadline
     * is reset for this step. The deadline must not cut a read short unnoticed: an interrupted
     * read can leave RTSP-over-TCP mid-packet, and the connection is then unusable. */
    if (s->network) s->deadline_us = av_gettime_relative() + ((int64_t)timeout_ms + 5000) * 1000;
    err = avformat_find_stream_info(s->fmt, NULL);
    if (err >= 0 && s->deadline_us && av_gettime_relative() > s->deadline_us) err = AVERROR_EXIT;
    if (err < 0) {
        st = open_status_from_av(s, err);
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
    if (index_behind_unseekable_input(s, vs)) {
        pan_log_error("source", cam,
                      "%s: cannot be streamed: the MP4's index (moov) is at the end of the file and the server "
                      "does not support range requests, so the video before the index cannot be read again. "
                      "Serve it from a server with range support, or move the index to the front "
                      "(ffmpeg -i IN -c copy -movflags +faststart OUT)",
                      s->uri);
        st = PAN_NOSEEK;
        goto fail;
    }
    double opened_at = s->info.opened_at;
    pan__source_describe(s->fmt, vs, &s->info);
    s->info.rtsp_transport = transport;
    s->info.opened_at = opened_at;
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
    for (int i = s->ahead_pos; i < s->n_ahead; i++) av_packet_free(&s->ahead[i]);
    free(s->ahead);
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
    s->pass_packets = 0;
    s->serial++;
    pan_log_debug("source", s->params.camera, "looping %s (pass %lld)", s->uri, (long long)s->serial);
    return PAN_OK;
}

void pan_source_get_stats(const pan_source *s, pan_source_stats *st) { *st = s->stats; }

/* At the end of a pass of a file: did it end where its container said it would? Compares the
 * packets read with the MP4 index (exact), else the end of the last packet with the stream's
 * declared duration (with a margin: durations are rounded, and the last frame's length is not
 * always known), and notices a read error at the end (an HTTP download cut short). Returns
 * PAN_OK or PAN_TRUNCATED (logged). */
static pan_status check_pass_end(pan_source *s, int read_error)
{
    AVStream *vs = s->fmt->streams[s->stream];
    int64_t missing = 0;
    double missing_s = 0;
    if (s->info.index_packets > 0 && s->pass_packets < s->info.index_packets)
        missing = s->info.index_packets - s->pass_packets;
    if (s->info.stream_duration > 0 && s->pass_end != AV_NOPTS_VALUE) {
        int64_t start = vs->start_time != AV_NOPTS_VALUE ? vs->start_time : 0;
        double read_s = (double)(s->pass_end - start) * av_q2d(vs->time_base); /* pass_end: this pass's own pts */
        double margin = fmax(1.0, s->info.fps > 0 ? 3.0 / s->info.fps : 0.0);
        if (s->info.stream_duration - read_s > margin) missing_s = s->info.stream_duration - read_s;
    } else if (s->info.stream_duration > 0 && s->pass_packets == 0) {
        missing_s = s->info.stream_duration;
    }
    if (!missing && missing_s <= 0 && !read_error) return PAN_OK;
    s->stats.truncated++;
    s->stats.missing_packets = missing;
    s->stats.missing_s = missing_s;
    if (s->params.loop && s->warned_truncated++) return PAN_TRUNCATED;
    char what[160];
    if (missing)
        snprintf(what, sizeof what, "%lld of the %lld packets its index lists were read", (long long)s->pass_packets,
                 (long long)s->info.index_packets);
    else if (missing_s > 0)
        snprintf(what, sizeof what, "%.2f s of its %.2f s were read", s->info.stream_duration - missing_s,
                 s->info.stream_duration);
    else
        snprintf(what, sizeof what, "reading failed at the end (%s) after %lld packets",
                 av_err2str(s->fmt->pb ? s->fmt->pb->error : AVERROR(EIO)), (long long)s->pass_packets);
    pan_log_error("source", s->params.camera,
                  "%s: the stream ended before its container said it would: %s (a truncated file or a cut "
                  "download)%s",
                  s->uri, what, s->params.loop && s->pass_packets > 0 ? "; looping anyway" : "");
    return PAN_TRUNCATED;
}

pan_status pan__source_read_next(pan_source *s)
{
    int err, rewinds = 0;
    pan_status prev_end = PAN_OK; /* how the pass before a rewind ended, and its packets */
    int64_t prev_packets = 0;
    int timeout_ms = s->params.timeout_ms > 0 ? s->params.timeout_ms : 5000;
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
        int at_end = err == AVERROR_EOF || (err < 0 && !s->info.is_live && avio_feof(s->fmt->pb));
        if (at_end && !stop_asked(s)) {
            if (rewinds) {
                /* The end again, right after seeking back to the start: a pass that read nothing.
                 * It is not measured (it says nothing of the file, only of the seek). A file that
                 * had packets and gives none after the seek cannot be looped; one with nothing
                 * readable ends as its pass did (truncated, said already; or empty). */
                if (prev_packets > 0) {
                    pan_log_error("source", s->params.camera,
                                  "%s: cannot loop: nothing could be read after seeking back to the start", s->uri);
                    return PAN_IO;
                }
                return prev_end ? prev_end : PAN_EOF;
            }
            /* A read error (rather than a clean EOF) at the end of a network file is a download
             * cut short: the server closed before Content-Length ("Stream ends prematurely"). */
            int read_error = s->network && s->fmt->pb && s->fmt->pb->error < 0 && s->fmt->pb->error != AVERROR_EOF;
            pan_status end = check_pass_end(s, read_error);
            if (!s->params.loop) return end ? end : PAN_EOF;
            prev_end = end;
            prev_packets = s->pass_packets;
            pan_status st = rewind_for_loop(s);
            if (st) return st;
            rewinds = 1;
            continue;
        }
        if (err < 0) {
            pan_status st = status_from_av(err);
            if (stop_asked(s)) return PAN_INTERRUPTED;
            if (err == AVERROR_EXIT) st = PAN_TIMEOUT; /* our deadline fired */
            if (!s->network && err != AVERROR_EXIT && err != AVERROR(ENOMEM) && ++s->read_errors < MAX_READ_ERRORS) {
                /* Damage in a file: the demuxer skips what it cannot parse; the packets after it
                 * are good. Counted; the decoder's counters report the frames lost with it. */
                s->stats.corrupt++;
                if (s->read_errors == 1)
                    pan_log_warn("source", s->params.camera, "%s: damaged data skipped (%s)", s->uri, av_err2str(err));
                continue;
            }
            pan_log_error("source", s->params.camera, "%s: read failed: %s%s", s->uri,
                          st == PAN_TIMEOUT ? "no data within the timeout" : av_err2str(err),
                          s->read_errors >= MAX_READ_ERRORS ? " (damaged beyond repair: giving up)" : "");
            return st == PAN_IO && s->read_errors >= MAX_READ_ERRORS ? PAN_CORRUPT : st;
        }
        s->read_errors = 0;
        if (s->pkt->stream_index != s->stream) continue;
        if (s->info.is_live) pan__source_live_arrived(s, s->pkt, pan__mono_s());
        return PAN_OK;
    }
}

pan_status pan_source_read(pan_source *s, pan_packet *p)
{
    pan_status st;
    memset(p, 0, sizeof *p);
    if (s->info.is_live && !s->settled) pan__source_read_ahead(s);
    if (s->ahead_pos < s->n_ahead) {
        av_packet_unref(s->pkt);
        av_packet_move_ref(s->pkt, s->ahead[s->ahead_pos]);
        av_packet_free(&s->ahead[s->ahead_pos++]);
    } else if (s->ahead_status) {
        st = s->ahead_status;
        s->ahead_status = PAN_OK;
        return st;
    } else if ((st = pan__source_read_next(s)) != PAN_OK) {
        return st;
    }
    AVStream *vs = s->fmt->streams[s->stream];
    int64_t pts = s->pkt->pts != AV_NOPTS_VALUE ? s->pkt->pts : s->pkt->dts;
    if (pts != AV_NOPTS_VALUE) {
        int64_t end = pts + (s->pkt->duration > 0 ? s->pkt->duration : 0);
        if (s->pass_end == AV_NOPTS_VALUE || end > s->pass_end) s->pass_end = end;
    }
    if (s->info.is_live) pan__source_live_handed(s, s->pkt);
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
    p->rotation = s->info.rotation;
    p->discard = (s->pkt->flags & AV_PKT_FLAG_DISCARD) != 0;
    s->pass_packets++;
    if (s->stats.packets++ == 0) s->stats.first_pts = p->pts_seconds;
    if (p->discard) s->stats.discarded++;
    if (s->pkt->flags & AV_PKT_FLAG_CORRUPT) s->stats.corrupt++;
    return PAN_OK;
}
