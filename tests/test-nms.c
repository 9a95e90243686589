/* NMS: hand-made cases for IoU, per-class suppression, thresholds, top-k and tie order. */
#include "vision/postprocess.h"
#include "panoptes/status.h"
#include "test.h"

static void push(pan_detection_list *l, float x1, float y1, float x2, float y2, float s, int c)
{
    pan_detection_list_reserve(l, l->count + 1);
    pan_detection *d = &l->items[l->count++];
    memset(d, 0, sizeof *d);
    d->box[0] = x1, d->box[1] = y1, d->box[2] = x2, d->box[3] = y2;
    d->score = s;
    d->class_id = c;
}

PAN_TEST(iou_values)
{
    float a[4] = {0, 0, 10, 10}, b[4] = {5, 0, 15, 10}, c[4] = {20, 20, 30, 30}, z[4] = {1, 1, 1, 1};
    ASSERT_NEAR(pan_box_iou(a, a), 1.0, 1e-7);
    ASSERT_NEAR(pan_box_iou(a, b), 50.0 / 150.0, 1e-7); /* no +1 in areas */
    ASSERT_NEAR(pan_box_iou(a, c), 0.0, 0);
    ASSERT_NEAR(pan_box_iou(z, z), 0.0, 0); /* empty union: 0, not NaN */
}

PAN_TEST(suppresses_within_class_only)
{
    pan_detection_list l = {0};
    push(&l, 0, 0, 10, 10, 0.9f, 0);
    push(&l, 1, 0, 11, 10, 0.8f, 0);  /* IoU 0.818 with the first: suppressed */
    push(&l, 1, 0, 11, 10, 0.85f, 2); /* same box, other class: kept */
    push(&l, 50, 50, 60, 60, 0.5f, 0);
    pan_nms_params p = {.iou_threshold = 0.6f};
    pan_nms(&l, &p);
    ASSERT_EQ(l.count, 3);
    ASSERT_NEAR(l.items[0].score, 0.9, 1e-7);
    ASSERT_EQ(l.items[1].class_id, 2);
    ASSERT_NEAR(l.items[2].score, 0.5, 1e-7);
    pan_detection_list_free(&l);
}

PAN_TEST(class_agnostic)
{
    pan_detection_list l = {0};
    push(&l, 0, 0, 10, 10, 0.9f, 0);
    push(&l, 1, 0, 11, 10, 0.85f, 2);
    pan_nms_params p = {.iou_threshold = 0.6f, .class_agnostic = 1};
    pan_nms(&l, &p);
    ASSERT_EQ(l.count, 1);
    ASSERT_EQ(l.items[0].class_id, 0);
    pan_detection_list_free(&l);
}

PAN_TEST(threshold_is_strict)
{
    /* IoU exactly 0.5 (a [0,10]x[0,10] vs [0,10]x[0,...]): suppressed only when IoU > thr. */
    pan_detection_list l = {0};
    push(&l, 0, 0, 10, 10, 0.9f, 0);
    push(&l, 0, 0, 10, 5, 0.8f, 0); /* inter 50, union 100 */
    pan_nms_params p = {.iou_threshold = 0.5f};
    pan_nms(&l, &p);
    ASSERT_EQ(l.count, 2);
    l.count = 0;
    push(&l, 0, 0, 10, 10, 0.9f, 0);
    push(&l, 0, 0, 10, 5, 0.8f, 0);
    p.iou_threshold = 0.49f;
    pan_nms(&l, &p);
    ASSERT_EQ(l.count, 1);
    pan_detection_list_free(&l);
}

PAN_TEST(chain_is_greedy)
{
    /* A suppresses B; B would have suppressed C, but B is gone so C stays. */
    pan_detection_list l = {0};
    push(&l, 0, 0, 10, 10, 0.9f, 0);
    push(&l, 3, 0, 13, 10, 0.8f, 0); /* IoU(A,B) = 70/130 = 0.54 */
    push(&l, 6, 0, 16, 10, 0.7f, 0); /* IoU(A,C) = 40/160 = 0.25, IoU(B,C) = 0.54 */
    pan_nms_params p = {.iou_threshold = 0.5f};
    pan_nms(&l, &p);
    ASSERT_EQ(l.count, 2);
    ASSERT_NEAR(l.items[1].box[0], 6, 0);
    pan_detection_list_free(&l);
}

PAN_TEST(top_k_and_order)
{
    pan_detection_list l = {0};
    for (int i = 0; i < 10; i++) push(&l, 20.f * i, 0, 20.f * i + 10, 10, 0.1f * (float)(i % 5), i % 3);
    pan_nms_params p = {.iou_threshold = 0.5f, .top_k = 4};
    pan_nms(&l, &p);
    ASSERT_EQ(l.count, 4);
    for (int i = 1; i < l.count; i++) ASSERT_LE(l.items[i].score, l.items[i - 1].score);
    /* ties (0.4 at i=4 and i=9): class 0 (i=9) before class 1 (i=4) */
    ASSERT_EQ(l.items[0].class_id, 0);
    ASSERT_NEAR(l.items[0].box[0], 180, 0);
    ASSERT_EQ(l.items[1].class_id, 1);
    pan_detection_list_free(&l);
}

PAN_TEST(deterministic_under_permutation)
{
    pan_detection_list a = {0}, b = {0};
    float boxes[6][4] = {{0, 0, 10, 10}, {2, 2, 12, 12}, {1, 1, 11, 11}, {30, 0, 40, 10}, {31, 0, 41, 10}, {0, 0, 10, 10}};
    int order[6] = {5, 3, 1, 0, 4, 2};
    for (int i = 0; i < 6; i++) push(&a, boxes[i][0], boxes[i][1], boxes[i][2], boxes[i][3], 0.5f, 0);
    for (int i = 0; i < 6; i++) {
        int k = order[i];
        push(&b, boxes[k][0], boxes[k][1], boxes[k][2], boxes[k][3], 0.5f, 0);
    }
    pan_nms_params p = {.iou_threshold = 0.5f};
    pan_nms(&a, &p);
    pan_nms(&b, &p);
    ASSERT_EQ(a.count, b.count);
    ASSERT_EQ(a.count, 3); /* duplicate and (1,1,11,11) (IoU 0.68) go; (2,2,12,12) (IoU 0.47) stays */
    ASSERT_TRUE(!memcmp(a.items, b.items, (size_t)a.count * sizeof *a.items));
    ASSERT_NEAR(a.items[0].box[0], 0, 0); /* equal scores: smallest x1 first */
    pan_detection_list_free(&a);
    pan_detection_list_free(&b);
}

PAN_TEST(nan_scores_dropped_and_empty)
{
    pan_detection_list l = {0};
    pan_nms(&l, NULL);
    ASSERT_EQ(l.count, 0);
    push(&l, 0, 0, 10, 10, NAN, 0);
    push(&l, 0, 0, 10, 10, 0.3f, 0);
    pan_nms(&l, NULL);
    ASSERT_EQ(l.count, 1);
    ASSERT_NEAR(l.items[0].score, 0.3, 1e-7);
    pan_detection_list_free(&l);
    pan_detection_list_free(NULL);
}

PAN_TEST(list_reuse_no_realloc)
{
    pan_detection_list l = {0};
    ASSERT_OK(pan_detection_list_reserve(&l, 100));
    pan_detection *p = l.items;
    int cap = l.capacity;
    ASSERT_OK(pan_detection_list_reserve(&l, 50));
    ASSERT_TRUE(p == l.items);
    ASSERT_EQ(cap, l.capacity);
    pan_detection_list_free(&l);
    ASSERT_TRUE(l.items == NULL);
}

PAN_TEST_MAIN(iou_values, suppresses_within_class_only, class_agnostic, threshold_is_strict, chain_is_greedy,
              top_k_and_order, deterministic_under_permutation, nan_scores_dropped_and_empty, list_reuse_no_realloc)
