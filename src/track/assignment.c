/* Linear assignment: shortest augmenting paths with dual potentials (the augmentation phase of
 * Jonker & Volgenant 1987, in the rectangular form of Crouse 2016, as SciPy's
 * linear_sum_assignment). Exact, O(n^2 (n + m)) for n rows.
 *
 * The cost limit is folded in by giving every row n private "unmatched" columns of cost = limit
 * (virtual: never stored): a row pays limit if left alone, so a real pair is only taken when that
 * lowers sum(cost - limit). Forbidden pairs (cost > limit or not finite) are +inf and never relaxed;
 * since the virtual columns are always open, every row finds a path and the problem is feasible. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "track/track_impl.h"

static int grow(pan__lap_ws *ws, size_t nd, size_t ni)
{
    if (nd > ws->d_cap) {
        double *d = realloc(ws->d, nd * sizeof *d);
        if (!d) return -1;
        ws->d = d;
        ws->d_cap = nd;
    }
    if (ni > ws->i_cap) {
        int *i = realloc(ws->i, ni * sizeof *i);
        if (!i) return -1;
        ws->i = i;
        ws->i_cap = ni;
    }
    return 0;
}

void pan__lap_ws_free(pan__lap_ws *ws)
{
    if (!ws) return;
    free(ws->d);
    free(ws->i);
    free(ws->sub);
    free(ws->g);
    memset(ws, 0, sizeof *ws);
}

/* Dense solve of an n x m problem (n, m >= 1); col4row[i] gets a column or -1. */
static pan_status dense(pan__lap_ws *ws, const double *cost, int n, int m, double limit, int *out)
{

    const int nc = m + n; /* real columns, then n virtual "unmatched" columns */
    if (grow(ws, (size_t)n + 2 * (size_t)nc, (size_t)n * 2 + (size_t)nc * 4)) return PAN_NOMEM;
    double *u = ws->d, *v = u + n, *spc = v + nc; /* potentials; shortest path costs */
    int *col4row = ws->i, *sr = col4row + n;      /* sr: row visited */
    int *row4col = sr + n, *path = row4col + nc, *sc = path + nc, *remaining = sc + nc;

    for (int i = 0; i < n; i++) u[i] = 0.0, col4row[i] = -1;
    for (int j = 0; j < nc; j++) v[j] = 0.0, row4col[j] = -1;

    for (int cur = 0; cur < n; cur++) {
        double min_val = 0.0;
        int num_rem = nc, sink = -1, i = cur;
        for (int it = 0; it < nc; it++) {
            remaining[it] = nc - it - 1;
            spc[it] = INFINITY;
            sc[it] = 0;
            path[it] = -1;
        }
        for (int r = 0; r < n; r++) sr[r] = 0;

        while (sink < 0) {
            int index = -1;
            double lowest = INFINITY;
            sr[i] = 1;
            const double *ci = cost + (size_t)i * m;
            for (int it = 0; it < num_rem; it++) {
                int j = remaining[it];
                double c;
                if (j < m) {
                    c = ci[j];
                    if (!(c <= limit)) c = INFINITY; /* also NaN */
                } else {
                    c = limit;
                }
                double r = min_val + c - u[i] - v[j];
                if (r < spc[j]) {
                    path[j] = i;
                    spc[j] = r;
                }
                if (spc[j] < lowest || (spc[j] == lowest && row4col[j] == -1)) {
                    lowest = spc[j];
                    index = it;
                }
            }
            min_val = lowest;
            if (index < 0 || !isfinite(min_val)) return PAN_RANGE; /* cannot happen: virtual columns */
            int j = remaining[index];
            if (row4col[j] == -1) sink = j;
            else i = row4col[j];
            sc[j] = 1;
            remaining[index] = remaining[--num_rem];
        }

        /* Update the duals so reduced costs stay >= 0, then flip the path. */
        u[cur] += min_val;
        for (int r = 0; r < n; r++)
            if (sr[r] && r != cur) u[r] += min_val - spc[col4row[r]];
        for (int j = 0; j < nc; j++)
            if (sc[j]) v[j] -= min_val - spc[j];
        for (int j = sink;;) {
            int r = path[j];
            row4col[j] = r;
            int t = col4row[r];
            col4row[r] = j;
            j = t;
            if (r == cur) break;
        }
    }

    for (int i = 0; i < n; i++) out[i] = col4row[i] < m ? col4row[i] : -1;
    return PAN_OK;
}

static int allowed(double c, double limit) { return c <= limit; } /* false for NaN and +inf */

static int find(int *parent, int x)
{
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
}

pan_status pan__lap_solve(pan__lap_ws *ws, const double *cost, int n, int m, double limit,
                          int *row_to_col, int *col_to_row, double *total)
{
    pan_status st = PAN_OK;
    if (total) *total = 0.0;
    if (n < 0 || m < 0 || (n > 0 && (!cost || !row_to_col)) || !isfinite(limit)) return PAN_INVAL;
    for (int j = 0; j < m && col_to_row; j++) col_to_row[j] = -1;
    if (n == 0) return PAN_OK;
    for (int i = 0; i < n; i++) row_to_col[i] = -1;
    if (m == 0) return PAN_OK;

    if ((size_t)n * m <= 64) {
        if ((st = dense(ws, cost, n, m, limit, row_to_col))) return st;
    } else {
        /* Connected components of the allowed pairs (union-find over rows 0..n-1 and columns
         * n..n+m-1), then rows and columns grouped by component (counting sort on the root). */
        size_t need = 5 * ((size_t)n + m) + 1 + (size_t)n;
        if (need > ws->g_cap) {
            int *g = realloc(ws->g, need * sizeof *g);
            if (!g) return PAN_NOMEM;
            ws->g = g, ws->g_cap = need;
        }
        int nn = n + m, *parent = ws->g, *start = parent + nn, *order = start + nn + 1, *sub_out = order + nn;
        int *local = sub_out + n; /* index of a row/column inside its component */
        int *root = local + nn;
        for (int k = 0; k < nn; k++) parent[k] = k;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                if (allowed(cost[(size_t)i * m + j], limit)) {
                    int a = find(parent, i), b = find(parent, n + j);
                    if (a != b) parent[a] = b;
                }
        for (int k = 0; k <= nn; k++) start[k] = 0;
        for (int k = 0; k < nn; k++) root[k] = find(parent, k), start[root[k] + 1]++;
        for (int k = 0; k < nn; k++) start[k + 1] += start[k];
        for (int k = 0; k < nn; k++) order[start[root[k]]++] = k;
        for (int k = nn; k > 0; k--) start[k] = start[k - 1];
        start[0] = 0;
        for (int r = 0; r < nn && !st; r++) {
            int b = start[r], e = start[r + 1], nr = 0, nc = 0;
            for (int k = b; k < e; k++) { /* rows come first in `order`: they have smaller node ids */
                if (order[k] < n) local[order[k]] = nr++;
                else local[order[k]] = nc++;
            }
            if (nr == 0 || nc == 0) continue;
            size_t sz = (size_t)nr * nc;
            if (sz > ws->sub_cap) {
                double *d = realloc(ws->sub, sz * 2 * sizeof *d);
                if (!d) return PAN_NOMEM;
                ws->sub = d, ws->sub_cap = sz * 2;
            }
            const int *rows = order + b, *cols = order + b + nr;
            for (int a = 0; a < nr; a++)
                for (int c = 0; c < nc; c++) ws->sub[(size_t)a * nc + c] = cost[(size_t)rows[a] * m + cols[c] - n];
            if (nr == 1 && nc == 1) sub_out[0] = allowed(ws->sub[0], limit) ? 0 : -1;
            else st = dense(ws, ws->sub, nr, nc, limit, sub_out);
            for (int a = 0; a < nr && !st; a++)
                if (sub_out[a] >= 0) row_to_col[rows[a]] = cols[sub_out[a]] - n;
        }
        if (st) return st;
    }
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        int j = row_to_col[i];
        if (j < 0) continue;
        if (col_to_row) col_to_row[j] = i;
        sum += cost[(size_t)i * m + j];
    }
    if (total) *total = sum;
    return PAN_OK;
}
