/* Per-camera tracker: stable ids on clean motion, through a short occlusion, through low-score
 * frames; new ids for new objects; tentative tracks; class awareness; lost/removed reporting;
 * the appearance hook (synthetic embeddings) resolving a swap that motion alone gets wrong. */
#include "panoptes/track.h"
#include "test.h"

static pan_detection det(float cx, float cy, float w, float h, float score)
{
    pan_detection d = {{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}, score, 0, NULL, 0};
    return d;
}

static int64_t id_near(const pan_track_report *r, int n, float cx)
{
    for (int i = 0; i < n; i++)
        if (fabsf((r[i].box[0] + r[i].box[2]) / 2 - cx) < 8.f) return r[i].id;
    return -1;
}

PAN_TEST(tracker_stable_ids_and_occlusion)
{
    pan_tracker *t = NULL;
    pan_track_report r[16];
    int n;
    ASSERT_OK(pan_tracker_create(&t, NULL));
    for (int f = 0; f < 60; f++) {
        pan_detection d[3];
        int nd = 0;
        float ax = 100 + 3.f * f, bx = 900 - 2.f * f;
        /* A is occluded (no detection) in frames 20..27. */
        if (f < 20 || f >= 28) d[nd++] = det(ax, 200, 40, 100, 0.9f);
        d[nd++] = det(bx, 400, 50, 120, 0.85f);
        /* C appears at frame 40. */
        if (f >= 40) d[nd++] = det(600, 600 - 1.f * (f - 40), 30, 80, 0.8f);
        ASSERT_OK(pan_tracker_update(t, d, nd, r, 16, &n));
        ASSERT_EQ(n, nd - (f == 40)); /* confirmed at once in frame 1; C only from its 2nd frame */
        if (f < 20 || f >= 28) ASSERT_EQ(id_near(r, n, ax), 1);
        ASSERT_EQ(id_near(r, n, bx), 2);
        if (f >= 41) ASSERT_EQ(id_near(r, n, 600), 3);
    }
    pan_tracker_destroy(&t);
    ASSERT_TRUE(t == NULL);
    pan_tracker_destroy(&t); /* NULL is fine */
}

PAN_TEST(tracker_tentative_and_new_ids)
{
    pan_tracker *t = NULL;
    pan_track_report r[8];
    int n;
    ASSERT_OK(pan_tracker_create(&t, NULL));
    pan_detection a = det(100, 100, 40, 100, 0.9f);
    ASSERT_OK(pan_tracker_update(t, &a, 1, r, 8, &n));
    ASSERT_EQ(n, 1);
    /* A one-frame blip (a false positive) after the first frame is never reported. */
    pan_detection two[2] = {det(103, 100, 40, 100, 0.9f), det(700, 300, 40, 100, 0.95f)};
    ASSERT_OK(pan_tracker_update(t, two, 2, r, 8, &n));
    ASSERT_EQ(n, 1);
    for (int f = 0; f < 3; f++) {
        pan_detection b = det(106 + 3.f * f, 100, 40, 100, 0.9f);
        ASSERT_OK(pan_tracker_update(t, &b, 1, r, 8, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(r[0].id, 1);
    }
    /* A real newcomer: tentative in its first frame, id 2 from its second (ids count only
     * confirmed tracks, so the blip did not use one up). */
    pan_detection c[2] = {det(115, 100, 40, 100, 0.9f), det(500, 500, 40, 100, 0.7f)};
    ASSERT_OK(pan_tracker_update(t, c, 2, r, 8, &n));
    ASSERT_EQ(n, 1);
    c[0] = det(118, 100, 40, 100, 0.9f);
    c[1] = det(501, 500, 40, 100, 0.7f);
    ASSERT_OK(pan_tracker_update(t, c, 2, r, 8, &n));
    ASSERT_EQ(n, 2);
    ASSERT_EQ(r[0].id, 1);
    ASSERT_EQ(r[1].id, 2);
    ASSERT_EQ(r[1].state, PAN_TRACK_CONFIRMED);
    ASSERT_EQ(r[1].global_id, 0);
    /* A detection below new_track_thresh (0.6) starts nothing. */
    pan_detection lo = det(300, 300, 40, 100, 0.55f);
    for (int f = 0; f < 3; f++) ASSERT_OK(pan_tracker_update(t, &lo, 1, r, 8, &n));
    ASSERT_EQ(n, 0);
    pan_tracker_destroy(&t);
}

PAN_TEST(tracker_low_score_second_stage)
{
    pan_tracker *t = NULL;
    pan_track_report r[8];
    int n;
    ASSERT_OK(pan_tracker_create(&t, NULL));
    for (int f = 0; f < 30; f++) {
        /* Frames 10..19: partly occluded, the detector is unsure (0.3 < high_thresh 0.5). */
        pan_detection d = det(100 + 2.f * f, 100, 40, 100, f >= 10 && f < 20 ? 0.3f : 0.9f);
        ASSERT_OK(pan_tracker_update(t, &d, 1, r, 8, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(r[0].id, 1);
    }
    /* Low-score detections never start a track. */
    pan_detection lo = det(600, 100, 40, 100, 0.3f);
    for (int f = 0; f < 5; f++) ASSERT_OK(pan_tracker_update(t, &lo, 1, r, 8, &n));
    ASSERT_EQ(n, 0);
    pan_tracker_destroy(&t);
}

PAN_TEST(tracker_class_aware)
{
    pan_tracker *t = NULL;
    pan_track_report r[8];
    int n;
    ASSERT_OK(pan_tracker_create(&t, NULL));
    pan_detection d = det(100, 100, 40, 100, 0.9f);
    ASSERT_OK(pan_tracker_update(t, &d, 1, r, 8, &n));
    d.class_id = 2; /* a car where the person was: a new track, not the person's */
    ASSERT_OK(pan_tracker_update(t, &d, 1, r, 8, &n));
    ASSERT_OK(pan_tracker_update(t, &d, 1, r, 8, &n));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(r[0].id, 2);
    ASSERT_EQ(r[0].class_id, 2);
    pan_tracker_destroy(&t);
}

PAN_TEST(tracker_report_lost_and_removed)
{
    pan_tracker *t = NULL;
    pan_tracker_params p = pan_tracker_params_default();
    pan_track_report r[8];
    int n;
    p.report_lost = 1;
    p.max_time_lost = 5;
    ASSERT_OK(pan_tracker_create(&t, &p));
    pan_detection d = det(100, 100, 40, 100, 0.9f);
    ASSERT_OK(pan_tracker_update(t, &d, 1, r, 8, &n));
    int lost = 0, removed = 0;
    for (int f = 0; f < 10; f++) {
        ASSERT_OK(pan_tracker_update(t, NULL, 0, r, 8, &n));
        for (int i = 0; i < n; i++) {
            ASSERT_EQ(r[i].id, 1);
            lost += r[i].state == PAN_TRACK_LOST;
            removed += r[i].state == PAN_TRACK_REMOVED;
        }
    }
    ASSERT_EQ(lost, 5);    /* frames 2..6 after the last match */
    ASSERT_EQ(removed, 1); /* reported exactly once */
    ASSERT_EQ(pan_tracker_live_tracks(t), 0);
    /* Output room: PAN_LIMIT with what fits written. */
    pan_detection many[3] = {det(100, 100, 40, 100, 0.9f), det(300, 100, 40, 100, 0.9f), det(500, 100, 40, 100, 0.9f)};
    ASSERT_OK(pan_tracker_update(t, many, 3, r, 8, &n));
    ASSERT_OK(pan_tracker_update(t, many, 3, r, 8, &n));
    ASSERT_EQ(pan_tracker_update(t, many, 3, r, 2, &n), PAN_LIMIT);
    ASSERT_EQ(n, 2);
    pan_tracker_destroy(&t);
}

/* With the frame size known, a lost track whose predicted centre leaves the frame ends at once. */
PAN_TEST(tracker_leaves_frame)
{
    pan_tracker *t = NULL;
    pan_tracker_params p = pan_tracker_params_default();
    pan_track_report r[8];
    int n, removed_at = -1;
    p.report_lost = 1;
    p.frame_width = 640, p.frame_height = 480;
    ASSERT_OK(pan_tracker_create(&t, &p));
    for (int f = 0; f < 20; f++) {
        pan_detection d = det(560 + 10.f * f, 200, 40, 100, 0.9f);
        ASSERT_OK(pan_tracker_update(t, f < 6 ? &d : NULL, f < 6 ? 1 : 0, r, 8, &n));
        for (int i = 0; i < n; i++)
            if (r[i].state == PAN_TRACK_REMOVED) removed_at = f;
    }
    /* Last seen at x = 610 moving 10 px/frame: the centre passes 640 after 3 more frames. */
    ASSERT_TRUE(removed_at >= 7 && removed_at <= 10);
    pan_tracker_destroy(&t);
}

/* Two people side by side (IoU 2/3) suddenly swap places. Motion alone keeps each track where it
 * was, so the ids follow the places (a swap); with embeddings the ids follow the people. */
static int run_swap(int with_emb, int64_t *id_of_a)
{
    enum { D = 8 };
    static const float ea[D] = {1, 0, 0, 0, 0, 0, 0, 0}, eb[D] = {0, 1, 0, 0, 0, 0, 0, 0};
    pan_tracker *t = NULL;
    pan_track_report r[8];
    int n;
    if (pan_tracker_create(&t, NULL)) return -1;
    for (int f = 0; f < 12; f++) {
        float xa = f < 8 ? 100 : 110, xb = f < 8 ? 110 : 100;
        pan_detection d[2] = {det(xa, 200, 30, 90, 0.9f), det(xb, 200, 30, 90, 0.9f)};
        if (with_emb) d[0].embedding = ea, d[1].embedding = eb, d[0].embedding_dim = d[1].embedding_dim = D;
        if (pan_tracker_update(t, d, 2, r, 8, &n) || n != 2) return -1;
        /* The report whose (filtered) centre is nearer to where A is. */
        float c0 = (r[0].box[0] + r[0].box[2]) / 2, c1 = (r[1].box[0] + r[1].box[2]) / 2;
        id_of_a[f] = fabsf(c0 - xa) <= fabsf(c1 - xa) ? r[0].id : r[1].id;
    }
    int dim = 0;
    const float *e = pan_tracker_embedding(t, id_of_a[0], &dim);
    int ok = with_emb ? (e && dim == D && e[0] > 0.9f) : (e == NULL);
    pan_tracker_destroy(&t);
    return ok ? 0 : -1;
}

PAN_TEST(tracker_appearance_hook)
{
    int64_t ids[12];
    ASSERT_OK(run_swap(1, ids));
    for (int f = 0; f < 12; f++) ASSERT_EQ(ids[f], ids[0]);
    ASSERT_OK(run_swap(0, ids));
    ASSERT_NE(ids[11], ids[0]); /* motion only: the swap fools it, as expected */
}

PAN_TEST(tracker_rejects_bad_input)
{
    pan_tracker *t = NULL;
    pan_tracker_params p = pan_tracker_params_default();
    pan_track_report r[4];
    int n;
    p.low_thresh = 0.8f; /* above high_thresh */
    ASSERT_EQ(pan_tracker_create(&t, &p), PAN_INVAL);
    ASSERT_TRUE(t == NULL);
    ASSERT_OK(pan_tracker_create(&t, NULL));
    pan_detection bad[2] = {det(100, 100, 40, 100, 0.9f), det(100, 100, 40, 100, 0.9f)};
    bad[0].box[2] = NAN;
    bad[1].box[2] = bad[1].box[0] - 1; /* x2 < x1 */
    ASSERT_OK(pan_tracker_update(t, bad, 2, r, 4, &n));
    ASSERT_EQ(n, 0);
    ASSERT_EQ(pan_tracker_update(t, NULL, 3, r, 4, &n), PAN_INVAL);
    pan_tracker_destroy(&t);
}

PAN_TEST_MAIN(tracker_stable_ids_and_occlusion, tracker_tentative_and_new_ids, tracker_low_score_second_stage,
              tracker_class_aware, tracker_report_lost_and_removed, tracker_leaves_frame, tracker_appearance_hook,
              tracker_rejects_bad_input)
