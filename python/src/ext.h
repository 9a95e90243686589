/* The panoptes._panoptes extension module: shared declarations. Built against the stable ABI
 * (Py_LIMITED_API = 3.11, set by setup.py), so one build serves every CPython from 3.11 on.
 *
 * NumPy is used through its Python API (numpy.ndarray over a bytearray), not its C API: an abi3
 * module built against NumPy's C API would still be tied to the NumPy ABI it was compiled with
 * (1.x and 2.x differ), and NumPy would become a build dependency. A frame's arrays are a few
 * hundred bytes; building them this way costs microseconds (python/bench_overhead.py). */
#ifndef PANOPTES_PY_EXT_H
#define PANOPTES_PY_EXT_H

#include <Python.h>

#include <panoptes/panoptes.h>

#include "results.h"

/* module.c: exceptions, interned strings, NumPy handles */
extern PyObject *pypan_Error;         /* panoptes.Error(Exception): .status, .status_name */
extern PyObject *pypan_NotFoundError; /* (Error, FileNotFoundError) */
extern PyObject *pypan_ValueError;    /* (Error, ValueError) */
extern PyObject *pypan_labels[PAN_COCO_CLASSES + 1]; /* interned; [80] = "unknown" */
extern PyObject *pypan_track_states[4];              /* "tentative", "confirmed", "lost", "removed" */
extern PyObject *pypan_camera_states[PAN_CAMERA_REMOVED + 1];
extern PyObject *pypan_ndarray, *pypan_f32, *pypan_i32, *pypan_i64; /* numpy.ndarray and dtypes */
extern PyObject *pypan_empty_boxes, *pypan_empty_f32, *pypan_empty_i32, *pypan_empty_i64; /* read-only */

PyObject *pypan_label(int class_id); /* borrowed */
/* Raises the exception for a status: PAN_NOTFOUND → NotFoundError, PAN_INVAL / PAN_RANGE →
 * ValueError, others → Error; the message is `what: detail` (detail: the library's last error on
 * this thread, else the status's text). Returns NULL. */
PyObject *pypan_raise(pan_status st, const char *what, const char *detail);
/* The last error the library logged on the calling thread ("" when none) and its reset. */
const char *pypan_last_error(void);
void pypan_clear_last_error(void);

/* frame_result.c */
extern PyObject *pypan_FrameResultType, *pypan_CameraEventType;
int pypan_frame_result_init(PyObject *module);
/* A FrameResult from a frame item, a CameraEvent from an event item (the item is not freed). */
PyObject *pypan_frame_result_new(const py_item *it);
PyObject *pypan_camera_event_new(const py_item *it);

/* pipeline.c */
extern PyObject *pypan_PipelineType;
int pypan_pipeline_init(PyObject *module);

/* stats.c: the statistics as a dict (per camera: results dropped for Python too). */
PyObject *pypan_stats_dict(const pan_pipeline_stats *s, py_results *q);

/* Dict helpers: set d[key] = value and drop the reference; -1 on error. */
int pypan_dict_steal(PyObject *d, const char *key, PyObject *value);

#endif
