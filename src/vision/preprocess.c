/* cpu reference of the preprocessing contract in src/vision/preprocess.h. */
#include "vision/preprocess.h"
#include "vision/display_rotation.h"
#include "vision/frame_sample.h"

#include <math.h>
#include <stdlib.h>

void pan_letterbox_compute(int src_w, int src_h, const pan_preprocess_params *p, pan_letterbox *lb)
{
    int nw = p->width, nh = p->height;
    if (p->keep_ratio) {
        float s = fminf((float)p->width / (float)src_w, (float)p->height / (float)src_h);
        nw = (int)lroundf((float)src_w * s);
        nh = (int)lroundf((float)src_h * s);
        if (nw < 1) nw = 1;
        if (nh < 1) nh = 1;
        if (nw > p->width) nw = p->width;
        if (nh > p->height) nh = p->height;
    }
    lb->content_w = nw;
    lb->content_h = nh;
    lb->offset_x = (float)((p->width - nw) / 2);
    lb->offset_y = (float)((p->height - nh) / 2);
    lb->scale_x = (float)nw / (float)src_w;
    lb->scale_y = (float)nh / (float)src_h;
    lb->src_w = src_w;
    lb->src_h = src_h;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

void pan_letterbox_unmap_box(const pan_letterbox *lb, float box[4])
{
    box[0] = clampf((box[0] - lb->offset_x) / lb->scale_x, 0.f, (float)lb->src_w);
    box[1] = clampf((box[1] - lb->offset_y) / lb->scale_y, 0.f, (float)lb->src_h);
    box[2] = clampf((box[2] - lb->offset_x) / lb->scale_x, 0.f, (float)lb->src_w);
    box[3] = clampf((box[3] - lb->offset_y) / lb->scale_y, 0.f, (float)lb->src_h);
}

void pan_yuv_to_rgb(float y, float cb, float cr, pan_color_matrix m, pan_color_range r, float rgb[3])
{
    /* Kr, Kb of the matrix; the rest follows from Y = Kr R + Kg G + Kb B. */
    float kr = m == PAN_COLOR_BT709 ? 0.2126f : 0.299f;
    float kb = m == PAN_COLOR_BT709 ? 0.0722f : 0.114f;
    float kg = 1.f - kr - kb;
    float yl, u, v;
    if (r == PAN_RANGE_LIMITED) {
        yl = (y - 16.f) * (255.f / 219.f);
        u = (cb - 128.f) * (255.f / 224.f);
        v = (cr - 128.f) * (255.f / 224.f);
    } else {
        yl = y;
        u = cb - 128.f;
        v = cr - 128.f;
    }
    float R = yl + 2.f * (1.f - kr) * v;
    float B = yl + 2.f * (1.f - kb) * u;
    float G = (yl - kr * R - kb * B) / kg;
    rgb[0] = clampf(R, 0.f, 255.f);
    rgb[1] = clampf(G, 0.f, 255.f);
    rgb[2] = clampf(B, 0.f, 255.f);
}

pan__sample_tap pan__sample_tap_make(float u, int n)
{
    float fu = floorf(u);
    int i0 = (int)fu, i1 = i0 + 1;
    return (pan__sample_tap){i0 < 0 ? 0 : i0 >= n ? n - 1 : i0, i1 < 0 ? 0 : i1 >= n ? n - 1 : i1, u - fu};
}

/* Bilinear sample between rows r0 and r1 (weight ay of r1) at tap x; `step` bytes between a row's
 * samples (1 for planar, 2 for NV12's interleaved chroma). */
static inline float bilinear(const uint8_t *r0, const uint8_t *r1, int step, pan__sample_tap x, float ay)
{
    float top = r0[x.i0 * step] + x.a * ((float)r0[x.i1 * step] - r0[x.i0 * step]);
    float bot = r1[x.i0 * step] + x.a * ((float)r1[x.i1 * step] - r1[x.i0 * step]);
    return top + ay * (bot - top);
}

void pan__frame_col_taps(const pan_frame *f, float u, pan__sample_tap *luma, pan__sample_tap *chroma)
{
    *luma = pan__sample_tap_make(u, f->width);
    *chroma = pan__sample_tap_make((u + 0.5f) * 0.5f - 0.5f, (f->width + 1) / 2);
}

void pan__frame_sample_row_rgb(const pan_frame *f, float v, int n, const pan__sample_tap *luma,
                               const pan__sample_tap *chroma, float *rgb)
{
    pan__sample_tap ly = pan__sample_tap_make(v, f->height);
    pan__sample_tap cy = pan__sample_tap_make((v + 0.5f) * 0.5f - 0.5f, (f->height + 1) / 2);
    const uint8_t *y0 = f->data[0] + (size_t)ly.i0 * (size_t)f->pitch[0];
    const uint8_t *y1 = f->data[0] + (size_t)ly.i1 * (size_t)f->pitch[0];
    const int nv12 = f->format == PAN_PIXFMT_NV12, step = nv12 ? 2 : 1;
    const uint8_t *b0 = f->data[1] + (size_t)cy.i0 * (size_t)f->pitch[1];
    const uint8_t *b1 = f->data[1] + (size_t)cy.i1 * (size_t)f->pitch[1];
    const uint8_t *r0 = nv12 ? b0 + 1 : f->data[2] + (size_t)cy.i0 * (size_t)f->pitch[2];
    const uint8_t *r1 = nv12 ? b1 + 1 : f->data[2] + (size_t)cy.i1 * (size_t)f->pitch[2];
    for (int i = 0; i < n; i++, rgb += 3) {
        float y = bilinear(y0, y1, 1, luma[i], ly.a);
        float cb = bilinear(b0, b1, step, chroma[i], cy.a);
        float cr = bilinear(r0, r1, step, chroma[i], cy.a);
        pan_yuv_to_rgb(y, cb, cr, f->matrix, f->range, rgb);
    }
}

/* Y'CbCr at source position (u, v) (pixel-centre convention), as RGB 0–255. */
void pan__frame_sample_rgb(const pan_frame *f, float u, float v, float rgb[3])
{
    pan__sample_tap luma, chroma;
    pan__frame_col_taps(f, u, &luma, &chroma);
    pan__frame_sample_row_rgb(f, v, 1, &luma, &chroma, rgb);
}

void pan__frame_sample_rgb_displayed(const pan_frame *f, float ud, float vd, float rgb[3])
{
    pan__rot_map m = pan__rot_map_make(f->rotation, f->width, f->height);
    pan__frame_sample_rgb(f, m.a * ud + m.b * vd + m.c, m.d * ud + m.e * vd + m.f, rgb);
}

pan_status pan_preprocess_cpu(const pan_frame *f, const pan_preprocess_params *p, float *out, pan_letterbox *lb_out)
{
    pan_letterbox lb;
    float inv_std[3], pad[3];
    int W = p->width, H = p->height;
    if (!f || !p || !out || W <= 0 || H <= 0 || f->width <= 0 || f->height <= 0) return PAN_INVAL;
    if (f->memory != PAN_MEMORY_HOST) return PAN_RESIDENCY; /* the cpu path reads host frames only */
    if (f->format != PAN_PIXFMT_NV12 && f->format != PAN_PIXFMT_YUV420P) return PAN_UNSUPPORTED;
    /* The letterbox frames the picture as displayed; each output pixel reads the stored frame
     * through the rotation map. */
    int dw, dh;
    pan_frame_display_size(f, &dw, &dh);
    pan_letterbox_compute(dw, dh, p, &lb);
    const pan__rot_map m = pan__rot_map_make(f->rotation, f->width, f->height);
    for (int c = 0; c < 3; c++) {
        inv_std[c] = p->std[c] != 0.f ? 1.f / p->std[c] : 1.f;
        pad[c] = (p->pad_value - p->mean[c]) * inv_std[c];
    }
    const size_t plane = (size_t)W * (size_t)H;
    const int bgr = p->channels == PAN_CHANNELS_BGR;
    for (int Y = 0; Y < H; Y++) {
        float v = ((float)Y - lb.offset_y + 0.5f) / lb.scale_y - 0.5f;
        int row_in = Y >= (int)lb.offset_y && Y < (int)lb.offset_y + lb.content_h;
        for (int X = 0; X < W; X++) {
            float val[3];
            if (row_in && X >= (int)lb.offset_x && X < (int)lb.offset_x + lb.content_w) {
                float rgb[3];
                float u = ((float)X - lb.offset_x + 0.5f) / lb.scale_x - 0.5f;
                pan__frame_sample_rgb(f, m.a * u + m.b * v + m.c, m.d * u + m.e * v + m.f, rgb);
                for (int c = 0; c < 3; c++) {
                    float x = rgb[bgr ? 2 - c : c];
                    val[c] = (x - p->mean[c]) * inv_std[c];
                }
            } else {
                val[0] = pad[0];
                val[1] = pad[1];
                val[2] = pad[2];
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
    if (lb_out) *lb_out = lb;
    return PAN_OK;
}

pan_status pan_frame_to_rgb_cpu(const pan_frame *f, uint8_t *rgb)
{
    if (!f || !rgb) return PAN_INVAL;
    if (f->memory != PAN_MEMORY_HOST) return PAN_RESIDENCY;
    int dw, dh;
    pan_frame_display_size(f, &dw, &dh);
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++) {
            float c[3];
            pan__frame_sample_rgb_displayed(f, (float)x, (float)y, c);
            uint8_t *o = rgb + 3 * ((size_t)y * (size_t)dw + (size_t)x);
            o[0] = (uint8_t)lroundf(c[0]);
            o[1] = (uint8_t)lroundf(c[1]);
            o[2] = (uint8_t)lroundf(c[2]);
        }
    return PAN_OK;
}
