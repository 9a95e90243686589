#include "panoptes/frame.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int pan_pixfmt_planes(pan_pixfmt fmt)
{
    switch (fmt) {
    case PAN_PIXFMT_NV12: return 2;
    case PAN_PIXFMT_YUV420P: return 3;
    default: return 0;
    }
}

const char *pan_pixfmt_name(pan_pixfmt fmt)
{
    switch (fmt) {
    case PAN_PIXFMT_NV12: return "nv12";
    case PAN_PIXFMT_YUV420P: return "yuv420p";
    default: return "none";
    }
}

void pan_frame_init_ref(pan_frame *frame, pan_frame_release_fn release, void *opaque)
{
    __atomic_store_n(&frame->refs, 1, __ATOMIC_RELAXED);
    frame->release = release;
    frame->release_opaque = opaque;
}

pan_frame *pan_frame_ref(pan_frame *frame)
{
    __atomic_fetch_add(&frame->refs, 1, __ATOMIC_RELAXED);
    return frame;
}

void pan_frame_unref(pan_frame **frame)
{
    pan_frame *f;
    if (!frame || !*frame) return;
    f = *frame;
    *frame = NULL;
    if (__atomic_fetch_sub(&f->refs, 1, __ATOMIC_ACQ_REL) == 1 && f->release)
        f->release(f, f->release_opaque);
}

/* ---- host frame pool ---- */

typedef struct pool_slot {
    pan_frame frame; /* first member: a pan_frame * is a pool_slot * */
    uint8_t *buffer;
    struct pool_slot *next_free;
} pool_slot;

struct pan_frame_pool {
    pthread_mutex_t lock;
    pthread_cond_t available;
    pool_slot *slots;
    pool_slot *free_list;
    int capacity;
    int in_use;
    int closing;
    int width, height;
    pan_pixfmt format;
};

static void pool_free(pan_frame_pool *pool)
{
    for (int i = 0; i < pool->capacity; i++) free(pool->slots[i].buffer);
    free(pool->slots);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->available);
    free(pool);
}

static void pool_release(pan_frame *frame, void *opaque)
{
    pan_frame_pool *pool = opaque;
    pool_slot *slot = (pool_slot *)frame;
    int last;
    pthread_mutex_lock(&pool->lock);
    slot->next_free = pool->free_list;
    pool->free_list = slot;
    pool->in_use--;
    last = pool->closing && pool->in_use == 0;
    pthread_cond_signal(&pool->available);
    pthread_mutex_unlock(&pool->lock);
    if (last) pool_free(pool);
}

pan_status pan_frame_pool_create(pan_frame_pool **out, int width, int height, pan_pixfmt format, int capacity)
{
    pan_frame_pool *pool;
    size_t luma, chroma;
    *out = NULL;
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384 || capacity <= 0 ||
        pan_pixfmt_planes(format) == 0)
        return PAN_INVAL;
    pool = calloc(1, sizeof *pool);
    if (!pool) return PAN_NOMEM;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->available, NULL);
    pool->capacity = capacity;
    pool->width = width;
    pool->height = height;
    pool->format = format;
    pool->slots = calloc((size_t)capacity, sizeof *pool->slots);
    if (!pool->slots) goto fail;
    /* Pitches rounded up to 64 bytes; chroma of odd sizes rounds up. */
    int pitch0 = (width + 63) & ~63;
    int cw = (width + 1) / 2, ch = (height + 1) / 2;
    int pitch1 = format == PAN_PIXFMT_NV12 ? pitch0 : ((cw + 63) & ~63);
    luma = (size_t)pitch0 * (size_t)height;
    chroma = (size_t)pitch1 * (size_t)ch;
    for (int i = 0; i < capacity; i++) {
        pool_slot *s = &pool->slots[i];
        size_t total = luma + chroma * (format == PAN_PIXFMT_NV12 ? 1 : 2);
        s->buffer = aligned_alloc(64, (total + 63) & ~(size_t)63);
        if (!s->buffer) goto fail;
        pan_frame *f = &s->frame;
        f->width = width;
        f->height = height;
        f->format = format;
        f->memory = PAN_MEMORY_HOST;
        f->data[0] = s->buffer;
        f->pitch[0] = pitch0;
        f->data[1] = s->buffer + luma;
        f->pitch[1] = pitch1;
        if (format == PAN_PIXFMT_YUV420P) {
            f->data[2] = s->buffer + luma + chroma;
            f->pitch[2] = pitch1;
        }
        s->next_free = pool->free_list;
        pool->free_list = s;
    }
    *out = pool;
    return PAN_OK;
fail:
    pool_free(pool);
    return PAN_NOMEM;
}

pan_status pan_frame_pool_get(pan_frame_pool *pool, int nonblocking, pan_frame **out)
{
    pool_slot *s;
    *out = NULL;
    pthread_mutex_lock(&pool->lock);
    while (!pool->free_list && !pool->closing) {
        if (nonblocking) {
            pthread_mutex_unlock(&pool->lock);
            return PAN_EAGAIN;
        }
        pthread_cond_wait(&pool->available, &pool->lock);
    }
    if (pool->closing) {
        pthread_mutex_unlock(&pool->lock);
        return PAN_CLOSED;
    }
    s = pool->free_list;
    pool->free_list = s->next_free;
    pool->in_use++;
    pthread_mutex_unlock(&pool->lock);

    pan_frame *f = &s->frame;
    f->camera = -1;
    f->index = 0;
    f->pts = NAN;
    f->matrix = PAN_COLOR_BT601;
    f->range = PAN_RANGE_LIMITED;
    f->rotation = 0;
    f->device = -1;
    pan_frame_init_ref(f, pool_release, pool);
    *out = f;
    return PAN_OK;
}

int pan_frame_pool_in_use(const pan_frame_pool *pool)
{
    int n;
    pthread_mutex_lock((pthread_mutex_t *)&pool->lock);
    n = pool->in_use;
    pthread_mutex_unlock((pthread_mutex_t *)&pool->lock);
    return n;
}

void pan_frame_pool_destroy(pan_frame_pool **ppool)
{
    pan_frame_pool *pool;
    int free_now;
    if (!ppool || !*ppool) return;
    pool = *ppool;
    *ppool = NULL;
    pthread_mutex_lock(&pool->lock);
    pool->closing = 1;
    free_now = pool->in_use == 0;
    pthread_cond_broadcast(&pool->available);
    pthread_mutex_unlock(&pool->lock);
    if (free_now) pool_free(pool);
}
