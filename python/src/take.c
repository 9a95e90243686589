/* Taking results from the hand-off (results.h) on the Python side: iteration, the callbacks of
 * wait()/run()/stop(), events. The thread that takes waits without the GIL and wakes every
 * POLL_MS to let Python run its signal handlers (Ctrl-C raises KeyboardInterrupt there). */
#include "ext.h"
#include "pipeline_object.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#define MAX_KEPT_EVENTS 1000 /* events kept for events() when there is no on_camera */
#define POLL_MS 100          /* how often a waiting thread looks at signals (Ctrl-C) */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* An event: to on_camera, or kept for events(). Frees the item. 0, or -1 with an exception. */
int pypan_pl_handle_event(PipelineObject *self, py_item *it)
{
    PyObject *ev = pypan_camera_event_new(it);
    free(it);
    if (!ev) return -1;
    int rc = 0;
    if (self->on_camera) {
        PyObject *r = PyObject_CallFunctionObjArgs(self->on_camera, ev, NULL);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
    } else {
        if (PyList_Size(self->events) >= MAX_KEPT_EVENTS) rc = PySequence_DelItem(self->events, 0);
        if (!rc) rc = PyList_Append(self->events, ev);
    }
    Py_DECREF(ev);
    return rc;
}

static PyObject *convert(PipelineObject *self, py_item *it)
{
    double t0 = now_s(); /* wall time: a thread CPU clock is a system call, too dear per frame */
    PyObject *r = pypan_frame_result_new(it);
    free(it);
    self->convert_s += now_s() - t0;
    self->converted++;
    return r;
}

typedef enum { NEXT_ITEM, NEXT_DONE, NEXT_TIMEOUT, NEXT_ERROR } next_rc;

/* The next item, waiting (without the GIL, waking every POLL_MS for signals) until one comes,
 * the pipeline is done (every camera ended and its frames were delivered, or it stopped) with
 * nothing left queued, or timeout_s passes (< 0: no limit). *status: the pipeline's status when done. */
static next_rc next_item(PipelineObject *self, double timeout_s, py_item **it, pan_status *status)
{
    double deadline = timeout_s >= 0 ? now_s() + timeout_s : INFINITY;
    *status = PAN_OK;
    for (;;) {
        py_pop r = py_results_pop(self->q, 0, it);
        if (r == PY_POP_ITEM) return NEXT_ITEM;
        /* closed: the pipeline has stopped and delivered everything */
        pan_status st = pan_pipeline_wait(self->pl, 0);
        if (r == PY_POP_CLOSED && st == PAN_TIMEOUT) st = PAN_OK;
        if (st != PAN_TIMEOUT) {
            /* done: what it delivered before it said so is queued */
            if (py_results_pop(self->q, 0, it) == PY_POP_ITEM) return NEXT_ITEM;
            *status = st;
            return NEXT_DONE;
        }
        double left = deadline - now_s();
        if (left <= 0) return NEXT_TIMEOUT;
        int ms = left * 1000 < POLL_MS ? (int)(left * 1000) + 1 : POLL_MS;
        Py_BEGIN_ALLOW_THREADS
        r = py_results_pop(self->q, ms, it);
        Py_END_ALLOW_THREADS
        if (r == PY_POP_ITEM) return NEXT_ITEM;
        if (PyErr_CheckSignals()) return NEXT_ERROR;
    }
}

PyObject *pypan_pl_next(PipelineObject *self)
{
    for (;;) {
        py_item *it;
        pan_status st;
        switch (next_item(self, -1, &it, &st)) {
        case NEXT_ITEM:
            if (it->kind == PY_ITEM_FRAME) return convert(self, it);
            if (pypan_pl_handle_event(self, it)) return NULL;
            continue;
        case NEXT_DONE:
            if (st) return pypan_raise(st, "the pipeline failed", NULL);
            return NULL; /* StopIteration */
        default: return NULL;
        }
    }
}

/* Dispatches results until the pipeline is done (True) or timeout_s passes (False): frames to
 * on_frame (dropped without one), events to on_camera (kept for events() without one). */
PyObject *pypan_pl_dispatch(PipelineObject *self, double timeout_s)
{
    for (;;) {
        py_item *it;
        pan_status st;
        switch (next_item(self, timeout_s, &it, &st)) {
        case NEXT_ITEM:
            if (it->kind == PY_ITEM_EVENT) {
                if (pypan_pl_handle_event(self, it)) return NULL;
            } else if (self->on_frame) {
                PyObject *fr = convert(self, it);
                PyObject *r = fr ? PyObject_CallFunctionObjArgs(self->on_frame, fr, NULL) : NULL;
                Py_XDECREF(fr);
                if (!r) return NULL;
                Py_DECREF(r);
            } else {
                free(it);
            }
            continue;
        case NEXT_DONE:
            if (st) return pypan_raise(st, "the pipeline failed", NULL);
            Py_RETURN_TRUE;
        case NEXT_TIMEOUT: Py_RETURN_FALSE;
        default: return NULL;
        }
    }
}
