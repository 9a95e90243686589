/* Detection postprocessing on the GPU: decode the model's raw outputs, threshold, class-wise
 * NMS and top-k for a whole batch, so only compact lists ([B, top_k, 6] floats) reach the host.
 * Same conventions as the cpu decoders in src/vision/postprocess.h (NanoDet GFL decode, the
 * dense-head decode of every other family (pan_head_decode), pan_box_iou, the total order of
 * pan_nms), checked against them in tests/test-gpu-postprocess.c and test-gpu-families.c.
 *
 * One difference, by design: the cpu NanoDet decode keeps the nms_pre (1000) best priors per
 * level before NMS; the GPU one keeps every prior above the score threshold. The two agree
 * whenever at most nms_pre priors of a level pass the threshold (at 0.35, dozens do); the kernel
 * counts the levels where more pass (`overflow`) so a caller can tell. */
#ifndef PANOPTES_VISION_POSTPROCESS_GPU_H
#define PANOPTES_VISION_POSTPROCESS_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "vision/postprocess.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PAN_GPU_POST_MAX_LEVELS 5
#define PAN_GPU_POST_CANDIDATES 2048 /* per image, before NMS */

typedef struct pan__gpu_post_params {
    int yolo;          /* 0: NanoDet (GFL), 1: a dense head (`head` below) */
    int half;          /* raw outputs are FP16 (1) or FP32 (0) */
    int batch;
    int num_classes;
    float score_threshold;
    float iou_threshold;
    int top_k;
    int nms_pre;       /* NanoDet: per-level limit the cpu decode applies (only counted here) */
    int input_w, input_h;
    uint32_t class_mask[4]; /* bit c = class c allowed (classes < 128); all ones = no filter */
    int filter;        /* 1 when class_mask applies */
    /* NanoDet: per level, [B, n, C] scores and [B, n, 4·(reg_max+1)] logits */
    int num_levels, reg_max;
    const void *cls[PAN_GPU_POST_MAX_LEVELS];
    const void *reg[PAN_GPU_POST_MAX_LEVELS];
    int level_n[PAN_GPU_POST_MAX_LEVELS], level_fw[PAN_GPU_POST_MAX_LEVELS], stride[PAN_GPU_POST_MAX_LEVELS];
    /* Dense head: the layout of pan_head_params (its score_threshold, nms and classes are not read:
     * the fields above are). head_tensor[t] is head tensor t of image 0; image b's starts
     * head_image_stride[t] · b elements further. head.nms_enabled 0: sort and cut to top_k only. */
    pan_head_params head;
    const void *head_tensor[PAN_HEAD_MAX_TENSORS];
    size_t head_image_stride[PAN_HEAD_MAX_TENSORS];
    /* YOLOv8/11 [B, 4+C, N] shorthand, used when head.num_rows is 0 */
    const void *yolo_out;
    int num_anchors;
    /* device work and result buffers (pan__gpu_post_buffer_bytes) */
    float *candidates;   /* [B, PAN_GPU_POST_CANDIDATES, 6] */
    int *counts;         /* [B] candidates, then [B] kept, then [1] overflow */
    float *out;          /* [B, top_k, 6]: x1, y1, x2, y2 (model-input pixels), score, class */
} pan__gpu_post_params;

/* Bytes of device memory for candidates / counts / out for a batch. */
size_t pan__gpu_post_candidates_bytes(int batch);
size_t pan__gpu_post_counts_bytes(int batch);
size_t pan__gpu_post_out_bytes(int batch, int top_k);
/* Queues the decode and NMS kernels on stream. Returns a cudaError_t (0 = success). */
int pan__gpu_post_launch(const pan__gpu_post_params *p, void *stream);

#ifdef __cplusplus
}
#endif
#endif
