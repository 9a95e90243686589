/* The cpu backend's image mode (cpu_images.c): a planned batch run image by image, whole images
 * per thread, where the model treats its images independently. */
#ifndef PANOPTES_NN_CPU_IMAGES_H
#define PANOPTES_NN_CPU_IMAGES_H

#include "nn/cpu_ops.h"
#include "nn/ir.h"

typedef struct pan_cpu_images pan_cpu_images;

/* g: the planned graph (batch >= 2, memory planned), arena: its activations; g1: the same model
 * planned for batch 1 (taken over: kept by *out, or destroyed). *out stays NULL (and PAN_OK is
 * returned) when the model does not suit image mode; errors are memory. profile: keep per-node
 * times (PANOPTES_PROFILE), indexed by the nodes of g1. */
pan_status pan__cpu_images_plan(const pan_graph *g, pan_graph *g1, char *arena, int threads, int profile,
                                pan_cpu_images **out);
/* The batch-1 graph whose nodes run (for the profile). */
const pan_graph *pan__cpu_images_graph(const pan_cpu_images *im);
void pan__cpu_images_free(pan_cpu_images **im);
/* Runs every node for every image (inputs already in the arena, outputs left there). node_ms /
 * node_cpu_ms (per node of g1, may be NULL) get the run's times added when profiling. */
pan_status pan__cpu_images_run(pan_cpu_images *im, pan_cpu_pool *pool, double *node_ms, double *node_cpu_ms);

#endif
