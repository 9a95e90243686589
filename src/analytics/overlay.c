/* The analytics drawn on the annotated video: each counting line with its name, its `in` side
 * and its counts, each zone's outline with its name and occupancy, as the counts stand after the
 * frame (the analytics consumer runs before the video's). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analytics/analytics_impl.h"
#include "analytics/consumer.h"

void pan_analytics_overlay(void *opaque, const pan_frame_result *r, pan_annotate_canvas *cv)
{
    pan_analytics *a = opaque;
    char text[160];
    if (!a || r->camera < 0 || r->camera >= a->n_cams || !a->cams[r->camera]) return;
    pan__an_cam *c = a->cams[r->camera];
    for (int l = 0; l < c->n_lines; l++) {
        const pan__an_line *L = c->lines[l];
        double mx = (L->a[0] + L->b[0]) * 0.5, my = (L->a[1] + L->b[1]) * 0.5;
        double dx = L->b[0] - L->a[0], dy = L->b[1] - L->a[1], len = hypot(dx, dy);
        /* the + side (where `in` goes) is along (-dy, dx) / len: see analytics.h */
        double nx = -dy / len, ny = dx / len;
        pan_annotate_draw_line(cv, L->a[0], L->a[1], L->b[0], L->b[1], 5, 3);
        pan_annotate_draw_line(cv, mx, my, mx + nx * 24, my + ny * 24, 5, 2);
        /* text centred beyond the tick (`in`) and on the other side (name and counts); glyphs are
         * 6 x 9 px */
        pan_annotate_draw_text(cv, (int)lround(mx + nx * 36) - 6, (int)lround(my + ny * 36) - 4, "in");
        snprintf(text, sizeof text, "%s in %lld out %lld", L->name, (long long)c->in[l], (long long)c->out[l]);
        double w = 6.0 * (double)strlen(text) + 2, off = 12 + fabs(nx) * w / 2 + fabs(ny) * 5;
        pan_annotate_draw_text(cv, (int)lround(mx - nx * off - w / 2), (int)lround(my - ny * off) - 4, text);
    }
    for (int z = 0; z < c->n_zones; z++) {
        const pan__an_zone *Z = c->zones[z];
        int n = 0;
        for (int i = 0, j = Z->n - 1; i < Z->n; j = i++)
            pan_annotate_draw_line(cv, Z->poly[j][0], Z->poly[j][1], Z->poly[i][0], Z->poly[i][1], 2, 2);
        pan_analytics_zone_occupancy(a, r->camera, Z->name, &n);
        snprintf(text, sizeof text, "%s: %d", Z->name, n);
        pan_annotate_draw_text(cv, (int)Z->poly[0][0] + 3, (int)Z->poly[0][1] + 3, text);
    }
}
