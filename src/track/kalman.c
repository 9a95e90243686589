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

void pan__kf_init(pan__kf *kf, const pan__kf_noise *nz, const double z[4])
{
    double sp[4], sv[4];
    memset(kf, 0, sizeof *kf);
    for (int i = 0; i < 4; i++) kf->mean[i] = z[i];
    /* Position uncertain by about 2 noise units, velocity by 10 (unknown at birth). */
    size_std(z[2], z[3], 2.0 * nz->pos, sp);
    size_std(z[2], z[3], 10.0 * nz->vel, sv);
    for (int i = 0; i < 4; i++) {
        kf->cov[i * 8 + i] = sp[i] * sp[i];
        kf->cov[(i + 4) * 8 + i + 4] = sv[i] * sv[i];
    }
}

void pan__kf_predict(pan__kf *kf, const pan__kf_noise *nz, int freeze_size)
{
    double fp[64], sp[4], sv[4];
    double *m = kf->mean, *p = kf->cov;
    if (freeze_size) m[6] = m[7] = 0.0;
    size_std(m[2], m[3], nz->pos, sp);
    size_std(m[2], m[3], nz->vel, sv);
    for (int i = 0; i < 4; i++) m[i] += m[i + 4];
    /* P = F P F^T + Q, with F's blocks written out: row i of F P adds row i+4 for i < 4. */
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) fp[i * 8 + j] = p[i * 8 + j] + (i < 4 ? p[(i + 4) * 8 + j] : 0.0);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) p[i * 8 + j] = fp[i * 8 + j] + (j < 4 ? fp[i * 8 + j + 4] : 0.0);
    for (int i = 0; i < 4; i++) {
        p[i * 8 + i] += sp[i] * sp[i];
        p[(i + 4) * 8 + i + 4] += sv[i] * sv[i];
    }
}

/* Innovation covariance S = H P H^T + R (4x4) and its Cholesky factor L (lower, row-major). */
static int project_chol(const pan__kf *kf, const pan__kf_noise *nz, double s[16], double l[16])
{
    double r[4];
    size_std(kf->mean[2], kf->mean[3], nz->pos, r);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) s[i * 4 + j] = kf->cov[i * 8 + j] + (i == j ? r[i] * r[i] : 0.0);
    memset(l, 0, 16 * sizeof *l);
    for (int j = 0; j < 4; j++) {
        double d = s[j * 4 + j];
        for (int k = 0; k < j; k++) d -= l[j * 4 + k] * l[j * 4 + k];
        if (!(d > 0.0)) return -1; /* also catches NaN */
        l[j * 4 + j] = sqrt(d);
        for (int i = j + 1; i < 4; i++) {
            double v = s[i * 4 + j];
            for (int k = 0; k < j; k++) v -= l[i * 4 + k] * l[j * 4 + k];
            l[i * 4 + j] = v / l[j * 4 + j];
        }
    }
    return 0;
}

/* Solves L L^T x = b in place; rd holds the reciprocals of L's diagonal. */
static void chol_solve(const double l[16], const double rd[4], double b[4])
{
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < i; k++) b[i] -= l[i * 4 + k] * b[k];
        b[i] *= rd[i];
    }
    for (int i = 3; i >= 0; i--) {
        for (int k = i + 1; k < 4; k++) b[i] -= l[k * 4 + i] * b[k];
        b[i] *= rd[i];
    }
}

static void recip_diag(const double l[16], double rd[4])
{
    for (int i = 0; i < 4; i++) rd[i] = 1.0 / l[i * 4 + i];
}

pan_status pan__kf_update(pan__kf *kf, const pan__kf_noise *nz, const double z[4])
{
    double s[16], l[16], rd[4], k[32], innov[4];
    if (project_chol(kf, nz, s, l)) return PAN_RANGE;
    recip_diag(l, rd);
    /* Gain K = P H^T S^-1 (8x4): row i solves S k_i = (P H^T)_i, S being symmetric. */
    for (int i = 0; i < 8; i++) {
        double *ki = &k[i * 4];
        for (int j = 0; j < 4; j++) ki[j] = kf->cov[i * 8 + j];
        chol_solve(l, rd, ki);
    }
    for (int j = 0; j < 4; j++) innov[j] = z[j] - kf->mean[j];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) kf->mean[i] += k[i * 4 + j] * innov[j];
    /* P -= K S K^T = (P H^T) K^T; PH^T is read from the old P, so take it from a copy. */
    double pht[32];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) pht[i * 4 + j] = kf->cov[i * 8 + j];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            double v = 0.0;
            for (int c = 0; c < 4; c++) v += pht[i * 4 + c] * k[j * 4 + c];
            kf->cov[i * 8 + j] -= v;
        }
    /* Keep P exactly symmetric against rounding drift. */
    for (int i = 0; i < 8; i++)
        for (int j = i + 1; j < 8; j++) {
            double v = 0.5 * (kf->cov[i * 8 + j] + kf->cov[j * 8 + i]);
            kf->cov[i * 8 + j] = kf->cov[j * 8 + i] = v;
        }
    return PAN_OK;
}

double pan__kf_gating_distance(const pan__kf *kf, const pan__kf_noise *nz, const double z[4])
{
    double s[16], l[16], rd[4], d[4], x[4], acc = 0.0;
    if (project_chol(kf, nz, s, l)) return INFINITY;
    recip_diag(l, rd);
    for (int j = 0; j < 4; j++) d[j] = x[j] = z[j] - kf->mean[j];
    chol_solve(l, rd, x);
    for (int j = 0; j < 4; j++) acc += d[j] * x[j];
    return acc;
}
