/* Geometry of counting lines and zones, in source pixels (y down). Doubles throughout: a signed
 * distance decides a count, and coordinates up to 8K with sub-pixel boxes need no care in double. */
#include <math.h>

#include "analytics/analytics_impl.h"

double pan__an_line_distance(const double a[2], const double b[2], double px, double py)
{
    double dx = b[0] - a[0], dy = b[1] - a[1], len = hypot(dx, dy);
    if (!(len > 0)) return 0; /* the parser rejects zero-length lines */
    return (dx * (py - a[1]) - dy * (px - a[0])) / len;
}

int pan__an_line_projects_within(const double a[2], const double b[2], double px, double py)
{
    double dx = b[0] - a[0], dy = b[1] - a[1], l2 = dx * dx + dy * dy;
    if (!(l2 > 0)) return 0;
    double u = ((px - a[0]) * dx + (py - a[1]) * dy) / l2; /* 0 at a, 1 at b */
    return u >= 0.0 && u <= 1.0;
}

/* Distance from p to the segment p0 p1. */
static double seg_distance(const double p0[2], const double p1[2], double px, double py)
{
    double dx = p1[0] - p0[0], dy = p1[1] - p0[1], l2 = dx * dx + dy * dy, u = 0;
    if (l2 > 0) u = ((px - p0[0]) * dx + (py - p0[1]) * dy) / l2;
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    return hypot(px - (p0[0] + u * dx), py - (p0[1] + u * dy));
}

double pan__an_polygon_distance(const double (*poly)[2], int n, double px, double py)
{
    int inside = 0;
    double best = INFINITY;
    for (int i = 0, j = n - 1; i < n; j = i++) {
        const double *p = poly[i], *q = poly[j];
        /* even-odd ray cast towards +x; the half-open test counts a vertex on the ray once */
        if ((p[1] > py) != (q[1] > py) && px < (q[0] - p[0]) * (py - p[1]) / (q[1] - p[1]) + p[0])
            inside = !inside;
        double d = seg_distance(q, p, px, py);
        if (d < best) best = d;
    }
    return inside ? best : -best;
}

double pan__an_iou(const float a[4], const float b[4])
{
    double iw = fmin(a[2], b[2]) - fmax(a[0], b[0]), ih = fmin(a[3], b[3]) - fmax(a[1], b[1]);
    if (iw <= 0 || ih <= 0) return 0;
    double inter = iw * ih;
    double ua = (double)(a[2] - a[0]) * (a[3] - a[1]) + (double)(b[2] - b[0]) * (b[3] - b[1]) - inter;
    return ua > 0 ? inter / ua : 0;
}

int pan__an_class_allowed(const int *classes, int n, int class_id)
{
    if (!classes) return 1;
    for (int i = 0; i < n; i++)
        if (classes[i] == class_id) return 1;
    return 0;
}
