/* Fair batches (src/pipeline_batcher.h): at most one frame per camera per batch, cameras served
 * round robin, drop-oldest for live cameras, back-pressure for recorded ones, a camera's end told
 * only after its last frame, close; a batch full once every sending camera is in it, the waiting
 * thread woken when its batch can be filled, room told at half a queue; a discarded (removed)
 * camera queues nothing more. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline_batcher.h"
#include "test.h"

static int released;

static void on_release(pan_frame *f, void *opaque)
{
    (void)opaque;
    released++;
    free(f);
}

static pan_frame *frame(int camera, int64_t index)
{
    pan_frame *f = calloc(1, sizeof *f);
    f->camera = camera;
    f->index = index;
    f->format = PAN_PIXFMT_NV12;
    pan_frame_init_ref(f, on_release, NULL);
    return f;
}

static void push(pan_batcher *b, pan_batcher_slot *s, int64_t index)
{
    pan_frame *dropped = NULL;
    pan_batcher_push(b, s, frame(s->camera, index), 0, 0, &dropped);
}

/* The next batch as "camera:index" pairs joined by spaces, e.g. "0:0 1:0". */
static void next_str(pan_batcher *b, int max, char *out, int *ends, int *n_ends)
{
    pan_frame *fs[16];
    double t[16];
    int n = 0, e = 0, tmp[16];
    pan_status st = pan_batcher_next(b, max, 0, 0.001, fs, t, &n, ends ? ends : tmp, 16, n_ends ? n_ends : &e);
    out[0] = 0;
    if (st) return;
    for (int i = 0; i < n; i++) {
        char one[32];
        snprintf(one, sizeof one, "%s%d:%lld", i ? " " : "", fs[i]->camera, (long long)fs[i]->index);
        strcat(out, one);
        pan_frame_unref(&fs[i]);
    }
}

PAN_TEST(one_frame_per_camera_round_robin)
{
    pan_batcher *b;
    pan_batcher_slot s[3];
    ASSERT_OK(pan_batcher_create(&b));
    for (int i = 0; i < 3; i++) ASSERT_OK(pan_batcher_slot_init(&s[i], i, 8));
    for (int k = 0; k < 5; k++) push(b, &s[0], k); /* a fast camera */
    push(b, &s[1], 0);
    push(b, &s[2], 0);
    push(b, &s[2], 1);
    char got[256];
    next_str(b, 8, got, NULL, NULL);
    ASSERT_STREQ(got, "0:0 1:0 2:0");
    next_str(b, 8, got, NULL, NULL);
    ASSERT_STREQ(got, "0:1 2:1");
    push(b, &s[1], 1); /* camera 1 joins the line behind camera 0, which has been waiting */
    next_str(b, 2, got, NULL, NULL);
    ASSERT_STREQ(got, "0:2 1:1");
    next_str(b, 8, got, NULL, NULL);
    ASSERT_STREQ(got, "0:3");
    next_str(b, 8, got, NULL, NULL);
    ASSERT_STREQ(got, "0:4");
    for (int i = 0; i < 3; i++) pan_batcher_slot_free(&s[i]);
    pan_batcher_destroy(&b);
}

PAN_TEST(live_cameras_drop_their_oldest_frame)
{
    pan_batcher *b;
    pan_batcher_slot s;
    ASSERT_OK(pan_batcher_create(&b));
    ASSERT_OK(pan_batcher_slot_init(&s, 7, 2));
    pan_frame *dropped = NULL;
    for (int k = 0; k < 2; k++) {
        ASSERT_OK(pan_batcher_push(b, &s, frame(7, k), 0, 1, &dropped));
        ASSERT_TRUE(dropped == NULL);
    }
    ASSERT_OK(pan_batcher_push(b, &s, frame(7, 2), 0, 1, &dropped));
    ASSERT_TRUE(dropped != NULL);
    ASSERT_EQ(dropped->index, 0);
    pan_frame_unref(&dropped);
    char got[256];
    next_str(b, 8, got, NULL, NULL);
    ASSERT_STREQ(got, "7:1");
    next_str(b, 8, got, NULL, NULL);
    ASSERT_STREQ(got, "7:2");
    pan_batcher_slot_free(&s);
    pan_batcher_destroy(&b);
}

PAN_TEST(a_camera_ends_after_its_last_frame)
{
    pan_batcher *b;
    pan_batcher_slot a, c;
    ASSERT_OK(pan_batcher_create(&b));
    ASSERT_OK(pan_batcher_slot_init(&a, 0, 4));
    ASSERT_OK(pan_batcher_slot_init(&c, 1, 4));
    push(b, &a, 0);
    push(b, &a, 1);
    pan_batcher_end(b, &a);
    pan_batcher_end(b, &c); /* a camera that never had a frame */
    char got[256];
    int ends[16], n_ends;
    next_str(b, 8, got, ends, &n_ends);
    ASSERT_STREQ(got, "0:0");
    ASSERT_EQ(n_ends, 1);
    ASSERT_EQ(ends[0], 1);
    next_str(b, 8, got, ends, &n_ends);
    ASSERT_STREQ(got, "0:1");
    ASSERT_EQ(n_ends, 0);
    next_str(b, 8, got, ends, &n_ends);
    ASSERT_STREQ(got, "");
    ASSERT_EQ(n_ends, 1);
    ASSERT_EQ(ends[0], 0);
    pan_frame *fs[4];
    double t[4];
    int n, e;
    ASSERT_EQ(pan_batcher_next(b, 4, 0, 0.001, fs, t, &n, ends, 16, &e), PAN_TIMEOUT); /* told once */
    pan_batcher_slot_free(&a);
    pan_batcher_slot_free(&c);
    pan_batcher_destroy(&b);
}

typedef struct producer {
    pan_batcher *b;
    pan_batcher_slot *s;
    int pushed;
    pan_status last;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    for (int k = 0; k < 50; k++) {
        pan_frame *f = frame(p->s->camera, k), *dropped = NULL;
        p->last = pan_batcher_push(p->b, p->s, f, 0, 0, &dropped);
        if (p->last) {
            pan_frame_unref(&f);
            break;
        }
        p->pushed++;
    }
    return NULL;
}

PAN_TEST(recorded_cameras_wait_for_room_and_lose_nothing)
{
    pan_batcher *b;
    pan_batcher_slot s[2];
    ASSERT_OK(pan_batcher_create(&b));
    producer p[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(pan_batcher_slot_init(&s[i], i, 2));
        p[i] = (producer){.b = b, .s = &s[i]};
        pthread_create(&th[i], NULL, produce, &p[i]);
    }
    int64_t next_index[2] = {0, 0};
    int got = 0, ordered = 1;
    while (got < 100) {
        pan_frame *fs[4];
        double t[4];
        int n, ends[4], e;
        if (pan_batcher_next(b, 4, 1000, 0.001, fs, t, &n, ends, 4, &e)) break;
        ASSERT_LE(n, 2); /* two cameras: at most two frames a batch */
        for (int i = 0; i < n; i++) {
            ordered &= fs[i]->index == next_index[fs[i]->camera]++;
            pan_frame_unref(&fs[i]);
        }
        got += n;
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    ASSERT_EQ(got, 100);
    ASSERT_TRUE(ordered);
    /* close: a waiting producer is released, next says EOF */
    pan_batcher_close(b);
    pan_frame *f = frame(0, 99), *dropped = NULL;
    ASSERT_EQ(pan_batcher_push(b, &s[0], f, 0, 0, &dropped), PAN_CLOSED);
    pan_frame_unref(&f);
    pan_frame *fs[4];
    double t[4];
    int n, ends[4], e;
    ASSERT_EQ(pan_batcher_next(b, 4, 100, 0.001, fs, t, &n, ends, 4, &e), PAN_EOF);
    for (int i = 0; i < 2; i++) pan_batcher_slot_free(&s[i]);
    pan_batcher_destroy(&b);
}

/* A batch timeout of an hour: these calls return only because the batch is full. */
#define HOUR 3600.0

PAN_TEST(a_batch_is_full_once_every_sending_camera_is_in_it)
{
    pan_batcher *b;
    pan_batcher_slot s[3];
    ASSERT_OK(pan_batcher_create(&b));
    for (int i = 0; i < 3; i++) ASSERT_OK(pan_batcher_slot_init(&s[i], i, 4));
    for (int i = 0; i < 3; i++) push(b, &s[i], 0);
    push(b, &s[0], 1);
    pan_frame *fs[16];
    double t[16];
    int n, ends[16], e;
    /* three cameras send: a batch of up to 16 closes at three, without waiting for the timeout */
    ASSERT_OK(pan_batcher_next(b, 16, -1, HOUR, fs, t, &n, ends, 16, &e));
    ASSERT_EQ(n, 3);
    for (int i = 0; i < n; i++) pan_frame_unref(&fs[i]);
    /* a camera that ended no longer counts: cameras 1 and 2 end, camera 0's frame is a full batch */
    pan_batcher_end(b, &s[1]);
    pan_batcher_end(b, &s[2]);
    ASSERT_OK(pan_batcher_next(b, 16, -1, HOUR, fs, t, &n, ends, 16, &e));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(e, 2);
    pan_frame_unref(&fs[0]);
    push(b, &s[0], 2);
    ASSERT_OK(pan_batcher_next(b, 16, -1, HOUR, fs, t, &n, ends, 16, &e));
    ASSERT_EQ(n, 1);
    pan_frame_unref(&fs[0]);
    for (int i = 0; i < 3; i++) pan_batcher_slot_free(&s[i]);
    pan_batcher_destroy(&b);
}

typedef struct late_pusher {
    pan_batcher *b;
    pan_batcher_slot *s;
    int n;
} late_pusher;

static void *push_late(void *arg)
{
    late_pusher *p = arg;
    struct timespec pause = {0, 20 * 1000000L};
    for (int i = 0; i < p->n; i++) {
        nanosleep(&pause, NULL);
        push(p->b, &p->s[i], 1);
    }
    return NULL;
}

PAN_TEST(the_waiting_batch_is_woken_once_it_can_be_filled)
{
    pan_batcher *b;
    pan_batcher_slot s[4];
    ASSERT_OK(pan_batcher_create(&b));
    for (int i = 0; i < 4; i++) ASSERT_OK(pan_batcher_slot_init(&s[i], i, 4));
    /* four cameras sent a frame each (the batch of four that opens them) */
    for (int i = 0; i < 4; i++) push(b, &s[i], 0);
    pan_frame *fs[16];
    double t[16];
    int n, ends[16], e;
    ASSERT_OK(pan_batcher_next(b, 16, -1, HOUR, fs, t, &n, ends, 16, &e));
    ASSERT_EQ(n, 4);
    for (int i = 0; i < n; i++) pan_frame_unref(&fs[i]);
    /* their next frames come one by one from another thread: the batch waits for all four (no
     * timeout ends it), whether it waits for its first frame or for the rest */
    late_pusher lp = {b, s, 4};
    pthread_t th;
    pthread_create(&th, NULL, push_late, &lp);
    ASSERT_OK(pan_batcher_next(b, 16, -1, HOUR, fs, t, &n, ends, 16, &e));
    pthread_join(th, NULL);
    ASSERT_EQ(n, 4);
    for (int i = 0; i < n; i++) {
        ASSERT_EQ(fs[i]->index, 1);
        pan_frame_unref(&fs[i]);
    }
    /* a short timeout still closes a batch that cannot be filled */
    push(b, &s[2], 2);
    ASSERT_OK(pan_batcher_next(b, 16, -1, 0.01, fs, t, &n, ends, 16, &e));
    ASSERT_EQ(n, 1);
    pan_frame_unref(&fs[0]);
    for (int i = 0; i < 4; i++) pan_batcher_slot_free(&s[i]);
    pan_batcher_destroy(&b);
}

static void count_room(void *opaque) { ++*(int *)opaque; }

PAN_TEST(room_is_told_once_the_queue_is_down_to_half)
{
    pan_batcher *b;
    pan_batcher_slot s;
    int told = 0;
    ASSERT_OK(pan_batcher_create(&b));
    ASSERT_OK(pan_batcher_slot_init(&s, 0, 4));
    s.on_room = count_room;
    s.room_opaque = &told;
    for (int k = 0; k < 4; k++) push(b, &s, k);
    pan_frame *f = frame(0, 4), *dropped = NULL;
    ASSERT_EQ(pan_batcher_push(b, &s, f, 0, 0, &dropped), PAN_EAGAIN); /* full: not taken */
    char got[64];
    next_str(b, 8, got, NULL, NULL);
    ASSERT_STREQ(got, "0:0");
    ASSERT_EQ(told, 0); /* three waiting: not yet */
    next_str(b, 8, got, NULL, NULL);
    ASSERT_STREQ(got, "0:1");
    ASSERT_EQ(told, 1); /* two: the camera may decode two frames in one turn */
    ASSERT_OK(pan_batcher_push(b, &s, f, 0, 0, &dropped));
    next_str(b, 8, got, NULL, NULL);
    ASSERT_EQ(told, 1); /* told once per wait */
    pan_batcher_slot_free(&s);
    pan_batcher_destroy(&b);
}

typedef struct {
    pan_batcher *b;
    pan_batcher_slot *s;
    pan_status st;
} waiting_push;

static void *push_into_full(void *arg)
{
    waiting_push *w = arg;
    pan_frame *f = frame(w->s->camera, 99), *dropped = NULL;
    w->st = pan_batcher_push(w->b, w->s, f, 0, 0, &dropped);
    if (w->st) pan_frame_unref(&f);
    return NULL;
}

/* A camera being removed may still be decoding: a frame it pushes after its queue was emptied
 * must not be batched after the ones that went (it would skip indices), and a push waiting for
 * room must return. */
PAN_TEST(a_discarded_camera_queues_nothing_more)
{
    pan_batcher *b;
    pan_batcher_slot s[2];
    ASSERT_OK(pan_batcher_create(&b));
    ASSERT_OK(pan_batcher_slot_init(&s[0], 0, 2));
    ASSERT_OK(pan_batcher_slot_init(&s[1], 1, 2));
    push(b, &s[0], 0);
    push(b, &s[0], 1);
    push(b, &s[1], 0);
    int before = released;
    waiting_push w = {b, &s[0], PAN_OK};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, push_into_full, &w), 0); /* waits: the queue is full */
    ASSERT_EQ(pan_batcher_discard(b, &s[0]), 2);
    pthread_join(t, NULL);
    ASSERT_EQ(w.st, PAN_CLOSED);
    ASSERT_EQ(released - before, 3); /* the two queued and the refused one */
    pan_frame *f = frame(0, 2), *dropped = NULL;
    ASSERT_EQ(pan_batcher_push(b, &s[0], f, 0, 1, &dropped), PAN_CLOSED); /* a live push too */
    pan_frame_unref(&f);
    char got[64];
    next_str(b, 8, got, NULL, NULL);
    ASSERT_STREQ(got, "1:0");
    for (int i = 0; i < 2; i++) pan_batcher_slot_free(&s[i]);
    pan_batcher_destroy(&b);
}

PAN_TEST_MAIN(one_frame_per_camera_round_robin, live_cameras_drop_their_oldest_frame, a_camera_ends_after_its_last_frame,
              recorded_cameras_wait_for_room_and_lose_nothing, a_batch_is_full_once_every_sending_camera_is_in_it,
              the_waiting_batch_is_woken_once_it_can_be_filled, room_is_told_once_the_queue_is_down_to_half,
              a_discarded_camera_queues_nothing_more)
