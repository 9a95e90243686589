/* Regression guard on tracking quality: fixed-seed synthetic scenes (mot.h, synth.c) run through
 * the tracker with default parameters and scored with the MOTChallenge metrics. Fails if IDF1
 * drops below, or ID switches rise above, the values measured when this test was written
 * (2026-11-27). If a change improves them, raise the bars here in the same commit.
 * PAN_SYNTH_PRINT=1 prints the values without checking them. */
#include "track/mot.h"
#include "test.h"

typedef struct scene_case {
    const char *name;
    uint64_t seed;
    int emb_dim;
    double idf1_min, mota_min; /* today's values, rounded down at the 4th decimal */
    int64_t idsw_max;          /* today's value */
} scene_case;

static const scene_case cases[] = {
    /* measured 2026-11-27: IDF1 0.894207, IDSW 9, MOTA 0.882259 */
    {"seed 1, motion only", 1, 0, 0.8942, 0.8822, 9},
    /* measured 2026-11-27: IDF1 0.901643, IDSW 1, MOTA 0.871287 */
    {"seed 2, motion only", 2, 0, 0.9016, 0.8712, 1},
    /* measured 2026-11-27: IDF1 0.879140, IDSW 5, MOTA 0.841905 (motion only on this scene:
     * IDF1 0.8339, IDSW 7: the appearance term's gain is guarded too) */
    {"seed 5, embeddings 32-d", 5, 32, 0.8791, 0.8419, 5},
};

static int run_case(const scene_case *c, pan_mot_metrics *m)
{
    pan_synth_params sp = pan_synth_params_default();
    pan_mot_seq gt, det, res;
    sp.seed = c->seed;
    sp.emb_dim = c->emb_dim;
    int st = pan_synth_generate(&sp, &gt, &det);
    if (st) return st;
    st = pan_mot_track(&det, NULL, &res);
    if (!st) st = pan_mot_evaluate(&gt, &res, NULL, m);
    pan_mot_seq_free(&gt), pan_mot_seq_free(&det), pan_mot_seq_free(&res);
    return st;
}

PAN_TEST(synth_scene_is_deterministic)
{
    pan_synth_params sp = pan_synth_params_default();
    pan_mot_seq g1, d1, g2, d2;
    sp.emb_dim = 4;
    ASSERT_OK(pan_synth_generate(&sp, &g1, &d1));
    ASSERT_OK(pan_synth_generate(&sp, &g2, &d2));
    ASSERT_EQ(g1.n, g2.n);
    ASSERT_EQ(d1.n, d2.n);
    ASSERT_TRUE(!memcmp(g1.rows, g2.rows, g1.n * sizeof *g1.rows));
    ASSERT_TRUE(!memcmp(d1.rows, d2.rows, d1.n * sizeof *d1.rows));
    ASSERT_TRUE(!memcmp(d1.emb, d2.emb, d1.n * 4 * sizeof *d1.emb));
    ASSERT_TRUE(g1.n > 1000);
    /* The scene has what it claims: occlusion (visibility < 1), misses, false positives. */
    int occluded = 0;
    for (size_t i = 0; i < g1.n; i++) occluded += g1.rows[i].vis < 0.5f;
    ASSERT_TRUE(occluded > 50);
    pan_mot_seq_free(&g1), pan_mot_seq_free(&d1), pan_mot_seq_free(&g2), pan_mot_seq_free(&d2);
}

PAN_TEST(synth_tracking_quality_does_not_regress)
{
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const scene_case *c = &cases[k];
        pan_mot_metrics m;
        ASSERT_OK(run_case(c, &m));
        fprintf(stderr, "  %s: IDF1 %.6f IDSW %lld MOTA %.6f HOTA %.4f (FP %lld FN %lld, %lld gt boxes)\n",
                c->name, m.idf1, (long long)m.idsw, m.mota, m.hota, (long long)m.fp, (long long)m.fn,
                (long long)m.gt_dets);
        if (getenv("PAN_SYNTH_PRINT")) continue; /* measuring new reference values */
        ASSERT_GE(m.idf1, c->idf1_min);
        ASSERT_GE(m.mota, c->mota_min);
        ASSERT_LE(m.idsw, c->idsw_max);
    }
}

PAN_TEST_MAIN(synth_scene_is_deterministic, synth_tracking_quality_does_not_regress)
