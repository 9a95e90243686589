/* cpu reference of the ROI crop (src/vision/reid.h, "Crop geometry") and of the default
 * appearance descriptor. The CUDA twins are in roi_crop.cu; tests/test-gpu-roi-crop.c compares. */
#include <math.h>
#include <string.h>

#include "vision/reid.h"
#include "vision/frame_sample.h"
#include "vision/reid_desc.h"
#include "vision/roi_crop.h"

_Static_assert(PAN__DESC_W == PAN_REID_DEFAULT_CROP_W && PAN__DESC_H == PAN_REID_DEFAULT_CROP_H &&
                   PAN__DESC_DIM == PAN_REID_DEFAULT_DIM && 2 * PAN__DESC_HALF_BINS == PAN_REID_DEFAULT_DIM,
               "the default descriptor's sizes in reid.h and reid_desc.h differ");

pan_roi_params pan_roi_params_torchreid(int width, int height)
{
    pan_roi_params p;
    memset(&p, 0, sizeof p);
    p.width = width;
    p.height = height;
    p.channels = PAN_CHANNELS_RGB;
    p.layout = PAN_LAYOUT_NCHW;
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    for (int c = 0; c < 3; c++) {
        p.mean[c] = mean[c] * 255.f;
        p.std[c] = std[c] * 255.f;
    }
    return p;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

void pan__roi_geometry(const float box[4], int w, int h, const pan_roi_params *p, pan__roi_geom *g)
{
    float x1 = box[0], y1 = box[1], x2 = box[2], y2 = box[3];
    if (!isfinite(x1) || !isfinite(y1) || !isfinite(x2) || !isfinite(y2)) x1 = y1 = 0.f, x2 = y2 = 1.f;
    x1 = clampf(x1, 0.f, (float)w);
    x2 = clampf(x2, 0.f, (float)w);
    y1 = clampf(y1, 0.f, (float)h);
    y2 = clampf(y2, 0.f, (float)h);
    /* at least one pixel: grow a degenerate box to the right/down, or left/up at the border */
    if (x2 - x1 < 1.f) x2 = x1 + 1.f <= (float)w ? x1 + 1.f : (float)w, x1 = x2 - 1.f;
    if (y2 - y1 < 1.f) y2 = y1 + 1.f <= (float)h ? y1 + 1.f : (float)h, y1 = y2 - 1.f;
    float bw = x2 - x1, bh = y2 - y1;
    g->x0 = x1;
    g->y0 = y1;
    g->sx = (float)p->width / bw;
    g->sy = (float)p->height / bh;
    g->ox = g->oy = 0.f;
    g->nw = p->width;
    g->nh = p->height;
    if (p->keep_aspect) {
        float s = fminf(g->sx, g->sy);
        int nw = (int)lroundf(bw * s), nh = (int)lroundf(bh * s);
        g->nw = nw < 1 ? 1 : nw > p->width ? p->width : nw;
        g->nh = nh < 1 ? 1 : nh > p->height ? p->height : nh;
        g->sx = g->sy = s;
        g->ox = (float)((p->width - g->nw) / 2);
        g->oy = (float)((p->height - g->nh) / 2);
    }
}

pan_status pan__roi_crop_cpu_region(const pan_frame *f, const float box[4], const pan_roi_params *p, float *out,
                                    int X0, int X1, int Y0, int Y1)
{
    if (!f || !box || !p || !out || p->width <= 0 || p->height <= 0 || f->width <= 0 || f->height <= 0) return PAN_INVAL;
    if (f->memory != PAN_MEMORY_HOST) return PAN_RESIDENCY;
    if (f->format != PAN_PIXFMT_NV12 && f->format != PAN_PIXFMT_YUV420P) return PAN_UNSUPPORTED;
    /* Boxes are in displayed pixels: the crop is cut from the frame as displayed. */
    pan__roi_geom g;
    int dw, dh;
    pan_frame_display_size(f, &dw, &dh);
    pan__roi_geometry(box, dw, dh, p, &g);
    float inv_std[3], pad[3];
    for (int c = 0; c < 3; c++) {
        inv_std[c] = p->std[c] != 0.f ? 1.f / p->std[c] : 1.f;
        pad[c] = (p->pad_value - p->mean[c]) * inv_std[c];
    }
    const int W = p->width, H = p->height, bgr = p->channels == PAN_CHANNELS_BGR;
    X0 = X0 < 0 ? 0 : X0, Y0 = Y0 < 0 ? 0 : Y0, X1 = X1 > W ? W : X1, Y1 = Y1 > H ? H : Y1;
    const size_t plane = (size_t)W * (size_t)H;
    /* an upright frame (the common case): each column's source positions once, then whole rows
     * (crop widths are small: on the stack) */
    const int upright = f->rotation == 0 && W <= 1024;
    pan__sample_tap lx[upright ? W : 1], cx[upright ? W : 1];
    float row[upright ? 3 * W : 3];
    const int in0 = (int)g.ox, in1 = (int)g.ox + g.nw; /* columns inside the resized box */
    const int ix0 = X0 > in0 ? X0 : in0, ix1 = X1 < in1 ? X1 : in1;
    if (upright)
        for (int X = ix0; X < ix1; X++) pan__frame_col_taps(f, g.x0 + ((float)X - g.ox + 0.5f) / g.sx - 0.5f, &lx[X], &cx[X]);
    for (int Y = Y0; Y < Y1; Y++) {
        float v = g.y0 + ((float)Y - g.oy + 0.5f) / g.sy - 0.5f;
        int row_in = Y >= (int)g.oy && Y < (int)g.oy + g.nh;
        if (row_in && upright && ix0 < ix1) pan__frame_sample_row_rgb(f, v, ix1 - ix0, lx + ix0, cx + ix0, row + 3 * ix0);
        for (int X = X0; X < X1; X++) {
            float val[3];
            if (row_in && X >= in0 && X < in1) {
                float rgb[3];
                if (upright) {
                    rgb[0] = row[3 * X], rgb[1] = row[3 * X + 1], rgb[2] = row[3 * X + 2];
                } else {
                    float u = g.x0 + ((float)X - g.ox + 0.5f) / g.sx - 0.5f;
                    pan__frame_sample_rgb_displayed(f, u, v, rgb);
                }
                for (int c = 0; c < 3; c++) val[c] = (rgb[bgr ? 2 - c : c] - p->mean[c]) * inv_std[c];
            } else {
                val[0] = pad[0], val[1] = pad[1], val[2] = pad[2];
            }
            size_t i = (size_t)Y * (size_t)W + (size_t)X;
            if (p->layout == PAN_LAYOUT_NCHW) {
                out[i] = val[0];
                out[plane + i] = val[1];
                out[2 * plane + i] = val[2];
            } else {
                out[3 * i] = val[0];
                out[3 * i + 1] = val[1];
                out[3 * i + 2] = val[2];
            }
        }
    }
    return PAN_OK;
}

pan_status pan_roi_crop_cpu(const pan_frame *f, const float box[4], const pan_roi_params *p, float *out)
{
    return pan__roi_crop_cpu_region(f, box, p, out, 0, p ? p->width : 0, 0, p ? p->height : 0);
}

void pan_reid_default_descriptor(const float *rgb, float *out)
{
    double h[2 * PAN__DESC_HALF_BINS] = {0};
    for (int y = PAN__DESC_UY0; y < PAN__DESC_LY1; y++) {
        double *hist = h + (y < PAN__DESC_MID ? 0 : PAN__DESC_HALF_BINS);
        for (int x = PAN__DESC_X0; x < PAN__DESC_X1; x++) {
            const float *px = rgb + 3 * ((size_t)y * PAN_REID_DEFAULT_CROP_W + (size_t)x);
            int idx[6];
            float w[6];
            int k = pan__desc_bins(px[0], px[1], px[2], idx, w);
            for (int j = 0; j < k; j++) hist[idx[j]] += w[j];
        }
    }
    /* per half: sum 1, square root (Hellinger); then unit length overall */
    double n2 = 0;
    for (int half = 0; half < 2; half++) {
        double *hist = h + half * PAN__DESC_HALF_BINS, s = 0;
        for (int i = 0; i < PAN__DESC_HALF_BINS; i++) s += hist[i];
        for (int i = 0; i < PAN__DESC_HALF_BINS; i++) {
            hist[i] = s > 0 ? sqrt(hist[i] / s) : 0.0;
            n2 += hist[i] * hist[i];
        }
    }
    double inv = n2 > 0 ? 1.0 / sqrt(n2) : 0.0;
    for (int i = 0; i < PAN_REID_DEFAULT_DIM; i++) out[i] = (float)(h[i] * inv);
}
