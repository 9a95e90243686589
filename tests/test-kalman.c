/* Kalman filter on boxes: convergence on a constant-velocity target, covariance symmetry and
 * shrinkage, size-freezing of lost tracks, gating distance. */
#include <stdint.h>

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

/* Reference: the textbook dense filter (8x8 matrices, S inverted by Gauss-Jordan), to check the
 * per-block form in kalman.c step for step. */
static void ref_predict(double m[8], double P[64], double w, double h, int freeze)
{
    double F[64] = {0}, FP[64], Q[8], sw[4] = {w, h, w, h};
    if (freeze) m[6] = m[7] = 0;
    for (int i = 0; i < 8; i++) F[i * 8 + i] = 1;
    for (int i = 0; i < 4; i++) F[i * 8 + i + 4] = 1;
    for (int i = 0; i < 4; i++) Q[i] = pow(nz.pos * sw[i], 2), Q[i + 4] = pow(nz.vel * sw[i], 2);
    double mm[8];
    for (int i = 0; i < 8; i++) {
        mm[i] = 0;
        for (int k = 0; k < 8; k++) mm[i] += F[i * 8 + k] * m[k];
    }
    memcpy(m, mm, sizeof mm);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            FP[i * 8 + j] = 0;
            for (int k = 0; k < 8; k++) FP[i * 8 + j] += F[i * 8 + k] * P[k * 8 + j];
        }
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            double v = 0;
            for (int k = 0; k < 8; k++) v += FP[i * 8 + k] * F[j * 8 + k];
            P[i * 8 + j] = v + (i == j ? Q[i] : 0);
        }
}

static void ref_update(double m[8], double P[64], const double z[4])
{
    double S[16], Si[16] = {0}, K[32], sw[4] = {m[2], m[3], m[2], m[3]};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) S[i * 4 + j] = P[i * 8 + j] + (i == j ? pow(nz.pos * sw[i], 2) : 0);
    for (int i = 0; i < 4; i++) Si[i * 4 + i] = 1;
    for (int c = 0; c < 4; c++) { /* Gauss-Jordan, S is SPD: no pivoting needed */
        double d = S[c * 4 + c];
        for (int j = 0; j < 4; j++) S[c * 4 + j] /= d, Si[c * 4 + j] /= d;
        for (int r = 0; r < 4; r++) {
            if (r == c) continue;
            double f = S[r * 4 + c];
            for (int j = 0; j < 4; j++) S[r * 4 + j] -= f * S[c * 4 + j], Si[r * 4 + j] -= f * Si[c * 4 + j];
        }
    }
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) {
            K[i * 4 + j] = 0;
            for (int k = 0; k < 4; k++) K[i * 4 + j] += P[i * 8 + k] * Si[k * 4 + j];
        }
    double y[4], KHP[64];
    for (int j = 0; j < 4; j++) y[j] = z[j] - m[j];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) m[i] += K[i * 4 + j] * y[j];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            KHP[i * 8 + j] = 0;
            for (int k = 0; k < 4; k++) KHP[i * 8 + j] += K[i * 4 + k] * P[k * 8 + j];
        }
    for (int k = 0; k < 64; k++) P[k] -= KHP[k];
}

PAN_TEST(kalman_matches_dense_reference)
{
    pan__kf kf;
    double z[4] = {300, 200, 40, 100}, m[8] = {0}, P[64] = {0};
    uint32_t x = 12345;
    pan__kf_init(&kf, &nz, z);
    memcpy(m, kf.mean, sizeof m);
    memcpy(P, kf.cov, sizeof P);
    for (int f = 1; f <= 200; f++) {
        int freeze = f % 17 == 0;
        ref_predict(m, P, m[2], m[3], freeze);
        pan__kf_predict(&kf, &nz, freeze);
        if (f % 5 != 0) { /* some frames without a measurement */
            x = x * 1664525u + 1013904223u;
            double jit = (double)(x >> 8) / 16777216.0 - 0.5;
            double zz[4] = {300 + 2.0 * f + 3 * jit, 200 - 0.5 * f - 2 * jit, 40 + jit, 100 + 0.1 * f};
            ref_update(m, P, zz);
            ASSERT_OK(pan__kf_update(&kf, &nz, zz));
        }
        for (int i = 0; i < 8; i++) ASSERT_NEAR(kf.mean[i], m[i], 1e-9 * (1 + fabs(m[i])));
        for (int k = 0; k < 64; k++) ASSERT_NEAR(kf.cov[k], P[k], 1e-9 * (1 + fabs(P[k])));
    }
}

PAN_TEST_MAIN(kalman_init_is_measurement, kalman_matches_dense_reference, kalman_learns_velocity, kalman_update_shrinks_uncertainty,
              kalman_freeze_size_for_lost, kalman_gating_distance, kalman_box_conversions)
