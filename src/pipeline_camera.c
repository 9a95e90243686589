/* A camera as a task of the I/O pool (pipeline_io.h): source → decoder → its frame queue in the
 * batcher, and the camera's life:
 *
 *   connecting ──open+first frame──> live ──lost (error, end of a live stream, no data for
 *        │                            ▲      timeout_ms)──> retrying ──backoff──> (open again)
 *        └──cannot open──> retrying ──┘                          │
 *                                                                └──attempts used up──> failed
 *   live ──end of a file, max_frames──> ended        stop or remove_camera──> stopped
 *
 * Steps: connect (on the pool's connect lane) → stream: read, decode and hand over one frame per
 * step, then the next camera's turn (work lane) → at the end of the stream, drain the decoder →
 * close; then finish, or sleep the backoff and connect again. No step waits for anything but its
 * source: a full frame queue, the timestamp alignment and --realtime pacing park or sleep the
 * task, which holds no thread meanwhile.
 *
 * Pacing: a file camera waits for room in the queue (back-pressure); a live camera (or a file
 * with --realtime, which is also slowed to its native rate) waits at most LIVE_DROP_AFTER_S: a
 * decoded frame that finds the queue full then pushes out the oldest waiting one, which is counted
 * as dropped (a connect's burst that processing absorbs is kept; a pipeline that cannot keep up
 * drops with a bounded delay). Dropping
 * after decode keeps the decoder's reference chain whole, so the frames kept decode correctly.
 *
 * Every connection gets a new decoder: the old one is drained first (its frames are good), and
 * a new stream may have a new size or codec. The frame index is the camera's, not the decoder's:
 * it goes on across reconnects and counts dropped frames too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/env.h"
#include "core/gpu.h"
#include "core/log_internal.h"
#include "decode/decoder.h"
#include "panoptes/frame.h"
#include "panoptes/log.h"
#include "pipeline_internal.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define MAX_KEY_WAIT 300 /* packets: 10 s at 30 fps */
#define DROP_LOG_EVERY_S 60.0
#define STEP_PACKETS 64 /* packets a step may read without handing over a frame */
#define BUSY_WAIT_S 0.0005 /* NVDEC still decoding the next picture: look again after this */
#define LIVE_DROP_AFTER_S 0.5 /* a live camera's oldest waiting frame is dropped after this */

typedef enum { PH_CONNECT, PH_STREAM } cam_phase;

typedef struct cam_ctx {
    camera *c;
    pan_pipeline *pl;
    const pan_pipeline_params *p;
    pan_source *src;
    pan_decoder *dec;
    pan_decoder_kind kind;
    int network;        /* a network URI: reconnectable */
    int is_live;        /* the current (last) connection is a live stream */
    int drop;           /* drop frames when the queue is full instead of waiting */
    int pace;           /* --realtime on a file */
    int64_t next_index; /* index of the next decoded frame in the camera's stream */
    int got_frame;      /* this connection has produced a frame */
    int await_key;      /* a live connection starts at its first keyframe */
    int64_t waited;     /* packets skipped while waiting for it */
    int used;           /* failed attempts in a row, since the last frame */
    unsigned rng;       /* backoff jitter */
    double lost_at;     /* when the stream was lost (monotonic s); < 0 when not in an outage */
    pan_decoder_stats acc; /* decoders of earlier connections */
    /* damage seen by the sources of all connections (pan_source_stats), and the last truncation */
    int64_t src_corrupt;
    pan_source_stats trunc;
    int64_t emitted;       /* frames taken (the decode counters are published every 32) */
    double last_pts_out;  /* live: pts of the last frame emitted (NAN: none yet) */
    /* live: the connection's map from stream time to the pipeline's clock, t = pts + offset
     * (NAN until its first frame), and when it was last lowered or raised */
    double clock_offset, clock_at;
    double drop_logged_at; /* when drops were last reported (0 = never) */
    int64_t drops_logged;  /* c->dropped at that time */
    /* the previous connection's stream, to notice a change */
    int had_stream, codec_id, width, height;
    /* --realtime: wall-clock time that corresponds to pts0 */
    int paced;
    double pace_t0, pace_pts0, last_pts, fps;

    /* the steps' state */
    cam_phase phase;
    int connected;       /* this attempt opened the source */
    pan_status st;       /* why the stream ended */
    pan_status cs;       /* how draining the decoder went */
    int draining;        /* the end of the stream is being sent to the decoder */
    int eos_pending;     /* ... but the decoder wanted its frames taken first */
    pan_packet pkt;      /* read, not yet taken by the decoder (valid until the next read) */
    int have_pkt;
    /* the frame being handed over: paced (its time came), synced (the slower cameras came) */
    pan_frame *pending;
    int pend_paced, pend_synced, pend_timed;
    double pend_until, pend_t; /* when its time comes (--realtime); when it was decoded */
    double cpu_s;        /* CPU time of its steps before this one */
    double step_cpu0;    /* the pool thread's CPU time when this step began */
    char last_err[PAN_ERROR_TEXT]; /* the last error logged by its steps in this attempt */
    char msg[PAN_ERROR_TEXT];
} cam_ctx;

static double now_s(void) { return pan__now_s(); }

int pan__camera_stopping(const camera *c) { return atomic_load(&((camera *)c)->stop) != 0; }

static int stop_requested(void *opaque) { return pan__camera_stopping(opaque); }

#define ADD(field, v) __atomic_fetch_add(&(field), (v), __ATOMIC_RELAXED)
#define SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
/* doubles: the generic builtin */
#define SETD(field, v)                                  \
    do {                                                \
        double v_ = (v);                                \
        __atomic_store(&(field), &v_, __ATOMIC_RELAXED); \
    } while (0)

/* The batcher took one of its frames: room for the next (pan_batcher_slot.on_room). */
static void wake_camera(void *opaque) { pan__camera_wake(opaque); }

static void set_state(cam_ctx *x, pan_camera_state st, pan_status status, const char *message)
{
    pan__camera_post(x->c, st, status, message);
}


/* Decoder counters so far (earlier connections + this one), for the statistics. */
static void publish_decode_stats(cam_ctx *x)
{
    pan_decoder_stats s = x->acc;
    if (x->dec) {
        pan_decoder_stats d;
        pan_decoder_get_stats(x->dec, &d);
        s.packets += d.packets;
        s.errors += d.errors;
        s.lost += d.lost;
        /* its decoder's, kept after it is gone: the end-of-run summary tells what the run used */
        SET(x->c->surface_bytes, d.surface_bytes);
    }
    SET(x->c->packets, s.packets);
    SET(x->c->decode_errors, s.errors);
    SET(x->c->frames_lost, s.lost);
}

/* --realtime: when a file's frame is due, measured from the first frame (CLOCK_MONOTONIC s).
 * A jump in timestamps (backwards, or more than 5 s ahead) starts a new time line. */
static double pace_target(cam_ctx *x, const pan_frame *f)
{
    double pts = isnan(f->pts) ? (double)f->index / x->fps : f->pts;
    double now = now_s();
    if (!x->paced || pts < x->last_pts - 1.0 || x->pace_t0 + (pts - x->pace_pts0) - now > 5.0) {
        x->paced = 1;
        x->pace_t0 = now;
        x->pace_pts0 = pts;
    }
    x->last_pts = pts;
    return x->pace_t0 + (pts - x->pace_pts0);
}

/* A live camera's frames carry the pipeline's clock (seconds since start; the cross-camera
 * identities compare cameras' timestamps as one clock), keeping the stream's own spacing: t =
 * pts + offset, one offset per connection. Stamping each frame with its arrival squashed them:
 * the packets the probing held back (about 2 s at every connect) and a server's burst at connect
 * come out within milliseconds. The offset is the source's measure taken after such a burst
 * (pan_source_stats.clock_offset), or else the first packet's, received when the stream began
 * to flow (pan_source_info.opened_at); a frame can never be stamped after
 * it arrived, so the offset is lowered to arrival − pts whenever a frame comes early (a server
 * that bursts a GOP it had cached); it rises by at most 100 ppm of elapsed time (a camera clock
 * slower than ours) so that network delays do not push it up. Never goes back. An RTSP camera
 * whose RTCP sender reports the source trusts (pan_source_stats.clock_rtcp) is timed by them
 * instead: capture time, not arrival (a switch steps the times back by about the network and
 * parser delay; the frames stay in order). */
static double live_time(cam_ctx *x, double pts)
{
    double arrival = now_s() - x->pl->t0, t = arrival;
    pan_source_stats ss;
    if (!isnan(pts)) pan_source_get_stats(x->src, &ss);
    if (!isnan(pts) && ss.clock_rtcp) {
        /* the camera's own capture clock, from its RTCP sender reports (checked by the source
         * against arrivals): the same picture seen by two connections gets the same time */
        x->clock_offset = ss.clock_offset - x->pl->t0;
        if (arrival - pts < x->clock_offset) x->clock_offset = arrival - pts;
        x->clock_at = arrival;
        t = pts + x->clock_offset;
    } else if (!isnan(pts)) {
        if (isnan(x->clock_offset)) {
            const pan_source_info *info = pan_source_get_info(x->src);
            x->clock_offset = !isnan(ss.clock_offset)                       ? ss.clock_offset - x->pl->t0
                              : !isnan(ss.first_pts) && info->opened_at > 0 ? info->opened_at - x->pl->t0 - ss.first_pts
                                                                            : arrival - pts;
        } else {
            x->clock_offset += 1e-4 * (arrival - x->clock_at);
        }
        if (arrival - pts < x->clock_offset) x->clock_offset = arrival - pts;
        x->clock_at = arrival;
        t = pts + x->clock_offset;
    } else {
        /* untimed (the first packets of an RTSP stream may be): a frame after the last one, or,
         * first of all, when the stream began to flow */
        const pan_source_info *info = pan_source_get_info(x->src);
        if (!isnan(x->last_pts_out)) t = fmin(arrival, x->last_pts_out + 1.0 / x->fps);
        else if (info->opened_at > 0) t = fmin(arrival, info->opened_at - x->pl->t0);
    }
    if (!isnan(x->last_pts_out) && t <= x->last_pts_out) t = x->last_pts_out + 1e-6;
    return t;
}

/* A frame from the decoder becomes the camera's pending frame: its index, its time (live), the
 * camera's state. Takes the caller's reference to f. PAN_LIMIT once max_frames is reached. */
static pan_status take_frame(cam_ctx *x, pan_frame *f)
{
    camera *c = x->c;
    if (c->max_frames > 0 && x->next_index >= c->max_frames) {
        pan_frame_unref(&f);
        return PAN_LIMIT;
    }
    f->index = x->next_index++;
    if (x->is_live) {
        f->pts = live_time(x, f->pts);
        x->last_pts_out = f->pts;
    }
    if (!x->got_frame) {
        x->got_frame = 1;
        x->used = 0;
        if (x->lost_at >= 0) {
            double out = now_s() - x->lost_at;
            SETD(c->outage_s, c->outage_s + out); /* only this camera's steps write it */
            ADD(c->reconnects, 1);
            x->lost_at = -1;
            pan_log_info("camera", c->id,
                         "%s: state live again after %.1f s (reconnect %lld); frames go on from index %lld", c->uri, out,
                         (long long)GET(c->reconnects), (long long)f->index);
        } else if (x->network && f->index == 0) {
            pan_log_info("camera", c->id, "%s: state live", c->uri);
        }
        set_state(x, PAN_CAMERA_LIVE, PAN_OK, NULL);
    }
    if ((++x->emitted & 31) == 1) publish_decode_stats(x);
    x->pending = f;
    x->pend_paced = x->pend_synced = x->pend_timed = 0;
    x->pend_t = now_s();
    return PAN_OK;
}

/* A live camera's frame pushed out of its queue by a newer one. */
static void count_drop(cam_ctx *x, pan_frame *f)
{
    camera *c = x->c;
    ADD(c->dropped, 1);
    pan_log_debug("camera", c->id, "frame %lld dropped: the frame queue is full", (long long)f->index);
    double t = now_s();
    if (x->drop_logged_at == 0 || t - x->drop_logged_at >= DROP_LOG_EVERY_S) {
        /* at most one line a minute: how many went since the last one */
        pan_log_info("camera", c->id,
                     "%s: processing is behind the camera: %lld frame(s) dropped%s (index %lld; counted in the "
                     "summary)",
                     c->uri, (long long)(GET(c->dropped) - x->drops_logged),
                     x->drop_logged_at == 0 ? "" : " in the last minute", (long long)f->index);
        x->drop_logged_at = t;
        x->drops_logged = GET(c->dropped);
    }
    pan_frame_unref(&f);
}

/* Hands the pending frame to the batcher: after its time (--realtime), after the slower cameras
 * (alignment), into its queue. PAN_EAGAIN with *next = SLEEP or PARK when it has to wait (the
 * frame stays pending); PAN_CLOSED when the batcher is closed or the camera removed (the frame is
 * dropped). A camera being stopped does not wait for its time or for other cameras; a recorded one
 * still waits for room in its queue: what was decoded is delivered. A live one waits for room at
 * most until its oldest waiting frame has waited LIVE_DROP_AFTER_S; then that frame goes (drop
 * oldest first). */
static pan_status hand_over(cam_ctx *x, pan_io_next *next)
{
    camera *c = x->c;
    pan_frame *f = x->pending;
    int stopping = pan__camera_stopping(c);
    if (x->pace && !x->pend_paced) {
        if (!x->pend_timed) x->pend_until = pace_target(x, f), x->pend_timed = 1;
        if (!stopping && x->pend_until > now_s()) {
            c->task.until = x->pend_until;
            *next = PAN_IO_SLEEP;
            return PAN_EAGAIN;
        }
        x->pend_paced = 1;
    }
    if (!x->drop && !x->pend_synced) {
        if (!stopping && !pan__sync_try(c, isnan(f->pts) ? (double)f->index / x->fps : f->pts)) {
            *next = PAN_IO_PARK; /* woken when a slower camera moves on */
            return PAN_EAGAIN;
        }
        x->pend_synced = 1;
    }
    pan_frame *old = NULL;
    /* arrival: a live frame's is when it was decoded (it may wait here for room, briefly); a paced
     * one's when its time came (it was decoded ahead of it) */
    double arrival = !x->drop ? now_s() : x->pace && x->pend_until > x->pend_t ? x->pend_until : x->pend_t;
    pan_status st = pan_batcher_push(x->pl->batcher, &c->slot, f, arrival, x->drop, &old);
    if (st == PAN_EAGAIN) {
        /* woken when the batcher takes a frame of this camera; a live one also when its oldest
         * waiting frame may be dropped */
        if (x->drop) c->task.until = c->slot.retry_at;
        *next = x->drop ? PAN_IO_SLEEP : PAN_IO_PARK;
        return PAN_EAGAIN;
    }
    x->pending = NULL;
    if (st) {
        /* a removed camera's frame decoded after its queue was emptied goes like the queued ones
         * (the slot's flag was set under the batcher's lock, which the push took after it) */
        if (c->slot.discarded) ADD(c->dropped, 1);
        pan_frame_unref(&f);
        return st;
    }
    if (old) count_drop(x, old);
    return PAN_OK;
}

static int held_extra(pan_decoder_kind kind)
{
    if (kind != PAN_DECODER_NVDEC) return PAN_CAMERA_HELD_EXTRA;
    return pan__env_int("PANOPTES_NVDEC_EXTRA_SURFACES", PAN_CAMERA_HELD_EXTRA_NVDEC, 1, 8);
}

static pan_decoder_kind pick_decoder(const pan_pipeline *pl)
{
    return pl->backend == PAN_BACKEND_CUDA ? PAN_DECODER_NVDEC : PAN_DECODER_CPU;
}

/* Opens the source and makes a decoder for it. */
static pan_status connect_camera(cam_ctx *x)
{
    camera *c = x->c;
    const pan_pipeline_params *p = x->p;
    pan_source_params sp = {.uri = c->uri,
                            .camera = c->id,
                            .loop = c->loop,
                            .timeout_ms = c->timeout_ms,
                            .rtsp_udp = c->rtsp_udp,
                            .stop = stop_requested,
                            .stop_opaque = c};
    pan_status st = pan_source_create(&x->src, &sp);
    if (st) return st;
    pthread_mutex_lock(&c->lock);
    c->src = x->src;
    pthread_mutex_unlock(&c->lock);
    if (pan__camera_stopping(c)) pan_source_interrupt(x->src);

    const pan_source_info *info = pan_source_get_info(x->src);
    x->is_live = info->is_live;
    x->clock_offset = NAN; /* a new connection: its stream time starts anew */
    x->await_key = info->is_live;
    x->waited = 0;
    x->drop = info->is_live || p->realtime;
    x->pace = p->realtime && !info->is_live;
    x->fps = info->fps > 0 ? info->fps : 25.0;
    if (x->drop) pan__sync_leave(c); /* live or paced: the wall clock aligns it */
    x->paced = 0;
    SET(c->live, x->drop);
    if (x->had_stream && (info->codec_id != x->codec_id || info->width != x->width || info->height != x->height))
        pan_log_info("camera", c->id, "%s: the stream changed on reconnect (%dx%d → %s %dx%d)", c->uri, x->width,
                     x->height, info->codec, info->width, info->height);
    x->had_stream = 1;
    x->codec_id = info->codec_id;
    x->width = info->width;
    x->height = info->height;

    pan_decoder_params dp = {
        .kind = x->kind,
        .camera = c->id,
        .uri = c->uri,
        .codecpar = pan_source_codecpar(x->src),
        /* Frames a camera may hold downstream at once: its queue and PAN_CAMERA_HELD_EXTRA(_NVDEC)
         * (pipeline_internal.h). Each NVDEC output surface of a 1080p stream is 4 MiB of device
         * memory; the camera waits (back-pressure) while the batcher holds them. */
        .max_frames = c->slot.cap + held_extra(x->kind),
        .threads = p->decoder_threads > 0 ? p->decoder_threads : 1,
        /* NVDEC with every output surface held: the camera sleeps until one is back */
        .frame_back = wake_camera,
        .frame_back_opaque = c,
    };
    pan_source_time_base(x->src, &dp.time_base_num, &dp.time_base_den);
    st = pan_decoder_create(&x->dec, &dp);
    if (st && dp.kind == PAN_DECODER_NVDEC && p->fallback_cpu) {
        pan_log_warn("pipeline", c->id, "%s: NVDEC cannot decode this stream; using the cpu decoder (--fallback cpu)",
                     c->uri);
        dp.kind = PAN_DECODER_CPU;
        dp.max_frames = c->slot.cap + held_extra(dp.kind);
        st = pan_decoder_create(&x->dec, &dp);
    }
    if (st) return st;
    x->kind = dp.kind; /* a fallback sticks for later connections */
    SET(c->decoder, (int)dp.kind + 1);
    x->got_frame = 0;
    pan_log_info("pipeline", c->id, "%s: %s %dx%d %.2f fps, %s, decoder %s%s", c->uri, info->codec, info->width,
                 info->height, info->fps, info->color_desc, pan_decoder_kind_name(dp.kind),
                 !x->drop ? "" : info->is_live ? ", live (drops frames when behind)" : ", paced at its frame rate");
    return PAN_OK;
}

/* Ends a connection: keeps its decoder's and source's counters, closes both. */
static void close_connection(cam_ctx *x)
{
    camera *c = x->c;
    if (x->pending) pan_frame_unref(&x->pending); /* a stopped camera's frame the batcher refused */
    x->have_pkt = 0;
    x->draining = x->eos_pending = 0;
    if (x->dec) {
        pan_decoder_stats s;
        pan_decoder_get_stats(x->dec, &s);
        x->acc.packets += s.packets;
        x->acc.frames += s.frames;
        x->acc.errors += s.errors;
        x->acc.skipped += s.skipped;
        x->acc.lost += s.lost;
        x->acc.concealed += s.concealed;
        pan_decoder_destroy(&x->dec);
        publish_decode_stats(x);
    }
    if (x->src) {
        pan_source_stats ss;
        pan_source_get_stats(x->src, &ss);
        x->src_corrupt += ss.corrupt;
        if (ss.truncated) x->trunc = ss;
    }
    pthread_mutex_lock(&c->lock);
    c->src = NULL;
    pthread_mutex_unlock(&c->lock);
    pan_source_destroy(&x->src);
}

/* Errors after which a network camera is worth another try: the network, the server, the stream
 * it sent. Not: a protocol or codec this build lacks, bad arguments, out of memory. */
static int retryable(pan_status st)
{
    switch (st) {
    case PAN_UNSUPPORTED:
    case PAN_INVAL:
    case PAN_NOMEM:
    case PAN_INTERRUPTED:
    case PAN_CLOSED:
    case PAN_LIMIT:
    case PAN_CUDA:
    case PAN_NOGPU:
    case PAN_DEVMEM:
    case PAN_NOSEEK: /* the server will not seek next time either */
        return 0;
    default: return 1;
    }
}

/* Delay before retry number `n` (1-based): min·2^(n-1), at most max, ±20% jitter (still ≤ max). */
static double backoff_s(cam_ctx *x, int n)
{
    const pan_pipeline_params *p = x->p;
    double lo = (p->backoff_min_ms > 0 ? p->backoff_min_ms : BACKOFF_MIN_MS) * 1e-3;
    double hi = (p->backoff_max_ms > 0 ? p->backoff_max_ms : BACKOFF_MAX_MS) * 1e-3;
    if (hi < lo) hi = lo;
    double d = lo;
    for (int i = 1; i < n && d < hi; i++) d *= 2;
    if (d > hi) d = hi;
    d *= 0.8 + 0.4 * (double)rand_r(&x->rng) / RAND_MAX;
    return d > hi ? hi : d;
}

/* Why the camera stopped, for its state and statistics: the status, and the last error the
 * camera's steps logged (the source's or decoder's own words) when there is one. */
static void describe(const cam_ctx *x, char *buf, size_t n, const char *what, pan_status st)
{
    const char *last = *pan__log_last_error() ? pan__log_last_error() : x->last_err; /* this step's, or earlier */
    if (*last) snprintf(buf, n, "%s: %.440s", what, last);
    else snprintf(buf, n, "%s: %s", what, pan_status_str(st));
}

/* What a file camera that ended lost, with counts: "truncated: ..." or "damaged: ...". */
static void describe_damage(const cam_ctx *x, char *buf, size_t n)
{
    int k = 0;
    if (x->trunc.truncated) {
        if (x->trunc.missing_packets > 0)
            k = snprintf(buf, n, "truncated: the input ended %lld packets before its index said", (long long)x->trunc.missing_packets);
        else if (x->trunc.missing_s > 0)
            k = snprintf(buf, n, "truncated: the input ended %.1f s before its declared duration", x->trunc.missing_s);
        else
            k = snprintf(buf, n, "truncated: the download broke off before its end");
    } else {
        k = snprintf(buf, n, "damaged");
    }
    const char *sep = x->trunc.truncated ? "; " : ": ";
    if (k > 0 && (size_t)k < n && x->acc.lost)
        k += snprintf(buf + k, n - (size_t)k, "%s%lld frame(s) lost to damage", sep, (long long)x->acc.lost), sep = ", ";
    if (k > 0 && (size_t)k < n && x->acc.concealed)
        k += snprintf(buf + k, n - (size_t)k, "%s%lld frame(s) with damage concealed", sep, (long long)x->acc.concealed),
            sep = ", ";
    if (k > 0 && (size_t)k < n && x->src_corrupt)
        snprintf(buf + k, n - (size_t)k, "%s%lld damaged packet(s) or stretch(es) skipped by the demuxer", sep,
                 (long long)x->src_corrupt);
}

/* The camera's end: its final state (told by the delivery thread once its last frame is out), the
 * end marker after its last frame. Frees the step state; the task is done. */
static pan_io_next finish(cam_ctx *x, pan_status st)
{
    camera *c = x->c;
    pan_pipeline *pl = x->pl;
    pan__sync_leave(c);
    if (x->lost_at >= 0) SETD(c->outage_s, c->outage_s + now_s() - x->lost_at);
    publish_decode_stats(x);
    if (st == PAN_INTERRUPTED) {
        c->final_state = PAN_CAMERA_STOPPED;
        c->final_status = PAN_OK;
        pan_log_info("camera", c->id, "%s: state stopped after %lld frames", c->uri, (long long)x->next_index);
    } else if (st == PAN_TRUNCATED || (!x->is_live && (x->acc.errors || x->src_corrupt || x->trunc.truncated))) {
        /* It ran to its end, but not all of it was there: frames lost to damage, or an input that
         * ended before its container said it would. Ended, with a status that says so (and a
         * non-zero exit status from `panoptes run`), not "ok". */
        c->final_state = PAN_CAMERA_ENDED;
        c->final_status = st == PAN_TRUNCATED || x->trunc.truncated ? PAN_TRUNCATED : PAN_DAMAGED; /* also looped */
        describe_damage(x, c->final_message, sizeof c->final_message);
        SET(c->status, (int)c->final_status);
        pthread_mutex_lock(&c->lock);
        snprintf(c->error, sizeof c->error, "%s", c->final_message);
        pthread_mutex_unlock(&c->lock);
        pan_log_warn("camera", c->id, "%s: state ended after %lld frames, %s", c->uri, (long long)x->next_index,
                     c->final_message);
    } else if (st) {
        c->final_state = PAN_CAMERA_FAILED;
        c->final_status = st;
        snprintf(c->final_message, sizeof c->final_message, "%s", x->msg[0] ? x->msg : pan_status_str(st));
        pthread_mutex_lock(&c->lock);
        snprintf(c->error, sizeof c->error, "%s", c->final_message);
        pthread_mutex_unlock(&c->lock);
        pan_log_error("pipeline", c->id, "%s: camera stopped: %s (other cameras continue)", c->uri, c->final_message);
    } else {
        c->final_state = PAN_CAMERA_ENDED;
        c->final_status = PAN_OK;
        pan_log_info("camera", c->id, "%s: state ended after %lld frames%s", c->uri, (long long)x->next_index,
                     GET(c->dropped) ? " (some dropped: see the summary)" : "");
    }
    SETD(c->thread_cpu_s, x->cpu_s + pan__thread_cpu_s() - x->step_cpu0);
    c->ctx = NULL;
    free(x);
    /* after the last frame: the delivery thread tells the camera's end once its frames are out,
     * and frees the camera after pan_io_join: nothing of c may be touched after this */
    pan_batcher_end(pl->batcher, &c->slot);
    return PAN_IO_DONE;
}

/* A connection ended (x->st: why; x->cs: how the drain went): close it, then finish or retry. */
static pan_io_next end_connection(cam_ctx *x)
{
    camera *c = x->c;
    pan_status st = x->st, cs = x->cs;
    close_connection(x);
    if (st == PAN_LIMIT || cs == PAN_LIMIT) st = PAN_OK; /* max_frames reached */
    else if (st == PAN_EOF && !x->is_live) st = cs;     /* the end of a file */
    if (pan__camera_stopping(c)) return finish(x, PAN_INTERRUPTED); /* whatever the interrupted read said */
    if (st == PAN_OK) return finish(x, st);
    if (st == PAN_TRUNCATED && !x->is_live) return finish(x, st); /* the end of what there was: ended, truncated */
    if (st == PAN_EOF) st = PAN_NET; /* a live stream ended by its server: lost */
    if (!x->network || !retryable(st)) {
        describe(x, x->msg, sizeof x->msg, x->connected ? "stream failed" : "cannot open", st);
        return finish(x, st);
    }
    if (x->connected && !x->is_live) {
        describe(x, x->msg, sizeof x->msg, "the file over the network broke off", st);
        return finish(x, st); /* a file over HTTP: opening it again would restart it */
    }
    if (x->got_frame) {
        x->lost_at = now_s(); /* it was live: an outage starts */
    } else {
        ADD(c->failed_attempts, 1);
    }
    if (c->reconnect >= 0 && x->used >= c->reconnect) {
        char why[64];
        if (x->got_frame) snprintf(why, sizeof why, "the stream was lost");
        else snprintf(why, sizeof why, "%d attempt(s) failed", x->used + 1);
        pan_log_error("camera", c->id,
                      "%s: state failed: %s (%s); giving up (check that the camera is reachable; --reconnect N "
                      "allows N more attempts, -1 forever)",
                      c->uri, why, pan_status_str(st));
        snprintf(x->msg, sizeof x->msg, "%s (%s); gave up", why, pan_status_str(st));
        return finish(x, st);
    }
    x->used++;
    double d = backoff_s(x, x->used);
    char of[32] = "";
    if (c->reconnect > 0) snprintf(of, sizeof of, " of %d", c->reconnect);
    char retry[PAN_ERROR_TEXT];
    snprintf(retry, sizeof retry, "%s; reconnecting in %.1f s (attempt %d%s)",
             x->got_frame ? "connection lost" : pan_status_str(st), d, x->used, of);
    pan_log_warn("camera", c->id, "%s: state retrying: %s", c->uri, retry);
    set_state(x, PAN_CAMERA_RETRYING, st, retry);
    x->got_frame = 0;
    /* the backoff holds no thread; a stop wakes it (and the connect step then finishes) */
    x->phase = PH_CONNECT;
    c->task.lane = PAN_IO_LANE_CONNECT;
    c->task.until = now_s() + d;
    return PAN_IO_SLEEP;
}

/* Connect lane: opens the source and makes its decoder (blocking, within the camera's timeout). */
static pan_io_next connect_step(cam_ctx *x)
{
    if (pan__camera_stopping(x->c)) return finish(x, PAN_INTERRUPTED);
    x->last_err[0] = 0; /* a new attempt: its own errors */
    x->st = x->cs = PAN_OK;
    pan_status st = connect_camera(x);
    x->connected = st == PAN_OK;
    if (st) {
        x->st = st;
        return end_connection(x);
    }
    x->phase = PH_STREAM;
    x->c->task.lane = PAN_IO_LANE_WORK;
    return PAN_IO_AGAIN;
}

/* The stream ended with st (the end of a file, an error, a stop): drain the decoder (its frames are
 * good) unless stopping or the camera has all it wants. 1 when draining goes on in this step. */
static int stream_ended(cam_ctx *x, pan_status st)
{
    x->st = st;
    x->have_pkt = 0;
    if (st == PAN_INTERRUPTED || st == PAN_CLOSED || st == PAN_LIMIT || pan__camera_stopping(x->c)) return 0;
    pan_status s = pan_decoder_send_packet(x->dec, NULL);
    if (s && s != PAN_EOF && s != PAN_EAGAIN) {
        x->cs = s;
        return 0;
    }
    x->draining = 1;
    x->eos_pending = s == PAN_EAGAIN; /* sent again once its frames are out */
    return 1;
}

/* Work lane: reads, decodes and hands over until one frame went out (then the next camera's
 * turn), the camera has to wait, or the stream ended. */
static pan_io_next stream_step(cam_ctx *x)
{
    camera *c = x->c;
    int reads = 0, handed = 0;
    for (;;) {
        if (x->pending) {
            pan_io_next next;
            pan_status st = hand_over(x, &next);
            if (st == PAN_EAGAIN) return next;
            if (st) {
                if (x->draining) x->cs = st;
                else x->st = st;
                return end_connection(x);
            }
            /* a few frames per turn while its queue has room: the camera's decoder stays in the
             * cache for them; then the next camera's turn */
            if (++handed == c->slot.cap) return PAN_IO_AGAIN;
            reads = 0;
            continue;
        }
        pan_frame *f = NULL;
        pan_status st = pan_decoder_receive_frame(x->dec, &f);
        if (st == PAN_LIMIT) { /* every frame its decoder may lend is held: woken when one is back */
            c->task.until = now_s() + 1.0; /* and looks again each second (a stuck consumer is an error) */
            return PAN_IO_SLEEP;
        }
        if (st == PAN_OK) st = take_frame(x, f);
        if (st == PAN_OK) continue;
        if (st == PAN_BUSY) { /* the device decodes it: others' turn meanwhile */
            c->task.until = now_s() + BUSY_WAIT_S;
            return PAN_IO_SLEEP;
        }
        if (x->draining) {
            if (st == PAN_EAGAIN && x->eos_pending) {
                x->eos_pending = 0;
                st = pan_decoder_send_packet(x->dec, NULL);
                if (st == PAN_OK) continue;
            }
            x->cs = st == PAN_EOF || st == PAN_EAGAIN ? PAN_OK : st;
            return end_connection(x);
        }
        if (st != PAN_EAGAIN && st != PAN_EOF) {
            if (stream_ended(x, st)) continue;
            return end_connection(x);
        }
        if (!x->have_pkt) {
            if (pan__camera_stopping(c)) {
                stream_ended(x, PAN_INTERRUPTED);
                return end_connection(x);
            }
            if (reads++ == STEP_PACKETS) return PAN_IO_AGAIN; /* a long wait for a keyframe: others' turn */
            /* a network read waits for the next packet (or the timeout): the pool may stand in */
            if (x->network) pan_io_blocking(x->pl->io, 1);
            st = pan_source_read(x->src, &x->pkt);
            if (x->network) pan_io_blocking(x->pl->io, 0);
            if (st) { /* logged by the source */
                if (stream_ended(x, st)) continue;
                return end_connection(x);
            }
            if (x->await_key) {
                /* A live stream joined mid-GOP: the packets before the first keyframe refer to
                 * pictures this connection never had, and decode to concealed garbage. A stream
                 * whose keyframe flags never come (intra refresh) is decoded anyway after
                 * MAX_KEY_WAIT packets. */
                if (!x->pkt.keyframe && x->waited < MAX_KEY_WAIT) {
                    x->waited++;
                    x->acc.skipped++;
                    continue;
                }
                x->await_key = 0;
                if (x->waited)
                    pan_log_debug("camera", c->id, "%s: started at a keyframe after %lld packets", c->uri,
                                  (long long)x->waited);
            }
            x->have_pkt = 1;
        }
        st = pan_decoder_send_packet(x->dec, &x->pkt);
        if (st == PAN_EAGAIN) continue; /* its frames first */
        x->have_pkt = 0;
        if (st) {
            if (stream_ended(x, st)) continue;
            return end_connection(x);
        }
    }
}

/* The pool runs this, one step at a time. */
static pan_io_next camera_step(pan_io_task *t)
{
    camera *c = t->opaque;
    cam_ctx *x = c->ctx;
    x->step_cpu0 = pan__thread_cpu_s();
    pan__log_clear_last_error(); /* what is left belongs to another camera's step */
    pan_io_next next;
    if (x->phase == PH_CONNECT) next = connect_step(x);
    else next = stream_step(x);
    if (next == PAN_IO_DONE) return next; /* finish booked everything; c may be gone */
    x->cpu_s += pan__thread_cpu_s() - x->step_cpu0;
    SETD(c->thread_cpu_s, x->cpu_s);
    /* the errors this step logged, for the camera's final message (the log keeps the last error
     * per thread, and a pool thread serves many cameras) */
    const char *e = pan__log_last_error();
    if (*e) {
        snprintf(x->last_err, sizeof x->last_err, "%s", e);
        pan__log_clear_last_error();
    }
    return next;
}

pan_status pan__camera_start(camera *c)
{
    pan_pipeline *pl = c->pl;
    cam_ctx *x = calloc(1, sizeof *x);
    if (!x) return PAN_NOMEM;
    *x = (cam_ctx){.c = c, .pl = pl, .p = &pl->p, .kind = pick_decoder(pl), .lost_at = -1, .last_pts_out = NAN,
                   .phase = PH_CONNECT};
    x->network = pan_source_uri_is_network(c->uri);
    x->rng = 0x9e3779b9u ^ (unsigned)c->id * 2654435761u;
    if (x->network) pan_log_info("camera", c->id, "%s: state connecting", c->uri);
    c->ctx = x;
    c->slot.on_room = wake_camera;
    c->slot.drop_after_s = LIVE_DROP_AFTER_S;
    c->slot.room_opaque = c;
    c->task = (pan_io_task){.step = camera_step, .opaque = c, .lane = PAN_IO_LANE_CONNECT};
    pan_io_submit(pl->io, &c->task);
    return PAN_OK;
}

void pan__camera_interrupt(camera *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->src) pan_source_interrupt(c->src);
    pthread_mutex_unlock(&c->lock);
    if (c->started) pan_io_wake(c->pl->io, &c->task); /* parked or sleeping: it sees the stop */
}

void pan__camera_wake(camera *c) { pan_io_wake(c->pl->io, &c->task); }
