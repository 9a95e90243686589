/* Snapshots taken only when asked (src/serve/snapshot.h). */
#include "serve/snapshot.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/draw.h"
#include "panoptes/log.h"

/* One camera that someone has asked about. Slots are allocated one by one so that a waiter may
 * hold on to its slot while others come and go; only the delivery thread (offer, end) touches
 * pool, and a removed slot is freed by whoever leaves it last. */
typedef struct slot {
    int camera;
    int waiting;            /* requests waiting for the next frame */
    int ended, removed;
    uint64_t seq;           /* pictures published */
    pan_serve_image *last;  /* the latest picture, or NULL */
    pan_frame_pool *pool;   /* one host frame that device frames are downloaded into */
} slot;

struct pan_serve_snapshots {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    slot **slots;
    int n_slots, cap_slots;
    int n_waiting; /* all cameras; read by offer without the lock (atomic builtins) */
    int closed;
    int64_t bytes_downloaded;
};

pan_status pan_serve_image_create(pan_serve_image **out, int width, int height)
{
    *out = NULL;
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384) return PAN_INVAL;
    int cw = (width + 1) / 2, ch = (height + 1) / 2;
    size_t luma = (size_t)width * height, chroma = (size_t)cw * ch;
    pan_serve_image *img = malloc(sizeof *img + luma + 2 * chroma);
    if (!img) return PAN_NOMEM;
    memset(img, 0, sizeof *img);
    img->width = width;
    img->height = height;
    img->y = (uint8_t *)(img + 1);
    img->u = img->y + luma;
    img->v = img->u + chroma;
    img->pitch_y = width;
    img->pitch_c = cw;
    img->refs = 1;
    memset(img->y, 128, luma + 2 * chroma);
    *out = img;
    return PAN_OK;
}

pan_serve_image *pan_serve_image_ref(pan_serve_image *img)
{
    __atomic_add_fetch(&img->refs, 1, __ATOMIC_RELAXED);
    return img;
}

void pan_serve_image_unref(pan_serve_image **pimg)
{
    if (!pimg || !*pimg) return;
    pan_serve_image *img = *pimg;
    *pimg = NULL;
    if (__atomic_sub_fetch(&img->refs, 1, __ATOMIC_ACQ_REL) == 0) free(img);
}

pan_status pan_serve_snapshots_create(pan_serve_snapshots **out)
{
    pthread_condattr_t ca;
    pan_serve_snapshots *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s) return PAN_NOMEM;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = s;
    return PAN_OK;
}

static void slot_free(slot *sl)
{
    pan_serve_image_unref(&sl->last);
    pan_frame_pool_destroy(&sl->pool);
    free(sl);
}

void pan_serve_snapshots_destroy(pan_serve_snapshots **ps)
{
    if (!ps || !*ps) return;
    pan_serve_snapshots *s = *ps;
    *ps = NULL;
    pan_serve_snapshots_close(s);
    /* waiters leave on close; wait for the last one before freeing what it holds */
    pthread_mutex_lock(&s->mu);
    while (__atomic_load_n(&s->n_waiting, __ATOMIC_RELAXED) > 0) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_slots; i++) slot_free(s->slots[i]);
    free(s->slots);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Under the lock. */
static slot *find(pan_serve_snapshots *s, int camera, int *index)
{
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i]->camera == camera) {
            if (index) *index = i;
            return s->slots[i];
        }
    return NULL;
}

/* Under the lock. NULL when out of memory. */
static slot *find_or_add(pan_serve_snapshots *s, int camera)
{
    slot *sl = find(s, camera, NULL);
    if (sl) return sl;
    if (s->n_slots == s->cap_slots) {
        int cap = s->cap_slots * 2 + 8;
        slot **grown = realloc(s->slots, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        s->slots = grown;
        s->cap_slots = cap;
    }
    if (!(sl = calloc(1, sizeof *sl))) return NULL;
    sl->camera = camera;
    s->slots[s->n_slots++] = sl;
    return sl;
}

static void drop_slot(pan_serve_snapshots *s, slot *sl)
{
    int i;
    if (find(s, sl->camera, &i) == sl) s->slots[i] = s->slots[--s->n_slots];
    slot_free(sl);
}

/* The frame as a host YUV 4:2:0 picture of even size (JPEG's 4:2:0 blocks and the frame's
 * chroma planes then agree), downloading it first when it lives on the device. */
static pan_status capture(pan_serve_snapshots *s, slot *sl, const pan_frame *f, pan_serve_image **out)
{
    pan_frame *host = NULL;
    const pan_frame *src = f;
    pan_status st;
    *out = NULL;
    if (f->format != PAN_PIXFMT_NV12 && f->format != PAN_PIXFMT_YUV420P) return PAN_UNSUPPORTED;
    if (f->memory == PAN_MEMORY_DEVICE) {
        if (!sl->pool) {
            if ((st = pan_frame_pool_create(&sl->pool, f->width, f->height, f->format, 1))) return st;
        }
        st = pan_frame_pool_get(sl->pool, 1, &host);
        if (st == PAN_OK && (host->width != f->width || host->height != f->height || host->format != f->format)) {
            /* the stream changed size: a pool of the new size */
            pan_frame_unref(&host);
            pan_frame_pool_destroy(&sl->pool);
            if ((st = pan_frame_pool_create(&sl->pool, f->width, f->height, f->format, 1))) return st;
            st = pan_frame_pool_get(sl->pool, 1, &host);
        }
        if (st) return st;
        if ((st = pan_frame_download(f, host))) {
            pan_frame_unref(&host);
            return st;
        }
        __atomic_add_fetch(&s->bytes_downloaded, (int64_t)f->width * f->height * 3 / 2, __ATOMIC_RELAXED);
        src = host;
    }
    int w = src->width & ~1, h = src->height & ~1, cw = w / 2, ch = h / 2;
    pan_serve_image *img;
    if ((st = pan_serve_image_create(&img, w, h))) {
        pan_frame_unref(&host);
        return st;
    }
    for (int y = 0; y < h; y++) memcpy(img->y + (size_t)y * img->pitch_y, src->data[0] + (size_t)y * src->pitch[0], (size_t)w);
    for (int y = 0; y < ch; y++) {
        uint8_t *u = img->u + (size_t)y * img->pitch_c, *v = img->v + (size_t)y * img->pitch_c;
        if (src->format == PAN_PIXFMT_YUV420P) {
            memcpy(u, src->data[1] + (size_t)y * src->pitch[1], (size_t)cw);
            memcpy(v, src->data[2] + (size_t)y * src->pitch[2], (size_t)cw);
        } else {
            const uint8_t *uv = src->data[1] + (size_t)y * src->pitch[1];
            for (int x = 0; x < cw; x++) u[x] = uv[2 * x], v[x] = uv[2 * x + 1];
        }
    }
    pan_frame_unref(&host);
    *out = img;
    return PAN_OK;
}

void pan_serve_snapshots_offer(pan_serve_snapshots *s, int camera, int64_t frame, double pts, const pan_frame *image,
                               const pan_detection *dets, int n_dets, const pan_track_report *tracks, int n_tracks)
{
    if (!s || !image || __atomic_load_n(&s->n_waiting, __ATOMIC_ACQUIRE) == 0) return;
    pthread_mutex_lock(&s->mu);
    slot *sl = s->closed ? NULL : find(s, camera, NULL);
    int wanted = sl && sl->waiting > 0 && !sl->removed;
    pthread_mutex_unlock(&s->mu);
    if (!wanted) return;
    /* Outside the lock: requests for other cameras go on meanwhile. The slot stays: only this
     * (the delivery) thread removes cameras. */
    pan_serve_image *img;
    pan_status st = capture(s, sl, image, &img);
    if (st) {
        pan_log_warn("serve", camera, "snapshot: cannot copy frame %lld: %s", (long long)frame, pan_status_str(st));
        return;
    }
    img->camera = camera;
    img->frame = frame;
    img->pts = pts;
    pan__yuv_canvas c = {img->y, img->u, img->v, img->pitch_y, img->pitch_c, img->width, img->height};
    pan__draw_results(&c, camera, frame, dets, n_dets, tracks, n_tracks);
    pthread_mutex_lock(&s->mu);
    pan_serve_image_unref(&sl->last);
    sl->last = img;
    sl->seq++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void pan_serve_snapshots_end(pan_serve_snapshots *s, int camera, int removed)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    /* an ended camera keeps a slot (even if nobody asked yet) so that requests answer at once */
    slot *sl = removed ? find(s, camera, NULL) : find_or_add(s, camera);
    if (sl) {
        sl->ended = 1;
        if (removed) {
            sl->removed = 1;
            if (sl->waiting == 0) drop_slot(s, sl); /* else the last waiter frees it */
        }
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

pan_status pan_serve_snapshots_get(pan_serve_snapshots *s, int camera, int timeout_ms, pan_serve_image **out)
{
    struct timespec deadline;
    pan_status st;
    *out = NULL;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&s->mu);
    if (s->closed) {
        pthread_mutex_unlock(&s->mu);
        return PAN_CLOSED;
    }
    slot *sl = find_or_add(s, camera);
    if (!sl) {
        pthread_mutex_unlock(&s->mu);
        return PAN_NOMEM;
    }
    if (!sl->ended) {
        uint64_t seq0 = sl->seq;
        sl->waiting++;
        __atomic_add_fetch(&s->n_waiting, 1, __ATOMIC_RELEASE);
        while (!s->closed && !sl->ended && sl->seq == seq0)
            if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) break;
        sl->waiting--;
        __atomic_sub_fetch(&s->n_waiting, 1, __ATOMIC_RELEASE);
    }
    if (s->closed) st = PAN_CLOSED;
    else if (sl->removed) st = PAN_NOTFOUND;
    else if (sl->last) *out = pan_serve_image_ref(sl->last), st = PAN_OK;
    else st = sl->ended ? PAN_EOF : PAN_TIMEOUT;
    if (sl->removed && sl->waiting == 0 && !s->closed) drop_slot(s, sl);
    if (s->closed) pthread_cond_broadcast(&s->cv); /* destroy waits for the last waiter */
    pthread_mutex_unlock(&s->mu);
    return st;
}

void pan_serve_snapshots_close(pan_serve_snapshots *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int64_t pan_serve_snapshots_bytes_downloaded(pan_serve_snapshots *s)
{
    return s ? __atomic_load_n(&s->bytes_downloaded, __ATOMIC_RELAXED) : 0;
}
