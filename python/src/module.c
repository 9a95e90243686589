/* panoptes._panoptes: module definition, exceptions, interned strings and NumPy handles.
 * The public face (argument checking, default model, docs) is python/panoptes/__init__.py. */
#include "ext.h"

#include <string.h>

/* The library keeps the last error or warning logged on each thread (src/core/log.c); the module
 * uses it to say why pan_pipeline_create failed. Internal to the library, hence declared here. */
const char *pan__log_last_error(void);
void pan__log_clear_last_error(void);

PyObject *pypan_Error, *pypan_NotFoundError, *pypan_ValueError;
PyObject *pypan_labels[PAN_COCO_CLASSES + 1];
PyObject *pypan_track_states[4];
PyObject *pypan_camera_states[PAN_CAMERA_REMOVED + 1];
PyObject *pypan_ndarray, *pypan_f32, *pypan_i32, *pypan_i64;
PyObject *pypan_empty_boxes, *pypan_empty_f32, *pypan_empty_i32, *pypan_empty_i64;

const char *pypan_last_error(void) { return pan__log_last_error(); }
void pypan_clear_last_error(void) { pan__log_clear_last_error(); }

PyObject *pypan_label(int class_id)
{
    return pypan_labels[class_id >= 0 && class_id < PAN_COCO_CLASSES ? class_id : PAN_COCO_CLASSES];
}

int pypan_dict_steal(PyObject *d, const char *key, PyObject *value)
{
    if (!value) return -1;
    int rc = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return rc;
}

PyObject *pypan_raise(pan_status st, const char *what, const char *detail)
{
    PyObject *type = st == PAN_NOTFOUND ? pypan_NotFoundError
                     : st == PAN_INVAL || st == PAN_RANGE ? pypan_ValueError
                                                           : pypan_Error;
    const char *d = detail && *detail ? detail : pan_status_str(st);
    PyObject *msg = PyUnicode_FromFormat("%s: %s (%s)", what, d, pan_status_name(st));
    PyObject *exc = msg ? PyObject_CallFunctionObjArgs(type, msg, NULL) : NULL;
    Py_XDECREF(msg);
    if (!exc) return NULL;
    PyObject *code = PyLong_FromLong(st), *name = PyUnicode_FromString(pan_status_name(st));
    if (code && name && !PyObject_SetAttrString(exc, "status", code) &&
        !PyObject_SetAttrString(exc, "status_name", name))
        PyErr_SetObject(type, exc);
    Py_XDECREF(code);
    Py_XDECREF(name);
    Py_DECREF(exc);
    return NULL;
}

/* ------------------------------------------------------------------------ module functions */

static PyObject *mod_coco_label(PyObject *self, PyObject *arg)
{
    long id = PyLong_AsLong(arg);
    if (id == -1 && PyErr_Occurred()) return NULL;
    PyObject *s = pypan_label((int)(id < 0 || id >= PAN_COCO_CLASSES ? -1 : id));
    Py_INCREF(s);
    return s;
}

static PyObject *mod_coco_class(PyObject *self, PyObject *arg)
{
    const char *s = PyUnicode_AsUTF8AndSize(arg, NULL);
    if (!s) return NULL;
    return PyLong_FromLong(pan_coco_class(s));
}

static PyObject *mod_backend_parse(PyObject *self, PyObject *arg)
{
    const char *s = PyUnicode_AsUTF8AndSize(arg, NULL);
    if (!s) return NULL;
    return PyLong_FromLong(pan_backend_parse(s));
}

static PyObject *mod_set_log_level(PyObject *self, PyObject *arg)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    const char *s = PyUnicode_AsUTF8AndSize(arg, NULL);
    if (!s) return NULL;
    if (!strcmp(s, "quiet")) {
        pan_log_set_level(PAN_LOG_QUIET);
        Py_RETURN_NONE;
    }
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            pan_log_set_level((pan_log_level)i);
            Py_RETURN_NONE;
        }
    PyErr_Format(PyExc_ValueError, "log level must be quiet, error, warn, info or debug, not '%s'", s);
    return NULL;
}

static PyObject *mod_status_name(PyObject *self, PyObject *arg)
{
    long st = PyLong_AsLong(arg);
    if (st == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(pan_status_name((int)st));
}

static PyMethodDef module_methods[] = {
    {"coco_label", mod_coco_label, METH_O, "coco_label(class_id) -> str: the COCO-80 label ('unknown' outside 0..79)."},
    {"coco_class", mod_coco_class, METH_O, "coco_class(label) -> int: the COCO-80 class id, or -1."},
    {"_backend_parse", mod_backend_parse, METH_O, NULL},
    {"set_log_level", mod_set_log_level, METH_O,
     "set_log_level(level): the library's log level on stderr: 'quiet', 'error', 'warn', 'info' (default) or\n"
     "'debug' (per-frame lines). PANOPTES_LOG in the environment, when set, takes precedence."},
    {"_status_name", mod_status_name, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "panoptes._panoptes",
    "The Panoptes engine (C extension). Use the panoptes package, not this module.", -1, module_methods,
};

/* numpy handles and read-only empty arrays (shared by every frame without detections/tracks) */
static int init_numpy(void)
{
    PyObject *np = PyImport_ImportModule("numpy");
    if (!np) return -1;
    int rc = -1;
    PyObject *zeros = NULL;
    pypan_ndarray = PyObject_GetAttrString(np, "ndarray");
    PyObject *dtype = PyObject_GetAttrString(np, "dtype");
    if (!pypan_ndarray || !dtype) goto done;
    pypan_f32 = PyObject_CallFunction(dtype, "s", "float32");
    pypan_i32 = PyObject_CallFunction(dtype, "s", "int32");
    pypan_i64 = PyObject_CallFunction(dtype, "s", "int64");
    zeros = PyObject_GetAttrString(np, "zeros");
    if (!pypan_f32 || !pypan_i32 || !pypan_i64 || !zeros) goto done;
    pypan_empty_boxes = PyObject_CallFunction(zeros, "(ii)O", 0, 4, pypan_f32);
    pypan_empty_f32 = PyObject_CallFunction(zeros, "(i)O", 0, pypan_f32);
    pypan_empty_i32 = PyObject_CallFunction(zeros, "(i)O", 0, pypan_i32);
    pypan_empty_i64 = PyObject_CallFunction(zeros, "(i)O", 0, pypan_i64);
    PyObject *empties[] = {pypan_empty_boxes, pypan_empty_f32, pypan_empty_i32, pypan_empty_i64};
    for (int i = 0; i < 4; i++) {
        if (!empties[i]) goto done;
        PyObject *r = PyObject_CallMethod(empties[i], "setflags", "OO", Py_None, Py_False); /* write=False */
        if (!r) goto done;
        Py_DECREF(r);
    }
    rc = 0;
done:
    Py_XDECREF(zeros);
    Py_XDECREF(dtype);
    Py_DECREF(np);
    return rc;
}

static int add_exceptions(PyObject *m)
{
    pypan_Error = PyErr_NewExceptionWithDoc(
        "panoptes.Error",
        "An error from the Panoptes engine. `status` is the library's status code (negative), `status_name`\n"
        "its name (PAN_MODEL, ...); the message says what failed and what to do.",
        NULL, NULL);
    if (!pypan_Error) return -1;
    PyObject *b1 = PyTuple_Pack(2, pypan_Error, PyExc_FileNotFoundError);
    PyObject *b2 = PyTuple_Pack(2, pypan_Error, PyExc_ValueError);
    if (b1) pypan_NotFoundError = PyErr_NewExceptionWithDoc("panoptes.NotFoundError",
                                                             "A file the engine needs is missing (PAN_NOTFOUND).", b1, NULL);
    if (b2) pypan_ValueError = PyErr_NewExceptionWithDoc("panoptes.InvalidArgument",
                                                         "A bad option or argument (PAN_INVAL, PAN_RANGE).", b2, NULL);
    Py_XDECREF(b1);
    Py_XDECREF(b2);
    if (!pypan_NotFoundError || !pypan_ValueError) return -1;
    if (PyModule_AddObjectRef(m, "Error", pypan_Error) || PyModule_AddObjectRef(m, "NotFoundError", pypan_NotFoundError) ||
        PyModule_AddObjectRef(m, "InvalidArgument", pypan_ValueError))
        return -1;
    return 0;
}

static int add_strings(PyObject *m)
{
    PyObject *labels = PyTuple_New(PAN_COCO_CLASSES);
    if (!labels) return -1;
    for (int i = 0; i <= PAN_COCO_CLASSES; i++) {
        if (!(pypan_labels[i] = PyUnicode_InternFromString(pan_coco_label(i < PAN_COCO_CLASSES ? i : -1)))) {
            Py_DECREF(labels);
            return -1;
        }
        if (i < PAN_COCO_CLASSES) {
            Py_INCREF(pypan_labels[i]);
            PyTuple_SetItem(labels, i, pypan_labels[i]);
        }
    }
    if (PyModule_AddObject(m, "COCO_LABELS", labels)) {
        Py_DECREF(labels);
        return -1;
    }
    for (int i = 0; i < 4; i++)
        if (!(pypan_track_states[i] = PyUnicode_InternFromString(pan_track_state_name((pan_track_state)i)))) return -1;
    for (int i = 0; i <= PAN_CAMERA_REMOVED; i++)
        if (!(pypan_camera_states[i] = PyUnicode_InternFromString(pan_camera_state_name((pan_camera_state)i))))
            return -1;
    return 0;
}

PyMODINIT_FUNC PyInit__panoptes(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    if (init_numpy() || add_exceptions(m) || add_strings(m) || pypan_frame_result_init(m) ||
        pypan_pipeline_init(m) || PyModule_AddStringConstant(m, "__version__", PAN_VERSION_STRING) ||
        PyModule_AddIntConstant(m, "MAX_CAMERAS", PAN_MAX_CAMERAS)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
