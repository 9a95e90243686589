/* Counting accuracy on long synthetic scenes with ground truth (track/synth.c: 3000 frames, up to
 * 20 people in view, occlusions, missed detections, false positives): lines (vertical, horizontal,
 * diagonal, and one that ends inside the frame) and zones, counted by the analytics on the
 * tracker's output, against the counts the same rule gives on the ground-truth tracks. A
 * ground-truth person who leaves the frame and comes back later is two ground-truth tracks (the
 * rule would otherwise count the jump from one edge to the other as a crossing). Checks, per seed:
 * all counts together within 3%, each line and direction within 10% (or 2), total and mean zone
 * dwell within 5%. The naive count (the confirmed tracks alone) is printed for contrast.
 * Deterministic: fixed seeds, no clocks. PAN_ANALYTICS_PRINT=1 prints without checking;
 * PAN_ANALYTICS_DUMP=1 also prints every crossing (gt, rb = robust, nv = naive) and continuation;
 * PAN_ANALYTICS_MISS=0.3 PAN_ANALYTICS_PEOPLE=25 (with PRINT) measure harder scenes. */
#include <math.h>

#include "analytics/analytics.h"
#include "panoptes/track.h"
#include "track/mot.h"
#include "test.h"

#define FPS 30.0

static const char *config_json =
    "{\"cameras\": {\"0\": {"
    " \"lines\": ["
    "  {\"name\": \"vertical\", \"points\": [[640, 0], [640, 720]]},"
    "  {\"name\": \"horizontal\", \"points\": [[0, 400], [1280, 400]]},"
    "  {\"name\": \"diagonal\", \"points\": [[200, 60], [1080, 680]]},"
    "  {\"name\": \"door\", \"points\": [[330, 200], [330, 560]]}],"
    " \"zones\": ["
    "  {\"name\": \"middle\", \"polygon\": [[450, 150], [850, 150], [850, 600], [450, 600]]},"
    "  {\"name\": \"corner\", \"polygon\": [[900, 300], [1250, 420], [1000, 700]]}]}}}";

static const char *lines[] = {"vertical", "horizontal", "diagonal", "door"};
static const char *zones[] = {"middle", "corner"};
#define N_LINES 4
#define N_ZONES 2

typedef struct counts {
    int64_t in[N_LINES], out[N_LINES];
    double dwell_sum[N_ZONES];
    int visits[N_ZONES];
} counts;

static void collect(pan_analytics *a, counts *c)
{
    memset(c, 0, sizeof *c);
    for (int l = 0; l < N_LINES; l++) pan_analytics_line_counts(a, 0, lines[l], &c->in[l], &c->out[l]);
    for (int z = 0; z < N_ZONES; z++) {
        const double *d;
        int n;
        pan_analytics_zone_dwell(a, 0, zones[z], &d, &n);
        c->visits[z] = n;
        for (int i = 0; i < n; i++) c->dwell_sum[z] += d[i];
    }
}

/* PAN_ANALYTICS_DUMP=1: every line_cross and continuation, for looking into a difference. */
static void dump(void *opaque, const pan_event *ev)
{
    if (ev->type == PAN_EVENT_LINE_CROSS)
        fprintf(stderr, "E %s %s %s %lld %.0f %.0f %lld\n", (const char *)opaque, ev->line, ev->direction,
                (long long)ev->frame, (ev->box[0] + ev->box[2]) / 2, ev->box[3], (long long)ev->track_id);
    if (ev->type == PAN_EVENT_TRACK_START && ev->continues)
        fprintf(stderr, "C %s %lld %lld %lld %.0f %.0f\n", (const char *)opaque, (long long)ev->frame,
                (long long)ev->continues, (long long)ev->track_id, (ev->box[0] + ev->box[2]) / 2, ev->box[3]);
}

static void row_box(const pan_mot_row *r, float b[4])
{
    b[0] = r->x, b[1] = r->y, b[2] = r->x + r->w, b[3] = r->y + r->h;
}

/* Ground truth through the naive rule; a person's track is split where they were out of view. */
static int count_gt(const pan_analytics_config *cfg, const pan_mot_seq *gt, counts *out)
{
    pan_analytics_params ap;
    pan_analytics *a = NULL;
    pan_analytics_params_default(&ap);
    ap.robust = 0;
    ap.end_after_frames = 1;
    ap.fps = FPS;
    int64_t max_id = 0;
    for (size_t i = 0; i < gt->n; i++)
        if (gt->rows[i].id > max_id) max_id = gt->rows[i].id;
    int64_t *last = calloc((size_t)max_id + 1, sizeof *last), *seg = calloc((size_t)max_id + 1, sizeof *seg);
    pan_track_report *rep = malloc((gt->n + 1) * sizeof *rep);
    int st = pan_analytics_create(&a, cfg, &ap), next_seg = 0;
    if (!st && getenv("PAN_ANALYTICS_DUMP")) pan_analytics_add_listener(a, dump, "gt");
    for (int f = 1; !st && f <= gt->n_frames; f++) {
        int n = 0;
        for (size_t i = gt->frame_start[f]; i < gt->frame_start[f + 1]; i++) {
            const pan_mot_row *r = &gt->rows[i];
            if (last[r->id] != f - 1 || !seg[r->id]) seg[r->id] = ++next_seg; /* back in view: a new track */
            last[r->id] = f;
            pan_track_report *t = &rep[n++];
            memset(t, 0, sizeof *t);
            t->id = seg[r->id];
            row_box(r, t->box);
            t->score = 1;
            t->state = PAN_TRACK_CONFIRMED;
        }
        /* the analytics wants ids in ascending order only within its own bookkeeping: any order works */
        pan_analytics_frame fr = {0, NULL, f - 1, (f - 1) / FPS, 1280, 720, NULL, 0, rep, n};
        st = pan_analytics_update(a, &fr);
    }
    if (!st) st = pan_analytics_finish(a);
    if (!st) collect(a, out);
    pan_analytics_destroy(&a);
    free(last), free(seg), free(rep);
    return st;
}

/* The tracker as the pipeline runs it (defaults, frame size known), into two analytics: robust and
 * naive. */
static int count_tracked(const pan_analytics_config *cfg, const pan_synth_params *sp, const pan_mot_seq *det,
                         counts *robust, counts *naive)
{
    pan_tracker_params tp = pan_tracker_params_default();
    pan_analytics_params ap;
    pan_analytics *ar = NULL, *an = NULL;
    pan_tracker *t = NULL;
    tp.frame_width = sp->width, tp.frame_height = sp->height;
    pan_analytics_params_default(&ap);
    ap.fps = FPS;
    int st = pan_tracker_create(&t, &tp);
    if (!st) st = pan_analytics_create(&ar, cfg, &ap);
    ap.robust = 0;
    if (!st) st = pan_analytics_create(&an, cfg, &ap);
    if (!st && getenv("PAN_ANALYTICS_DUMP")) pan_analytics_add_listener(ar, dump, "rb"), pan_analytics_add_listener(an, dump, "nv");
    pan_detection *d = malloc((det->n + 1) * sizeof *d);
    pan_track_report *rep = malloc(4096 * sizeof *rep);
    for (int f = 1; !st && f <= det->n_frames; f++) {
        size_t b = det->frame_start[f], e = det->frame_start[f + 1];
        int n = (int)(e - b), n_out = 0;
        for (int i = 0; i < n; i++) {
            const pan_mot_row *r = &det->rows[b + i];
            memset(&d[i], 0, sizeof d[i]);
            row_box(r, d[i].box);
            d[i].score = r->conf;
        }
        st = pan_tracker_update(t, d, n, rep, 4096, &n_out);
        pan_analytics_frame fr = {0, NULL, f - 1, (f - 1) / FPS, sp->width, sp->height, d, n, rep, n_out};
        if (!st) st = pan_analytics_update(ar, &fr);
        fr.detections = NULL, fr.n_detections = 0; /* the naive rule sees the confirmed tracks only */
        if (!st) st = pan_analytics_update(an, &fr);
    }
    if (!st) st = pan_analytics_finish(ar);
    if (!st) st = pan_analytics_finish(an);
    if (!st) collect(ar, robust), collect(an, naive);
    pan_analytics_destroy(&ar), pan_analytics_destroy(&an);
    pan_tracker_destroy(&t);
    free(d), free(rep);
    return st;
}

static int64_t total(const counts *c)
{
    int64_t s = 0;
    for (int l = 0; l < N_LINES; l++) s += c->in[l] + c->out[l];
    return s;
}

static int within(int64_t got, int64_t want, double rel, int64_t abs_tol)
{
    int64_t d = got > want ? got - want : want - got;
    return d <= abs_tol || d <= rel * (double)want;
}

PAN_TEST(line_counts_and_dwell_match_ground_truth)
{
    static const uint64_t seeds[] = {1, 2, 3, 4, 5};
    pan_analytics_config *cfg = NULL;
    char err[512];
    int print_only = getenv("PAN_ANALYTICS_PRINT") != NULL;
    ASSERT_OK(pan_analytics_config_parse(&cfg, config_json, strlen(config_json), "test", err, sizeof err));
    int64_t all_gt = 0, all_robust = 0, all_naive = 0;
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        pan_synth_params sp = pan_synth_params_default();
        pan_mot_seq gt, det;
        counts g, r, nv;
        sp.seed = seeds[s];
        sp.frames = 3000;
        sp.objects = 160;
        sp.max_concurrent = 20;
        if (print_only && getenv("PAN_ANALYTICS_MISS")) sp.miss_rate = (float)atof(getenv("PAN_ANALYTICS_MISS"));
        if (print_only && getenv("PAN_ANALYTICS_PEOPLE")) sp.max_concurrent = atoi(getenv("PAN_ANALYTICS_PEOPLE"));
        ASSERT_OK(pan_synth_generate(&sp, &gt, &det));
        ASSERT_OK(count_gt(cfg, &gt, &g));
        ASSERT_OK(count_tracked(cfg, &sp, &det, &r, &nv));
        pan_mot_seq_free(&gt), pan_mot_seq_free(&det);
        fprintf(stderr, "  seed %llu: all lines: truth %lld, counted %lld (%+.1f%%), naive %lld (%+.1f%%)\n",
                (unsigned long long)sp.seed, (long long)total(&g), (long long)total(&r),
                100.0 * (double)(total(&r) - total(&g)) / (double)total(&g), (long long)total(&nv),
                100.0 * (double)(total(&nv) - total(&g)) / (double)total(&g));
        for (int l = 0; l < N_LINES; l++)
            fprintf(stderr, "    %-10s in %3lld/%3lld (naive %3lld)  out %3lld/%3lld (naive %3lld)\n", lines[l],
                    (long long)r.in[l], (long long)g.in[l], (long long)nv.in[l], (long long)r.out[l],
                    (long long)g.out[l], (long long)nv.out[l]);
        for (int z = 0; z < N_ZONES; z++)
            fprintf(stderr, "    zone %-7s dwell %.1f/%.1f s (%+.2f%%, naive %.1f), visits %d/%d (naive %d), "
                            "mean %.2f/%.2f s (naive %.2f)\n",
                    zones[z], r.dwell_sum[z], g.dwell_sum[z], 100.0 * (r.dwell_sum[z] - g.dwell_sum[z]) / g.dwell_sum[z],
                    nv.dwell_sum[z], r.visits[z], g.visits[z], nv.visits[z], r.dwell_sum[z] / r.visits[z],
                    g.dwell_sum[z] / g.visits[z], nv.dwell_sum[z] / nv.visits[z]);
        all_gt += total(&g), all_robust += total(&r), all_naive += total(&nv);
        if (print_only) continue;
        ASSERT_TRUE(total(&g) > 200); /* a scene with something to count */
        ASSERT_TRUE(within(total(&r), total(&g), 0.03, 0));
        for (int l = 0; l < N_LINES; l++) {
            ASSERT_TRUE(within(r.in[l], g.in[l], 0.10, 2));
            ASSERT_TRUE(within(r.out[l], g.out[l], 0.10, 2));
        }
        for (int z = 0; z < N_ZONES; z++) {
            ASSERT_TRUE(g.visits[z] > 20);
            ASSERT_NEAR(r.dwell_sum[z], g.dwell_sum[z], 0.05 * g.dwell_sum[z]);
            ASSERT_NEAR(r.dwell_sum[z] / r.visits[z], g.dwell_sum[z] / g.visits[z], 0.05 * g.dwell_sum[z] / g.visits[z]);
        }
    }
    fprintf(stderr, "  all seeds: truth %lld, counted %lld (%+.2f%%), naive %lld (%+.2f%%)\n", (long long)all_gt,
            (long long)all_robust, 100.0 * (double)(all_robust - all_gt) / (double)all_gt, (long long)all_naive,
            100.0 * (double)(all_naive - all_gt) / (double)all_gt);
    pan_analytics_config_destroy(&cfg);
}

PAN_TEST_MAIN(line_counts_and_dwell_match_ground_truth)
