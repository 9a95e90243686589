/* Internal interface between the two halves of the TF.js importer (tfjs.c, tfjs_ops.c). */
#ifndef PANOPTES_NN_TFJS_IMPL_H
#define PANOPTES_NN_TFJS_IMPL_H

#include <jansson.h>
#include <stdint.h>

#include "nn/ir.h"

/* IEEE 754 binary16 -> binary32 (exact). */
float pan__half_to_float(uint16_t h);
/* Converts modelTopology.node[] into IR nodes (weights are already constants in g) and marks
 * the graph inputs (Placeholders) and outputs (signature order, else the unconsumed nodes). */
pan_status pan__tfjs_convert_nodes(pan_graph *g, json_t *nodes, json_t *signature);

#endif
