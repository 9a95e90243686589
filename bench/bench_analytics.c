/* Host cost of the analytics (src/analytics/) per camera frame, next to the tracker's on the same
 * frames: a synthetic scene (track/synth.c: 3000 frames, up to 20 people in view, 1280x720) with
 * 4 counting lines and 2 zones. The tracker runs first and its reports are kept, then each
 * analytics variant is timed alone over the same reports: robust (trace before confirmation,
 * continuation), naive (confirmed tracks only), and the per-frame JSONL member. Thread CPU time.
 * Prints one JSON object. Usage: bench_analytics [seed] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/analytics.h"
#include "track/mot.h"

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static const char *config_json =
    "{\"cameras\": {\"0\": {\"lines\": ["
    "{\"name\": \"vertical\", \"points\": [[640, 0], [640, 720]]},"
    "{\"name\": \"horizontal\", \"points\": [[0, 400], [1280, 400]]},"
    "{\"name\": \"diagonal\", \"points\": [[200, 60], [1080, 680]]},"
    "{\"name\": \"door\", \"points\": [[330, 200], [330, 560]]}],"
    "\"zones\": [{\"name\": \"middle\", \"polygon\": [[450, 150], [850, 150], [850, 600], [450, 600]]},"
    "{\"name\": \"corner\", \"polygon\": [[900, 300], [1250, 420], [1000, 700]]}]}}}";

typedef struct frame_in {
    pan_detection *d;
    int nd;
    pan_track_report *r;
    int nr;
} frame_in;

static double run(const pan_analytics_config *cfg, const frame_in *in, int n, int robust, int write, FILE *sink,
                  int64_t *events)
{
    pan_analytics_params p;
    pan_analytics *a = NULL;
    pan_analytics_params_default(&p);
    p.robust = robust;
    if (pan_analytics_create(&a, cfg, &p)) return -1;
    double t0 = now_us();
    for (int f = 0; f < n; f++) {
        pan_analytics_frame fr = {0, NULL, f, f / 30.0, 1280, 720, robust ? in[f].d : NULL, robust ? in[f].nd : 0,
                                  in[f].r, in[f].nr};
        pan_analytics_update(a, &fr);
        if (write) pan_analytics_write_frame(a, 0, sink);
    }
    pan_analytics_finish(a);
    double us = now_us() - t0;
    *events = pan_analytics_event_count(a);
    pan_analytics_destroy(&a);
    return us / n;
}

int main(int argc, char **argv)
{
    pan_synth_params sp = pan_synth_params_default();
    pan_mot_seq gt, det;
    pan_analytics_config *cfg = NULL;
    char err[256];
    sp.seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    sp.frames = 3000, sp.objects = 160, sp.max_concurrent = 20;
    if (pan_synth_generate(&sp, &gt, &det) ||
        pan_analytics_config_parse(&cfg, config_json, strlen(config_json), "bench", err, sizeof err)) {
        fprintf(stderr, "bench_analytics: setup failed %s\n", err);
        return 1;
    }
    frame_in *in = calloc((size_t)det.n_frames, sizeof *in);
    pan_tracker_params tp = pan_tracker_params_default();
    tp.frame_width = sp.width, tp.frame_height = sp.height;
    pan_tracker *t = NULL;
    pan_tracker_create(&t, &tp);
    double tracker_us = 0;
    for (int f = 1; f <= det.n_frames; f++) {
        frame_in *x = &in[f - 1];
        size_t b = det.frame_start[f], e = det.frame_start[f + 1];
        x->nd = (int)(e - b);
        x->d = calloc((size_t)x->nd + 1, sizeof *x->d);
        x->r = calloc(512, sizeof *x->r);
        for (int i = 0; i < x->nd; i++) {
            const pan_mot_row *r = &det.rows[b + i];
            x->d[i].box[0] = r->x, x->d[i].box[1] = r->y, x->d[i].box[2] = r->x + r->w, x->d[i].box[3] = r->y + r->h;
            x->d[i].score = r->conf;
        }
        double t0 = now_us();
        pan_tracker_update(t, x->d, x->nd, x->r, 512, &x->nr);
        tracker_us += now_us() - t0;
    }
    pan_tracker_destroy(&t);
    FILE *sink = fopen("/dev/null", "w");
    int64_t ev_r, ev_n, ev_w;
    run(cfg, in, det.n_frames, 1, 0, sink, &ev_r); /* warm-up */
    double robust = run(cfg, in, det.n_frames, 1, 0, sink, &ev_r);
    double naive = run(cfg, in, det.n_frames, 0, 0, sink, &ev_n);
    double with_jsonl = run(cfg, in, det.n_frames, 1, 1, sink, &ev_w);
    printf("{\"bench\":\"analytics\",\"seed\":%llu,\"frames\":%d,\"detections_per_frame\":%.1f,\"lines\":4,\"zones\":2,"
           "\"tracker_us_per_frame\":%.2f,\"analytics_us_per_frame\":%.2f,\"naive_us_per_frame\":%.2f,"
           "\"analytics_with_jsonl_member_us_per_frame\":%.2f,\"events\":%lld,\"analytics_over_tracker\":%.3f}\n",
           (unsigned long long)sp.seed, det.n_frames, (double)det.n / det.n_frames, tracker_us / det.n_frames, robust,
           naive, with_jsonl, (long long)ev_r, robust / (tracker_us / det.n_frames));
    fclose(sink);
    for (int f = 0; f < det.n_frames; f++) free(in[f].d), free(in[f].r);
    free(in);
    pan_analytics_config_destroy(&cfg);
    pan_mot_seq_free(&gt), pan_mot_seq_free(&det);
    return 0;
}
