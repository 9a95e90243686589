/* One thread per camera: source → decoder → the pipeline's frame queue, and the camera's life:
 *
 *   connecting ──open+first frame──> live ──lost (error, end of a live stream, no data for
 *        │                            ▲      timeout_ms)──> retrying ──backoff──> (open again)
 *        └──cannot open──> retrying ──┘                          │
 *                                                                └──attempts used up──> failed
 *   live ──end of a file, max_frames──> ended        stop or remove_camera──> stopped
 *
 * Pacing: a file camera waits for room in the queue (back-pressure); a live camera (or a file
 * with --realtime, which is also slowed to its native rate) never waits: a decoded frame that
 * finds the queue full is dropped and counted. Dropping after decode keeps the decoder's
 * reference chain whole, so the frames that are kept decode correctly.
 *
 * Every connection gets a new decoder: the old one is drained first (its frames are good), and
 * a new stream may have a new size or codec. The frame index is the camera's, not the decoder's:
 * it goes on across reconnects and counts dropped frames too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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
    int64_t emitted;       /* frames handed over (for the thread-CPU sampling) */
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
} cam_ctx;

static double now_s(void) { return pan__now_s(); }

int pan__camera_stopping(const camera *c) { return atomic_load(&((camera *)c)->stop) != 0; }

static int stop_requested(void *opaque) { return pan__camera_stopping(opaque); }

/* Sleeps up to `s` seconds, waking every 50 ms to notice a stop. Returns 1 when stopped. */
static int sleep_unless_stopped(const camera *c, double s)
{
    double end = now_s() + s;
    for (;;) {
        if (pan__camera_stopping(c)) return 1;
        double left = end - now_s();
        if (left <= 0) return 0;
        if (left > 0.05) left = 0.05;
        struct timespec ts = {0, (long)(left * 1e9)};
        nanosleep(&ts, NULL);
    }
}

#define ADD(field, v) __atomic_fetch_add(&(field), (v), __ATOMIC_RELAXED)
#define SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
/* doubles: the generic builtin */
#define SETD(field, v)                                  \
    do {                                                \
        double v_ = (v);                                \
        __atomic_store(&(field), &v_, __ATOMIC_RELAXED); \
    } while (0)

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
    }
    SET(x->c->packets, s.packets);
    SET(x->c->decode_errors, s.errors);
    SET(x->c->frames_lost, s.lost);
}

/* --realtime: holds a file's frame until its presentation time, measured from the first frame.
 * A jump in timestamps (backwards, or more than 5 s ahead) starts a new time line. */
static int pace_frame(cam_ctx *x, const pan_frame *f)
{
    double pts = isnan(f->pts) ? (double)f->index / x->fps : f->pts;
    double now = now_s();
    if (!x->paced || pts < x->last_pts - 1.0 || x->pace_t0 + (pts - x->pace_pts0) - now > 5.0) {
        x->paced = 1;
        x->pace_t0 = now;
        x->pace_pts0 = pts;
    }
    x->last_pts = pts;
    double wait = x->pace_t0 + (pts - x->pace_pts0) - now;
    return wait > 0 ? sleep_unless_stopped(x->c, wait) : 0;
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
 * slower than ours) so that network delays do not push it up. Never goes back. */
static double live_time(cam_ctx *x, double pts)
{
    double arrival = now_s() - x->pl->t0, t = arrival;
    if (!isnan(pts)) {
        if (isnan(x->clock_offset)) {
            pan_source_stats ss;
            pan_source_get_stats(x->src, &ss);
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

/* Takes the caller's reference to f. PAN_LIMIT once max_frames is reached. */
static pan_status emit(cam_ctx *x, pan_frame *f)
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
            SETD(c->outage_s, c->outage_s + out); /* only this thread writes it */
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
    if ((++x->emitted & 31) == 1) {
        SETD(c->thread_cpu_s, pan__thread_cpu_s());
        publish_decode_stats(x);
    }
    /* a camera being stopped hands over what it decoded without waiting for its time */
    if (x->pace) pace_frame(x, f);
    if (!x->drop) pan__sync_wait(c, isnan(f->pts) ? (double)f->index / x->fps : f->pts);
    /* A recorded camera waits for room in its queue (back-pressure), also when it is being
     * stopped: what was decoded is delivered. A live one never waits: when the pipeline is behind,
     * its oldest waiting frame goes and the new one takes a place at the back (drop oldest first).
     * Decoding is never skipped, so the reference chain stays whole. */
    pan_frame *old = NULL;
    pan_status st = pan_batcher_push(x->pl->batcher, &c->slot, f, now_s(), x->drop, &old);
    if (st) {
        pan_frame_unref(&f);
        return st;
    }
    if (old) {
        f = old; /* what is dropped below */
        {
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
    }
    return PAN_OK;
}

/* Receives every frame the decoder has ready. PAN_EAGAIN / PAN_EOF when there are no more. */
static pan_status drain_decoder(cam_ctx *x)
{
    for (;;) {
        pan_frame *f = NULL;
        pan_status st = pan_decoder_receive_frame(x->dec, &f);
        if (st) return st;
        st = emit(x, f);
        if (st) return st;
    }
}

static pan_status decode_packet(cam_ctx *x, const pan_packet *pkt)
{
    for (;;) {
        pan_status st = pan_decoder_send_packet(x->dec, pkt);
        if (st == PAN_EAGAIN) {
            st = drain_decoder(x);
            if (st != PAN_EAGAIN && st != PAN_EOF) return st;
            continue;
        }
        if (st) return st;
        st = drain_decoder(x);
        return st == PAN_EAGAIN || st == PAN_EOF ? PAN_OK : st;
    }
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
        /* Frames a camera may hold downstream at once. Host frames are cheap; each NVDEC output
         * surface of a 1080p stream is 3 MiB of device memory, so NVDEC cameras get 4: enough to
         * keep a camera's frames flowing into batches, and the camera waits (back-pressure)
         * while the batcher holds them. */
        .max_frames = PAN_CAMERA_QUEUE + 4, /* waiting, in the batch, and the decoder's own */
        .threads = p->decoder_threads > 0 ? p->decoder_threads : 1,
    };
    pan_source_time_base(x->src, &dp.time_base_num, &dp.time_base_den);
    st = pan_decoder_create(&x->dec, &dp);
    if (st && dp.kind == PAN_DECODER_NVDEC && p->fallback_cpu) {
        pan_log_warn("pipeline", c->id, "%s: NVDEC cannot decode this stream; using the cpu decoder (--fallback cpu)",
                     c->uri);
        dp.kind = PAN_DECODER_CPU;
        dp.max_frames = PAN_CAMERA_QUEUE + 4;
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

/* Reads, decodes and emits until the source ends or fails. PAN_EOF at the end of a file. */
static pan_status stream_camera(cam_ctx *x)
{
    for (;;) {
        pan_packet pkt;
        if (pan__camera_stopping(x->c)) return PAN_INTERRUPTED;
        pan_status st = pan_source_read(x->src, &pkt);
        if (st) return st; /* logged by the source */
        if (x->await_key) {
            /* A live stream joined mid-GOP: the packets before the first keyframe refer to pictures
             * this connection never had, and decode to concealed garbage. A stream whose keyframe
             * flags never come (intra refresh) is decoded anyway after MAX_KEY_WAIT packets. */
            if (!pkt.keyframe && x->waited < MAX_KEY_WAIT) {
                x->waited++;
                x->acc.skipped++;
                continue;
            }
            x->await_key = 0;
            if (x->waited)
                pan_log_debug("camera", x->c->id, "%s: started at a keyframe after %lld packets", x->c->uri,
                              (long long)x->waited);
        }
        st = decode_packet(x, &pkt);
        if (st) return st;
    }
}

/* Ends a connection: drains the decoder (unless stopping), keeps its counters, closes both. */
static pan_status close_connection(cam_ctx *x, int drain)
{
    camera *c = x->c;
    pan_status st = PAN_OK;
    if (x->dec) {
        if (drain && !pan__camera_stopping(c)) {
            st = pan_decoder_send_packet(x->dec, NULL);
            if (!st) st = drain_decoder(x);
            if (st == PAN_EOF || st == PAN_EAGAIN) st = PAN_OK;
        }
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
    return st;
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
 * camera's thread logged (the source's or decoder's own words) when there is one. */
static void describe(char *buf, size_t n, const char *what, pan_status st)
{
    const char *last = pan__log_last_error();
    if (*last) snprintf(buf, n, "%s: %s", what, last);
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

void *pan__camera_main(void *arg)
{
    camera *c = arg;
    pan_pipeline *pl = c->pl;
    const pan_pipeline_params *p = &pl->p;
#ifdef __linux__
    char tname[16];
    snprintf(tname, sizeof tname, "pan-cam%d", c->id);
    pthread_setname_np(pthread_self(), tname); /* for top -H, perf and gdb */
#endif
    pan_gpu_pixel_copy_scope(&pl->pixel_copies);
    cam_ctx x = {.c = c, .pl = pl, .p = p, .kind = pick_decoder(pl), .lost_at = -1, .last_pts_out = NAN};
    pan_status st;
    char msg[PAN_ERROR_TEXT] = "";
    x.network = pan_source_uri_is_network(c->uri);
    x.rng = 0x9e3779b9u ^ (unsigned)c->id * 2654435761u;
    if (x.network) pan_log_info("camera", c->id, "%s: state connecting", c->uri);

    for (;;) {
        pan__log_clear_last_error();
        st = connect_camera(&x);
        int connected = st == PAN_OK;
        if (connected) st = stream_camera(&x);
        pan_status cs = close_connection(&x, connected && st != PAN_INTERRUPTED && st != PAN_CLOSED);
        if (st == PAN_LIMIT || cs == PAN_LIMIT) st = PAN_OK;     /* max_frames reached */
        else if (st == PAN_EOF && !x.is_live) st = cs;          /* the end of a file */
        if (pan__camera_stopping(c)) {
            st = PAN_INTERRUPTED; /* stopped: whatever the interrupted read said */
            break;
        }
        if (st == PAN_OK) break;
        if (st == PAN_TRUNCATED && !x.is_live) break; /* the end of what there was: ended, truncated */
        if (st == PAN_EOF) st = PAN_NET; /* a live stream ended by its server: lost */
        if (!x.network || !retryable(st)) {
            describe(msg, sizeof msg, connected ? "stream failed" : "cannot open", st);
            break;
        }
        if (connected && !x.is_live) {
            describe(msg, sizeof msg, "the file over the network broke off", st);
            break; /* a file over HTTP: opening it again would restart it */
        }
        if (x.got_frame) {
            x.lost_at = now_s(); /* it was live: an outage starts */
        } else {
            ADD(c->failed_attempts, 1);
        }
        if (c->reconnect >= 0 && x.used >= c->reconnect) {
            char why[64];
            if (x.got_frame) snprintf(why, sizeof why, "the stream was lost");
            else snprintf(why, sizeof why, "%d attempt(s) failed", x.used + 1);
            pan_log_error("camera", c->id,
                          "%s: state failed: %s (%s); giving up (check that the camera is reachable; --reconnect N "
                          "allows N more attempts, -1 forever)",
                          c->uri, why, pan_status_str(st));
            snprintf(msg, sizeof msg, "%s (%s); gave up", why, pan_status_str(st));
            break;
        }
        x.used++;
        double d = backoff_s(&x, x.used);
        char of[32] = "";
        if (c->reconnect > 0) snprintf(of, sizeof of, " of %d", c->reconnect);
        char retry[PAN_ERROR_TEXT];
        snprintf(retry, sizeof retry, "%s; reconnecting in %.1f s (attempt %d%s)",
                 x.got_frame ? "connection lost" : pan_status_str(st), d, x.used, of);
        pan_log_warn("camera", c->id, "%s: state retrying: %s", c->uri, retry);
        set_state(&x, PAN_CAMERA_RETRYING, st, retry);
        x.got_frame = 0;
        if (sleep_unless_stopped(c, d)) {
            st = PAN_INTERRUPTED;
            break;
        }
    }
    pan__sync_leave(c);
    if (x.lost_at >= 0) SETD(c->outage_s, c->outage_s + now_s() - x.lost_at);
    publish_decode_stats(&x);
    if (st == PAN_INTERRUPTED) {
        c->final_state = PAN_CAMERA_STOPPED;
        c->final_status = PAN_OK;
        pan_log_info("camera", c->id, "%s: state stopped after %lld frames", c->uri, (long long)x.next_index);
    } else if (st == PAN_TRUNCATED || (!x.is_live && (x.acc.errors || x.src_corrupt || x.trunc.truncated))) {
        /* It ran to its end, but not all of it was there: frames lost to damage, or an input that
         * ended before its container said it would. Ended, with a status that says so (and a
         * non-zero exit status from `panoptes run`), not "ok". */
        c->final_state = PAN_CAMERA_ENDED;
        c->final_status = st == PAN_TRUNCATED || x.trunc.truncated ? PAN_TRUNCATED : PAN_DAMAGED; /* also looped */
        describe_damage(&x, c->final_message, sizeof c->final_message);
        SET(c->status, (int)c->final_status);
        pthread_mutex_lock(&c->lock);
        snprintf(c->error, sizeof c->error, "%s", c->final_message);
        pthread_mutex_unlock(&c->lock);
        pan_log_warn("camera", c->id, "%s: state ended after %lld frames, %s", c->uri, (long long)x.next_index,
                     c->final_message);
    } else if (st) {
        c->final_state = PAN_CAMERA_FAILED;
        c->final_status = st;
        snprintf(c->final_message, sizeof c->final_message, "%s", msg[0] ? msg : pan_status_str(st));
        pthread_mutex_lock(&c->lock);
        snprintf(c->error, sizeof c->error, "%s", c->final_message);
        pthread_mutex_unlock(&c->lock);
        pan_log_error("pipeline", c->id, "%s: camera stopped: %s (other cameras continue)", c->uri, c->final_message);
    } else {
        c->final_state = PAN_CAMERA_ENDED;
        c->final_status = PAN_OK;
        pan_log_info("camera", c->id, "%s: state ended after %lld frames%s", c->uri, (long long)x.next_index,
                     GET(c->dropped) ? " (some dropped: see the summary)" : "");
    }
    SETD(c->thread_cpu_s, pan__thread_cpu_s());
    /* after the last frame: the delivery thread tells the camera's end once its frames are out */
    pan_batcher_end(pl->batcher, &c->slot);
    pan_gpu_pixel_copy_scope(NULL);
    return NULL;
}

void pan__camera_interrupt(camera *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->src) pan_source_interrupt(c->src);
    pthread_mutex_unlock(&c->lock);
}
