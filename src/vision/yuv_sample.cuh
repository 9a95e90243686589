// Device twin of src/vision/frame_sample.h: bilinear sampling of a decoder plane, shared by the
// preprocess kernel (preprocess.cu) and the ROI crop kernel (roi_crop.cu), so the detector's input
// and the ReID crops follow src/vision/preprocess.h's rules with the same arithmetic.
#ifndef PANOPTES_VISION_YUV_SAMPLE_CUH
#define PANOPTES_VISION_YUV_SAMPLE_CUH

#include <cuda_runtime.h>
#include <stdint.h>

namespace pan_yuv {

__device__ __forceinline__ int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
__device__ __forceinline__ float clampf(float v, float lo, float hi) { return fminf(fmaxf(v, lo), hi); }

// Bilinear sample at (u, v) in pixel-centre coordinates of a w x h plane; `step` bytes between
// horizontally adjacent samples (1 planar, 2 for NV12 chroma); edges clamped.
__device__ __forceinline__ float sample(const uint8_t *__restrict__ p, int pitch, int step, int w, int h, float u, float v)
{
    float fu = floorf(u), fv = floorf(v);
    float ax = u - fu, ay = v - fv;
    int x0 = (int)fu, y0 = (int)fv;
    int x1 = clampi(x0 + 1, 0, w - 1), y1 = clampi(y0 + 1, 0, h - 1);
    x0 = clampi(x0, 0, w - 1);
    y0 = clampi(y0, 0, h - 1);
    const uint8_t *r0 = p + (size_t)y0 * pitch, *r1 = p + (size_t)y1 * pitch;
    float a = __ldg(r0 + x0 * step), b = __ldg(r0 + x1 * step);
    float c = __ldg(r1 + x0 * step), d = __ldg(r1 + x1 * step);
    float top = a + ax * (b - a);
    float bot = c + ax * (d - c);
    return top + ay * (bot - top);
}

} // namespace pan_yuv

#endif
