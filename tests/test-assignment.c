/* Linear assignment (LAPJV-style shortest augmenting paths) against brute force on random small
 * rectangular matrices, with and without a cost limit and forbidden pairs. */
#include <stdint.h>

#include "panoptes/status.h"
#include "test.h"
#include "track/track_impl.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Best sum(cost - limit) over partial matchings, each row either unmatched or one unused column. */
static double brute(const double *c, int n, int m, double limit, int row, unsigned used)
{
    if (row == n) return 0.0;
    double best = brute(c, n, m, limit, row + 1, used); /* row unmatched */
    for (int j = 0; j < m; j++) {
        double v = c[row * m + j];
        if ((used >> j) & 1u || !(v <= limit)) continue;
        double s = (v - limit) + brute(c, n, m, limit, row + 1, used | (1u << j));
        if (s < best) best = s;
    }
    return best;
}

PAN_TEST(lap_matches_brute_force)
{
    pan__lap_ws ws = {0};
    double c[64];
    int r2c[8], c2r[8];
    for (int trial = 0; trial < 3000; trial++) {
        int n = 1 + (int)(rnd() * 6), m = 1 + (int)(rnd() * 6);
        double limit = trial % 3 == 0 ? 1e6 : 0.2 + rnd() * 0.8;
        for (int k = 0; k < n * m; k++) {
            c[k] = rnd();
            if (trial % 5 == 1 && rnd() < 0.3) c[k] = INFINITY; /* forbidden, e.g. other class */
            if (trial % 7 == 2) c[k] = (double)(int)(c[k] * 4) / 4; /* ties */
        }
        double total;
        ASSERT_OK(pan__lap_solve(&ws, c, n, m, limit, r2c, c2r, &total));
        double got = 0.0;
        int matched = 0;
        unsigned cols = 0;
        for (int i = 0; i < n; i++) {
            int j = r2c[i];
            if (j < 0) continue;
            ASSERT_TRUE(j < m);
            ASSERT_TRUE(!((cols >> j) & 1u));
            cols |= 1u << j;
            ASSERT_EQ(c2r[j], i);
            ASSERT_TRUE(c[i * m + j] <= limit);
            got += c[i * m + j] - limit;
            matched++;
        }
        for (int j = 0; j < m; j++)
            if (c2r[j] >= 0) ASSERT_EQ(r2c[c2r[j]], j);
        double want = brute(c, n, m, limit, 0, 0);
        if (fabs(got - want) > 1e-9) {
            fprintf(stderr, "  trial %d n=%d m=%d limit=%g matched=%d\n", trial, n, m, limit, matched);
            ASSERT_NEAR(got, want, 1e-9);
        }
    }
    pan__lap_ws_free(&ws);
}

PAN_TEST(lap_empty_and_limits)
{
    pan__lap_ws ws = {0};
    int r2c[3] = {7, 7, 7}, c2r[3] = {7, 7, 7};
    double c[6] = {0.1, 0.9, 0.95, 0.2, 0.5, 0.5};
    ASSERT_OK(pan__lap_solve(&ws, NULL, 0, 3, 1.0, NULL, c2r, NULL));
    ASSERT_EQ(c2r[0], -1);
    ASSERT_OK(pan__lap_solve(&ws, c, 3, 0, 1.0, r2c, NULL, NULL));
    ASSERT_EQ(r2c[2], -1);
    /* 3x2, limit 0.3: only the two cheap pairs survive, row 2 stays alone. */
    ASSERT_OK(pan__lap_solve(&ws, c, 3, 2, 0.3, r2c, c2r, NULL));
    ASSERT_EQ(r2c[0], 0);
    ASSERT_EQ(r2c[1], 1);
    ASSERT_EQ(r2c[2], -1);
    ASSERT_EQ(pan__lap_solve(&ws, c, 3, 2, INFINITY, r2c, c2r, NULL), PAN_INVAL);
    pan__lap_ws_free(&ws);
}

PAN_TEST(lap_larger_square_is_permutation)
{
    enum { N = 120 };
    pan__lap_ws ws = {0};
    static double c[N * N];
    static int r2c[N], c2r[N];
    for (int k = 0; k < N * N; k++) c[k] = rnd();
    ASSERT_OK(pan__lap_solve(&ws, c, N, N, 1e9, r2c, c2r, NULL));
    for (int i = 0; i < N; i++) {
        ASSERT_TRUE(r2c[i] >= 0);
        ASSERT_EQ(c2r[r2c[i]], i);
    }
    pan__lap_ws_free(&ws);
}

PAN_TEST_MAIN(lap_matches_brute_force, lap_empty_and_limits, lap_larger_square_is_permutation)
