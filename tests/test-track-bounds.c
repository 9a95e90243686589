/* Track boxes stay inside the frame (issue #16, item 7). The Kalman filter carries a track's
 * velocity past the border where its detections stop (the detector clamps them to the frame), so
 * the filtered box of someone walking out used to end up to 3 px past the right edge of the
 * sample. Reports are clamped to [0, width] x [0, height] when the frame size is known; the
 * filter's own state is not (it still predicts where the object went). */
#include "panoptes/track.h"
#include "test.h"

static pan_detection det(float x1, float y1, float x2, float y2)
{
    pan_detection d = {{x1, y1, x2, y2}, 0.9f, 0, NULL, 0};
    return d;
}

static int inside(const float b[4], float w, float h)
{
    return b[0] >= 0.f && b[1] >= 0.f && b[2] <= w && b[3] <= h && b[0] <= b[2] && b[1] <= b[3];
}

/* Walks a 40x100 box at 6 px/frame into the right and bottom edges, then leaves it there (as a
 * detector that clamps to the frame reports someone half out of view) and returns to the left
 * and top edges: every reported box must lie in the frame. */
PAN_TEST(track_reports_stay_inside_the_frame)
{
    const int W = 320, H = 240;
    pan_tracker_params p = pan_tracker_params_default();
    p.frame_width = W;
    p.frame_height = H;
    p.report_lost = 1; /* lost tracks report the predicted box: the one most likely to overshoot */
    pan_tracker *t = NULL;
    pan_track_report r[8];
    int n, reported = 0, outside = 0;
    ASSERT_OK(pan_tracker_create(&t, &p));
    for (int f = 0; f < 80; f++) {
        float x2 = 200.f + 6.f * f, y2 = 150.f + 6.f * f;
        if (f >= 50) x2 = 40.f - 6.f * (f - 50), y2 = 100.f - 6.f * (f - 50); /* back to the left/top */
        float x1 = x2 - 40.f, y1 = y2 - 100.f;
        pan_detection d = det(x1 < 0 ? 0 : x1, y1 < 0 ? 0 : y1, x2 > W ? W : x2, y2 > H ? H : y2);
        int nd = (f % 7 == 6) ? 0 : 1; /* now and then a missed frame: a lost track's prediction */
        if (d.box[2] - d.box[0] < 4 || d.box[3] - d.box[1] < 4) nd = 0;
        n = 0;
        (void)pan_tracker_update(t, &d, nd, r, 8, &n);
        for (int i = 0; i < n; i++) {
            if (!inside(r[i].box, (float)W, (float)H) && outside++ == 0)
                fprintf(stderr, "  frame %d: track %lld box [%.2f, %.2f, %.2f, %.2f] leaves the %dx%d frame\n", f,
                        (long long)r[i].id, r[i].box[0], r[i].box[1], r[i].box[2], r[i].box[3], W, H);
            reported++;
        }
    }
    pan_tracker_destroy(&t);
    ASSERT_EQ(outside, 0);
    ASSERT_GE(reported, 20);
}

/* Without a frame size (the `track` command on detections with no seqinfo) nothing is clamped:
 * MOTChallenge ground truth itself has boxes that leave the image. */
PAN_TEST(track_reports_unclamped_without_frame_size)
{
    pan_tracker *t = NULL;
    pan_track_report r[4];
    int n = 0;
    ASSERT_OK(pan_tracker_create(&t, NULL));
    for (int f = 0; f < 3; f++) {
        pan_detection d = det(-10.f, 5.f, 30.f, 105.f);
        ASSERT_OK(pan_tracker_update(t, &d, 1, r, 4, &n));
    }
    pan_tracker_destroy(&t);
    ASSERT_EQ(n, 1);
    ASSERT_LE(r[0].box[0], -5.f);
}

PAN_TEST_MAIN(track_reports_stay_inside_the_frame, track_reports_unclamped_without_frame_size)
