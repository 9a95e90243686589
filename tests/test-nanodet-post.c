/* NanoDet postprocess on synthetic head outputs whose boxes are known in closed form. */
#include <stdlib.h>

#include "vision/postprocess.h"
#include "panoptes/status.h"
#include "test.h"

#define C 80
#define BINS 11

typedef struct outputs {
    float *cls[3], *reg[3];
    int n[3];
} outputs;

static void outputs_alloc(outputs *o, const pan_nanodet_params *p)
{
    for (int l = 0; l < 3; l++) {
        o->n[l] = pan_nanodet_level_size(p, l);
        o->cls[l] = calloc((size_t)o->n[l] * C, sizeof(float));
        o->reg[l] = calloc((size_t)o->n[l] * 4 * BINS, sizeof(float)); /* uniform: distance 5 bins */
    }
}

static void outputs_free(outputs *o)
{
    for (int l = 0; l < 3; l++) free(o->cls[l]), free(o->reg[l]);
}

/* A sharp distribution at bin k for each side (l, t, r, b). */
static void set_sides(outputs *o, int level, int prior, const int k[4])
{
    float *d = o->reg[level] + (size_t)prior * 4 * BINS;
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < BINS; i++) d[s * BINS + i] = i == k[s] ? 40.f : 0.f;
}

PAN_TEST(level_sizes)
{
    pan_nanodet_params p;
    pan_nanodet_params_default(&p);
    ASSERT_EQ(pan_nanodet_level_size(&p, 0), 2704);
    ASSERT_EQ(pan_nanodet_level_size(&p, 1), 676);
    ASSERT_EQ(pan_nanodet_level_size(&p, 2), 169);
    p.input_w = 420; /* ceil: 53, 27, 14 */
    ASSERT_EQ(pan_nanodet_level_size(&p, 2), 14 * 13);
}

PAN_TEST(known_boxes)
{
    pan_nanodet_params p;
    pan_nanodet_params_default(&p);
    outputs o;
    outputs_alloc(&o, &p);
    /* level 0 (stride 8): prior x=10, y=20 -> centre (84, 164); sides 3,4,5,6 bins -> 24,32,40,48 px */
    int a = 20 * 52 + 10;
    o.cls[0][(size_t)a * C + 0] = 0.9f;
    set_sides(&o, 0, a, (int[]){3, 4, 5, 6});
    /* level 2 (stride 32): prior x=12, y=0 -> centre (400, 16); l=1 bin, t=10 bins (clamped), r=2, b=1 */
    int b = 12;
    o.cls[2][(size_t)b * C + 5] = 0.7f;
    o.cls[2][(size_t)b * C + 6] = 0.2f; /* below threshold */
    set_sides(&o, 2, b, (int[]){1, 10, 2, 1});
    /* level 1 (stride 16): uniform logits -> distance 5·16 = 80 on every side around (8+16·3, 8+16·3) */
    int c = 3 * 26 + 3;
    o.cls[1][(size_t)c * C + 2] = 0.5f;
    pan_detection_list out = {0};
    pan_post_scratch sc = {0};
    ASSERT_OK(pan_nanodet_decode(&p, (const float *const *)o.cls, (const float *const *)o.reg, NULL, &out, &sc));
    ASSERT_EQ(out.count, 3);
    pan_detection *d = &out.items[0];
    ASSERT_EQ(d->class_id, 0);
    ASSERT_NEAR(d->score, 0.9, 1e-7);
    ASSERT_NEAR(d->box[0], 84 - 24, 1e-3);
    ASSERT_NEAR(d->box[1], 164 - 32, 1e-3);
    ASSERT_NEAR(d->box[2], 84 + 40, 1e-3);
    ASSERT_NEAR(d->box[3], 164 + 48, 1e-3);
    d = &out.items[1];
    ASSERT_EQ(d->class_id, 5);
    ASSERT_NEAR(d->box[0], 400 - 32, 1e-3);
    ASSERT_NEAR(d->box[1], 0, 1e-6);   /* 16 - 320 clamped */
    ASSERT_NEAR(d->box[2], 416, 1e-6); /* 400 + 64 clamped to W */
    ASSERT_NEAR(d->box[3], 16 + 32, 1e-3);
    d = &out.items[2];
    ASSERT_EQ(d->class_id, 2);
    ASSERT_NEAR(d->box[0], 0, 1e-6); /* 56 - 80 clamped */
    ASSERT_NEAR(d->box[2], 56 + 80, 1e-3);

    /* Class filter: only class 5. */
    uint8_t mask[10] = {0};
    mask[0] = 1 << 5;
    p.classes.mask = mask;
    p.classes.mask_bytes = 10;
    ASSERT_OK(pan_nanodet_decode(&p, (const float *const *)o.cls, (const float *const *)o.reg, NULL, &out, &sc));
    ASSERT_EQ(out.count, 1);
    ASSERT_EQ(out.items[0].class_id, 5);
    p.classes.mask = NULL;

    /* Letterbox of a 768x576 source: s = 416/768, content 416x312 at y offset 52. */
    pan_preprocess_params pp = {.width = 416, .height = 416, .keep_ratio = 1};
    pan_letterbox lb;
    pan_letterbox_compute(768, 576, &pp, &lb);
    ASSERT_OK(pan_nanodet_decode(&p, (const float *const *)o.cls, (const float *const *)o.reg, &lb, &out, &sc));
    ASSERT_EQ(out.count, 3);
    ASSERT_NEAR(out.items[0].box[0], 60.0 * 768 / 416, 1e-2);
    ASSERT_NEAR(out.items[0].box[1], (132.0 - 52) * 768 / 416, 1e-2);
    ASSERT_NEAR(out.items[1].box[1], 0, 1e-6); /* in the padding: clamped to the frame */
    pan_detection_list_free(&out);
    pan_post_scratch_free(&sc);
    outputs_free(&o);
}

PAN_TEST(per_level_top_k)
{
    pan_nanodet_params p;
    pan_nanodet_params_default(&p);
    outputs o;
    outputs_alloc(&o, &p);
    /* 1000 priors of class 0 at 0.5, one prior of class 7 at 0.4: with nms_pre 1000 the class-7
     * prior is cut before NMS (as torch.topk over max scores in the official code). */
    for (int i = 0; i < 1000; i++) o.cls[0][(size_t)(i + 1) * C] = 0.5f;
    o.cls[0][(size_t)2000 * C + 7] = 0.4f;
    pan_detection_list out = {0};
    pan_post_scratch sc = {0};
    ASSERT_OK(pan_nanodet_decode(&p, (const float *const *)o.cls, (const float *const *)o.reg, NULL, &out, &sc));
    for (int i = 0; i < out.count; i++) ASSERT_NE(out.items[i].class_id, 7);
    ASSERT_EQ(out.count, 100); /* max_det: more than 100 class-0 boxes survive NMS */
    p.nms_pre = 1001;
    p.nms.top_k = 0;
    ASSERT_OK(pan_nanodet_decode(&p, (const float *const *)o.cls, (const float *const *)o.reg, NULL, &out, &sc));
    int found = 0;
    for (int i = 0; i < out.count; i++) found += out.items[i].class_id == 7;
    ASSERT_EQ(found, 1);
    pan_detection_list_free(&out);
    pan_post_scratch_free(&sc);
    outputs_free(&o);
}

PAN_TEST(bad_params)
{
    pan_nanodet_params p;
    pan_nanodet_params_default(&p);
    pan_detection_list out = {0};
    pan_post_scratch sc = {0};
    p.num_levels = 9;
    const float *dummy[3] = {0};
    ASSERT_EQ(pan_nanodet_decode(&p, dummy, dummy, NULL, &out, &sc), PAN_INVAL);
    pan_nanodet_params_default(&p);
    ASSERT_EQ(pan_nanodet_decode(&p, dummy, dummy, NULL, &out, &sc), PAN_INVAL);
    pan_post_scratch_free(&sc);
}

PAN_TEST_MAIN(level_sizes, known_boxes, per_level_top_k, bad_params)
