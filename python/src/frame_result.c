/* FrameResult and CameraEvent: one frame's results and one camera's change of state, as Python
 * objects. A FrameResult's arrays are NumPy views of one bytearray holding the copy the delivery
 * thread made (results.c), so a frame costs one allocation and one small copy on this side. */
#include "ext.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <structmember.h>

PyObject *pypan_FrameResultType, *pypan_CameraEventType;

typedef struct {
    PyObject_HEAD
    int camera, width, height, n_det, n_trk;
    long long frame;
    double pts_raw; /* NAN when unknown */
    PyObject *name, *pts;
    PyObject *boxes, *scores, *classes, *labels;
    PyObject *track_ids, *global_ids, *track_boxes, *track_scores, *track_classes, *track_labels, *track_states;
    PyObject *data; /* the bytearray every array views, or NULL when there is nothing */
} FrameResultObject;

static void free_heap_object(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    freefunc f = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    f(o);
    Py_DECREF(tp);
}

static void fr_dealloc(PyObject *o)
{
    FrameResultObject *r = (FrameResultObject *)o;
    Py_XDECREF(r->name);
    Py_XDECREF(r->pts);
    Py_XDECREF(r->boxes);
    Py_XDECREF(r->scores);
    Py_XDECREF(r->classes);
    Py_XDECREF(r->labels);
    Py_XDECREF(r->track_ids);
    Py_XDECREF(r->global_ids);
    Py_XDECREF(r->track_boxes);
    Py_XDECREF(r->track_scores);
    Py_XDECREF(r->track_classes);
    Py_XDECREF(r->track_labels);
    Py_XDECREF(r->track_states);
    Py_XDECREF(r->data);
    free_heap_object(o);
}

/* n elements (rows of `cols` when cols > 0) of dtype at byte `off` of the bytearray. */
static PyObject *view(PyObject *data, PyObject *dtype, int n, int cols, size_t off, PyObject *empty)
{
    if (n == 0) {
        Py_INCREF(empty);
        return empty;
    }
    return cols ? PyObject_CallFunction(pypan_ndarray, "(ii)OOn", n, cols, dtype, data, (Py_ssize_t)off)
                : PyObject_CallFunction(pypan_ndarray, "(i)OOn", n, dtype, data, (Py_ssize_t)off);
}

/* A tuple of the interned strings for n int32 codes at p. */
static PyObject *names(const unsigned char *p, int n, int states)
{
    PyObject *t = PyTuple_New(n);
    if (!t) return NULL;
    for (int i = 0; i < n; i++) {
        int32_t v;
        memcpy(&v, p + (size_t)i * 4, 4);
        PyObject *s = states ? pypan_track_states[v >= 0 && v < 4 ? v : 0] : pypan_label(v);
        Py_INCREF(s);
        PyTuple_SetItem(t, i, s);
    }
    return t;
}

PyObject *pypan_frame_result_new(const py_item *it)
{
    FrameResultObject *r = (FrameResultObject *)PyType_GenericAlloc((PyTypeObject *)pypan_FrameResultType, 0);
    if (!r) return NULL;
    py_layout l;
    py_layout_of(it->n_det, it->n_trk, &l);
    r->camera = it->camera;
    r->frame = (long long)it->frame;
    r->width = it->width;
    r->height = it->height;
    r->n_det = it->n_det;
    r->n_trk = it->n_trk;
    r->pts_raw = it->pts;
    if (it->name) r->name = PyUnicode_FromString(it->name);
    else Py_INCREF(Py_None), r->name = Py_None;
    if (isfinite(it->pts)) r->pts = PyFloat_FromDouble(it->pts);
    else Py_INCREF(Py_None), r->pts = Py_None;
    if (!r->name || !r->pts) goto fail;
    if (l.size) {
        r->data = PyByteArray_FromStringAndSize((const char *)it->data, (Py_ssize_t)l.size);
        if (!r->data) goto fail;
    }
    int n = it->n_det, m = it->n_trk;
    if (!(r->boxes = view(r->data, pypan_f32, n, 4, l.boxes, pypan_empty_boxes)) ||
        !(r->scores = view(r->data, pypan_f32, n, 0, l.scores, pypan_empty_f32)) ||
        !(r->classes = view(r->data, pypan_i32, n, 0, l.classes, pypan_empty_i32)) ||
        !(r->labels = names(it->data + l.classes, n, 0)) ||
        !(r->track_ids = view(r->data, pypan_i64, m, 0, l.track_ids, pypan_empty_i64)) ||
        !(r->global_ids = view(r->data, pypan_i64, m, 0, l.global_ids, pypan_empty_i64)) ||
        !(r->track_boxes = view(r->data, pypan_f32, m, 4, l.track_boxes, pypan_empty_boxes)) ||
        !(r->track_scores = view(r->data, pypan_f32, m, 0, l.track_scores, pypan_empty_f32)) ||
        !(r->track_classes = view(r->data, pypan_i32, m, 0, l.track_classes, pypan_empty_i32)) ||
        !(r->track_labels = names(it->data + l.track_classes, m, 0)) ||
        !(r->track_states = names(it->data + l.track_states, m, 1)))
        goto fail;
    return (PyObject *)r;
fail:
    Py_DECREF(r);
    return NULL;
}

/* ------------------------------------------------------------------------ to_json */

typedef struct strbuf {
    char *p;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sb_printf(strbuf *b, const char *fmt, ...)
{
    for (;;) {
        if (b->oom) return;
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)k < b->cap - b->len) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = (b->cap + (size_t)k + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
}

/* As the JSONL sink writes it (src/io/jsonl_sink.c): the same fields, order and number formats,
 * so that a result written back from Python is byte for byte the line `panoptes run --out` wrote. */
static PyObject *fr_to_json(PyObject *o, PyObject *unused)
{
    FrameResultObject *r = (FrameResultObject *)o;
    strbuf b = {malloc(1024), 0, 1024, 0};
    if (!b.p) return PyErr_NoMemory();
    py_layout l;
    py_layout_of(r->n_det, r->n_trk, &l);
    const unsigned char *d = r->data ? (const unsigned char *)PyByteArray_AsString(r->data) : NULL;
    sb_printf(&b, "{\"camera\":%d,", r->camera);
    if (r->name != Py_None) {
        const char *name = PyUnicode_AsUTF8AndSize(r->name, NULL);
        if (!name) {
            free(b.p);
            return NULL;
        }
        sb_printf(&b, "\"name\":\"");
        for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
            if (*p == '"' || *p == '\\') sb_printf(&b, "\\%c", *p);
            else if (*p < 0x20) sb_printf(&b, "\\u%04x", *p);
            else sb_printf(&b, "%c", *p);
        }
        sb_printf(&b, "\",");
    }
    sb_printf(&b, "\"frame\":%lld,", r->frame);
    if (isfinite(r->pts_raw)) sb_printf(&b, "\"pts\":%.6f,", r->pts_raw);
    else sb_printf(&b, "\"pts\":null,");
    sb_printf(&b, "\"width\":%d,\"height\":%d,\"detections\":[", r->width, r->height);
    for (int i = 0; i < r->n_det; i++) {
        float box[4], score;
        int32_t cls;
        memcpy(box, d + l.boxes + (size_t)i * 16, 16);
        memcpy(&score, d + l.scores + (size_t)i * 4, 4);
        memcpy(&cls, d + l.classes + (size_t)i * 4, 4);
        sb_printf(&b, "%s{\"class\":%d,\"label\":\"%s\",\"score\":%.4f,\"box\":[%.2f,%.2f,%.2f,%.2f]}", i ? "," : "",
                  cls, pan_coco_label(cls), score, box[0], box[1], box[2], box[3]);
    }
    sb_printf(&b, "],\"tracks\":[");
    for (int i = 0; i < r->n_trk; i++) {
        int64_t id, gid;
        float box[4], score;
        int32_t cls, state;
        memcpy(&id, d + l.track_ids + (size_t)i * 8, 8);
        memcpy(&gid, d + l.global_ids + (size_t)i * 8, 8);
        memcpy(box, d + l.track_boxes + (size_t)i * 16, 16);
        memcpy(&score, d + l.track_scores + (size_t)i * 4, 4);
        memcpy(&cls, d + l.track_classes + (size_t)i * 4, 4);
        memcpy(&state, d + l.track_states + (size_t)i * 4, 4);
        sb_printf(&b,
                  "%s{\"id\":%lld,\"global_id\":%lld,\"class\":%d,\"label\":\"%s\",\"score\":%.4f,"
                  "\"box\":[%.2f,%.2f,%.2f,%.2f],\"state\":\"%s\"}",
                  i ? "," : "", (long long)id, (long long)gid, cls, pan_coco_label(cls), score, box[0], box[1], box[2],
                  box[3], pan_track_state_name((pan_track_state)state));
    }
    sb_printf(&b, "]}");
    PyObject *s = b.oom ? PyErr_NoMemory() : PyUnicode_FromStringAndSize(b.p, (Py_ssize_t)b.len);
    free(b.p);
    return s;
}

static PyObject *fr_repr(PyObject *o)
{
    FrameResultObject *r = (FrameResultObject *)o;
    char pts[32] = "None";
    if (isfinite(r->pts_raw)) snprintf(pts, sizeof pts, "%.3f", r->pts_raw);
    return PyUnicode_FromFormat("<FrameResult camera=%d name=%R frame=%lld pts=%s %dx%d detections=%d tracks=%d>",
                                r->camera, r->name, r->frame, pts, r->width, r->height, r->n_det, r->n_trk);
}

static PyMethodDef fr_methods[] = {
    {"to_json", fr_to_json, METH_NOARGS,
     "to_json() -> str: this frame as the JSON Lines object `panoptes run --out` writes (no newline)."},
    {NULL, NULL, 0, NULL},
};

#define RO READONLY
static PyMemberDef fr_members[] = {
    {"camera", T_INT, offsetof(FrameResultObject, camera), RO, "the camera's id (add_camera's)"},
    {"name", T_OBJECT, offsetof(FrameResultObject, name), RO, "the camera's name, or None"},
    {"frame", T_LONGLONG, offsetof(FrameResultObject, frame), RO, "0-based index of the frame in its camera's stream"},
    {"pts", T_OBJECT, offsetof(FrameResultObject, pts), RO,
     "presentation time in seconds (None when unknown); live cameras: seconds since start when it arrived"},
    {"width", T_INT, offsetof(FrameResultObject, width), RO, "frame width in pixels (as analysed)"},
    {"height", T_INT, offsetof(FrameResultObject, height), RO, "frame height in pixels"},
    {"boxes", T_OBJECT, offsetof(FrameResultObject, boxes), RO,
     "detections: float32 [N, 4], x1 y1 x2 y2 in source pixels, the frame spanning [0,width] x [0,height]"},
    {"scores", T_OBJECT, offsetof(FrameResultObject, scores), RO, "detections: float32 [N], descending"},
    {"classes", T_OBJECT, offsetof(FrameResultObject, classes), RO, "detections: int32 [N] class ids (COCO: 0 = person)"},
    {"labels", T_OBJECT, offsetof(FrameResultObject, labels), RO, "detections: tuple of N labels ('person', ...)"},
    {"track_ids", T_OBJECT, offsetof(FrameResultObject, track_ids), RO,
     "tracks: int64 [M] ids, per camera, never reused within a run"},
    {"global_ids", T_OBJECT, offsetof(FrameResultObject, global_ids), RO,
     "tracks: int64 [M] cross-camera identities (0 = not linked yet)"},
    {"track_boxes", T_OBJECT, offsetof(FrameResultObject, track_boxes), RO,
     "tracks: float32 [M, 4] Kalman-filtered boxes, x1 y1 x2 y2"},
    {"track_scores", T_OBJECT, offsetof(FrameResultObject, track_scores), RO, "tracks: float32 [M]"},
    {"track_classes", T_OBJECT, offsetof(FrameResultObject, track_classes), RO, "tracks: int32 [M] class ids"},
    {"track_labels", T_OBJECT, offsetof(FrameResultObject, track_labels), RO, "tracks: tuple of M labels"},
    {"track_states", T_OBJECT, offsetof(FrameResultObject, track_states), RO,
     "tracks: tuple of M states: 'tentative', 'confirmed', 'lost' or 'removed'"},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot fr_slots[] = {
    {Py_tp_dealloc, fr_dealloc},
    {Py_tp_repr, fr_repr},
    {Py_tp_methods, fr_methods},
    {Py_tp_members, fr_members},
    {Py_tp_doc, "One frame of one camera after detection, tracking and identities. The arrays are NumPy views\n"
                "of this result's own copy (writable; nothing else sees them)."},
    {0, NULL},
};

static PyType_Spec fr_spec = {"panoptes.FrameResult", sizeof(FrameResultObject), 0,
                              Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, fr_slots};

/* ------------------------------------------------------------------------ CameraEvent */

typedef struct {
    PyObject_HEAD
    int camera, status;
    PyObject *name, *uri, *state, *status_name, *message;
} CameraEventObject;

static void ev_dealloc(PyObject *o)
{
    CameraEventObject *e = (CameraEventObject *)o;
    Py_XDECREF(e->name);
    Py_XDECREF(e->uri);
    Py_XDECREF(e->state);
    Py_XDECREF(e->status_name);
    Py_XDECREF(e->message);
    free_heap_object(o);
}

static PyObject *str_or_none(const char *s)
{
    if (s) return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
    Py_INCREF(Py_None);
    return Py_None;
}

PyObject *pypan_camera_event_new(const py_item *it)
{
    CameraEventObject *e = (CameraEventObject *)PyType_GenericAlloc((PyTypeObject *)pypan_CameraEventType, 0);
    if (!e) return NULL;
    e->camera = it->camera;
    e->status = it->status;
    e->state = pypan_camera_states[it->state >= 0 && it->state <= PAN_CAMERA_REMOVED ? it->state : 0];
    Py_INCREF(e->state);
    e->name = str_or_none(it->name);
    e->uri = str_or_none(it->uri);
    e->message = str_or_none(it->message);
    e->status_name = PyUnicode_FromString(pan_status_name(it->status));
    if (!e->name || !e->uri || !e->message || !e->status_name) {
        Py_DECREF(e);
        return NULL;
    }
    return (PyObject *)e;
}

static PyObject *ev_repr(PyObject *o)
{
    CameraEventObject *e = (CameraEventObject *)o;
    return PyUnicode_FromFormat("<CameraEvent camera=%d name=%R state=%R status=%S message=%R>", e->camera, e->name,
                                e->state, e->status_name, e->message);
}

static PyMemberDef ev_members[] = {
    {"camera", T_INT, offsetof(CameraEventObject, camera), RO, "the camera's id"},
    {"name", T_OBJECT, offsetof(CameraEventObject, name), RO, "the camera's name, or None"},
    {"uri", T_OBJECT, offsetof(CameraEventObject, uri), RO, "the camera's URI"},
    {"state", T_OBJECT, offsetof(CameraEventObject, state), RO,
     "the new state: connecting, live, retrying, failed, ended, stopped or removed"},
    {"status", T_INT, offsetof(CameraEventObject, status), RO,
     "failed or retrying: why (a negative status code); ended: PAN_DAMAGED / PAN_TRUNCATED for a damaged file; else 0"},
    {"status_name", T_OBJECT, offsetof(CameraEventObject, status_name), RO, "the status's name (PAN_OK, PAN_NOTFOUND, ...)"},
    {"message", T_OBJECT, offsetof(CameraEventObject, message), RO, "what happened, for people, or None"},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot ev_slots[] = {
    {Py_tp_dealloc, ev_dealloc},
    {Py_tp_repr, ev_repr},
    {Py_tp_members, ev_members},
    {Py_tp_doc, "A camera's change of state (connecting, live, retrying, failed, ended, stopped, removed)."},
    {0, NULL},
};

static PyType_Spec ev_spec = {"panoptes.CameraEvent", sizeof(CameraEventObject), 0,
                              Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, ev_slots};

int pypan_frame_result_init(PyObject *m)
{
    pypan_FrameResultType = PyType_FromSpec(&fr_spec);
    pypan_CameraEventType = PyType_FromSpec(&ev_spec);
    if (!pypan_FrameResultType || !pypan_CameraEventType) return -1;
    if (PyModule_AddObjectRef(m, "FrameResult", pypan_FrameResultType) ||
        PyModule_AddObjectRef(m, "CameraEvent", pypan_CameraEventType))
        return -1;
    return 0;
}
