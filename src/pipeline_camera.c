/* One thread per camera: source → decoder → the shared frame queue, and the camera's life:
 *
 *   connecting ──open+first frame──> live ──lost (error, end of a live stream, no data for
 *        │                            ▲      timeout_ms)──> retrying ──backoff──> (open again)
 *        └──cannot open──> retrying ──┘                          │
 *                                                                └──attempts used up──> failed
 *   live ──end of a file, --max-frames, stop──> ended
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
    run *r;
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
    pan_decoder_stats acc;
    double last_pts_out;  /* live: pts of the last frame emitted (NAN: none yet) */
    double drop_logged_at; /* when drops were last reported (0 = never) */
    int64_t drops_logged;  /* c->sum->dropped at that time */
    /* the previous connection's stream, to notice a change */
    int had_stream, codec_id, width, height;
    /* --realtime: wall-clock time that corresponds to pts0 */
    int paced;
    double pace_t0, pace_pts0, last_pts, fps;
} cam_ctx;

const char *pan_camera_state_name(pan_camera_state s)
{
    switch (s) {
    case PAN_CAMERA_CONNECTING: return "connecting";
    case PAN_CAMERA_LIVE: return "live";
    case PAN_CAMERA_RETRYING: return "retrying";
    case PAN_CAMERA_FAILED: return "failed";
    case PAN_CAMERA_ENDED: return "ended";
    }
    return "?";
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int stop_requested(void *opaque)
{
    (void)opaque;
    return pan__pipeline_stop_requested();
}

/* Sleeps up to `s` seconds, waking every 50 ms to notice a stop. Returns 1 when stopped. */
static int sleep_unless_stopped(double s)
{
    double end = now_s() + s;
    for (;;) {
        if (pan__pipeline_stop_requested()) return 1;
        double left = end - now_s();
        if (left <= 0) return 0;
        if (left > 0.05) left = 0.05;
        struct timespec ts = {0, (long)(left * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static void set_state(cam_ctx *x, pan_camera_state st) { x->c->sum->state = st; }

static int same_camera(const void *queued, const void *item)
{
    return ((const pan_frame *)queued)->camera == ((const pan_frame *)item)->camera;
}

/* Waits for room in the queue (back-pressure), waking up now and then to notice a stop. */
static pan_status push_blocking(run *r, pan_frame *f)
{
    for (;;) {
        pan_status st = pan_queue_push(r->frames, f, 200);
        if (st != PAN_TIMEOUT) return st;
        if (pan__pipeline_stop_requested()) return PAN_INTERRUPTED;
    }
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
    return wait > 0 ? sleep_unless_stopped(wait) : 0;
}

/* Takes the caller's reference to f. PAN_LIMIT once --max-frames is reached. */
static pan_status emit(cam_ctx *x, pan_frame *f)
{
    const pan_pipeline_params *p = x->p;
    camera *c = x->c;
    if (p->max_frames > 0 && x->next_index >= p->max_frames) {
        pan_frame_unref(&f);
        return PAN_LIMIT;
    }
    f->index = x->next_index++;
    if (x->is_live) {
        /* A live camera's frames are stamped with the run's clock when they arrive (decoded):
         * seconds since the run started, as DeepStream's attach-sys-ts does. A stream's own
         * timestamps start near 0 at each connection and some servers send a burst of frames at
         * connect, so they tell neither when a frame was seen nor how two cameras line up; the
         * cross-camera identities compare cameras' timestamps as one clock. Never goes back. */
        double t = now_s() - x->r->t0;
        if (!isnan(x->last_pts_out) && t <= x->last_pts_out) t = x->last_pts_out + 1e-6;
        f->pts = t;
        x->last_pts_out = t;
    }
    if (!x->got_frame) {
        x->got_frame = 1;
        x->used = 0;
        if (x->lost_at >= 0) {
            double out = now_s() - x->lost_at;
            c->sum->outage_s += out;
            c->sum->reconnects++;
            x->lost_at = -1;
            pan_log_info("camera", c->index,
                         "%s: state live again after %.1f s (reconnect %lld); frames go on from index %lld", c->uri, out,
                         (long long)c->sum->reconnects, (long long)f->index);
        } else if (x->network && f->index == 0) {
            pan_log_info("camera", c->index, "%s: state live", c->uri);
        }
        set_state(x, PAN_CAMERA_LIVE);
    }
    if (x->pace && pace_frame(x, f)) {
        pan_frame_unref(&f);
        return PAN_INTERRUPTED;
    }
    if (!x->drop && pan__sync_wait(x->r, c->index, isnan(f->pts) ? (double)f->index / x->fps : f->pts)) {
        pan_frame_unref(&f);
        return PAN_INTERRUPTED;
    }
    pan_status st;
    if (x->drop) {
        /* The pipeline is behind: the camera never waits. Its oldest queued frame goes and the new
         * one takes a place at the back (drop oldest first); with none of its frames queued, the
         * new frame goes. Decoding is never skipped, so the reference chain stays whole. */
        void *old = NULL;
        st = pan_queue_push_evict(x->r->frames, f, same_camera, &old);
        if (old) {
            pan_frame *of = old;
            f = of; /* what is dropped below */
            st = PAN_TIMEOUT;
        }
        if (st == PAN_TIMEOUT) {
            c->sum->dropped++;
            pan_log_debug("camera", c->index, "frame %lld dropped: the frame queue is full", (long long)f->index);
            double t = now_s();
            if (x->drop_logged_at == 0 || t - x->drop_logged_at >= DROP_LOG_EVERY_S) {
                /* at most one line a minute: how many went since the last one */
                pan_log_info("camera", c->index,
                             "%s: processing is behind the camera: %lld frame(s) dropped%s (index %lld; counted in the "
                             "summary)",
                             c->uri, (long long)(c->sum->dropped - x->drops_logged),
                             x->drop_logged_at == 0 ? "" : " in the last minute", (long long)f->index);
                x->drop_logged_at = t;
                x->drops_logged = c->sum->dropped;
            }
            pan_frame_unref(&f);
            return PAN_OK;
        }
    } else {
        st = push_blocking(x->r, f);
    }
    if (st) pan_frame_unref(&f);
    return st;
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

static pan_decoder_kind pick_decoder(run *r) { return r->backend == PAN_BACKEND_CUDA ? PAN_DECODER_NVDEC : PAN_DECODER_CPU; }

/* Opens the source and makes a decoder for it. */
static pan_status connect_camera(cam_ctx *x)
{
    camera *c = x->c;
    run *r = x->r;
    const pan_pipeline_params *p = x->p;
    pan_source_params sp = {.uri = c->uri,
                            .camera = c->index,
                            .loop = p->loop,
                            .timeout_ms = p->timeout_ms,
                            .rtsp_udp = p->rtsp_udp,
                            .stop = stop_requested};
    pan_status st = pan_source_create(&x->src, &sp);
    if (st) return st;
    pthread_mutex_lock(&c->lock);
    c->src = x->src;
    pthread_mutex_unlock(&c->lock);
    if (pan__pipeline_stop_requested()) pan_source_interrupt(x->src);

    const pan_source_info *info = pan_source_get_info(x->src);
    x->is_live = info->is_live;
    x->await_key = info->is_live;
    x->waited = 0;
    x->drop = info->is_live || p->realtime;
    x->pace = p->realtime && !info->is_live;
    x->fps = info->fps > 0 ? info->fps : 25.0;
    if (x->drop) pan__sync_leave(x->r, c->index); /* live or paced: the wall clock aligns it */
    x->paced = 0;
    c->sum->live = x->drop;
    if (x->had_stream && (info->codec_id != x->codec_id || info->width != x->width || info->height != x->height))
        pan_log_info("camera", c->index, "%s: the stream changed on reconnect (%dx%d → %s %dx%d)", c->uri, x->width,
                     x->height, info->codec, info->width, info->height);
    x->had_stream = 1;
    x->codec_id = info->codec_id;
    x->width = info->width;
    x->height = info->height;

    pan_decoder_params dp = {
        .kind = x->kind,
        .camera = c->index,
        .uri = c->uri,
        .codecpar = pan_source_codecpar(x->src),
        /* Frames a camera may hold downstream at once. Host frames are cheap; each NVDEC output
         * surface of a 1080p stream is 3 MiB of device memory, so NVDEC cameras get 4: enough to
         * keep a camera's frames flowing into batches, and the camera waits (back-pressure)
         * while the batcher holds them. */
        .max_frames = x->kind == PAN_DECODER_NVDEC ? 4 : pan_queue_capacity(r->frames) + 4,
        .threads = p->decoder_threads > 0 ? p->decoder_threads : 1,
    };
    pan_source_time_base(x->src, &dp.time_base_num, &dp.time_base_den);
    st = pan_stages_camera_decoder_params(&r->stages, c->index, &dp);
    if (st) return st;
    st = pan_decoder_create(&x->dec, &dp);
    if (st && dp.kind == PAN_DECODER_NVDEC && p->fallback_cpu) {
        pan_log_warn("pipeline", c->index, "%s: NVDEC cannot decode this stream; using the cpu decoder (--fallback cpu)",
                     c->uri);
        dp.kind = PAN_DECODER_CPU;
        dp.max_frames = pan_queue_capacity(r->frames) + 4;
        st = pan_decoder_create(&x->dec, &dp);
    }
    if (st) return st;
    x->kind = dp.kind; /* a fallback sticks for later connections */
    c->sum->decoder = dp.kind;
    x->got_frame = 0;
    pan_log_info("pipeline", c->index, "%s: %s %dx%d %.2f fps, %s, decoder %s%s", c->uri, info->codec, info->width,
                 info->height, info->fps, info->color_desc, pan_decoder_kind_name(dp.kind),
                 !x->drop ? "" : info->is_live ? ", live (drops frames when behind)" : ", paced at its frame rate");
    return PAN_OK;
}

/* Reads, decodes and emits until the source ends or fails. PAN_EOF at the end of a file. */
static pan_status stream_camera(cam_ctx *x)
{
    for (;;) {
        pan_packet pkt;
        if (pan__pipeline_stop_requested()) return PAN_INTERRUPTED;
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
                pan_log_debug("camera", x->c->index, "%s: started at a keyframe after %lld packets", x->c->uri,
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
        if (drain && !pan__pipeline_stop_requested()) {
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
        c->sum->decode = x->acc;
        pan_decoder_destroy(&x->dec);
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

void *pan__camera_main(void *arg)
{
    camera *c = arg;
    run *r = c->run;
    const pan_pipeline_params *p = r->p;
#ifdef __linux__
    char tname[16];
    snprintf(tname, sizeof tname, "pan-cam%d", c->index);
    pthread_setname_np(pthread_self(), tname); /* for top -H, perf and gdb */
#endif
    cam_ctx x = {.c = c, .r = r, .p = p, .kind = pick_decoder(r), .lost_at = -1, .last_pts_out = NAN};
    pan_status st;
    x.network = pan_source_uri_is_network(c->uri);
    x.rng = 0x9e3779b9u ^ (unsigned)c->index * 2654435761u;
    set_state(&x, PAN_CAMERA_CONNECTING);
    if (x.network) pan_log_info("camera", c->index, "%s: state connecting", c->uri);

    for (;;) {
        st = connect_camera(&x);
        int connected = st == PAN_OK;
        if (connected) st = stream_camera(&x);
        pan_status cs = close_connection(&x, connected && st != PAN_INTERRUPTED && st != PAN_CLOSED);
        if (st == PAN_LIMIT || cs == PAN_LIMIT) st = PAN_OK;     /* --max-frames reached */
        else if (st == PAN_EOF && !x.is_live) st = cs;          /* the end of a file */
        if (pan__pipeline_stop_requested()) {
            st = PAN_OK;
            break;
        }
        if (st == PAN_OK) break;
        if (st == PAN_EOF) st = PAN_NET; /* a live stream ended by its server: lost */
        if (!x.network || !retryable(st)) break;
        if (connected && !x.is_live) break; /* a file over HTTP: opening it again would restart it */
        if (x.got_frame) {
            x.lost_at = now_s(); /* it was live: an outage starts */
        } else {
            c->sum->failed_attempts++;
        }
        if (p->reconnect >= 0 && x.used >= p->reconnect) {
            char why[64];
            if (x.got_frame) snprintf(why, sizeof why, "the stream was lost");
            else snprintf(why, sizeof why, "%d attempt(s) failed", x.used + 1);
            pan_log_error("camera", c->index,
                          "%s: state failed: %s (%s); giving up (check that the camera is reachable; --reconnect N "
                          "allows N more attempts, -1 forever)",
                          c->uri, why, pan_status_str(st));
            break;
        }
        x.used++;
        double d = backoff_s(&x, x.used);
        set_state(&x, PAN_CAMERA_RETRYING);
        char of[32] = "";
        if (p->reconnect > 0) snprintf(of, sizeof of, " of %d", p->reconnect);
        pan_log_warn("camera", c->index, "%s: state retrying: %s; reconnecting in %.1f s (attempt %d%s)", c->uri,
                     x.got_frame ? "connection lost" : pan_status_str(st), d, x.used, of);
        x.got_frame = 0;
        if (sleep_unless_stopped(d)) {
            st = PAN_OK;
            break;
        }
    }
    pan__sync_leave(r, c->index);
    if (x.lost_at >= 0) c->sum->outage_s += now_s() - x.lost_at;
    c->sum->status = st;
    set_state(&x, st ? PAN_CAMERA_FAILED : PAN_CAMERA_ENDED);
    if (st)
        pan_log_error("pipeline", c->index, "%s: camera stopped: %s (other cameras continue)", c->uri,
                      pan_status_str(st));
    else
        pan_log_info("camera", c->index, "%s: state ended after %lld frames%s", c->uri, (long long)x.next_index,
                     c->sum->dropped ? " (some dropped: see the summary)" : "");
    c->sum->cpu_s = pan__thread_cpu_s();
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
