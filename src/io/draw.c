/* Drawing into YUV 4:2:0 pictures (src/io/draw.h). */
#include "io/draw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/font5x7.h"

/* Colours (Y, Cb, Cr) cycled by identity; detections without a track use their class's. */
static const uint8_t palette[8][3] = {
    {81, 90, 240}, {145, 54, 34}, {41, 240, 110}, {210, 16, 146},
    {170, 166, 16}, {107, 202, 222}, {82, 90, 240}, {235, 128, 128},
};

static void put_y(const pan__yuv_canvas *c, int x, int y, uint8_t v)
{
    if (x >= 0 && y >= 0 && x < c->width && y < c->height) c->y[(size_t)y * c->pitch_y + x] = v;
}

static void put_c(const pan__yuv_canvas *c, int x, int y, uint8_t cb, uint8_t cr)
{
    if (x < 0 || y < 0 || x >= c->width || y >= c->height) return;
    c->u[(size_t)(y / 2) * c->pitch_c + x / 2] = cb;
    c->v[(size_t)(y / 2) * c->pitch_c + x / 2] = cr;
}

static void put(const pan__yuv_canvas *c, int x, int y, const uint8_t col[3])
{
    put_y(c, x, y, col[0]);
    put_c(c, x, y, col[1], col[2]);
}

const uint8_t *pan__draw_colour(int64_t k) { return palette[k & 7]; }

void pan__draw_line(const pan__yuv_canvas *c, double x1, double y1, double x2, double y2, const uint8_t col[3],
                    int thick)
{
    double dx = x2 - x1, dy = y2 - y1, len = hypot(dx, dy);
    if (!isfinite(len) || len > 1e5) return;
    int steps = (int)ceil(len) + 1, h = thick / 2;
    for (int i = 0; i < steps; i++) { /* one dot of thick x thick pixels a pixel along the line */
        double u = steps > 1 ? (double)i / (steps - 1) : 0;
        int x = (int)lround(x1 + u * dx), y = (int)lround(y1 + u * dy);
        for (int oy = -h; oy < thick - h; oy++)
            for (int ox = -h; ox < thick - h; ox++) put(c, x + ox, y + oy, col);
    }
}

void pan__draw_box(const pan__yuv_canvas *c, const float box[4], const uint8_t col[3], int thick)
{
    if (!(isfinite(box[0]) && isfinite(box[1]) && isfinite(box[2]) && isfinite(box[3]))) return;
    /* pixel i covers [i, i+1): the box's edge pixels are floor(x1) and ceil(x2) - 1; clamped to
     * a little outside the picture so a huge box costs no more than the picture's border */
    float lo_x = -(float)thick, lo_y = -(float)thick, hi_x = (float)c->width + thick, hi_y = (float)c->height + thick;
    int x1 = (int)floorf(fmaxf(box[0], lo_x)), y1 = (int)floorf(fmaxf(box[1], lo_y));
    int x2 = (int)ceilf(fminf(box[2], hi_x)) - 1, y2 = (int)ceilf(fminf(box[3], hi_y)) - 1;
    for (int t = 0; t < thick; t++) {
        for (int x = x1; x <= x2; x++) put(c, x, y1 + t, col), put(c, x, y2 - t, col);
        for (int y = y1; y <= y2; y++) put(c, x1 + t, y, col), put(c, x2 - t, y, col);
    }
}

void pan__draw_text(const pan__yuv_canvas *c, int x0, int y0, const char *s)
{
    int w = (int)strlen(s) * 6 + 2;
    for (int y = y0; y < y0 + 9; y++)
        for (int x = x0; x < x0 + w; x++) put_y(c, x, y, 16);
    for (int i = 0; s[i]; i++) {
        const uint8_t *g = pan__font5x7(s[i]);
        for (int r = 0; r < 7; r++)
            for (int col = 0; col < 5; col++)
                if (g[r] & (16 >> col)) put_y(c, x0 + 1 + i * 6 + col, y0 + 1 + r, 235);
    }
}

/* A label sits above its box, or inside it where the box touches the top. */
static void label_at(const pan__yuv_canvas *c, const float box[4], const char *s)
{
    if (!isfinite(box[0]) || !isfinite(box[1])) return;
    float x = fmaxf(fminf(box[0], (float)c->width), -1000.f), y = fmaxf(fminf(box[1], (float)c->height), -1000.f);
    pan__draw_text(c, (int)x, (int)y - 10 < 0 ? (int)y + 2 : (int)y - 10, s);
}

void pan__draw_results(const pan__yuv_canvas *c, int camera, int64_t frame, const pan_detection *dets, int n_dets,
                       const pan_track_report *tracks, int n_tracks)
{
    char label[64];
    if (n_tracks > 0) {
        for (int i = 0; i < n_tracks; i++) {
            const pan_track_report *t = &tracks[i];
            if (t->state == PAN_TRACK_REMOVED) continue;
            pan__draw_box(c, t->box, palette[(t->global_id ? t->global_id : t->id) & 7], t->state == PAN_TRACK_LOST ? 1 : 2);
            if (t->global_id)
                snprintf(label, sizeof label, "#%lld %s g%lld", (long long)t->id, pan_coco_label(t->class_id),
                         (long long)t->global_id);
            else
                snprintf(label, sizeof label, "#%lld %s", (long long)t->id, pan_coco_label(t->class_id));
            label_at(c, t->box, label);
        }
    } else {
        for (int i = 0; i < n_dets; i++) {
            const pan_detection *d = &dets[i];
            pan__draw_box(c, d->box, palette[d->class_id & 7], 1);
            snprintf(label, sizeof label, "%s %.2f", pan_coco_label(d->class_id), d->score);
            label_at(c, d->box, label);
        }
    }
    snprintf(label, sizeof label, "cam %d frame %lld", camera, (long long)frame);
    pan__draw_text(c, 4, 4, label);
}
