/* The pipeline object (include/panoptes/pipeline.h): lifecycle, cameras added and removed while
 * it runs, results and events delivered to consumers, two pipelines in one process, bad calls,
 * 200 cameras added and removed from 4 threads while frames flow (run under ASan/LSan), and 96
 * cameras served by a pool of 2 I/O threads (the process's thread count does not grow with them).
 * Decode only on the cpu backend, with small synthetic clips: the lifecycle is what is tested. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media.h"
#include "panoptes/pipeline.h"
#include "test.h"

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

#define MAX_IDS 1024

/* A consumer that records what it was given. Called on the delivery thread only, so no lock is
 * needed for the fields it writes; the test reads them after stop. */
typedef struct recorder {
    int64_t frames[MAX_IDS];      /* frames per camera id */
    int64_t next_index[MAX_IDS];  /* the index the next frame should have (file cameras: no gaps) */
    int gaps[MAX_IDS];            /* index jumps by camera (a removed camera's waiting frames are dropped) */
    int after_final;              /* frames that came after their camera's final event */
    int final_seen[MAX_IDS];
    int removed[MAX_IDS];
    int events[MAX_IDS][8];       /* by state */
    int named_ok;                 /* frames whose name matched the camera's */
    int no_image;
    int stops;
    const char *name_of[MAX_IDS];
} recorder;

static pan_status rec_frame(void *opaque, const pan_frame_result *r)
{
    recorder *x = opaque;
    if (r->camera < 0 || r->camera >= MAX_IDS) return PAN_OK;
    if (x->final_seen[r->camera]) x->after_final++;
    if (r->frame != x->next_index[r->camera]) x->gaps[r->camera]++;
    x->next_index[r->camera] = r->frame + 1;
    x->frames[r->camera]++;
    const char *want = x->name_of[r->camera];
    if ((!want && !r->name) || (want && r->name && !strcmp(want, r->name))) x->named_ok++;
    if (!r->image || r->image->width != r->width) x->no_image++;
    return PAN_OK;
}

static void rec_camera(void *opaque, const pan_camera_event *e)
{
    recorder *x = opaque;
    if (e->camera < 0 || e->camera >= MAX_IDS) return;
    x->events[e->camera][e->state]++;
    if (e->state == PAN_CAMERA_FAILED || e->state == PAN_CAMERA_ENDED || e->state == PAN_CAMERA_STOPPED)
        x->final_seen[e->camera] = 1;
    if (e->state == PAN_CAMERA_REMOVED) x->removed[e->camera]++;
}

static void rec_stop(void *opaque) { ((recorder *)opaque)->stops++; }

/* Decode only on the cpu backend: the lifecycle is what is tested. */
static pan_pipeline_params decode_only(void)
{
    pan_pipeline_params p;
    pan_pipeline_params_default(&p);
    p.backend = PAN_BACKEND_CPU;
    p.detect = 0;
    p.track = 0;
    return p;
}

/* A pipeline with these parameters and, when x is given, the recorder as its consumer. */
static pan_pipeline *make_from(const pan_pipeline_params *p, recorder *x)
{
    pan_pipeline *pl = NULL;
    if (pan_pipeline_create(&pl, p)) return NULL;
    pan_consumer c = {.name = "recorder", .opaque = x, .on_frame = rec_frame, .on_camera = rec_camera,
                      .on_stop = rec_stop};
    if (x && pan_pipeline_add_consumer(pl, &c)) pan_pipeline_destroy(&pl);
    return pl;
}

static pan_pipeline *make(recorder *x)
{
    pan_pipeline_params p = decode_only();
    return make_from(&p, x);
}

static const char *clip_a, *clip_b;

static int clips(void)
{
    if (!pan_test_have_ffmpeg()) return 0;
    clip_a = pan_test_make_clip("pl-a.mp4", "testsrc2=size=96x64:rate=25:duration=2", "-c:v libx264 -g 25 -pix_fmt yuv420p");
    clip_b = pan_test_make_clip("pl-b.mkv", "testsrc=size=64x48:rate=30:duration=1", "-c:v libx264 -pix_fmt yuv420p");
    return clip_a && clip_b;
}

/* Removal is asynchronous (a camera leaves once its last frame is delivered): waits up to 30 s
 * for the camera list to reach n. Returns the count seen last. */
static int wait_cameras(pan_pipeline *pl, int n)
{
    int seen = -1;
    for (int i = 0; i < 600 && seen != n; i++) {
        pan_pipeline_stats s;
        if (pan_pipeline_get_stats(pl, &s)) return -1;
        seen = s.n_cameras;
        pan_pipeline_stats_free(&s);
        if (seen != n) sleep_s(0.05);
    }
    return seen;
}

/* Waits up to 30 s for camera `id` to reach `state`; 1 when it did. */
static int wait_state(pan_pipeline *pl, int id, pan_camera_state state)
{
    for (int i = 0; i < 600; i++) {
        pan_pipeline_stats s;
        if (pan_pipeline_get_stats(pl, &s)) return 0;
        int ok = 0;
        for (int k = 0; k < s.n_cameras; k++) ok |= s.cameras[k].id == id && s.cameras[k].state == state;
        pan_pipeline_stats_free(&s);
        if (ok) return 1;
        sleep_s(0.05);
    }
    return 0;
}

static pan_status add(pan_pipeline *pl, const char *uri, const char *name, int loop, int64_t max_frames, int *id)
{
    pan_camera_params cp = {.uri = uri, .name = name, .loop = loop, .max_frames = max_frames};
    return pan_pipeline_add_camera(pl, &cp, id);
}

PAN_TEST(batch_job_delivers_every_frame_and_events_in_order)
{
    if (!clips()) PAN_SKIP("ffmpeg (libx264) not installed");
    static recorder x;
    memset(&x, 0, sizeof x);
    pan_pipeline *pl = make(&x);
    ASSERT_TRUE(pl != NULL);
    int a, b, bad;
    x.name_of[0] = "door";
    /* a camera added before start waits for it */
    ASSERT_OK(add(pl, clip_a, "door", 0, 0, &a));
    ASSERT_OK(pan_pipeline_start(pl));
    ASSERT_OK(add(pl, clip_b, NULL, 0, 0, &b));
    ASSERT_OK(add(pl, "/nonexistent/cam.mp4", "gone", 0, 0, &bad));
    x.name_of[2] = "gone";
    ASSERT_EQ(a, 0);
    ASSERT_EQ(b, 1);
    ASSERT_EQ(bad, 2);
    ASSERT_OK(pan_pipeline_wait(pl, 60000));
    pan_pipeline_stats s;
    ASSERT_OK(pan_pipeline_get_stats(pl, &s));
    ASSERT_EQ(s.n_cameras, 3);
    ASSERT_EQ(s.cameras[0].frames, 50);
    ASSERT_EQ(s.cameras[1].frames, 30);
    ASSERT_EQ(s.cameras[0].state, PAN_CAMERA_ENDED);
    ASSERT_STREQ(s.cameras[0].name, "door");
    ASSERT_STREQ(s.cameras[1].name, "");
    ASSERT_EQ(s.cameras[2].state, PAN_CAMERA_FAILED);
    ASSERT_EQ(s.cameras[2].status, PAN_NOTFOUND);
    ASSERT_TRUE(strstr(s.cameras[2].error, "cam.mp4") != NULL); /* the source's own words */
    ASSERT_EQ(s.failed_cameras, 1);
    ASSERT_EQ(s.frames, 80);
    ASSERT_TRUE(s.running);
    pan_pipeline_stats_free(&s);
    ASSERT_OK(pan_pipeline_stop(pl));
    ASSERT_OK(pan_pipeline_stop(pl)); /* twice: safe */
    ASSERT_EQ(x.frames[0], 50);
    ASSERT_EQ(x.frames[1], 30);
    ASSERT_EQ(x.gaps[0] + x.gaps[1], 0);
    ASSERT_EQ(x.after_final, 0);
    ASSERT_EQ(x.named_ok, 80);
    ASSERT_EQ(x.no_image, 0);
    ASSERT_EQ(x.events[0][PAN_CAMERA_CONNECTING], 1);
    ASSERT_EQ(x.events[0][PAN_CAMERA_LIVE], 1);
    ASSERT_EQ(x.events[0][PAN_CAMERA_ENDED], 1);
    ASSERT_EQ(x.events[2][PAN_CAMERA_FAILED], 1);
    ASSERT_EQ(x.stops, 1);
    /* after stop: no more cameras, clear statuses */
    ASSERT_EQ(add(pl, clip_a, NULL, 0, 0, NULL), PAN_CLOSED);
    ASSERT_EQ(pan_pipeline_start(pl), PAN_CLOSED);
    ASSERT_OK(pan_pipeline_get_stats(pl, &s));
    ASSERT_TRUE(!s.running);
    pan_pipeline_stats_free(&s);
    pan_pipeline_destroy(&pl);
    ASSERT_TRUE(pl == NULL);
    pan_pipeline_destroy(&pl); /* NULL-safe */
}

/* camera_queue 1: one decoded frame waits per camera; every frame still comes, in order */
PAN_TEST(a_camera_queue_of_one_delivers_every_frame)
{
    if (!clips()) PAN_SKIP("ffmpeg (libx264) not installed");
    static recorder x;
    memset(&x, 0, sizeof x);
    pan_pipeline_params p = decode_only();
    p.camera_queue = 1;
    pan_pipeline *pl = make_from(&p, &x);
    ASSERT_TRUE(pl != NULL);
    ASSERT_OK(add(pl, clip_a, NULL, 0, 0, NULL));
    ASSERT_OK(add(pl, clip_b, NULL, 0, 0, NULL));
    ASSERT_OK(pan_pipeline_start(pl));
    ASSERT_OK(pan_pipeline_wait(pl, 60000));
    ASSERT_OK(pan_pipeline_stop(pl));
    ASSERT_EQ(x.frames[0], 50);
    ASSERT_EQ(x.frames[1], 30);
    ASSERT_EQ(x.gaps[0] + x.gaps[1], 0);
    pan_pipeline_destroy(&pl);
}

PAN_TEST(cameras_added_and_removed_while_running)
{
    if (!clips()) PAN_SKIP("ffmpeg (libx264) not installed");
    static recorder x;
    memset(&x, 0, sizeof x);
    pan_pipeline *pl = make(&x);
    ASSERT_TRUE(pl != NULL);
    int ids[4];
    ASSERT_OK(pan_pipeline_start(pl));
    ASSERT_OK(add(pl, clip_a, NULL, 1, 0, &ids[0])); /* looping: runs until removed */
    ASSERT_OK(add(pl, clip_b, NULL, 1, 0, &ids[1]));
    sleep_s(0.5);
    ASSERT_OK(pan_pipeline_remove_camera(pl, ids[1]));
    ASSERT_EQ(pan_pipeline_remove_camera(pl, ids[1]), PAN_NOTFOUND); /* twice */
    ASSERT_EQ(pan_pipeline_remove_camera(pl, 999), PAN_NOTFOUND);
    ASSERT_OK(add(pl, clip_b, NULL, 0, 10, &ids[2]));
    ASSERT_EQ(ids[2], 2); /* ids are never reused */
    ASSERT_EQ(pan_pipeline_wait(pl, 200), PAN_TIMEOUT); /* camera 0 loops */
    ASSERT_TRUE(wait_state(pl, ids[2], PAN_CAMERA_ENDED));
    /* a camera that ended stays listed until removed; removing it now works */
    ASSERT_OK(pan_pipeline_remove_camera(pl, ids[2]));
    ASSERT_EQ(wait_cameras(pl, 1), 1);
    pan_pipeline_stats s;
    ASSERT_OK(pan_pipeline_get_stats(pl, &s));
    ASSERT_EQ(s.n_cameras, 1);
    ASSERT_EQ(s.cameras[0].id, ids[0]);
    ASSERT_EQ(s.cameras[0].state, PAN_CAMERA_LIVE);
    ASSERT_TRUE(s.cameras[0].frames > 0);
    ASSERT_TRUE(s.frames >= s.cameras[0].frames + 10); /* removed cameras' frames stay in the totals */
    pan_pipeline_stats_free(&s);
    ASSERT_OK(pan_pipeline_stop(pl));
    ASSERT_EQ(x.removed[ids[1]], 1);
    ASSERT_EQ(x.events[ids[1]][PAN_CAMERA_STOPPED], 1);
    ASSERT_EQ(x.removed[ids[2]], 1);
    ASSERT_EQ(x.events[ids[2]][PAN_CAMERA_ENDED], 1);
    ASSERT_EQ(x.frames[ids[2]], 10);
    ASSERT_EQ(x.events[ids[0]][PAN_CAMERA_STOPPED], 1); /* stopped by stop: not `ended` */
    ASSERT_EQ(x.after_final, 0);
    ASSERT_EQ(x.gaps[ids[0]] + x.gaps[ids[2]], 0); /* never removed while running: no frame lost */
    ASSERT_OK(pan_pipeline_get_stats(pl, &s));
    ASSERT_EQ(s.stopped_cameras, 1);
    pan_pipeline_stats_free(&s);
    pan_pipeline_destroy(&pl);
}

/* Two pipelines in one process, each with its own cameras, consumers, stop and statistics. */
PAN_TEST(two_pipelines_at_once)
{
    if (!clips()) PAN_SKIP("ffmpeg (libx264) not installed");
    static recorder x1, x2;
    memset(&x1, 0, sizeof x1);
    memset(&x2, 0, sizeof x2);
    pan_pipeline *p1 = make(&x1), *p2 = make(&x2);
    ASSERT_TRUE(p1 && p2);
    ASSERT_OK(pan_pipeline_start(p1));
    ASSERT_OK(pan_pipeline_start(p2));
    ASSERT_OK(add(p1, clip_a, NULL, 1, 0, NULL)); /* loops until p1 stops */
    ASSERT_OK(add(p2, clip_b, NULL, 0, 0, NULL));
    ASSERT_OK(add(p2, clip_a, NULL, 0, 0, NULL));
    ASSERT_OK(pan_pipeline_wait(p2, 60000)); /* p2's cameras end while p1's goes on */
    ASSERT_OK(pan_pipeline_stop(p2));
    pan_pipeline_stats s1, s2;
    ASSERT_OK(pan_pipeline_get_stats(p1, &s1));
    ASSERT_OK(pan_pipeline_get_stats(p2, &s2));
    ASSERT_TRUE(s1.running);
    ASSERT_TRUE(!s2.running);
    ASSERT_EQ(s1.n_cameras, 1);
    ASSERT_EQ(s1.cameras[0].state, PAN_CAMERA_LIVE);
    ASSERT_EQ(s2.frames, 80);
    pan_pipeline_stats_free(&s1);
    pan_pipeline_stats_free(&s2);
    ASSERT_EQ(x2.frames[0], 30);
    ASSERT_EQ(x2.frames[1], 50);
    sleep_s(0.2);
    int64_t before = x1.frames[0];
    sleep_s(0.3);
    ASSERT_OK(pan_pipeline_stop(p1));
    ASSERT_TRUE(x1.frames[0] > before); /* p1 kept going after p2 stopped */
    ASSERT_EQ(x1.stops, 1);
    ASSERT_EQ(x2.stops, 1);
    pan_pipeline_destroy(&p1);
    pan_pipeline_destroy(&p2);
}

PAN_TEST(bad_calls_get_clear_statuses)
{
    if (!clips()) PAN_SKIP("ffmpeg (libx264) not installed");
    pan_pipeline *pl = NULL;
    pan_pipeline_params p;
    pan_pipeline_params_default(&p);
    p.backend = PAN_BACKEND_CPU;
    p.detect = 0;
    p.score_threshold = 2;
    ASSERT_EQ(pan_pipeline_create(&pl, &p), PAN_INVAL);
    ASSERT_TRUE(pl == NULL);
    p.score_threshold = 0.3f;
    p.batch = -1;
    ASSERT_EQ(pan_pipeline_create(&pl, &p), PAN_INVAL);
    p.batch = 0;
    p.camera_queue = 65;
    ASSERT_EQ(pan_pipeline_create(&pl, &p), PAN_INVAL);
    p.camera_queue = 0;
    p.detect = 1;
    p.model_path = "/nonexistent/model.onnx";
    ASSERT_TRUE(pan_pipeline_create(&pl, &p) != PAN_OK);
    ASSERT_TRUE(pl == NULL);
    /* destroy without start */
    pl = make(NULL);
    ASSERT_TRUE(pl != NULL);
    ASSERT_OK(add(pl, clip_a, NULL, 0, 0, NULL));
    pan_pipeline_destroy(&pl);
    /* stop without start, then start: closed */
    pl = make(NULL);
    ASSERT_OK(pan_pipeline_stop(pl));
    ASSERT_EQ(pan_pipeline_start(pl), PAN_CLOSED);
    pan_pipeline_destroy(&pl);
    /* bad arguments */
    pl = make(NULL);
    pan_camera_params none = {0};
    ASSERT_EQ(pan_pipeline_add_camera(pl, &none, NULL), PAN_INVAL);
    pan_camera_params bad = {.uri = clip_a, .rtsp_transport = 7};
    ASSERT_EQ(pan_pipeline_add_camera(pl, &bad, NULL), PAN_INVAL);
    ASSERT_OK(pan_pipeline_start(pl));
    ASSERT_EQ(pan_pipeline_start(pl), PAN_STATE);
    pan_consumer c = {.name = "late"};
    ASSERT_EQ(pan_pipeline_add_consumer(pl, &c), PAN_STATE);
    /* a camera removed before it produced anything, and a bad URI: only they fail */
    int id;
    ASSERT_OK(add(pl, "nosuchproto://x", NULL, 0, 0, &id));
    ASSERT_EQ(id, 0);
    ASSERT_OK(pan_pipeline_wait(pl, 30000));
    pan_pipeline_stats s;
    ASSERT_OK(pan_pipeline_get_stats(pl, &s));
    ASSERT_EQ(s.cameras[0].state, PAN_CAMERA_FAILED);
    ASSERT_TRUE(s.cameras[0].error[0] != 0);
    ASSERT_EQ(s.status, PAN_OK); /* the pipeline itself is fine */
    pan_pipeline_stats_free(&s);
    pan_pipeline_destroy(&pl);
}

/* A required consumer that fails makes the pipeline fail: cameras stopped, wait and stop report it. */
static pan_status failing_frame(void *opaque, const pan_frame_result *r)
{
    int *n = opaque;
    return ++*n >= 5 ? PAN_IO : PAN_OK;
}

PAN_TEST(a_failing_required_consumer_fails_the_pipeline)
{
    if (!clips()) PAN_SKIP("ffmpeg (libx264) not installed");
    static recorder x;
    memset(&x, 0, sizeof x);
    pan_pipeline *pl = make(&x);
    int calls = 0;
    pan_consumer c = {.name = "the failing sink", .opaque = &calls, .on_frame = failing_frame, .required = 1};
    ASSERT_OK(pan_pipeline_add_consumer(pl, &c));
    ASSERT_OK(pan_pipeline_start(pl));
    ASSERT_OK(add(pl, clip_a, NULL, 1, 0, NULL));
    ASSERT_EQ(pan_pipeline_wait(pl, 30000), PAN_IO);
    ASSERT_EQ(pan_pipeline_stop(pl), PAN_IO);
    ASSERT_EQ(calls, 5); /* called no more once failed */
    pan_pipeline_stats s;
    ASSERT_OK(pan_pipeline_get_stats(pl, &s));
    ASSERT_EQ(s.status, PAN_IO);
    ASSERT_EQ(s.cameras[0].state, PAN_CAMERA_STOPPED);
    pan_pipeline_stats_free(&s);
    pan_pipeline_destroy(&pl);
}

/* 4 threads add and remove 200 cameras while a looping camera's frames flow. */
typedef struct churn {
    pan_pipeline *pl;
    int seed;
    int added, removed, failed_calls;
    int kept[64];
    int n_kept;
} churn;

static void *churn_main(void *arg)
{
    churn *c = arg;
    unsigned r = (unsigned)c->seed;
    for (int i = 0; i < 50; i++) {
        int id;
        const char *uri = rand_r(&r) % 5 == 0 ? "/nonexistent/x.mp4" : (rand_r(&r) % 2 ? clip_a : clip_b);
        if (add(c->pl, uri, "churn", rand_r(&r) % 2, 0, &id)) {
            c->failed_calls++;
            continue;
        }
        c->added++;
        if (rand_r(&r) % 3) sleep_s(0.001 * (rand_r(&r) % 20));
        if (i % 10 == 9) {
            c->kept[c->n_kept++] = id; /* a few stay */
            continue;
        }
        if (pan_pipeline_remove_camera(c->pl, id)) c->failed_calls++;
        else c->removed++;
    }
    return NULL;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

PAN_TEST(add_and_remove_200_cameras_from_4_threads)
{
    if (!clips()) PAN_SKIP("ffmpeg (libx264) not installed");
    static recorder x;
    memset(&x, 0, sizeof x);
    pan_pipeline *pl = make(&x);
    ASSERT_OK(pan_pipeline_start(pl));
    int base;
    ASSERT_OK(add(pl, clip_a, NULL, 1, 0, &base));
    churn c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].pl = pl;
        c[i].seed = 17 + i;
        pthread_create(&th[i], NULL, churn_main, &c[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    int expect[32], n = 0;
    expect[n++] = base;
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(c[i].failed_calls, 0);
        ASSERT_EQ(c[i].added, 50);
        for (int k = 0; k < c[i].n_kept; k++) expect[n++] = c[i].kept[k];
    }
    qsort(expect, (size_t)n, sizeof *expect, cmp_int);
    ASSERT_EQ(wait_cameras(pl, n), n);
    pan_pipeline_stats s;
    ASSERT_OK(pan_pipeline_get_stats(pl, &s));
    ASSERT_EQ(s.n_cameras, n); /* the list is what the calls imply */
    for (int i = 0; i < n; i++) ASSERT_EQ(s.cameras[i].id, expect[i]);
    ASSERT_EQ(s.cameras[0].state, PAN_CAMERA_LIVE);
    pan_pipeline_stats_free(&s);
    ASSERT_OK(pan_pipeline_stop(pl));
    int removed = 0;
    for (int id = 0; id < MAX_IDS; id++) removed += x.removed[id];
    ASSERT_EQ(removed, 200 - (n - 1));
    ASSERT_EQ(x.after_final, 0);
    ASSERT_TRUE(x.frames[base] > 0);
    pan_pipeline_destroy(&pl);
}

static int threads_now(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Threads:", 8)) n = atoi(line + 8);
    if (f) fclose(f);
    return n;
}

/* 96 file cameras on 2 I/O threads (and 2 connect threads): every frame of every camera is
 * delivered in order, and the process never has more threads than before start + the pool + the
 * delivery thread (decode only: no inference thread). */
PAN_TEST(many_cameras_share_a_fixed_pool_of_threads)
{
    if (!clips()) PAN_SKIP("ffmpeg (libx264) not installed");
    enum { CAMS = 96 };
    static recorder x;
    memset(&x, 0, sizeof x);
    pan_pipeline_params p = decode_only();
    p.io_threads = 2;
    pan_pipeline *pl = make_from(&p, &x);
    ASSERT_TRUE(pl != NULL);
    int before = threads_now();
    ASSERT_OK(pan_pipeline_start(pl));
    for (int i = 0; i < CAMS; i++) ASSERT_OK(add(pl, clip_b, NULL, 0, 0, NULL));
    int most = 0, io = 0;
    for (int i = 0; i < 2000; i++) { /* until every camera ended (at most ~100 s) */
        pan_pipeline_stats s;
        ASSERT_OK(pan_pipeline_get_stats(pl, &s));
        int t = threads_now(), ended = 0;
        if (t > most) most = t;
        io = s.io_threads;
        for (int k = 0; k < s.n_cameras; k++) ended += s.cameras[k].state == PAN_CAMERA_ENDED;
        pan_pipeline_stats_free(&s);
        if (ended == CAMS) break;
        sleep_s(0.05);
    }
    ASSERT_OK(pan_pipeline_wait(pl, -1));
    ASSERT_OK(pan_pipeline_stop(pl));
    pan_pipeline_stats st;
    ASSERT_OK(pan_pipeline_get_stats(pl, &st));
    fprintf(stderr, "  %d cameras: at most %d threads (%d before start, %d I/O threads), %.1f frames per batch\n",
            CAMS, most, before, io, st.batch_mean);
    ASSERT_EQ(st.batch_max, 64); /* decode only: frames go to the consumers in batches of up to 64 */
    pan_pipeline_stats_free(&st);
    ASSERT_EQ(io, 2);
    ASSERT_LE(most, before + 2 * 2 + 1);
    for (int i = 0; i < CAMS; i++) {
        ASSERT_EQ(x.frames[i], 30); /* testsrc 1 s at 30 fps */
        ASSERT_EQ(x.gaps[i], 0);
        ASSERT_EQ(x.events[i][PAN_CAMERA_ENDED], 1);
    }
    pan_pipeline_destroy(&pl);
}

/* Consumers that never read images (no_image) let the pipeline release each frame right after
 * inference: they get every frame with image NULL. One consumer that reads images keeps them for
 * all. */
PAN_TEST(frames_released_early_when_no_consumer_reads_images)
{
    if (!clips()) PAN_SKIP("ffmpeg (libx264) not installed");
    for (int both = 0; both < 2; both++) {
        static recorder x, y;
        memset(&x, 0, sizeof x);
        memset(&y, 0, sizeof y);
        pan_pipeline_params p = decode_only();
        pan_pipeline *pl = NULL;
        ASSERT_OK(pan_pipeline_create(&pl, &p));
        pan_consumer c = {.name = "no images", .opaque = &x, .on_frame = rec_frame, .no_image = 1};
        ASSERT_OK(pan_pipeline_add_consumer(pl, &c));
        pan_consumer d = {.name = "images", .opaque = &y, .on_frame = rec_frame};
        if (both) ASSERT_OK(pan_pipeline_add_consumer(pl, &d));
        ASSERT_OK(pan_pipeline_start(pl));
        ASSERT_OK(add(pl, clip_b, NULL, 0, 0, NULL));
        ASSERT_OK(pan_pipeline_wait(pl, -1));
        ASSERT_OK(pan_pipeline_stop(pl));
        ASSERT_EQ(x.frames[0], 30);
        ASSERT_EQ(x.gaps[0], 0);
        ASSERT_EQ(x.no_image, both ? 0 : 30); /* rec_frame counts frames without an image */
        if (both) ASSERT_EQ(y.no_image, 0);
        pan_pipeline_destroy(&pl);
    }
}

PAN_TEST_MAIN(batch_job_delivers_every_frame_and_events_in_order, a_camera_queue_of_one_delivers_every_frame,
              cameras_added_and_removed_while_running,
              two_pipelines_at_once, bad_calls_get_clear_statuses, a_failing_required_consumer_fails_the_pipeline,
              add_and_remove_200_cameras_from_4_threads, many_cameras_share_a_fixed_pool_of_threads,
              frames_released_early_when_no_consumer_reads_images)
