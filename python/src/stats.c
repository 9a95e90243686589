/* Pipeline.stats(): pan_pipeline_stats as a dict (the same names as the C struct), with the
 * Python hand-off's own figures under "results" and per camera "results_dropped". */
#include "ext.h"

#include <string.h>

#define SET(d, key, value)                                 \
    do {                                                   \
        if (pypan_dict_steal((d), (key), (value))) goto fail; \
    } while (0)

static PyObject *str_or_none(const char *s)
{
    if (s && *s) return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
    Py_INCREF(Py_None);
    return Py_None;
}

static PyObject *status_or_none(pan_status st)
{
    if (st) return PyUnicode_FromString(pan_status_name(st));
    Py_INCREF(Py_None);
    return Py_None;
}

static PyObject *camera_dict(const pan_camera_stats *c, py_results *q)
{
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    SET(d, "id", PyLong_FromLong(c->id));
    SET(d, "name", str_or_none(c->name));
    SET(d, "uri", str_or_none(c->uri));
    SET(d, "state", PyUnicode_FromString(pan_camera_state_name(c->state)));
    SET(d, "status", status_or_none(c->status));
    SET(d, "error", str_or_none(c->error));
    SET(d, "live", PyBool_FromLong(c->live));
    SET(d, "decoder", str_or_none(c->decoder));
    SET(d, "frames", PyLong_FromLongLong(c->frames));
    SET(d, "fps", PyFloat_FromDouble(c->fps));
    SET(d, "detections", PyLong_FromLongLong(c->detections));
    SET(d, "dropped", PyLong_FromLongLong(c->dropped));
    SET(d, "results_dropped", PyLong_FromLongLong(q ? py_results_camera_dropped(q, c->id) : 0));
    SET(d, "decode_errors", PyLong_FromLongLong(c->decode_errors));
    SET(d, "packets", PyLong_FromLongLong(c->packets));
    SET(d, "reconnects", PyLong_FromLongLong(c->reconnects));
    SET(d, "failed_attempts", PyLong_FromLongLong(c->failed_attempts));
    SET(d, "outage_s", PyFloat_FromDouble(c->outage_s));
    SET(d, "thread_cpu_s", PyFloat_FromDouble(c->thread_cpu_s));
    SET(d, "frames_lost", PyLong_FromLongLong(c->frames_lost));
    SET(d, "surfaces_mib", PyFloat_FromDouble(c->surfaces_mib));
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

static PyObject *results_dict(py_results *q)
{
    py_results_stats s;
    py_results_get_stats(q, &s);
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    SET(d, "queue_size", PyLong_FromLong(s.capacity));
    SET(d, "queued", PyLong_FromLong(s.queued));
    SET(d, "max_queued", PyLong_FromLong(s.max_queued));
    SET(d, "frames", PyLong_FromLongLong(s.frames));
    SET(d, "taken", PyLong_FromLongLong(s.taken));
    SET(d, "dropped", PyLong_FromLongLong(s.dropped));
    SET(d, "events", PyLong_FromLongLong(s.events));
    SET(d, "blocked_s", PyFloat_FromDouble(s.blocked_s));
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

PyObject *pypan_stats_dict(const pan_pipeline_stats *s, py_results *q)
{
    PyObject *d = PyDict_New(), *cams = NULL;
    if (!d) return NULL;
    SET(d, "backend", PyUnicode_FromString(pan_backend_name(s->backend)));
    SET(d, "running", PyBool_FromLong(s->running));
    SET(d, "status", status_or_none(s->status));
    SET(d, "uptime_s", PyFloat_FromDouble(s->uptime_s));
    if (!(cams = PyList_New(0))) goto fail;
    for (int i = 0; i < s->n_cameras; i++) {
        PyObject *c = camera_dict(&s->cameras[i], q);
        if (!c || PyList_Append(cams, c)) {
            Py_XDECREF(c);
            goto fail;
        }
        Py_DECREF(c);
    }
    SET(d, "cameras", cams);
    cams = NULL;
    SET(d, "frames", PyLong_FromLongLong(s->frames));
    SET(d, "fps", PyFloat_FromDouble(s->fps));
    SET(d, "cpu_ms_per_frame", PyFloat_FromDouble(s->cpu_ms_per_frame));
    SET(d, "peak_rss_mib", PyFloat_FromDouble(s->peak_rss_mib));
    SET(d, "rss_mib", PyFloat_FromDouble(s->rss_mib));
    SET(d, "device_mib_used", PyFloat_FromDouble(s->device_mib_used));
    SET(d, "device_mib_now", PyFloat_FromDouble(s->device_mib_now));
    SET(d, "device_mib_pool", PyFloat_FromDouble(s->device_mib_pool));
    SET(d, "device_mib_surfaces", PyFloat_FromDouble(s->device_mib_surfaces));
    SET(d, "device_mib_startup", PyFloat_FromDouble(s->device_mib_startup));
    PyObject *uses = PyDict_New(); /* owner -> MiB, largest first */
    if (!uses) goto fail;
    for (int i = 0; i < s->n_device_uses; i++) {
        PyObject *v = PyFloat_FromDouble(s->device_uses[i].mib);
        int bad = !v || PyDict_SetItemString(uses, s->device_uses[i].owner, v);
        Py_XDECREF(v);
        if (bad) {
            Py_DECREF(uses);
            goto fail;
        }
    }
    SET(d, "device_uses", uses);
    SET(d, "create_s", PyFloat_FromDouble(s->create_s));
    SET(d, "first_frame_s", PyFloat_FromDouble(s->first_frame_s));
    SET(d, "pixel_bytes_copied", PyLong_FromLongLong(s->pixel_bytes_copied));
    SET(d, "dropped", PyLong_FromLongLong(s->dropped));
    SET(d, "reconnects", PyLong_FromLongLong(s->reconnects));
    SET(d, "failed_cameras", PyLong_FromLong(s->failed_cameras));
    SET(d, "stopped_cameras", PyLong_FromLong(s->stopped_cameras));
    SET(d, "batches", PyLong_FromLongLong(s->batches));
    SET(d, "batch_max", PyLong_FromLong(s->batch_max));
    SET(d, "batch_mean", PyFloat_FromDouble(s->batch_mean));
    PyObject *hist = PyList_New(PAN_BATCH_HIST);
    if (!hist) goto fail;
    for (int k = 0; k < PAN_BATCH_HIST; k++) PyList_SetItem(hist, k, PyLong_FromLongLong(s->batch_hist[k]));
    SET(d, "batch_hist", hist);
    SET(d, "steady_fps", PyFloat_FromDouble(s->steady_fps));
    SET(d, "steady_cpu_ms_per_frame", PyFloat_FromDouble(s->steady_cpu_ms_per_frame));
    SET(d, "cpu_ms_per_frame_cameras", PyFloat_FromDouble(s->cpu_ms_per_frame_cameras));
    SET(d, "cpu_ms_per_frame_delivery", PyFloat_FromDouble(s->cpu_ms_per_frame_delivery));
    SET(d, "cpu_ms_per_frame_other", PyFloat_FromDouble(s->cpu_ms_per_frame_other));
    SET(d, "io_threads", PyLong_FromLong(s->io_threads));
    SET(d, "connect_threads", PyLong_FromLong(s->connect_threads));
    if (q) SET(d, "results", results_dict(q));
    return d;
fail:
    Py_XDECREF(cams);
    Py_DECREF(d);
    return NULL;
}
