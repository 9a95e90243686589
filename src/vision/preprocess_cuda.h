/* Internal: the batched preprocessing kernel's launcher (src/vision/preprocess.cu), callable from C.
 * Semantics are those of src/vision/preprocess.h; the cpu twin is src/vision/preprocess.c. */
#ifndef PANOPTES_PREPROCESS_CUDA_H
#define PANOPTES_PREPROCESS_CUDA_H

#include <stdint.h>

#include "vision/display_rotation.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One source image of the batch, in device memory (an array of these is read by the kernel).
 * Planes: luma w x h at `y` (pitch_y bytes per row); chroma (4:2:0) cw x ch samples where Cb of
 * chroma sample (i, j) is cb[j·pitch_c + i·c_step] and Cr is cr[...] likewise: NV12 has
 * cr = cb + 1 and c_step = 2, YUV420P has separate planes and c_step = 1. */
typedef struct pan_pp_image {
    const uint8_t *y, *cb, *cr;
    int pitch_y, pitch_c, c_step;
    int w, h, cw, ch;
    /* letterbox (pan_letterbox) of the displayed picture: content at [ox, ox + nw) x [oy, oy + nh)
     * of the output; displayed position u = (X − ox + 0.5)/sx − 0.5 */
    float ox, oy, sx, sy;
    int nw, nh;
    /* colour: limited range maps Y by (y − yoff)·yscale and C by (c − 128)·cscale */
    float yoff, yscale, cscale;
    float kr, kb; /* matrix coefficients (BT.601: .299/.114, BT.709: .2126/.0722) */
    /* display rotation: the letterbox above frames the displayed picture; its position (u, v)
     * reads the stored planes at rot(u, v) (display_rotation.h; identity without rotation) */
    pan__rot_map rot;
} pan_pp_image;

/* What every image of the batch shares: the model input. */
typedef struct pan_pp_batch {
    int width, height;   /* W, H of the output */
    int nhwc;            /* 0: NCHW planes, 1: NHWC interleaved */
    int bgr;             /* channel 0 is B instead of R */
    float mean[3];       /* output channel order, 0–255 scale */
    float inv_std[3];
    float pad[3];        /* normalised value of padding pixels per output channel */
} pan_pp_batch;

/* Launches ONE kernel for n images on `stream` (cudaStream_t). `images` is a device array of n
 * descriptors; out is n·3·W·H FP16 values (image i at out + i·3·W·H). Returns a cudaError_t
 * (0 = launched). */
int pan__preprocess_launch(const pan_pp_image *images, int n, const pan_pp_batch *batch, void *out, void *stream);

#ifdef __cplusplus
}
#endif
#endif
