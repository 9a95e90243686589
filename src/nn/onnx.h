/* ONNX importer entry points beyond the one declared in nn/ir.h (pan__onnx_import). */
#ifndef PANOPTES_NN_ONNX_H
#define PANOPTES_NN_ONNX_H

#include <stddef.h>

#include "nn/ir.h"

/* Imports an ONNX model held in memory; `source` names it in messages (fuzzing, tests).
 * On failure *g is NULL and one error line was logged. */
pan_status pan__onnx_import_memory(const void *data, size_t size, const char *source, pan_graph **g);

/* onnx_ops.c has a converter of its own for this op_type (tests check every OWN row of the op table). */
int pan__onnx_has_converter(const char *op_type);

/* Largest .onnx file accepted (external data files are not supported). */
#define PAN_ONNX_MAX_FILE_BYTES (INT64_C(2) << 30)

#endif
