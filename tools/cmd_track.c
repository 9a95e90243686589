/* panoptes track: the tracker alone on MOTChallenge detections (the "public detections" protocol),
 * or on a synthetic scene with ground truth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int pan_cli_track(int argc, char **argv)
{
    const char *det_path = NULL, *out_path = NULL, *gt_out = NULL, *det_out = NULL;
    int synth = 0, rc = 1;
    double seed = 0, emb_dim = 0, scale = 1.0, v;
    char err[512];
    pan_tracker_params tp = pan_tracker_params_default();
    pan_mot_seq gt = {0}, det = {0}, res = {0};

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
        if (!val && a[0] == '-') {
            fprintf(stderr, "panoptes track: %s needs a value (see --help)\n", a);
            return 2;
        }
        if (!strcmp(a, "--det")) det_path = val;
        else if (!strcmp(a, "--out")) out_path = val;
        else if (!strcmp(a, "--gt-out")) gt_out = val;
        else if (!strcmp(a, "--det-out")) det_out = val;
        else if (!strcmp(a, "--synth")) synth = 1, bad = num(a, val, 0, 1e15, &seed);
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

    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0); /* CPU time: the host cost, whatever the load */
    pan_status st = pan_mot_track(&det, &tp, &res);
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
    pan_mot_seq_free(&gt);
    pan_mot_seq_free(&det);
    pan_mot_seq_free(&res);
    return rc;
}
