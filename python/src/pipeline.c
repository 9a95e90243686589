/* panoptes._panoptes.Pipeline: the pipeline object and its lifecycle (taking results: take.c).
 * Arguments arrive checked and normalised from python/panoptes/__init__.py.
 *
 * Threads: the library's threads never touch Python. Every call that can block (create, which
 * loads the models; start; stop, which delivers every decoded frame; add_camera; waiting for
 * results) releases the GIL. Results are taken from the hand-off FIFO (results.h) by the thread
 * that iterates, or calls wait()/run() (callbacks run there), in the order they were delivered. */
#include "ext.h"
#include "pipeline_object.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PyObject *pypan_PipelineType;

static int check_created(PipelineObject *self)
{
    if (self->pl) return 0;
    PyErr_SetString(pypan_Error, "the pipeline was not created (Pipeline.__init__ failed or was not called)");
    return -1;
}

/* ------------------------------------------------------------------------ lifecycle */

static PyObject *pl_create(PipelineObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"backend", "model", "detect", "track", "score", "classes", "batch",
                             "batch_timeout_ms", "threads", "fallback_cpu", "loop", "max_frames",
                             "timeout_ms", "reconnect", "backoff_min_ms", "backoff_max_ms", "rtsp_udp",
                             "realtime", "reid", "reid_interval", "overlaps", "sync", "queue_size",
                             "on_frame", "on_camera", "io_threads", "model_type", "camera_queue", NULL};
    pan_pipeline_params p;
    pan_pipeline_params_default(&p);
    int backend = p.backend, queue_size = 64;
    long long max_frames = 0;
    PyObject *classes = Py_None, *overlaps = Py_None, *on_frame = Py_None, *on_camera = Py_None;
    if (self->pl) {
        PyErr_SetString(pypan_Error, "the pipeline is already created");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$izppfOiiipiLiiiippziOiiOOizi", kwlist, &backend, &p.model_path,
                                     &p.detect, &p.track, &p.score_threshold, &classes, &p.batch,
                                     &p.batch_timeout_ms, &p.decoder_threads, &p.fallback_cpu, &p.loop, &max_frames,
                                     &p.timeout_ms, &p.reconnect, &p.backoff_min_ms, &p.backoff_max_ms, &p.rtsp_udp,
                                     &p.realtime, &p.reid, &p.reid_interval, &overlaps, &p.sync, &queue_size,
                                     &on_frame, &on_camera, &p.io_threads, &p.model_type, &p.camera_queue))
        return NULL;
    p.backend = (pan_backend)backend;
    p.max_frames = max_frames;
    int cls[PAN_COCO_CLASSES * 4];
    double (*ov)[4] = NULL;
    PyObject *ret = NULL;
    if (classes != Py_None) { /* a sequence of ints (checked by the Python side) */
        Py_ssize_t n = PySequence_Size(classes);
        if (n < 0) return NULL;
        if (n > (Py_ssize_t)(sizeof cls / sizeof *cls)) {
            PyErr_SetString(pypan_ValueError, "classes: too many");
            return NULL;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *o = PySequence_GetItem(classes, i);
            long v = o ? PyLong_AsLong(o) : -1;
            Py_XDECREF(o);
            if (v == -1 && PyErr_Occurred()) return NULL;
            cls[i] = (int)v;
        }
        p.classes = cls;
        p.n_classes = (int)n;
    }
    if (overlaps != Py_None) { /* a sequence of (a, b, dx, dy) */
        Py_ssize_t n = PySequence_Size(overlaps);
        if (n < 0) return NULL;
        if (n && !(ov = calloc((size_t)n, sizeof *ov))) return PyErr_NoMemory();
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *o = PySequence_GetItem(overlaps, i);
            for (int k = 0; o && k < 4; k++) {
                PyObject *x = PySequence_GetItem(o, k);
                ov[i][k] = x ? PyFloat_AsDouble(x) : -1;
                Py_XDECREF(x);
            }
            Py_XDECREF(o);
            if (PyErr_Occurred()) goto done;
        }
        p.overlaps = (const double(*)[4])ov;
        p.n_overlaps = (int)n;
    }
    if (py_results_create(&self->q, queue_size)) {
        PyErr_NoMemory();
        goto done;
    }
    pan_pipeline *pl = NULL;
    pan_status st;
    char detail[512] = "";
    Py_BEGIN_ALLOW_THREADS
    pypan_clear_last_error();
    st = pan_pipeline_create(&pl, &p); /* loads the models: seconds, without the GIL */
    if (st) snprintf(detail, sizeof detail, "%s", pypan_last_error());
    Py_END_ALLOW_THREADS
    if (st) {
        pypan_raise(st, "cannot create the pipeline", detail);
        goto done;
    }
    pan_consumer c = py_results_consumer(self->q);
    if ((st = pan_pipeline_add_consumer(pl, &c))) {
        pan_pipeline_destroy(&pl);
        pypan_raise(st, "cannot add the Python consumer", NULL);
        goto done;
    }
    py_results_set_pipeline(self->q, pl);
    self->pl = pl;
    if (on_frame != Py_None) Py_INCREF(on_frame), self->on_frame = on_frame;
    if (on_camera != Py_None) Py_INCREF(on_camera), self->on_camera = on_camera;
    Py_INCREF(Py_None);
    ret = Py_None;
done:
    free(ov);
    if (!ret) py_results_destroy(&self->q);
    return ret;
}

static PyObject *pl_start(PipelineObject *self, PyObject *unused)
{
    if (check_created(self)) return NULL;
    if (self->stopped) {
        PyErr_SetString(pypan_Error, "the pipeline was stopped; create a new one");
        return NULL;
    }
    if (self->started) Py_RETURN_NONE;
    pan_status st;
    Py_BEGIN_ALLOW_THREADS
    st = pan_pipeline_start(self->pl);
    Py_END_ALLOW_THREADS
    if (st) return pypan_raise(st, "cannot start the pipeline", NULL);
    self->started = 1;
    Py_RETURN_NONE;
}

static int ensure_started(PipelineObject *self)
{
    if (check_created(self)) return -1;
    if (self->started || self->stopped) return 0;
    PyObject *r = pl_start(self, NULL);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static PyObject *pl_add_camera(PipelineObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"uri", "name", "loop", "max_frames", "reconnect", "timeout_ms", "rtsp_transport", NULL};
    pan_camera_params c;
    memset(&c, 0, sizeof c);
    long long max_frames = 0;
    if (check_created(self)) return NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|z$iLiii", kwlist, &c.uri, &c.name, &c.loop, &max_frames,
                                     &c.reconnect, &c.timeout_ms, &c.rtsp_transport))
        return NULL;
    c.max_frames = max_frames;
    int id = -1;
    pan_status st;
    Py_BEGIN_ALLOW_THREADS
    st = pan_pipeline_add_camera(self->pl, &c, &id);
    Py_END_ALLOW_THREADS
    if (st == PAN_CLOSED) {
        PyErr_Format(pypan_Error, "cannot add camera %s: the pipeline was stopped", c.uri);
        return NULL;
    }
    if (st == PAN_LIMIT) {
        PyErr_Format(pypan_Error, "cannot add camera %s: %d cameras at once at most; remove one first", c.uri,
                     PAN_MAX_CAMERAS);
        return NULL;
    }
    if (st) return pypan_raise(st, "cannot add the camera", NULL);
    return PyLong_FromLong(id);
}

static PyObject *pl_remove_camera(PipelineObject *self, PyObject *arg)
{
    if (check_created(self)) return NULL;
    long id = PyLong_AsLong(arg);
    if (id == -1 && PyErr_Occurred()) return NULL;
    pan_status st;
    Py_BEGIN_ALLOW_THREADS
    st = pan_pipeline_remove_camera(self->pl, (int)id);
    Py_END_ALLOW_THREADS
    if (st == PAN_NOTFOUND) {
        PyErr_Format(PyExc_KeyError, "no camera %ld in this pipeline (unknown or already removed)", id);
        return NULL;
    }
    if (st) return pypan_raise(st, "cannot remove the camera", NULL);
    Py_RETURN_NONE;
}

static PyObject *pl_stats(PipelineObject *self, PyObject *unused)
{
    if (check_created(self)) return NULL;
    pan_pipeline_stats s;
    pan_status st = pan_pipeline_get_stats(self->pl, &s);
    if (st) return pypan_raise(st, "cannot read the statistics", NULL);
    PyObject *d = pypan_stats_dict(&s, self->q);
    pan_pipeline_stats_free(&s);
    if (d) { /* this side's share of the per-frame cost */
        PyObject *r = PyDict_GetItemString(d, "results"); /* borrowed */
        if (r && (pypan_dict_steal(r, "convert_s", PyFloat_FromDouble(self->convert_s)) ||
                  pypan_dict_steal(r, "converted", PyLong_FromLongLong(self->converted)))) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static PyObject *pl_backend(PipelineObject *self, void *closure)
{
    if (check_created(self)) return NULL;
    return PyUnicode_FromString(pan_backend_name(pan_pipeline_backend(self->pl)));
}

static PyObject *pl_iter(PyObject *self)
{
    if (ensure_started((PipelineObject *)self)) return NULL;
    Py_INCREF(self);
    return self;
}

static PyObject *pl_iternext(PyObject *o)
{
    PipelineObject *self = (PipelineObject *)o;
    if (ensure_started(self)) return NULL;
    return pypan_pl_next(self);
}

static PyObject *pl_wait(PipelineObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &timeout)) return NULL;
    double t = -1;
    if (timeout != Py_None) {
        t = PyFloat_AsDouble(timeout);
        if (t == -1 && PyErr_Occurred()) return NULL;
        if (t < 0) t = 0;
    }
    if (ensure_started(self)) return NULL;
    return pypan_pl_dispatch(self, t);
}

/* Stops (every decoded frame delivered), then hands out what is left: everything to the callbacks
 * when there is an on_frame, else the events (the frames stay for iteration). */
static PyObject *stop(PipelineObject *self, int quiet)
{
    if (check_created(self)) return NULL;
    py_results_set_stopping(self->q);
    pan_status st;
    Py_BEGIN_ALLOW_THREADS
    st = pan_pipeline_stop(self->pl);
    Py_END_ALLOW_THREADS
    self->stopped = 1;
    if (quiet) Py_RETURN_NONE;
    if (self->on_frame) {
        PyObject *r = pypan_pl_dispatch(self, 0);
        if (!r) return NULL;
        Py_DECREF(r);
    } else {
        py_item *events = py_results_take_events(self->q);
        while (events) {
            py_item *next = events->next;
            if (pypan_pl_handle_event(self, events)) {
                for (events = next; events; events = next) next = events->next, free(events);
                return NULL;
            }
            events = next;
        }
    }
    if (st) return pypan_raise(st, "the pipeline failed", NULL);
    Py_RETURN_NONE;
}

static PyObject *pl_stop(PipelineObject *self, PyObject *unused) { return stop(self, 0); }

static PyObject *pl_enter(PipelineObject *self, PyObject *unused)
{
    if (ensure_started(self)) return NULL;
    Py_INCREF((PyObject *)self);
    return (PyObject *)self;
}

static PyObject *pl_exit(PipelineObject *self, PyObject *args)
{
    PyObject *type = PyTuple_Size(args) > 0 ? PyTuple_GetItem(args, 0) : Py_None;
    if (!type) return NULL;
    PyObject *r = stop(self, type != Py_None); /* with an exception on its way: stop, nothing more */
    if (!r) return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyObject *pl_events(PipelineObject *self, PyObject *unused)
{
    if (check_created(self)) return NULL;
    PyObject *list = self->events;
    PyObject *fresh = PyList_New(0);
    if (!fresh) return NULL;
    self->events = fresh;
    return list;
}

/* Test hook: hands the consumer a synthetic result (n detections, m tracks) as the delivery thread
 * would, so that the conversion can be exercised at volume without running a detector. */
static PyObject *pl_inject(PipelineObject *self, PyObject *args)
{
    int camera, n, m;
    long long frame;
    if (check_created(self) || !PyArg_ParseTuple(args, "iLii", &camera, &frame, &n, &m)) return NULL;
    if (n < 0 || m < 0 || n > 10000 || m > 10000) {
        PyErr_SetString(PyExc_ValueError, "n and m: 0..10000");
        return NULL;
    }
    pan_detection *d = calloc((size_t)n + 1, sizeof *d);
    pan_track_report *t = calloc((size_t)m + 1, sizeof *t);
    if (!d || !t) {
        free(d), free(t);
        return PyErr_NoMemory();
    }
    for (int i = 0; i < n; i++) {
        float x = (float)(i * 10 + frame % 7);
        d[i] = (pan_detection){.box = {x, x + 1.5f, x + 20.25f, x + 40.5f}, .score = 0.9f - i * 0.001f, .class_id = i % 90};
    }
    for (int i = 0; i < m; i++) {
        float x = (float)(i * 11 + frame % 5);
        t[i] = (pan_track_report){.id = i + 1, .global_id = i + 100, .class_id = i % 3, .score = 0.5f,
                                  .box = {x, x, x + 10, x + 30}, .state = (pan_track_state)(i % 4)};
    }
    pan_frame_result r = {.camera = camera, .name = camera % 2 ? "odd \"cam\"" : NULL, .frame = frame,
                          .pts = frame % 3 ? frame / 25.0 : NAN, .width = 768, .height = 576, .detections = d,
                          .n_detections = n, .tracks = t, .n_tracks = m};
    pan_consumer c = py_results_consumer(self->q);
    Py_BEGIN_ALLOW_THREADS
    c.on_frame(c.opaque, &r);
    Py_END_ALLOW_THREADS
    free(d);
    free(t);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------ the type */

static int pl_traverse(PyObject *o, visitproc visit, void *arg)
{
    PipelineObject *self = (PipelineObject *)o;
    Py_VISIT(Py_TYPE(o));
    Py_VISIT(self->on_frame);
    Py_VISIT(self->on_camera);
    Py_VISIT(self->events);
    return 0;
}

static int pl_clear(PyObject *o)
{
    PipelineObject *self = (PipelineObject *)o;
    Py_CLEAR(self->on_frame);
    Py_CLEAR(self->on_camera);
    Py_CLEAR(self->events);
    return 0;
}

static PyObject *pl_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    PipelineObject *self = (PipelineObject *)alloc(type, 0);
    if (!self) return NULL;
    if (!(self->events = PyList_New(0))) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void pl_dealloc(PyObject *o)
{
    PipelineObject *self = (PipelineObject *)o;
    PyTypeObject *tp = Py_TYPE(o);
    PyObject_GC_UnTrack(o);
    if (self->pl) {
        py_results_set_stopping(self->q); /* the delivery thread must not wait for a taker */
        Py_BEGIN_ALLOW_THREADS
        pan_pipeline_destroy(&self->pl);
        Py_END_ALLOW_THREADS
    }
    py_results_destroy(&self->q);
    pl_clear(o);
    freefunc f = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    f(o);
    Py_DECREF(tp);
}

static PyMethodDef pl_methods[] = {
    {"_create", (PyCFunction)(void (*)(void))pl_create, METH_VARARGS | METH_KEYWORDS, NULL},
    {"start", (PyCFunction)pl_start, METH_NOARGS,
     "start(): starts the delivery thread and the cameras added so far. Iterating, wait(), run() and `with`\n"
     "start it too. Nothing happens when it already runs; a stopped pipeline cannot start again."},
    {"stop", (PyCFunction)pl_stop, METH_NOARGS,
     "stop(): stops every camera and returns once every frame already decoded was delivered (the GIL is\n"
     "released meanwhile). With on_frame, the frames still queued go to it before stop() returns; without,\n"
     "they stay queued and iterating yields them, then ends. Raises panoptes.Error if the pipeline failed.\n"
     "Safe to call twice."},
    {"_add_camera", (PyCFunction)(void (*)(void))pl_add_camera, METH_VARARGS | METH_KEYWORDS, NULL},
    {"remove_camera", (PyCFunction)pl_remove_camera, METH_O,
     "remove_camera(id): stops the camera and removes it; the frames it already decoded are still\n"
     "delivered, then its final state and `removed` come as events. KeyError for an unknown id."},
    {"stats", (PyCFunction)pl_stats, METH_NOARGS,
     "stats() -> dict: a snapshot of the statistics (the names of pan_pipeline_stats: frames, fps,\n"
     "cpu_ms_per_frame, cameras: [{id, name, uri, state, status, error, frames, fps, dropped, ...}], ...),\n"
     "with the Python hand-off under 'results' (queue_size, queued, frames, taken, dropped, blocked_s,\n"
     "convert_s) and per camera 'results_dropped' (live results dropped because Python fell behind)."},
    {"wait", (PyCFunction)(void (*)(void))pl_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(timeout=None) -> bool: runs the callbacks until every camera has ended and its frames were\n"
     "delivered (True) or timeout seconds pass (False). Frames go to on_frame (without one, they are taken\n"
     "and dropped: iterate instead to get them), events to on_camera. Ctrl-C raises KeyboardInterrupt."},
    {"events", (PyCFunction)pl_events, METH_NOARGS,
     "events() -> list[CameraEvent]: the camera events seen while iterating or waiting (when there is no\n"
     "on_camera), oldest first, at most 1000; the list is emptied."},
    {"__enter__", (PyCFunction)pl_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)pl_exit, METH_VARARGS, NULL},
    {"_inject", (PyCFunction)pl_inject, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef pl_getset[] = {
    {"backend", (getter)pl_backend, NULL, "the backend that runs: 'cpu' or 'cuda'", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot pl_slots[] = {
    {Py_tp_new, pl_new},
    {Py_tp_dealloc, pl_dealloc},
    {Py_tp_traverse, pl_traverse},
    {Py_tp_clear, pl_clear},
    {Py_tp_iter, pl_iter},
    {Py_tp_iternext, pl_iternext},
    {Py_tp_methods, pl_methods},
    {Py_tp_getset, pl_getset},
    {0, NULL},
};

static PyType_Spec pl_spec = {"panoptes._panoptes.Pipeline", sizeof(PipelineObject), 0,
                              Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, pl_slots};

int pypan_pipeline_init(PyObject *m)
{
    pypan_PipelineType = PyType_FromSpec(&pl_spec);
    if (!pypan_PipelineType) return -1;
    return PyModule_AddObjectRef(m, "Pipeline", pypan_PipelineType);
}
