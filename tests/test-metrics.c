/* Tracking metrics on small cases computed by hand (the expected values are derived in the
 * comments), plus MOTChallenge file reading errors. */
#include <stdio.h>

#include "media.h"
#include "track/mot.h"
#include "test.h"

/* Adds one row: frame, id, x, y, w, h (conf 1, class 1). */
static void add(pan_mot_seq *s, int f, int id, float x, float y, float w, float h)
{
    pan_mot_row r = {f, id, x, y, w, h, 1.f, 1, 1.f};
    pan_mot_seq_push(s, &r);
}

static int eval(pan_mot_seq *gt, pan_mot_seq *res, pan_mot_metrics *m)
{
    int st = pan_mot_seq_finish(gt);
    if (!st) st = pan_mot_seq_finish(res);
    if (!st) st = pan_mot_evaluate(gt, res, NULL, m);
    return st;
}

PAN_TEST(metrics_perfect)
{
    pan_mot_seq gt = {0}, res = {0};
    pan_mot_metrics m;
    for (int f = 1; f <= 3; f++) {
        add(&gt, f, 1, 10.f * f, 0, 20, 40);
        add(&gt, f, 2, 100, 10.f * f, 20, 40);
        add(&res, f, 7, 10.f * f, 0, 20, 40); /* result ids need not equal gt ids */
        add(&res, f, 9, 100, 10.f * f, 20, 40);
    }
    ASSERT_OK(eval(&gt, &res, &m));
    ASSERT_EQ(m.tp, 6);
    ASSERT_EQ(m.fp, 0);
    ASSERT_EQ(m.fn, 0);
    ASSERT_EQ(m.idsw, 0);
    ASSERT_NEAR(m.mota, 1.0, 1e-12);
    ASSERT_NEAR(m.motp, 1.0, 1e-12);
    ASSERT_NEAR(m.idf1, 1.0, 1e-12);
    ASSERT_NEAR(m.hota, 1.0, 1e-9);
    ASSERT_EQ(m.mt, 2);
    pan_mot_seq_free(&gt), pan_mot_seq_free(&res);
}

/* One object, 4 frames, result id 1 then id 2 on the same boxes.
 * CLEAR: TP 4, IDSW 1 -> MOTA = (4 - 0 - 1) / 4 = 0.75.
 * ID: best one-to-one: gt <-> 1 (2 frames): IDTP 2, IDFN 2, IDFP 2 -> IDF1 = 2 / (2 + 1 + 1) = 0.5.
 * HOTA: DetA 1; AssA = (2 * 2/(4+2-2) + 2 * 2/(4+2-2)) / 4 = 0.5 -> HOTA = sqrt(0.5). */
PAN_TEST(metrics_id_switch)
{
    pan_mot_seq gt = {0}, res = {0};
    pan_mot_metrics m;
    for (int f = 1; f <= 4; f++) {
        add(&gt, f, 5, 10.f * f, 0, 20, 40);
        add(&res, f, f <= 2 ? 1 : 2, 10.f * f, 0, 20, 40);
    }
    ASSERT_OK(eval(&gt, &res, &m));
    ASSERT_EQ(m.tp, 4);
    ASSERT_EQ(m.idsw, 1);
    ASSERT_NEAR(m.mota, 0.75, 1e-12);
    ASSERT_EQ(m.idtp, 2);
    ASSERT_EQ(m.idfp, 2);
    ASSERT_EQ(m.idfn, 2);
    ASSERT_NEAR(m.idf1, 0.5, 1e-12);
    ASSERT_NEAR(m.idp, 0.5, 1e-12);
    ASSERT_NEAR(m.idr, 0.5, 1e-12);
    ASSERT_NEAR(m.deta, 1.0, 1e-9);
    ASSERT_NEAR(m.assa, 0.5, 1e-9);
    ASSERT_NEAR(m.hota, sqrt(0.5), 1e-9);
    ASSERT_EQ(m.frag, 0);
    pan_mot_seq_free(&gt), pan_mot_seq_free(&res);
}

/* One object over 3 frames (10x10 box at the origin). Frame 2's result is shifted by 5 px:
 * IoU = 50 / 150 = 1/3 < 0.5, so one FN and one FP. Frame 3 has an extra result far away: FP.
 * TP 2, FN 1, FP 2, IDSW 0 -> MOTA = (2 - 2 - 0) / 3 = 0; MOTP = 1 (perfect matches).
 * ID: IDTP 2 (id 1 overlaps >= 0.5 in frames 1 and 3), GT 3, RES 4 -> IDF1 = 4 / 7.
 * Tracked in frames 1 and 3, not 2: Frag 1; 2/3 of its frames tracked: partly tracked. */
PAN_TEST(metrics_fp_fn_frag)
{
    pan_mot_seq gt = {0}, res = {0};
    pan_mot_metrics m;
    for (int f = 1; f <= 3; f++) add(&gt, f, 1, 0, 0, 10, 10);
    add(&res, 1, 1, 0, 0, 10, 10);
    add(&res, 2, 1, 5, 0, 10, 10);
    add(&res, 3, 1, 0, 0, 10, 10);
    add(&res, 3, 2, 200, 200, 10, 10);
    ASSERT_OK(eval(&gt, &res, &m));
    ASSERT_EQ(m.tp, 2);
    ASSERT_EQ(m.fn, 1);
    ASSERT_EQ(m.fp, 2);
    ASSERT_EQ(m.idsw, 0);
    ASSERT_NEAR(m.mota, 0.0, 1e-12);
    ASSERT_NEAR(m.motp, 1.0, 1e-12);
    ASSERT_EQ(m.idtp, 2);
    ASSERT_NEAR(m.idf1, 4.0 / 7.0, 1e-12);
    ASSERT_EQ(m.frag, 1);
    ASSERT_EQ(m.pt, 1);
    ASSERT_EQ(m.mt, 0);
    pan_mot_seq_free(&gt), pan_mot_seq_free(&res);
}

/* An ID switch across a gap: id 1 in frame 1, nothing in frame 2, id 2 in frame 3.
 * TP 2, FN 1, IDSW 1 -> MOTA = (2 - 0 - 1) / 3. */
PAN_TEST(metrics_switch_across_gap)
{
    pan_mot_seq gt = {0}, res = {0};
    pan_mot_metrics m;
    for (int f = 1; f <= 3; f++) add(&gt, f, 1, 0, 0, 10, 10);
    add(&res, 1, 1, 0, 0, 10, 10);
    add(&res, 3, 2, 0, 0, 10, 10);
    ASSERT_OK(eval(&gt, &res, &m));
    ASSERT_EQ(m.idsw, 1);
    ASSERT_EQ(m.fn, 1);
    ASSERT_NEAR(m.mota, 1.0 / 3.0, 1e-12);
    pan_mot_seq_free(&gt), pan_mot_seq_free(&res);
}

/* CLEAR keeps last frame's pair when still valid, even if a swap would give more IoU.
 * gt A at x=0, B at x=2 (10x10). Frame 1: res 1 on A, res 2 on B (exact). Frame 2: res 1 at x=2,
 * res 2 at x=0: swapping would give IoU 1 + 1, keeping gives 8/12 + 8/12, both >= 0.5, so the
 * pairs are kept: no switch (without the bonus there would be 2). */
PAN_TEST(metrics_continuity_bonus)
{
    pan_mot_seq gt = {0}, res = {0};
    pan_mot_metrics m;
    for (int f = 1; f <= 2; f++) add(&gt, f, 1, 0, 0, 10, 10), add(&gt, f, 2, 2, 0, 10, 10);
    add(&res, 1, 1, 0, 0, 10, 10), add(&res, 1, 2, 2, 0, 10, 10);
    add(&res, 2, 1, 2, 0, 10, 10), add(&res, 2, 2, 0, 0, 10, 10);
    ASSERT_OK(eval(&gt, &res, &m));
    ASSERT_EQ(m.idsw, 0);
    ASSERT_EQ(m.tp, 4);
    ASSERT_NEAR(m.motp, (1.0 + 1.0 + 8.0 / 12 + 8.0 / 12) / 4, 1e-9);
    pan_mot_seq_free(&gt), pan_mot_seq_free(&res);
}

/* One frame, IoU exactly 0.5: matched for alpha 0.05..0.50 (10 of 19 thresholds, DetA = AssA = 1),
 * not above (DetA = 0). HOTA = 10/19. */
PAN_TEST(metrics_hota_localisation)
{
    pan_mot_seq gt = {0}, res = {0};
    pan_mot_metrics m;
    add(&gt, 1, 1, 0, 0, 10, 10);
    add(&res, 1, 1, 0, 0, 10, 5);
    ASSERT_OK(eval(&gt, &res, &m));
    ASSERT_NEAR(m.hota, 10.0 / 19.0, 1e-9);
    ASSERT_NEAR(m.hota_alpha[9], 1.0, 1e-9);
    ASSERT_NEAR(m.hota_alpha[10], 0.0, 1e-9);
    ASSERT_EQ(m.tp, 1); /* CLEAR at IoU >= 0.5 */
    pan_mot_seq_free(&gt), pan_mot_seq_free(&res);
}

/* MOTChallenge pre-processing: a zero-marked gt row is not evaluated (a result on it is an FP),
 * a result on a distractor (class 7, static person) is dropped, other classes are ignored. */
PAN_TEST(metrics_mot_preprocess)
{
    pan_mot_seq gt = {0}, res = {0};
    pan_mot_metrics m;
    pan_mot_row zero = {1, 2, 100, 0, 10, 10, 0.f, 1, 1.f}, dis = {1, 3, 200, 0, 10, 10, 1.f, 7, 1.f};
    add(&gt, 1, 1, 0, 0, 10, 10);
    pan_mot_seq_push(&gt, &zero);
    pan_mot_seq_push(&gt, &dis);
    add(&res, 1, 1, 0, 0, 10, 10);
    add(&res, 1, 2, 100, 0, 10, 10);
    add(&res, 1, 3, 200, 0, 10, 10);
    ASSERT_OK(eval(&gt, &res, &m));
    ASSERT_EQ(m.gt_dets, 1);
    ASSERT_EQ(m.res_dets, 2);
    ASSERT_EQ(m.tp, 1);
    ASSERT_EQ(m.fp, 1);
    ASSERT_EQ(m.fn, 0);
    pan_mot_eval_params p = pan_mot_eval_params_default();
    p.mot_preprocess = 0;
    ASSERT_OK(pan_mot_evaluate(&gt, &res, &p, &m));
    ASSERT_EQ(m.tp, 3);
    ASSERT_EQ(m.fp, 0);
    pan_mot_seq_free(&gt), pan_mot_seq_free(&res);
}

PAN_TEST(metrics_duplicate_id_is_error)
{
    pan_mot_seq gt = {0}, res = {0};
    pan_mot_metrics m;
    add(&gt, 1, 1, 0, 0, 10, 10);
    add(&res, 1, 4, 0, 0, 10, 10);
    add(&res, 1, 4, 50, 0, 10, 10);
    ASSERT_EQ(eval(&gt, &res, &m), PAN_CORRUPT);
    pan_mot_seq_free(&gt), pan_mot_seq_free(&res);
}

/* Files go to the tests' temp folder (media.h), not the build folder: the GPU machine runs these
 * programs where no build folder exists. */
static const char *write_tmp(const char *name, const char *text)
{
    static char path[8][512];
    static int k;
    char *p = path[k++ & 7];
    snprintf(p, 512, "%s/%s", pan_test_tmpdir(), name);
    FILE *f = fopen(p, "w");
    if (f) fputs(text, f), fclose(f);
    return p;
}

PAN_TEST(mot_read_and_errors)
{
    pan_mot_seq s;
    char err[256];
    const char *ok = write_tmp("mot-ok.txt", "# comment\n2,1,10,20,30,40,0.9,-1,-1,-1\n\n"
                                             "1,3,1.5,2,3,4,1,1,0.25\r\n1,-1,0,0,5,5,0.3,\n");
    ASSERT_OK(pan_mot_read(ok, &s, err, sizeof err));
    ASSERT_EQ(s.n, 3);
    ASSERT_EQ(s.n_frames, 2);
    ASSERT_EQ(s.rows[0].frame, 1); /* sorted by frame, file order within a frame */
    ASSERT_EQ(s.rows[0].id, 3);
    ASSERT_EQ(s.rows[0].cls, 1);
    ASSERT_NEAR(s.rows[0].vis, 0.25, 1e-6);
    ASSERT_EQ(s.rows[1].id, -1);
    ASSERT_EQ(s.rows[2].cls, -1);
    ASSERT_EQ(s.frame_start[2], 2);
    pan_mot_seq_free(&s);

    const char *bad = write_tmp("mot-bad.txt", "1,1,0,0,5,5,1\n1,2,0,0,5,5,1\n1,3,zero,0,5,5,1\n");
    ASSERT_EQ(pan_mot_read(bad, &s, err, sizeof err), PAN_CORRUPT);
    ASSERT_TRUE(strstr(err, "mot-bad.txt:3:") != NULL);
    ASSERT_TRUE(strstr(err, "field 3") != NULL);
    const char *few = write_tmp("mot-few.txt", "1,1,0,0,5\n");
    ASSERT_EQ(pan_mot_read(few, &s, err, sizeof err), PAN_CORRUPT);
    ASSERT_TRUE(strstr(err, ":1:") != NULL);
    const char *fr0 = write_tmp("mot-fr0.txt", "0,1,0,0,5,5,1\n");
    ASSERT_EQ(pan_mot_read(fr0, &s, err, sizeof err), PAN_CORRUPT);
    ASSERT_TRUE(strstr(err, "1-based") != NULL);
    ASSERT_EQ(pan_mot_read("/nonexistent/x.txt", &s, err, sizeof err), PAN_NOTFOUND);
    ASSERT_TRUE(strstr(err, "/nonexistent/x.txt") != NULL);
}

/* The MOT sink writes 1-based frames, confirmed tracks only, flushed per frame: readable while
 * the sink is still open (as after an interrupted run). */
PAN_TEST(mot_sink_roundtrip)
{
    char path[512], buf[512], want[512];
    pan_mot_sink *s = NULL;
    pan_mot_seq seq;
    char err[256];
    snprintf(want, sizeof want, "%s/sink.txt", pan_test_tmpdir());
    ASSERT_OK(pan_mot_sink_path(path, sizeof path, want, 0, 1));
    ASSERT_STREQ(path, want);
    ASSERT_OK(pan_mot_sink_path(buf, sizeof buf, "out/tracks.txt", 2, 3));
    ASSERT_STREQ(buf, "out/tracks-cam2.txt");
    ASSERT_OK(pan_mot_sink_path(buf, sizeof buf, "cam%d/mot.txt", 1, 3));
    ASSERT_STREQ(buf, "cam1/mot.txt");
    ASSERT_OK(pan_mot_sink_path(buf, sizeof buf, "a.b/tracks", 0, 2));
    ASSERT_STREQ(buf, "a.b/tracks-cam0");
    ASSERT_EQ(pan_mot_sink_path(buf, 4, "long-name.txt", 0, 1), PAN_RANGE);

    ASSERT_OK(pan_mot_sink_create(&s, path));
    pan_track_report r[3] = {{4, 1, 0, 0.9f, {10, 20, 40, 100}, PAN_TRACK_CONFIRMED},
                             {5, 2, 0, 0.8f, {50, 20, 80, 100}, PAN_TRACK_LOST},
                             {6, 3, 0, 0.7f, {90, 20, 120, 100}, PAN_TRACK_CONFIRMED}};
    ASSERT_OK(pan_mot_sink_write(s, 0, r, 3));
    ASSERT_OK(pan_mot_sink_write(s, 1, r, 1));
    ASSERT_OK(pan_mot_sink_write(s, 2, NULL, 0));
    ASSERT_OK(pan_mot_read(path, &seq, err, sizeof err)); /* before destroy: already on disk */
    ASSERT_EQ(seq.n, 3);
    ASSERT_EQ(seq.rows[0].frame, 1);
    ASSERT_EQ(seq.rows[0].id, 4);
    ASSERT_NEAR(seq.rows[0].x, 10, 1e-3);
    ASSERT_NEAR(seq.rows[0].w, 30, 1e-3);
    ASSERT_NEAR(seq.rows[0].h, 80, 1e-3);
    ASSERT_EQ(seq.rows[1].id, 6);
    ASSERT_EQ(seq.rows[2].frame, 2);
    pan_mot_seq_free(&seq);
    pan_mot_sink_destroy(&s);
    ASSERT_TRUE(s == NULL);
    pan_mot_sink_destroy(&s);
    ASSERT_EQ(pan_mot_sink_create(&s, "/nonexistent-dir/x.txt"), PAN_NOTFOUND);
}

PAN_TEST_MAIN(metrics_perfect, metrics_id_switch, metrics_fp_fn_frag, metrics_switch_across_gap,
              metrics_continuity_bonus, metrics_hota_localisation, metrics_mot_preprocess,
              metrics_duplicate_id_is_error, mot_read_and_errors, mot_sink_roundtrip)
