/* panoptes track: the tracker alone on MOTChallenge detections (the "public detections" protocol),
 * or on a synthetic scene with ground truth; optionally with analytics (counting lines, zones,
 * events to a file and MQTT) on its tracks, so that counting is measurable offline. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/analytics.h"
#include "analytics/mqtt.h"
#include "cli.h"
#include "track/mot.h"

static void track_usage(FILE *f)
{
    fputs("usage: panoptes track --det DET.txt --out TRACKS.txt [options]\n"
          "       panoptes track --synth SEED --out TRACKS.txt [--gt-out GT.txt] [--det-out DET.txt] [options]\n"
          "\n"
          "Runs the per-camera tracker (ByteTrack association, Kalman motion) on detections in\n"
          "MOTChallenge format (frame,id,x,y,w,h,conf,...; frame 1-based, id ignored) and writes its\n"
          "tracks as MOTChallenge results (frame,id,x,y,w,h,conf,-1,-1,-1). Score them with\n"
          "`panoptes eval --gt GT.txt --res TRACKS.txt`.\n"
          "\n"
          "  --det FILE        detections to track\n"
          "  --out FILE        where to write the tracks (- for stdout)\n"
          "  --synth SEED      track a synthetic scene instead (people crossing, occluding, leaving and\n"
          "                    coming back; detections with misses, false positives and jitter)\n"
          "  --gt-out FILE     with --synth: write its ground truth\n"
          "  --det-out FILE    with --synth: write its detections\n"
          "  --emb-dim N       with --synth: give detections N-d synthetic embeddings (appearance cost)\n"
          "  --high S          first-association score threshold (0.5)\n"
          "  --low S           lowest score used at all; [low, high) only rescues tracks (0.1)\n"
          "  --new S           score needed to start a track (0.6)\n"
          "  --match C         max cost 1-IoU*score, first association (0.8)\n"
          "  --iou X           the same as --match 1-X: least IoU (times score) to associate (0.2)\n"
          "  --low-match C     max cost 1-IoU, second association (0.5)\n"
          "  --min-hits N      consecutive frames before a track is output (2)\n"
          "  --max-lost N      frames a lost track is kept for re-association (30; ByteTrack scales\n"
          "                    it with the frame rate: 30 at 30 fps)\n"
          "  --no-fuse-score   first-association cost is 1-IoU (ByteTrack's MOT20 setting)\n"
          "  --score-scale K   multiply detection scores by K first (detectors scoring outside 0..1)\n"
          "  --size WxH        frame size in pixels: tracks that walk out through an edge end at once\n"
          "                    (with --synth: 1280x720 by default)\n"
          "Analytics on the tracks (README.md, \"Analytics and events\"); the camera is camera 0:\n"
          "  --analytics FILE  counting lines and zones ({\"cameras\": {\"0\": {\"lines\": [...], \"zones\": [...]}}})\n"
          "  --counts-out FILE write the final counts: {\"lines\": {\"door\": {\"in\": N, \"out\": M}},\n"
          "                    \"zones\": {\"queue\": {\"dwell_s\": [...]}}}\n"
          "  --events FILE     write events (track_start, track_end, line_cross, zone_enter, zone_exit),\n"
          "                    one JSON object a line\n"
          "  --mqtt URL        publish events to mqtt://host[:port]/prefix (QoS 1, topic prefix/0/events)\n"
          "  --mqtt-queue N    events kept while the broker is unreachable (10000); beyond, the oldest\n"
          "                    are dropped and counted\n"
          "  --naive           count on the confirmed tracks alone (no trace before confirmation, no\n"
          "                    continuation of broken tracks): for comparison\n"
          "  --fps F           frame rate giving the events' times: pts = (frame - 1) / F (30)\n"
          "  --rate F          process at most F frames per second (to drive live consumers)\n"
          "Prints frames, tracks and host time per frame to stderr.\n",
          f);
}

/* Parses a number option; returns -1 and prints why on error. */
static int num(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "panoptes track: %s expects a number in [%g, %g], got '%s'\n", opt, lo, hi, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

typedef struct track_analytics {
    const char *file, *counts_out, *events, *mqtt;
    int naive, mqtt_queue;
    double fps, rate;
    pan_analytics *a;
    pan_event_file *ef;
    pan_mqtt *mq;
} track_analytics;

/* The tracker over det, as pan_mot_track does (same tracks in res), with each frame's reports and
 * detections given to the analytics. The tracker reports lost and removed tracks too, so that a
 * track's end is known at once (res keeps the confirmed ones only). */
static pan_status track_frames(const pan_mot_seq *det, const pan_tracker_params *params, track_analytics *ta,
                               pan_mot_seq *res)
{
    pan_status st;
    pan_tracker_params tp = *params;
    pan_tracker *t = NULL;
    pan_detection *d = NULL;
    pan_track_report *rep = NULL;
    int cap = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    memset(res, 0, sizeof *res);
    tp.report_lost = 1;
    if ((st = pan_tracker_create(&t, &tp))) return st;
    for (int f = 1; f <= det->n_frames; f++) {
        size_t b = det->frame_start[f], e = det->frame_start[f + 1];
        int n = (int)(e - b), n_out = 0;
        if (n + 64 > cap) {
            cap = (n + 64) * 2;
            pan_detection *d2 = realloc(d, (size_t)cap * sizeof *d2);
            if (d2) d = d2;
            pan_track_report *r2 = realloc(rep, (size_t)cap * 8 * sizeof *r2); /* live tracks, lost ones too */
            if (r2) rep = r2;
            if (!d2 || !r2) {
                st = PAN_NOMEM;
                goto done;
            }
        }
        for (int i = 0; i < n; i++) {
            const pan_mot_row *r = &det->rows[b + i];
            memset(&d[i], 0, sizeof d[i]);
            d[i].box[0] = r->x, d[i].box[1] = r->y, d[i].box[2] = r->x + r->w, d[i].box[3] = r->y + r->h;
            d[i].score = r->conf;
            const float *em = det->emb && det->emb_dim > 0 ? det->emb + (b + i) * det->emb_dim : NULL;
            int any = 0;
            for (int k = 0; em && k < det->emb_dim && !any; k++) any = em[k] != 0.f;
            d[i].embedding = any ? em : NULL;
            d[i].embedding_dim = any ? det->emb_dim : 0;
        }
        st = pan_tracker_update(t, d, n, rep, cap * 8, &n_out);
        if (st && st != PAN_LIMIT) goto done;
        for (int i = 0; i < n_out; i++) {
            if (rep[i].state != PAN_TRACK_CONFIRMED) continue;
            pan_mot_row o = {f, rep[i].id, rep[i].box[0], rep[i].box[1], rep[i].box[2] - rep[i].box[0],
                             rep[i].box[3] - rep[i].box[1], rep[i].score, -1, -1.f};
            if ((st = pan_mot_seq_push(res, &o))) goto done;
        }
        pan_analytics_frame fr = {0, NULL, f - 1, (f - 1) / ta->fps, tp.frame_width, tp.frame_height,
                                  ta->naive ? NULL : d, ta->naive ? 0 : n, rep, n_out};
        if ((st = pan_analytics_update(ta->a, &fr))) goto done;
        if (ta->rate > 0) { /* hold the pace: the next frame is due 1/rate after this one */
            double due = (double)next.tv_nsec * 1e-9 + 1.0 / ta->rate;
            next.tv_sec += (time_t)due;
            next.tv_nsec = (long)((due - floor(due)) * 1e9);
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {}
        }
    }
    if ((st = pan_analytics_finish(ta->a))) goto done;
    st = pan_mot_seq_finish(res);
done:
    pan_tracker_destroy(&t);
    free(d);
    free(rep);
    if (st) pan_mot_seq_free(res);
    return st;
}

/* Opens what the analytics options ask for. Returns the exit status on error (2: bad usage or a
 * bad analytics file or URL; 1: a file that cannot be written), 0 otherwise. */
static int analytics_open(track_analytics *ta)
{
    char err[1024];
    pan_analytics_config *cfg = NULL;
    pan_analytics_params ap;
    pan_status st;
    if (ta->file) {
        if ((st = pan_analytics_config_load(&cfg, ta->file, err, sizeof err)) ||
            (st = pan_analytics_config_check_cameras(cfg, 1, err, sizeof err))) {
            fprintf(stderr, "panoptes track: %s\n", err);
            pan_analytics_config_destroy(&cfg);
            return 2;
        }
    }
    pan_analytics_params_default(&ap);
    ap.robust = !ta->naive;
    ap.fps = ta->fps;
    st = pan_analytics_create(&ta->a, cfg, &ap);
    pan_analytics_config_destroy(&cfg);
    if (st) {
        fprintf(stderr, "panoptes track: cannot create the analytics: %s\n", pan_status_str(st));
        return 1;
    }
    if (ta->mqtt) {
        pan_mqtt_params mp;
        pan_mqtt_params_default(&mp);
        if (ta->mqtt_queue > 0) mp.queue_max = ta->mqtt_queue;
        if ((st = pan_mqtt_create(&ta->mq, ta->mqtt, &mp, err, sizeof err))) {
            fprintf(stderr, "panoptes track: --mqtt: %s\n", err);
            return st == PAN_INVAL ? 2 : 1;
        }
        pan_analytics_add_listener(ta->a, pan_mqtt_publish_event, ta->mq);
    }
    if (ta->events) {
        if (pan_event_file_create(&ta->ef, ta->events)) {
            fprintf(stderr, "panoptes track: cannot write %s (does its folder exist?)\n", ta->events);
            return 1;
        }
        pan_analytics_add_listener(ta->a, pan_event_file_write, ta->ef);
    }
    return 0;
}

/* Writes the counts, prints them, closes everything. Returns 1 if something could not be written. */
static int analytics_close(track_analytics *ta, int ok)
{
    int rc = 0;
    if (ok && ta->counts_out) {
        FILE *f = !strcmp(ta->counts_out, "-") ? stdout : fopen(ta->counts_out, "w");
        if (!f || pan_analytics_write_counts(ta->a, 0, f) || (f != stdout && fclose(f))) {
            fprintf(stderr, "panoptes track: cannot write %s\n", ta->counts_out);
            rc = 1;
        }
    }
    if (ok && ta->file) {
        fprintf(stderr, "panoptes track: analytics: %lld events; counts: ", (long long)pan_analytics_event_count(ta->a));
        pan_analytics_write_counts(ta->a, 0, stderr);
    }
    if (ta->ef && pan_event_file_status(ta->ef)) rc = 1;
    pan_event_file_destroy(&ta->ef);
    if (ta->mq) {
        pan_mqtt_stats ms;
        pan_mqtt_destroy(&ta->mq, &ms);
        fprintf(stderr, "panoptes track: mqtt %s: %lld events, %lld delivered, %lld dropped, %lld undelivered, "
                        "%lld resent, %lld connections, %lld failures\n",
                ta->mqtt, (long long)ms.queued, (long long)ms.delivered, (long long)ms.dropped,
                (long long)ms.undelivered, (long long)ms.resent, (long long)ms.connects, (long long)ms.failures);
    }
    pan_analytics_destroy(&ta->a);
    return rc;
}

int pan_cli_track(int argc, char **argv)
{
    const char *det_path = NULL, *out_path = NULL, *gt_out = NULL, *det_out = NULL;
    int synth = 0, rc = 1, with_analytics = 0;
    double seed = 0, emb_dim = 0, scale = 1.0, v;
    char err[512];
    pan_tracker_params tp = pan_tracker_params_default();
    pan_mot_seq gt = {0}, det = {0}, res = {0};
    track_analytics ta = {0};
    ta.fps = 30.0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            track_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--no-fuse-score")) {
            tp.fuse_score = 0;
            continue;
        }
        if (!strcmp(a, "--naive")) {
            ta.naive = 1;
            continue;
        }
        if (!val && a[0] == '-') {
            fprintf(stderr, "panoptes track: %s needs a value (see --help)\n", a);
            return 2;
        }
        if (!strcmp(a, "--det")) det_path = val;
        else if (!strcmp(a, "--out")) out_path = val;
        else if (!strcmp(a, "--gt-out")) gt_out = val;
        else if (!strcmp(a, "--det-out")) det_out = val;
        else if (!strcmp(a, "--synth")) synth = 1, bad = num(a, val, 0, 1e15, &seed);
        else if (!strcmp(a, "--analytics")) ta.file = val;
        else if (!strcmp(a, "--counts-out")) ta.counts_out = val;
        else if (!strcmp(a, "--events")) ta.events = val;
        else if (!strcmp(a, "--mqtt")) ta.mqtt = val;
        else if (!strcmp(a, "--mqtt-queue")) bad = num(a, val, 1, 1e7, &v), ta.mqtt_queue = (int)v;
        else if (!strcmp(a, "--fps")) bad = num(a, val, 0.001, 1e6, &ta.fps);
        else if (!strcmp(a, "--rate")) bad = num(a, val, 0.001, 1e6, &ta.rate);
        else if (!strcmp(a, "--emb-dim")) bad = num(a, val, 0, 4096, &emb_dim);
        else if (!strcmp(a, "--score-scale")) bad = num(a, val, 1e-9, 1e9, &scale);
        else if (!strcmp(a, "--high")) bad = num(a, val, 0, 1, &v), tp.high_thresh = (float)v;
        else if (!strcmp(a, "--low")) bad = num(a, val, 0, 1, &v), tp.low_thresh = (float)v;
        else if (!strcmp(a, "--new")) bad = num(a, val, 0, 1, &v), tp.new_track_thresh = (float)v;
        else if (!strcmp(a, "--match")) bad = num(a, val, 0, 1, &v), tp.match_thresh = (float)v;
        else if (!strcmp(a, "--iou")) bad = num(a, val, 0, 1, &v), tp.match_thresh = (float)(1.0 - v);
        else if (!strcmp(a, "--low-match")) bad = num(a, val, 0, 1, &v), tp.low_match_thresh = (float)v;
        else if (!strcmp(a, "--min-hits")) bad = num(a, val, 1, 1000, &v), tp.min_hits = (int)v;
        else if (!strcmp(a, "--max-lost")) bad = num(a, val, 0, 1e6, &v), tp.max_time_lost = (int)v;
        else if (!strcmp(a, "--size")) {
            int w = 0, h = 0, used = 0;
            if (sscanf(val, "%dx%d%n", &w, &h, &used) != 2 || val[used] || w < 1 || h < 1 || w > 65536 || h > 65536) {
                fprintf(stderr, "panoptes track: --size expects WIDTHxHEIGHT in pixels (e.g. 1920x1080), got '%s'\n", val);
                return 2;
            }
            tp.frame_width = w, tp.frame_height = h;
        }
        else {
            fprintf(stderr, "panoptes track: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (bad) return 2;
        i++;
    }
    if ((!det_path && !synth) || (det_path && synth) || !out_path) {
        fputs("panoptes track: give --out and exactly one of --det FILE or --synth SEED (see --help)\n", stderr);
        return 2;
    }
    if ((gt_out || det_out || emb_dim > 0) && !synth) {
        fputs("panoptes track: --gt-out, --det-out and --emb-dim go with --synth\n", stderr);
        return 2;
    }
    if (ta.counts_out && !ta.file) {
        fputs("panoptes track: --counts-out needs --analytics FILE (the lines and zones to count)\n", stderr);
        return 2;
    }
    if ((ta.naive || ta.mqtt_queue || ta.rate > 0) && !ta.file && !ta.events && !ta.mqtt) {
        fputs("panoptes track: --naive, --mqtt-queue and --rate go with --analytics, --events or --mqtt\n", stderr);
        return 2;
    }
    if (tp.low_thresh > tp.high_thresh) {
        fprintf(stderr, "panoptes track: --low %g is above --high %g\n", tp.low_thresh, tp.high_thresh);
        return 2;
    }

    if (synth) {
        pan_synth_params sp = pan_synth_params_default();
        sp.seed = (uint64_t)seed;
        sp.emb_dim = (int)emb_dim;
        if (!tp.frame_width) tp.frame_width = sp.width, tp.frame_height = sp.height;
        if (pan_synth_generate(&sp, &gt, &det)) {
            fputs("panoptes track: cannot generate the synthetic scene (out of memory?)\n", stderr);
            goto done;
        }
        if (gt_out && pan_mot_write(gt_out, &gt)) {
            fprintf(stderr, "panoptes track: cannot write %s\n", gt_out);
            goto done;
        }
        if (det_out && pan_mot_write(det_out, &det)) {
            fprintf(stderr, "panoptes track: cannot write %s\n", det_out);
            goto done;
        }
    } else if (pan_mot_read(det_path, &det, err, sizeof err)) {
        fprintf(stderr, "panoptes track: %s\n", err);
        goto done;
    }
    for (size_t i = 0; i < det.n; i++) det.rows[i].conf = (float)(det.rows[i].conf * scale);
    with_analytics = ta.file || ta.events || ta.mqtt;
    if (with_analytics && (rc = analytics_open(&ta))) goto done;
    rc = 1;

    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0); /* CPU time: the host cost, whatever the load */
    pan_status st = with_analytics ? track_frames(&det, &tp, &ta, &res) : pan_mot_track(&det, &tp, &res);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    if (st) {
        fprintf(stderr, "panoptes track: tracking failed: %s\n", pan_status_str(st));
        goto done;
    }
    double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3);
    int64_t ids = 0;
    for (size_t i = 0; i < res.n; i++)
        if (res.rows[i].id > ids) ids = res.rows[i].id;
    if (!strcmp(out_path, "-")) {
        for (size_t i = 0; i < res.n; i++) {
            const pan_mot_row *r = &res.rows[i];
            printf("%d,%lld,%.2f,%.2f,%.2f,%.2f,%.4g,-1,-1,-1\n", r->frame, (long long)r->id, r->x, r->y,
                   r->w, r->h, r->conf);
        }
    } else if (pan_mot_write(out_path, &res)) {
        fprintf(stderr, "panoptes track: cannot write %s (does its folder exist?)\n", out_path);
        goto done;
    }
    fprintf(stderr, "panoptes track: %d frames, %zu detections -> %lld tracks, %zu boxes; %.1f us of CPU per frame\n",
            det.n_frames, det.n, (long long)ids, res.n, det.n_frames ? us / det.n_frames : 0.0);
    rc = 0;
done:
    if (with_analytics && analytics_close(&ta, rc == 0) && rc == 0) rc = 1;
    pan_mot_seq_free(&gt);
    pan_mot_seq_free(&det);
    pan_mot_seq_free(&res);
    return rc;
}
