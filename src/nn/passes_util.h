/* Helpers shared by the graph passes (passes.c, passes_transpose.c). */
#ifndef PANOPTES_NN_PASSES_UTIL_H
#define PANOPTES_NN_PASSES_UTIL_H

#include "nn/ir.h"

/* Number of live readers of tensor t, counting being a graph output as one. */
int pan__pass_uses(const pan_graph *g, int t);
/* The single live node reading t (index), or -1 when t has 0 or several readers or is a graph output. */
int pan__pass_only_reader(const pan_graph *g, int t);
/* Rewrites every live node input `from` to `to` (graph outputs untouched). */
void pan__pass_replace_uses(pan_graph *g, int from, int to);
/* A fresh tensor named after base, same dtype/shape as `like`. Negative status on failure. */
int pan__pass_new_tensor(pan_graph *g, const char *base, int like);
/* A constant holding data (taken over, malloc'ed), named after base. */
int pan__pass_new_const(pan_graph *g, const char *base, pan_dtype dtype, int rank, const int64_t *dims, void *data);
/* Marks nodes dead whose outputs nobody reads (repeats until stable). */
void pan__pass_dead_code(pan_graph *g);
int pan__pass_is_const(const pan_graph *g, int t);

#endif
