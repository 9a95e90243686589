/* Constant-velocity Kalman filter on boxes, BoT-SORT's xywh form (see track_impl.h).
 * dt is one frame: F = [[I4, I4], [0, I4]], H = [I4, 0]. */
#include <math.h>
#include <string.h>

#include "track/track_impl.h"

void pan__box_to_xywh(const float box[4], double z[4])
{
    z[2] = (double)box[2] - box[0];
    z[3] = (double)box[3] - box[1];
    z[0] = box[0] + z[2] * 0.5;
    z[1] = box[1] + z[3] * 0.5;
}

void pan__xywh_to_box(const double z[4], float box[4])
{
    box[0] = (float)(z[0] - z[2] * 0.5);
    box[1] = (float)(z[1] - z[3] * 0.5);
    box[2] = (float)(z[0] + z[2] * 0.5);
    box[3] = (float)(z[1] + z[3] * 0.5);
}

/* Per-component std for (cx, cy, w, h) given the box size: x-like terms scale with w, y-like with h. */
static void size_std(double w, double h, double k, double s[4])
{
    s[0] = k * w;
    s[1] = k * h;
    s[2] = k * w;
    s[3] = k * h;
}

/* Structure that makes this cheap: F couples each component only with its own velocity (i with
 * i+4), H picks the positions, and P0, Q and R are diagonal. So P stays block-diagonal: four
 * independent 2x2 blocks [[P(i,i), P(i,i+4)], [P(i+4,i), P(i+4,i+4)]], and the innovation
 * covariance S is diagonal. Each step below is the full 8-state filter's, written per block
 * (exactly equal; entries outside the blocks stay 0). */
#define P00(i) kf->cov[(i) * 8 + (i)]
#define P01(i) kf->cov[(i) * 8 + (i) + 4]
#define P10(i) kf->cov[((i) + 4) * 8 + (i)]
#define P11(i) kf->cov[((i) + 4) * 8 + (i) + 4]

void pan__kf_init(pan__kf *kf, const pan__kf_noise *nz, const double z[4])
{
    double sp[4], sv[4];
    memset(kf, 0, sizeof *kf);
    for (int i = 0; i < 4; i++) kf->mean[i] = z[i];
    /* Position uncertain by about 2 noise units, velocity by 10 (unknown at birth). */
    size_std(z[2], z[3], 2.0 * nz->pos, sp);
    size_std(z[2], z[3], 10.0 * nz->vel, sv);
    for (int i = 0; i < 4; i++) {
        P00(i) = sp[i] * sp[i];
        P11(i) = sv[i] * sv[i];
    }
}

void pan__kf_predict(pan__kf *kf, const pan__kf_noise *nz, int freeze_size)
{
    double sp[4], sv[4];
    double *m = kf->mean;
    if (freeze_size) m[6] = m[7] = 0.0;
    size_std(m[2], m[3], nz->pos, sp);
    size_std(m[2], m[3], nz->vel, sv);
    for (int i = 0; i < 4; i++) {
        m[i] += m[i + 4];
        /* [[1,1],[0,1]] P [[1,0],[1,1]] + Q */
        double p00 = P00(i), p01 = P01(i), p11 = P11(i);
        P00(i) = p00 + 2.0 * p01 + p11 + sp[i] * sp[i];
        P01(i) = P10(i) = p01 + p11;
        P11(i) = p11 + sv[i] * sv[i];
    }
}

/* Innovation variances S(i) = P(i,i) + R(i); -1 if one is not positive (or NaN). */
static int innovation(const pan__kf *kf, const pan__kf_noise *nz, double s[4])
{
    double r[4];
    size_std(kf->mean[2], kf->mean[3], nz->pos, r);
    for (int i = 0; i < 4; i++) {
        s[i] = kf->cov[i * 8 + i] + r[i] * r[i];
        if (!(s[i] > 0.0)) return -1;
    }
    return 0;
}

pan_status pan__kf_update(pan__kf *kf, const pan__kf_noise *nz, const double z[4])
{
    double s[4];
    if (innovation(kf, nz, s)) return PAN_RANGE;
    for (int i = 0; i < 4; i++) {
        double p00 = P00(i), p01 = P01(i), p11 = P11(i);
        double k0 = p00 / s[i], k1 = p01 / s[i], innov = z[i] - kf->mean[i];
        kf->mean[i] += k0 * innov;
        kf->mean[i + 4] += k1 * innov;
        /* P -= K S K^T, per block: K = (k0, k1), S = s */
        P00(i) = p00 - k0 * p00;
        P01(i) = P10(i) = p01 - k0 * p01;
        P11(i) = p11 - k1 * p01;
    }
    return PAN_OK;
}

double pan__kf_gating_distance(const pan__kf *kf, const pan__kf_noise *nz, const double z[4])
{
    double s[4], acc = 0.0;
    if (innovation(kf, nz, s)) return INFINITY;
    for (int i = 0; i < 4; i++) {
        double d = z[i] - kf->mean[i];
        acc += d * d / s[i];
    }
    return acc;
}
