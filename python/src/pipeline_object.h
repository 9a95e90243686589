/* The Pipeline object's layout, shared by pipeline.c (lifecycle) and take.c (taking results). */
#ifndef PANOPTES_PY_PIPELINE_OBJECT_H
#define PANOPTES_PY_PIPELINE_OBJECT_H

#include "ext.h"

typedef struct {
    PyObject_HEAD
    pan_pipeline *pl;
    py_results *q;
    PyObject *on_frame, *on_camera; /* or NULL */
    PyObject *events;               /* CameraEvents not handed to on_camera */
    int started, stopped;
    double convert_s;   /* time this side spent turning items into FrameResults (wall clock) */
    long long converted;
} PipelineObject;

/* The next FrameResult (events on the way go to on_camera or events()); NULL at the end (no
 * exception: StopIteration) or with an exception (the pipeline failed, Ctrl-C, a callback's). */
PyObject *pypan_pl_next(PipelineObject *self);
/* Runs the callbacks until the pipeline is done (True) or timeout_s passes (False; < 0: none). */
PyObject *pypan_pl_dispatch(PipelineObject *self, double timeout_s);
/* An event item to on_camera or the kept events; frees the item. 0, or -1 with an exception. */
int pypan_pl_handle_event(PipelineObject *self, py_item *it);

#endif
