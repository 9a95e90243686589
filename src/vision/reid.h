/* Person re-identification: an appearance embedding for each detection, for the trackers and the
 * global identities (track.h uses pan_detection.embedding where it is set).
 *
 * Two kinds of descriptor:
 *  - a user ONNX ReID model (OSNet/torchreid style): each box is cut from the frame and resized
 *    to the model's input (crop_width x crop_height from its [B, 3, H, W] input; stretched by
 *    default, as torchreid's transforms do), RGB normalised with ImageNet's mean
 *    [0.485, 0.456, 0.406]·255 and std [0.229, 0.224, 0.225]·255, run by the engine (cpu FP32,
 *    or cuda FP16 with a dynamic batch), and its output [B, D] L2-normalised.
 *  - the default descriptor (no model), in the spirit of NvDCF's colour features: the box is
 *    sampled on a 32 x 64 (w x h) grid (the same crop, unnormalised RGB), and for its upper body
 *    (rows 6..31 of 64: below the head) and lower body (rows 32..59: above the feet), central
 *    24 of 32 columns (less background), a soft HSV histogram: 8 hues x 3 saturations for
 *    coloured pixels plus 8 brightness levels for grey ones (a pixel is split between the two by
 *    its saturation and brightness; bins are linearly interpolated). Each half's histogram is
 *    normalised to sum 1 and square-rooted, so the dot product of two descriptors is the mean
 *    Bhattacharyya coefficient of the halves; the 64 values are L2-normalised (on the GPU in
 *    cuda runs, src/vision/reid_desc.h has the per-pixel formula shared by host and GPU). Then,
 *    on the host (64 floats per box), the descriptor is centred on its camera's running mean
 *    (plain mean of the first 512 descriptors, then an EMA with that window, updated with each
 *    call's boxes before they are centred) and L2-normalised again: raw colour histograms of
 *    different people are alike (mean cosine 0.75 on the sample), centred ones are not (−0.05),
 *    while the same person stays at 0.6..0.8 (tests/test-reid-eval.c): the scale the tracker's
 *    appearance gate expects. A centred descriptor is relative to its camera's scene, so it
 *    suits tracking within a camera, not a gallery search across cameras: the pipeline gives
 *    the global identities embeddings only from a ReID model.
 *
 * Crop geometry (both kinds), as src/vision/preprocess.h with the box as the source:
 * box [x1, y1, x2, y2] in source pixels (continuous, detection.h), clamped to the frame, at least
 * one pixel wide and high. Stretch: sx = W / (x2 − x1), sy = H / (y2 − y1), output pixel (X, Y)
 * samples u = x1 + (X + 0.5) / sx − 0.5, v = y1 + (Y + 0.5) / sy − 0.5. Keep-aspect: s = min(sx,
 * sy), content nw = round(bw·s) x nh = round(bh·s) centred at ox = floor((W − nw)/2), oy likewise,
 * u = x1 + (X − ox + 0.5)/s − 0.5; the rest is pad_value. Sampling (bilinear, edge-clamped luma,
 * centre-sited 4:2:0 chroma), colour (BT.601/709, limited/full range) and normalisation follow
 * preprocess.h exactly; the cpu crop (roi_crop.c) and the CUDA kernel (roi_crop.cu) agree within
 * ±1 on the 0–255 scale.
 *
 * Which detections get an embedding: those with score >= min_score (the pipeline passes the
 * tracker's high_thresh, 0.5: the tracker reads embeddings of high-score detections only, so
 * embedding the 0.1..0.5 rescue candidates would be wasted work); the others get NULL.
 *
 * Memory: embeddings are owned by the pan_reid and valid until its next pan_reid_embed (or
 * destroy). In cuda runs crops, engine tensors and the normalisation stay on the GPU; only the
 * embeddings (D floats per detection: kilobytes per batch) are copied to the host.
 *
 * Thread safety: one pan_reid serves one thread at a time. */
#ifndef PANOPTES_REID_H
#define PANOPTES_REID_H

#include "panoptes/backend.h"
#include "panoptes/detection.h"
#include "panoptes/frame.h"
#include "vision/postprocess.h" /* pan_detection_list */
#include "vision/preprocess.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Length of the default descriptor. */
#define PAN_REID_DEFAULT_DIM 64
/* Size of the default descriptor's crop (width x height). */
#define PAN_REID_DEFAULT_CROP_W 32
#define PAN_REID_DEFAULT_CROP_H 64

typedef struct pan_reid pan_reid;

typedef struct pan_reid_params {
    const char *model_path; /* ONNX ReID model (input [B,3,H,W], output [B,D]); NULL = default descriptor */
    pan_backend backend;    /* CPU (host frames) or CUDA (device frames); AUTO = CPU */
    int max_crops;          /* most crops per engine run (its max batch); 0 = 256 (cuda), 32 (cpu).
                               More detections in one call are done in several runs. */
    int crop_width, crop_height; /* 0 = the model's input (default descriptor: 32 x 64) */
    int keep_aspect;        /* 1: letterbox the box into the crop (pad_value); 0: stretch (torchreid) */
    float pad_value;        /* 0–255, keep_aspect only (0) */
    int device;             /* CUDA ordinal */
    int threads;            /* cpu engine threads; 0 = all cores (max 8) */
    float min_score;        /* detections below get no embedding; 0 = all */
    /* cuda with a model: the engine is planned (seconds per batch size) for 8, 32, 128 crops and
     * max_crops, and each run pads to the next of them; 1 = plan max_crops only and pad every run
     * to it (benchmarks of one batch size). */
    int single_batch;
    const char *cache_dir;  /* the engine's plan cache (pan_engine_params.cache_dir): NULL = default, "off" */
    /* Only grows at the end; zero-initialise. */
} pan_reid_params;

pan_status pan_reid_create(pan_reid **r, const pan_reid_params *params);
/* NULL-safe; sets *r to NULL. */
void pan_reid_destroy(pan_reid **r);

/* Embeds every detection (score >= min_score) of lists[i], the detections of frames[i], and sets
 * its .embedding / .embedding_dim (others: NULL / 0). Frames must live where the backend works
 * (cpu: host, cuda: device; PAN_RESIDENCY otherwise). Returns when the embeddings are on the host. */
pan_status pan_reid_embed(pan_reid *r, pan_frame *const *frames, int n, pan_detection_list *lists);

/* Embedding length D; "default" or the model path. */
int pan_reid_dim(const pan_reid *r);
const char *pan_reid_name(const pan_reid *r);
/* Crop size in pixels. */
void pan_reid_crop_size(const pan_reid *r, int *width, int *height);

/* ---- ROI crops (exposed for tests and benchmarks) ----------------------------------------- */

typedef struct pan_roi_params {
    int width, height;          /* crop W, H */
    int keep_aspect;
    float pad_value;            /* 0–255 */
    pan_channel_order channels;
    float mean[3], std[3];      /* output channel order, 0–255 scale; std 0 = 1 */
    pan_layout layout;          /* of one crop: NCHW planes or NHWC */
} pan_roi_params;

/* The OSNet/torchreid normalisation (RGB, ImageNet mean/std on the 0–255 scale), stretch, NCHW. */
pan_roi_params pan_roi_params_torchreid(int width, int height);

/* cpu reference: crop `box` of a host frame into out (3·W·H floats, layout p->layout). */
pan_status pan_roi_crop_cpu(const pan_frame *frame, const float box[4], const pan_roi_params *p, float *out);

/* The default descriptor of one crop: rgb is PAN_REID_DEFAULT_CROP_W x _H pixels, NHWC, RGB,
 * 0–255 (pan_roi_crop_cpu with mean 0, std 1); out receives PAN_REID_DEFAULT_DIM floats. */
void pan_reid_default_descriptor(const float *rgb, float *out);

#ifdef __cplusplus
}
#endif
#endif
