/* Internal: the default appearance descriptor's per-pixel soft binning, one inline function
 * compiled for the host (reid.c) and for the GPU (roi_crop.cu), so both compute the same thing.
 * See src/vision/reid.h for the descriptor as a whole.
 *
 * A pixel (R, G, B on 0–255) votes with total weight 1:
 *   chroma weight c = clamp((s − 0.15) / 0.15) · clamp((v − 30) / 30), with v = max(R,G,B),
 *   s = (max − min) / max: saturated and not too dark pixels have a hue worth trusting;
 *   c goes to 8 hue bins (circular, linear between the two nearest bin centres) x 3 saturation
 *   bins (linear in (s − 0.15) / 0.85 · 2, clamped), bins 8 + hue·3 + sat;
 *   1 − c goes to 8 brightness bins 0..7 (linear in v / 255 · 7).
 * At most 2 + 4 bins are touched; their indices and weights go to idx[]/w[]. */
#ifndef PANOPTES_VISION_REID_DESC_H
#define PANOPTES_VISION_REID_DESC_H

#ifdef __CUDACC__
#define PAN__HD __host__ __device__ __forceinline__
#else
#define PAN__HD static inline
#endif

/* = PAN_REID_DEFAULT_CROP_W, _CROP_H, _DIM of reid.h (checked in roi_crop.c) */
#define PAN__DESC_W 32
#define PAN__DESC_H 64
#define PAN__DESC_DIM 64
#define PAN__DESC_HALF_BINS 32 /* 8 grey + 8 hues x 3 saturations */
/* Sampled region of the 32 x 64 crop: columns [4, 28), upper rows [6, 32), lower rows [32, 60). */
#define PAN__DESC_X0 4
#define PAN__DESC_X1 28
#define PAN__DESC_UY0 6
#define PAN__DESC_MID 32
#define PAN__DESC_LY1 60

PAN__HD float pan__desc_clamp01(float x) { return x < 0.f ? 0.f : x > 1.f ? 1.f : x; }

/* Returns the number of (idx, w) pairs written (<= 6). */
PAN__HD int pan__desc_bins(float r, float g, float b, int idx[6], float w[6])
{
    float mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
    float mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
    float v = mx, s = mx > 0.f ? (mx - mn) / mx : 0.f;
    float c = pan__desc_clamp01((s - 0.15f) / 0.15f) * pan__desc_clamp01((v - 30.f) / 30.f);
    int k = 0;
    /* grey part: brightness 0..7 */
    float gv = v * (7.f / 255.f);
    int g0 = (int)gv;
    if (g0 > 6) g0 = 6;
    float ga = gv - (float)g0;
    if (ga > 1.f) ga = 1.f;
    idx[k] = g0, w[k++] = (1.f - c) * (1.f - ga);
    idx[k] = g0 + 1, w[k++] = (1.f - c) * ga;
    if (c > 0.f) {
        /* hue in [0, 6) sextants, as HSV; 8 bins with centres at h = (i + 0.5) · 6/8 */
        float d = mx - mn, h;
        if (mx == r) h = (g - b) / d;
        else if (mx == g) h = 2.f + (b - r) / d;
        else h = 4.f + (r - g) / d;
        if (h < 0.f) h += 6.f;
        float hb = h * (8.f / 6.f) - 0.5f; /* in [-0.5, 7.5) */
        float hf = hb < 0.f ? -1.f : (float)(int)hb;
        float ha = hb - hf;
        int h0 = ((int)hf + 8) % 8, h1 = (h0 + 1) % 8;
        float sb = pan__desc_clamp01((s - 0.15f) / 0.85f) * 2.f; /* 0..2 */
        int s0 = (int)sb;
        if (s0 > 1) s0 = 1;
        float sa = sb - (float)s0;
        idx[k] = 8 + h0 * 3 + s0, w[k++] = c * (1.f - ha) * (1.f - sa);
        idx[k] = 8 + h0 * 3 + s0 + 1, w[k++] = c * (1.f - ha) * sa;
        idx[k] = 8 + h1 * 3 + s0, w[k++] = c * ha * (1.f - sa);
        idx[k] = 8 + h1 * 3 + s0 + 1, w[k++] = c * ha * sa;
    }
    return k;
}

#endif
