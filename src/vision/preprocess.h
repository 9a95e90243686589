/* Preprocessing: a decoded YUV frame becomes a detector input tensor in one pass.
 *
 * Exact semantics, shared by the cpu reference (preprocess.c) and the CUDA kernel
 * (preprocess.cu), which must agree within ±1 on the 0–255 scale:
 *
 * 1. Geometry. With keep_ratio, s = min(W/w, H/h), the content is nw = round(w·s) by
 *    nh = round(h·s) pixels placed at ox = floor((W − nw)/2), oy = floor((H − nh)/2) (centred
 *    letterbox); the rest is pad_value. Without keep_ratio, nw = W, nh = H, ox = oy = 0 (stretch).
 *    Per-axis scales are sx = nw/w, sy = nh/h (pan_letterbox).
 * 2. Sampling. Output pixel (X, Y) of the content area reads the source at
 *    u = (X − ox + 0.5)/sx − 0.5, v = (Y − oy + 0.5)/sy − 0.5 (pixel centres aligned, like
 *    OpenCV's INTER_LINEAR / half_pixel_centers), bilinear, clamped to the edge. Luma is sampled
 *    at (u, v); chroma (4:2:0, centre-sited) at ((u + 0.5)/2 − 0.5, (v + 0.5)/2 − 0.5) in the
 *    chroma plane, also bilinear. No antialiasing when downscaling (as cv2.resize bilinear).
 * 3. Colour. Y'CbCr → R'G'B' with the frame's matrix (BT.601 or BT.709) and range (limited:
 *    Y in 16..235, C in 16..240; full: 0..255), each channel clamped to [0, 255] (not rounded).
 * 4. Normalisation. out = (value − mean[c]) / std[c], channels in the model's order
 *    (RGB or BGR), mean/std given in that order on the 0–255 scale. Padding pixels hold
 *    (pad_value − mean[c]) / std[c].
 * 5. Layout. NCHW (planar) or NHWC (interleaved) for one image; batch index outermost.
 * 6. Rotation. A frame with a display rotation (pan_frame.rotation) is processed as displayed:
 *    w and h above are the displayed size (pan_frame_display_size), (u, v) a displayed position,
 *    read from the stored planes through src/vision/display_rotation.h's map; the letterbox,
 *    and so the boxes mapped back through it, are in displayed pixels. */
#ifndef PANOPTES_PREPROCESS_H
#define PANOPTES_PREPROCESS_H

#include "panoptes/frame.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pan_channel_order { PAN_CHANNELS_RGB = 0, PAN_CHANNELS_BGR } pan_channel_order;
typedef enum pan_layout { PAN_LAYOUT_NCHW = 0, PAN_LAYOUT_NHWC } pan_layout;

typedef struct pan_preprocess_params {
    int width, height;           /* model input W, H */
    pan_channel_order channels;
    float mean[3], std[3];       /* in output channel order, 0–255 scale; std 0 is taken as 1 */
    pan_layout layout;
    int keep_ratio;              /* 1: centred letterbox, 0: stretch */
    float pad_value;             /* 0–255, before normalisation (NanoDet: 0 = black) */
} pan_preprocess_params;

/* Mapping between source pixels and model input pixels: model = source·scale + offset. */
typedef struct pan_letterbox {
    float scale_x, scale_y;
    float offset_x, offset_y;
    int content_w, content_h; /* nw, nh */
    int src_w, src_h;
} pan_letterbox;

void pan_letterbox_compute(int src_w, int src_h, const pan_preprocess_params *p, pan_letterbox *lb);
/* Maps a box [x1,y1,x2,y2] from model input pixels back to source pixels, clamped to the frame. */
void pan_letterbox_unmap_box(const pan_letterbox *lb, float box[4]);

/* Reference implementation: one host frame into `out` (W·H·3 floats, layout as requested). */
pan_status pan_preprocess_cpu(const pan_frame *frame, const pan_preprocess_params *p, float *out, pan_letterbox *lb);
/* Same, producing interleaved 8-bit RGB of the displayed size (no letterbox, no normalisation;
 * the rotation applied): for tests. rgb has width·height·3 bytes. */
pan_status pan_frame_to_rgb_cpu(const pan_frame *frame, uint8_t *rgb);

/* Converts one Y'CbCr sample (0–255 floats) to R'G'B' clamped to [0,255] per steps 3 above. */
void pan_yuv_to_rgb(float y, float cb, float cr, pan_color_matrix m, pan_color_range r, float rgb[3]);

#ifdef __cplusplus
}
#endif
#endif
