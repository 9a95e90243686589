/* Kalman filter on boxes: convergence on a constant-velocity target, covariance symmetry and
 * shrinkage, size-freezing of lost tracks, gating distance. */
#include "panoptes/status.h"
#include "test.h"
#include "track/track_impl.h"

static const pan__kf_noise nz = {1.0 / 20, 1.0 / 160};

PAN_TEST(kalman_init_is_measurement)
{
    pan__kf kf;
    double z[4] = {100, 200, 40, 80};
    pan__kf_init(&kf, &nz, z);
    for (int i = 0; i < 4; i++) ASSERT_NEAR(kf.mean[i], z[i], 0);
    for (int i = 4; i < 8; i++) ASSERT_NEAR(kf.mean[i], 0, 0);
    /* std of cx at birth: 2 * w / 20 = 4 px -> variance 16 */
    ASSERT_NEAR(kf.cov[0], 16.0, 1e-12);
    ASSERT_NEAR(kf.cov[1 * 8 + 1], 64.0, 1e-12);
}

PAN_TEST(kalman_learns_velocity)
{
    pan__kf kf;
    double z[4] = {100, 200, 40, 80};
    pan__kf_init(&kf, &nz, z);
    for (int f = 1; f <= 60; f++) {
        pan__kf_predict(&kf, &nz, 0);
        double m[4] = {100 + 3.0 * f, 200 - 1.5 * f, 40, 80};
        ASSERT_OK(pan__kf_update(&kf, &nz, m));
    }
    ASSERT_NEAR(kf.mean[4], 3.0, 0.05);
    ASSERT_NEAR(kf.mean[5], -1.5, 0.05);
    ASSERT_NEAR(kf.mean[0], 280.0, 0.5);
    /* Prediction without measurement carries on along the line. */
    pan__kf_predict(&kf, &nz, 0);
    ASSERT_NEAR(kf.mean[0], 283.0, 0.6);
    ASSERT_NEAR(kf.mean[1], 200 - 1.5 * 61, 0.6);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) ASSERT_NEAR(kf.cov[i * 8 + j], kf.cov[j * 8 + i], 1e-9);
    for (int i = 0; i < 8; i++) ASSERT_TRUE(kf.cov[i * 8 + i] > 0);
}

PAN_TEST(kalman_update_shrinks_uncertainty)
{
    pan__kf kf;
    double z[4] = {50, 50, 20, 40};
    pan__kf_init(&kf, &nz, z);
    pan__kf_predict(&kf, &nz, 0);
    double before = kf.cov[0];
    ASSERT_OK(pan__kf_update(&kf, &nz, z));
    ASSERT_TRUE(kf.cov[0] < before);
    /* Measurement halfway between: state moves towards it, not past it. */
    double z2[4] = {60, 50, 20, 40};
    pan__kf_predict(&kf, &nz, 0);
    ASSERT_OK(pan__kf_update(&kf, &nz, z2));
    ASSERT_TRUE(kf.mean[0] > 50 && kf.mean[0] < 60);
}

PAN_TEST(kalman_freeze_size_for_lost)
{
    pan__kf kf;
    double z[4] = {50, 50, 20, 40};
    pan__kf_init(&kf, &nz, z);
    kf.mean[6] = 2.0;
    kf.mean[7] = 4.0;
    pan__kf_predict(&kf, &nz, 1);
    ASSERT_NEAR(kf.mean[2], 20.0, 0);
    ASSERT_NEAR(kf.mean[3], 40.0, 0);
}

PAN_TEST(kalman_gating_distance)
{
    pan__kf kf;
    double z[4] = {50, 50, 20, 40};
    pan__kf_init(&kf, &nz, z);
    ASSERT_NEAR(pan__kf_gating_distance(&kf, &nz, z), 0.0, 1e-12);
    double near[4] = {51, 50, 20, 40}, far[4] = {150, 50, 20, 40};
    ASSERT_TRUE(pan__kf_gating_distance(&kf, &nz, near) < 9.4877);
    ASSERT_TRUE(pan__kf_gating_distance(&kf, &nz, far) > 9.4877);
}

PAN_TEST(kalman_box_conversions)
{
    float b[4] = {10, 20, 50, 100}, back[4];
    double z[4];
    pan__box_to_xywh(b, z);
    ASSERT_NEAR(z[0], 30, 0);
    ASSERT_NEAR(z[1], 60, 0);
    ASSERT_NEAR(z[2], 40, 0);
    ASSERT_NEAR(z[3], 80, 0);
    pan__xywh_to_box(z, back);
    for (int i = 0; i < 4; i++) ASSERT_NEAR(back[i], b[i], 0);
    float c[4] = {30, 20, 70, 100}; /* half overlap: inter 20x80, union 2*3200-1600 */
    ASSERT_NEAR(pan__box_iou(b, c), 1600.0 / 4800.0, 1e-6);
    float d[4] = {60, 20, 70, 100};
    ASSERT_NEAR(pan__box_iou(b, d), 0, 0);
}

PAN_TEST_MAIN(kalman_init_is_measurement, kalman_learns_velocity, kalman_update_shrinks_uncertainty,
              kalman_freeze_size_for_lost, kalman_gating_distance, kalman_box_conversions)
