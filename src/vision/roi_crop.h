/* Internal: ROI crop geometry and the CUDA crop/descriptor launchers (src/vision/roi_crop.cu),
 * callable from C. Semantics: src/vision/reid.h ("Crop geometry"); cpu twin roi_crop.c. */
#ifndef PANOPTES_VISION_ROI_CROP_H
#define PANOPTES_VISION_ROI_CROP_H

#include <stdint.h>

#include "vision/display_rotation.h"

#ifndef __CUDACC__ /* frame.h (C11 atomics) is not for nvcc */
#include "vision/reid.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Where crop pixel (X, Y) samples the source: u = x0 + (X − ox + 0.5) / sx − 0.5 (v likewise),
 * for X in [ox, ox + nw), Y in [oy, oy + nh); padding elsewhere. */
typedef struct pan__roi_geom {
    float x0, y0, sx, sy, ox, oy;
    int nw, nh;
} pan__roi_geom;

#ifndef __CUDACC__
/* Clamps the box to a w x h frame (at least one pixel each way; a non-finite box becomes the
 * frame's top-left pixel) and computes the crop geometry for p. */
void pan__roi_geometry(const float box[4], int w, int h, const pan_roi_params *p, pan__roi_geom *g);
/* pan_roi_crop_cpu for crop columns [X0, X1) and rows [Y0, Y1) only; the rest of out is left as it
 * was (the default descriptor reads a part of its crop). */
pan_status pan__roi_crop_cpu_region(const pan_frame *f, const float box[4], const pan_roi_params *p, float *out,
                                    int X0, int X1, int Y0, int Y1);
#endif

/* One crop of a batch for the kernel: the frame's planes (as pan_pp_image in preprocess_cuda.h:
 * NV12 has cr = cb + 1 and c_step 2), colour and the crop geometry. ~96 bytes. */
typedef struct pan__roi_desc {
    const uint8_t *y, *cb, *cr;
    int pitch_y, pitch_c, c_step;
    int w, h, cw, ch;
    float yoff, yscale, cscale, kr, kb; /* as pan_pp_image */
    pan__roi_geom g;   /* in displayed pixels (boxes are) */
    pan__rot_map rot;  /* displayed -> stored position (display_rotation.h) */
} pan__roi_desc;

/* What all crops share. */
typedef struct pan__roi_batch {
    int width, height;
    int nhwc, bgr;
    int half;      /* 1: FP16 output, 0: FP32 */
    float mean[3], inv_std[3], pad[3];
} pan__roi_batch;

#ifndef __CUDACC__
/* Descriptor of one crop of a device frame (PAN_RESIDENCY for a host frame; the caller checks
 * the planes with pan_gpu_check_device_ptr and waits for the frame with pan_gpu_frame_wait). */
pan_status pan__roi_describe(const pan_frame *f, const float box[4], const pan_roi_params *p, pan__roi_desc *d);
/* The batch constants for p; half: FP16 output (else FP32). */
void pan__roi_batch_init(const pan_roi_params *p, int half, pan__roi_batch *b);
#endif

/* ONE launch for n crops: out holds n·3·W·H values (FP16 or FP32), crop i at i·3·W·H. descs is a
 * device array. Returns a cudaError_t (0 = launched). */
int pan__roi_crop_launch(const pan__roi_desc *descs, int n, const pan__roi_batch *b, void *out, void *stream);
/* Default descriptor of n crops of PAN__DESC_W x PAN__DESC_H (reid_desc.h) FP32 RGB NHWC (0–255): one block
 * per crop, out n x PAN__DESC_DIM floats, L2-normalised. */
int pan__reid_desc_launch(const float *crops, int n, float *out, void *stream);
/* L2-normalises n rows of d values (FP16 or FP32 in) into FP32 out (n x d). */
int pan__l2norm_launch(const void *in, int half, int n, int d, float *out, void *stream);

#ifdef __cplusplus
}
#endif
#endif
