/* Minimal test harness: each tests/test-*.c is one ctest executable holding several named cases.
 * Typed assertions print both values. A case calls PAN_SKIP("why") to skip (e.g. no GPU).
 * The file ends with PAN_TEST_MAIN(case1, case2, ...). Exit 0 = pass, 77 = all skipped. */
#ifndef PANOPTES_TEST_H
#define PANOPTES_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pan_test_ctx {
    int failed;
    int skipped;
} pan_test_ctx;

#define PAN_TEST(name) static void name(pan_test_ctx *pan__t)

#define PAN__FAIL(...)                                                 \
    do {                                                               \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);              \
        fprintf(stderr, __VA_ARGS__);                                  \
        fprintf(stderr, "\n");                                         \
        pan__t->failed = 1;                                            \
        return;                                                        \
    } while (0)

#define ASSERT_TRUE(c) do { if (!(c)) PAN__FAIL("ASSERT_TRUE(%s) failed", #c); } while (0)
#define ASSERT_EQ(a, b) do { long long pa_ = (long long)(a), pb_ = (long long)(b); \
    if (pa_ != pb_) PAN__FAIL("ASSERT_EQ(%s, %s): %lld != %lld", #a, #b, pa_, pb_); } while (0)
#define ASSERT_NE(a, b) do { long long pa_ = (long long)(a), pb_ = (long long)(b); \
    if (pa_ == pb_) PAN__FAIL("ASSERT_NE(%s, %s): both %lld", #a, #b, pa_); } while (0)
#define ASSERT_GE(a, b) do { double pa_ = (double)(a), pb_ = (double)(b); \
    if (!(pa_ >= pb_)) PAN__FAIL("ASSERT_GE(%s, %s): %g < %g", #a, #b, pa_, pb_); } while (0)
#define ASSERT_LE(a, b) do { double pa_ = (double)(a), pb_ = (double)(b); \
    if (!(pa_ <= pb_)) PAN__FAIL("ASSERT_LE(%s, %s): %g > %g", #a, #b, pa_, pb_); } while (0)
#define ASSERT_NEAR(a, b, tol) do { double pa_ = (double)(a), pb_ = (double)(b); \
    if (!(fabs(pa_ - pb_) <= (tol))) PAN__FAIL("ASSERT_NEAR(%s, %s, %g): %.9g vs %.9g", #a, #b, (double)(tol), pa_, pb_); } while (0)
#define ASSERT_STREQ(a, b) do { const char *pa_ = (a), *pb_ = (b); \
    if (!pa_ || !pb_ || strcmp(pa_, pb_)) PAN__FAIL("ASSERT_STREQ(%s, %s): \"%s\" vs \"%s\"", #a, #b, pa_ ? pa_ : "(null)", pb_ ? pb_ : "(null)"); } while (0)
#define ASSERT_OK(expr) do { int ps_ = (int)(expr); \
    if (ps_ != 0) PAN__FAIL("%s returned %d (%s)", #expr, ps_, pan_status_name(ps_)); } while (0)
#define PAN_SKIP(...) do { fprintf(stderr, "  skipped: "); fprintf(stderr, __VA_ARGS__); \
    fprintf(stderr, "\n"); pan__t->skipped = 1; return; } while (0)

/* For a missing reference peer (TF.js or ONNX Runtime under tests/peers/node_modules, Debian's
 * python3-onnx that builds the models they compare): skips, except under CI (CI=true or 1), where
 * scripts/setup.sh has installed every peer, so a missing one fails the case instead of letting a
 * comparison that never ran pass as skipped. */
static inline int pan_test_under_ci(void)
{
    const char *ci = getenv("CI");
    return ci && (!strcmp(ci, "true") || !strcmp(ci, "1"));
}
#define PAN_SKIP_PEER(...) do { if (pan_test_under_ci()) { fprintf(stderr, "  CI=true, so a missing peer fails: "); \
    PAN__FAIL(__VA_ARGS__); } PAN_SKIP(__VA_ARGS__); } while (0)

/* Path of a file under the source tree (PANOPTES_SOURCE_DIR is set by CMake). */
static inline const char *pan_test_path(const char *rel)
{
    static char buf[8][4096];
    static int slot;
    char *b = buf[slot++ & 7];
    snprintf(b, 4096, "%s/%s", PANOPTES_SOURCE_DIR, rel);
    return b;
}

typedef void (*pan__test_fn)(pan_test_ctx *);
#define PAN_TEST_MAIN(...)                                                              \
    int main(void)                                                                      \
    {                                                                                   \
        pan__test_fn fns[] = {__VA_ARGS__};                                             \
        const char *names = #__VA_ARGS__;                                               \
        int n = (int)(sizeof fns / sizeof fns[0]), passed = 0, failed = 0, skipped = 0; \
        char name[128];                                                                 \
        for (int i = 0; i < n; i++) {                                                   \
            size_t k = 0;                                                               \
            while (*names == ' ' || *names == ',') names++;                             \
            while (*names && *names != ',' && k < sizeof name - 1) name[k++] = *names++; \
            name[k] = 0;                                                                \
            pan_test_ctx t = {0, 0};                                                    \
            fns[i](&t);                                                                 \
            fprintf(stderr, "%s %s\n", t.failed ? "FAIL" : t.skipped ? "SKIP" : "ok  ", name); \
            if (t.failed) failed++;                                                     \
            else if (t.skipped) skipped++;                                              \
            else passed++;                                                              \
        }                                                                               \
        fprintf(stderr, "%d passed, %d failed, %d skipped\n", passed, failed, skipped); \
        if (failed) return 1;                                                           \
        return passed == 0 && skipped > 0 ? 77 : 0;                                     \
    }

#endif
