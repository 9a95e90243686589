/* The delivery thread → Python hand-off (see results.h). */
#include "results.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_EVENTS 10000 /* camera events queued at most (a camera retrying forever makes many) */

struct py_results {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    py_item *head, *tail;
    int n_frames, n_events; /* queued */
    int capacity;
    int stopping, closed;
    pan_pipeline *pl;
    /* per camera id: 0 unknown, 1 live, 2 recorded; results dropped */
    signed char *live;
    int64_t *cam_dropped;
    int cams_cap;
    py_results_stats st;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void py_layout_of(int n, int m, py_layout *l)
{
    size_t o = 0, un = (size_t)n, um = (size_t)m;
    l->track_ids = o, o += um * 8;
    l->global_ids = o, o += um * 8;
    l->boxes = o, o += un * 16;
    l->scores = o, o += un * 4;
    l->classes = o, o += un * 4;
    l->track_boxes = o, o += um * 16;
    l->track_scores = o, o += um * 4;
    l->track_classes = o, o += um * 4;
    l->track_states = o, o += um * 4;
    l->size = o;
}

int py_results_create(py_results **out, int capacity)
{
    py_results *q = calloc(1, sizeof *q);
    *out = NULL;
    if (!q) return -1;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->capacity = capacity;
    q->st.capacity = capacity;
    *out = q;
    return 0;
}

void py_results_destroy(py_results **pq)
{
    py_results *q = pq ? *pq : NULL;
    if (!q) return;
    for (py_item *it = q->head, *next; it; it = next) {
        next = it->next;
        free(it);
    }
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->live);
    free(q->cam_dropped);
    free(q);
    *pq = NULL;
}

void py_results_set_pipeline(py_results *q, pan_pipeline *pl) { q->pl = pl; }

void py_results_set_stopping(py_results *q)
{
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

/* Room for camera id in the per-camera arrays; under the lock. 0 on success. */
static int cams_reserve(py_results *q, int id)
{
    if (id < q->cams_cap) return 0;
    int cap = q->cams_cap ? q->cams_cap : 16;
    while (cap <= id) cap *= 2;
    signed char *live = realloc(q->live, (size_t)cap);
    if (!live) return -1;
    q->live = live;
    int64_t *d = realloc(q->cam_dropped, (size_t)cap * sizeof *d);
    if (!d) return -1;
    q->cam_dropped = d;
    memset(q->live + q->cams_cap, 0, (size_t)(cap - q->cams_cap));
    memset(q->cam_dropped + q->cams_cap, 0, (size_t)(cap - q->cams_cap) * sizeof *d);
    q->cams_cap = cap;
    return 0;
}

/* Whether camera id is live, from the pipeline's statistics (a camera delivers frames only once
 * connected, and by then its kind is known); cached. Called without the lock: get_stats takes the
 * pipeline's own lock, which the Python side never holds while it holds ours. */
static int camera_is_live(py_results *q, int id)
{
    pthread_mutex_lock(&q->lock);
    int known = cams_reserve(q, id) == 0 ? q->live[id] : 2;
    pthread_mutex_unlock(&q->lock);
    if (known) return known == 1;
    int live = 0;
    pan_pipeline_stats s;
    if (q->pl && pan_pipeline_get_stats(q->pl, &s) == PAN_OK) {
        for (int i = 0; i < s.n_cameras; i++)
            if (s.cameras[i].id == id) live = s.cameras[i].live;
        pan_pipeline_stats_free(&s);
    }
    pthread_mutex_lock(&q->lock);
    if (id < q->cams_cap) q->live[id] = live ? 1 : 2;
    pthread_mutex_unlock(&q->lock);
    return live;
}

static void append(py_results *q, py_item *it)
{
    it->next = NULL;
    if (q->tail) q->tail->next = it;
    else q->head = it;
    q->tail = it;
    pthread_cond_signal(&q->not_empty);
}

/* Unlinks the oldest queued frame of a live camera; under the lock. */
static py_item *unlink_oldest_live(py_results *q)
{
    for (py_item **pp = &q->head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
        py_item *it = *pp;
        if (it->kind != PY_ITEM_FRAME || it->camera >= q->cams_cap || q->live[it->camera] != 1) continue;
        *pp = it->next;
        if (q->tail == it) q->tail = prev;
        q->n_frames--;
        return it;
    }
    return NULL;
}

static void count_drop(py_results *q, int camera)
{
    q->st.dropped++;
    if (cams_reserve(q, camera) == 0) q->cam_dropped[camera]++;
}

/* One allocation: the item, its arrays, then its name. */
static py_item *copy_frame(const pan_frame_result *r)
{
    py_layout l;
    py_layout_of(r->n_detections, r->n_tracks, &l);
    size_t head = (sizeof(py_item) + 15) & ~(size_t)15;
    size_t name_len = r->name ? strlen(r->name) + 1 : 0;
    py_item *it = malloc(head + l.size + name_len);
    if (!it) return NULL;
    memset(it, 0, sizeof *it);
    it->kind = PY_ITEM_FRAME;
    it->camera = r->camera;
    it->frame = r->frame;
    it->pts = r->pts;
    it->width = r->width;
    it->height = r->height;
    it->n_det = r->n_detections;
    it->n_trk = r->n_tracks;
    it->data = (unsigned char *)it + head;
    unsigned char *d = it->data;
    for (int i = 0; i < r->n_detections; i++) {
        const pan_detection *x = &r->detections[i];
        memcpy(d + l.boxes + (size_t)i * 16, x->box, 16);
        memcpy(d + l.scores + (size_t)i * 4, &x->score, 4);
        int32_t c = x->class_id;
        memcpy(d + l.classes + (size_t)i * 4, &c, 4);
    }
    for (int i = 0; i < r->n_tracks; i++) {
        const pan_track_report *t = &r->tracks[i];
        int64_t id = t->id, gid = t->global_id;
        int32_t c = t->class_id, s = (int32_t)t->state;
        memcpy(d + l.track_ids + (size_t)i * 8, &id, 8);
        memcpy(d + l.global_ids + (size_t)i * 8, &gid, 8);
        memcpy(d + l.track_boxes + (size_t)i * 16, t->box, 16);
        memcpy(d + l.track_scores + (size_t)i * 4, &t->score, 4);
        memcpy(d + l.track_classes + (size_t)i * 4, &c, 4);
        memcpy(d + l.track_states + (size_t)i * 4, &s, 4);
    }
    if (r->name) {
        char *name = (char *)d + l.size;
        memcpy(name, r->name, name_len);
        it->name = name;
    }
    return it;
}

static pan_status on_frame(void *opaque, const pan_frame_result *r)
{
    py_results *q = opaque;
    if (q->capacity <= 0) { /* results off: counted only (the benchmark's C callback) */
        pthread_mutex_lock(&q->lock);
        q->st.frames++;
        pthread_mutex_unlock(&q->lock);
        return PAN_OK;
    }
    py_item *it = copy_frame(r);
    pthread_mutex_lock(&q->lock);
    q->st.frames++;
    if (!it) { /* out of memory: this result is lost, counted, the pipeline goes on */
        count_drop(q, r->camera);
        pthread_mutex_unlock(&q->lock);
        return PAN_OK;
    }
    double t0 = 0;
    while (q->n_frames >= q->capacity && !q->stopping) {
        pthread_mutex_unlock(&q->lock);
        int live = camera_is_live(q, r->camera);
        pthread_mutex_lock(&q->lock);
        if (q->n_frames < q->capacity || q->stopping) break;
        if (live) { /* never wait: drop the oldest live result queued, else this one */
            py_item *old = unlink_oldest_live(q);
            if (!old) {
                count_drop(q, r->camera);
                pthread_mutex_unlock(&q->lock);
                free(it);
                return PAN_OK;
            }
            count_drop(q, old->camera);
            free(old);
            break;
        }
        if (!t0) t0 = now_s();
        pthread_cond_wait(&q->not_full, &q->lock);
    }
    if (t0) q->st.blocked_s += now_s() - t0;
    append(q, it);
    if (++q->n_frames > q->st.max_queued) q->st.max_queued = q->n_frames;
    pthread_mutex_unlock(&q->lock);
    return PAN_OK;
}

static py_item *copy_event(const pan_camera_event *e)
{
    size_t nl = e->name ? strlen(e->name) + 1 : 0, ul = e->uri ? strlen(e->uri) + 1 : 0,
           ml = e->message ? strlen(e->message) + 1 : 0;
    py_item *it = malloc(sizeof *it + nl + ul + ml);
    if (!it) return NULL;
    memset(it, 0, sizeof *it);
    char *s = (char *)(it + 1);
    it->kind = PY_ITEM_EVENT;
    it->camera = e->camera;
    it->state = e->state;
    it->status = e->status;
    it->pts = NAN;
    if (e->name) it->name = memcpy(s, e->name, nl), s += nl;
    if (e->uri) it->uri = memcpy(s, e->uri, ul), s += ul;
    if (e->message) it->message = memcpy(s, e->message, ml);
    return it;
}

static void on_camera(void *opaque, const pan_camera_event *e)
{
    py_results *q = opaque;
    py_item *it = copy_event(e);
    pthread_mutex_lock(&q->lock);
    if (it && q->n_events < MAX_EVENTS) {
        append(q, it);
        q->n_events++;
        q->st.events++;
        it = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    free(it);
}

static void on_stop(void *opaque)
{
    py_results *q = opaque;
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

pan_consumer py_results_consumer(py_results *q)
{
    pan_consumer c = {.name = "python", .opaque = q, .on_frame = on_frame, .on_camera = on_camera,
                      .on_stop = on_stop, .no_image = 1}; /* FrameResult carries no pixels */
    return c;
}

py_pop py_results_pop(py_results *q, int timeout_ms, py_item **out)
{
    *out = NULL;
    pthread_mutex_lock(&q->lock);
    if (!q->head && !q->closed && timeout_ms > 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        while (!q->head && !q->closed)
            if (pthread_cond_timedwait(&q->not_empty, &q->lock, &until)) break;
    }
    py_item *it = q->head;
    py_pop rc = it ? PY_POP_ITEM : q->closed ? PY_POP_CLOSED : PY_POP_EMPTY;
    if (it) {
        q->head = it->next;
        if (!q->head) q->tail = NULL;
        if (it->kind == PY_ITEM_FRAME) {
            q->n_frames--;
            q->st.taken++;
            pthread_cond_signal(&q->not_full);
        } else {
            q->n_events--;
        }
    }
    pthread_mutex_unlock(&q->lock);
    *out = it;
    return rc;
}

py_item *py_results_take_events(py_results *q)
{
    py_item *events = NULL, **tail = &events;
    pthread_mutex_lock(&q->lock);
    for (py_item **pp = &q->head, *prev = NULL; *pp;) {
        py_item *it = *pp;
        if (it->kind != PY_ITEM_EVENT) {
            prev = it;
            pp = &it->next;
            continue;
        }
        *pp = it->next;
        if (q->tail == it) q->tail = prev;
        q->n_events--;
        it->next = NULL;
        *tail = it;
        tail = &it->next;
    }
    pthread_mutex_unlock(&q->lock);
    return events;
}

void py_results_get_stats(py_results *q, py_results_stats *s)
{
    pthread_mutex_lock(&q->lock);
    *s = q->st;
    s->queued = q->n_frames;
    pthread_mutex_unlock(&q->lock);
}

int64_t py_results_camera_dropped(py_results *q, int id)
{
    pthread_mutex_lock(&q->lock);
    int64_t n = id >= 0 && id < q->cams_cap ? q->cam_dropped[id] : 0;
    pthread_mutex_unlock(&q->lock);
    return n;
}
