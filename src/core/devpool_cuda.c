/* Device memory pool: arenas carved into size classes (see src/core/devpool.h). */
#include "core/devpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda_check.h"
#include "core/gpu.h"
#include "panoptes/log.h"

#define MIN_CLASS_BYTES ((size_t)256)
#define ALIGN_BYTES ((size_t)256) /* >= cudaMalloc's guarantee for vector loads, and a cache-line multiple */
#define LARGE_LOG2 24              /* from 16 MiB on, 16 classes per power of two */
#define NUM_CLASSES (((LARGE_LOG2 - 8) * 4) + (48 - LARGE_LOG2) * 16) /* up to 2^48 B */
#define DEFAULT_ARENA ((size_t)64 << 20)

struct pan_devblock {
    pan_devpool *pool;
    uint8_t *ptr;
    size_t size; /* class size */
    int cls;
    atomic_int refs;
    const char *owner;
    pan_devblock *next_free; /* free list of its class, NULL while in use */
    pan_devblock *next_all;  /* every block ever carved, for the leak report */
};

typedef struct arena {
    uint8_t *base;
    size_t size, used;
    struct arena *next;
} arena;

struct pan_devpool {
    pthread_mutex_t lock;
    int device;
    size_t arena_bytes, limit_bytes;
    arena *arenas;   /* head = the one being carved */
    pan_devblock *free_lists[NUM_CLASSES];
    pan_devblock *all;
    pan_devpool_stats st;
    int closing;
};

/* Class index and size: classes are 256 B, then m/4 · 2^k for m = 4..7 (1, 1.25, 1.5, 1.75 ×);
 * from 16 MiB on, m/16 · 2^k for m = 16..31: the engines' arenas and the detector's batch
 * buffers are one block each, where a quarter step wasted up to 25% (a 169 MiB arena took 192). */
static int class_of(size_t bytes, size_t *class_size)
{
    if (bytes <= MIN_CLASS_BYTES) {
        *class_size = MIN_CLASS_BYTES;
        return 0;
    }
    int k = 63 - __builtin_clzll((unsigned long long)bytes); /* 2^k <= bytes < 2^(k+1) */
    int steps = k >= LARGE_LOG2 ? 16 : 4;
    size_t base = (size_t)1 << k, step = base / (size_t)steps;
    size_t m = (bytes - base + step - 1) / step; /* 0..steps steps above 2^k */
    *class_size = base + m * step;
    /* m == steps lands on the next power's first class */
    if (k < LARGE_LOG2) return (k - 8) * 4 + (int)m;
    return (LARGE_LOG2 - 8) * 4 + (k - LARGE_LOG2) * 16 + (int)m;
}

size_t pan_devpool_class_size(size_t bytes)
{
    size_t s;
    (void)class_of(bytes, &s);
    return s;
}

static void pool_free_all(pan_devpool *pool)
{
    pan_devblock *b = pool->all;
    while (b) {
        pan_devblock *n = b->next_all;
        free(b);
        b = n;
    }
    arena *a = pool->arenas;
    while (a) {
        arena *n = a->next;
        if (cudaSetDevice(pool->device) == cudaSuccess)
            (void)pan__cuda_status(cudaFree(a->base), "cudaFree(arena)", __FILE__, __LINE__);
        free(a);
        a = n;
    }
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

pan_status pan_devpool_create(pan_devpool **out, const pan_devpool_params *params)
{
    pan_devpool *pool;
    pan_status st;
    if (!out) return PAN_INVAL;
    *out = NULL;
    int device = params ? params->device : 0;
    if ((st = pan_gpu_init(device)) != PAN_OK) return st;
    pool = calloc(1, sizeof *pool);
    if (!pool) return PAN_NOMEM;
    pthread_mutex_init(&pool->lock, NULL);
    pool->device = device;
    pool->arena_bytes = params && params->arena_bytes ? params->arena_bytes : DEFAULT_ARENA;
    pool->arena_bytes = (pool->arena_bytes + ALIGN_BYTES - 1) & ~(ALIGN_BYTES - 1);
    pool->limit_bytes = params ? params->limit_bytes : 0;
    *out = pool;
    return PAN_OK;
}

/* Called with the lock held. New device memory for one block of `size`: from the current arena,
 * else from a new arena (a dedicated one for large blocks). */
static pan_status carve(pan_devpool *pool, size_t size, uint8_t **ptr)
{
    arena *a = pool->arenas;
    int dedicated = size > pool->arena_bytes / 4;
    if (dedicated || !a || a->size - a->used < size) {
        size_t want = dedicated ? size : pool->arena_bytes;
        if (pool->limit_bytes && pool->st.arena_bytes + want > pool->limit_bytes) {
            pan_log_error("devpool", -1, "device %d: pool limit of %zu MiB reached (holding %zu MiB, need %zu MiB more); "
                          "raise the limit or run fewer cameras", pool->device, pool->limit_bytes >> 20,
                          pool->st.arena_bytes >> 20, want >> 20);
            return PAN_DEVMEM;
        }
        arena *na = calloc(1, sizeof *na);
        if (!na) return PAN_NOMEM;
        pan_status st = pan_gpu_init(pool->device);
        if (st == PAN_OK) st = pan__cuda_status(cudaMalloc((void **)&na->base, want), "cudaMalloc(arena)", __FILE__, __LINE__);
        if (st != PAN_OK) {
            (void)cudaGetLastError();
            free(na);
            pan_log_error("devpool", -1, "device %d: cannot allocate a %zu MiB arena (pool holds %zu MiB); "
                          "the GPU is out of memory: run fewer cameras or a smaller batch",
                          pool->device, want >> 20, pool->st.arena_bytes >> 20);
            return PAN_DEVMEM;
        }
        na->size = want;
        pool->st.cuda_mallocs++;
        pool->st.arenas++;
        pool->st.arena_bytes += want;
        if (dedicated && a) {
            /* keep the partly carved arena at the head: it still serves small blocks */
            na->next = a->next;
            a->next = na;
        } else {
            na->next = a;
            pool->arenas = na;
        }
        a = na;
    }
    *ptr = a->base + a->used;
    a->used += size;
    return PAN_OK;
}

pan_status pan_devpool_alloc(pan_devpool *pool, size_t bytes, const char *owner, pan_devblock **out)
{
    size_t size;
    pan_devblock *b;
    if (!out) return PAN_INVAL;
    *out = NULL;
    if (!pool || bytes == 0) return PAN_INVAL;
    int cls = class_of(bytes, &size);
    if (cls >= NUM_CLASSES) return PAN_DEVMEM;
    pthread_mutex_lock(&pool->lock);
    b = pool->free_lists[cls];
    if (b) {
        pool->free_lists[cls] = b->next_free;
        pool->st.hits++;
    } else {
        uint8_t *ptr;
        pan_status st = carve(pool, size, &ptr);
        if (st != PAN_OK) {
            pthread_mutex_unlock(&pool->lock);
            return st;
        }
        b = calloc(1, sizeof *b);
        if (!b) {
            /* the carved range is lost to this pool until destroy: only on host OOM */
            pthread_mutex_unlock(&pool->lock);
            return PAN_NOMEM;
        }
        b->pool = pool;
        b->ptr = ptr;
        b->size = size;
        b->cls = cls;
        b->next_all = pool->all;
        pool->all = b;
        pool->st.misses++;
    }
    b->next_free = NULL;
    b->owner = owner ? owner : "?";
    atomic_init(&b->refs, 1);
    pool->st.blocks_in_use++;
    pool->st.bytes_in_use += size;
    if (pool->st.bytes_in_use > pool->st.peak_in_use) pool->st.peak_in_use = pool->st.bytes_in_use;
    pthread_mutex_unlock(&pool->lock);
    *out = b;
    return PAN_OK;
}

pan_devblock *pan_devblock_ref(pan_devblock *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void pan_devblock_unref(pan_devblock **pb)
{
    pan_devblock *b;
    if (!pb || !*pb) return;
    b = *pb;
    *pb = NULL;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
    pan_devpool *pool = b->pool;
    pthread_mutex_lock(&pool->lock);
    b->next_free = pool->free_lists[b->cls];
    pool->free_lists[b->cls] = b;
    pool->st.blocks_in_use--;
    pool->st.bytes_in_use -= b->size;
    int last = pool->closing && pool->st.blocks_in_use == 0;
    pthread_mutex_unlock(&pool->lock);
    if (last) pool_free_all(pool);
}

void *pan_devblock_ptr(const pan_devblock *b) { return b ? b->ptr : NULL; }
size_t pan_devblock_size(const pan_devblock *b) { return b ? b->size : 0; }

size_t pan_devpool_trim(pan_devpool *pool)
{
    size_t freed = 0;
    if (!pool) return 0;
    pthread_mutex_lock(&pool->lock);
    arena **pa = &pool->arenas;
    while (*pa) {
        arena *a = *pa;
        size_t size;
        int cls = class_of(a->size, &size);
        pan_devblock **pf = NULL;
        if (cls < NUM_CLASSES && size == a->size && a->used == a->size)
            for (pf = &pool->free_lists[cls]; *pf && (*pf)->ptr != a->base; pf = &(*pf)->next_free) {}
        if (!pf || !*pf) { /* not one free block spanning the arena */
            pa = &a->next;
            continue;
        }
        pan_devblock *b = *pf;
        *pf = b->next_free;
        for (pan_devblock **pb = &pool->all; *pb; pb = &(*pb)->next_all)
            if (*pb == b) {
                *pb = b->next_all;
                break;
            }
        free(b);
        *pa = a->next;
        if (cudaSetDevice(pool->device) == cudaSuccess)
            (void)pan__cuda_status(cudaFree(a->base), "cudaFree(arena)", __FILE__, __LINE__);
        pool->st.arena_bytes -= a->size;
        pool->st.arenas--;
        freed += a->size;
        free(a);
    }
    pthread_mutex_unlock(&pool->lock);
    return freed;
}

void pan_devpool_get_stats(pan_devpool *pool, pan_devpool_stats *s)
{
    pthread_mutex_lock(&pool->lock);
    *s = pool->st;
    pthread_mutex_unlock(&pool->lock);
}

static int cmp_use_desc(const void *a, const void *b)
{
    const pan_devpool_owner_use *x = a, *y = b;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

int pan_devpool_usage_by_owner(pan_devpool *pool, pan_devpool_owner_use *out, int max)
{
    enum { MAX_OWNERS = 64 };
    pan_devpool_owner_use all[MAX_OWNERS];
    int n = 0;
    pthread_mutex_lock(&pool->lock);
    for (pan_devblock *b = pool->all; b; b = b->next_all) {
        if (atomic_load(&b->refs) <= 0) continue; /* free */
        int k = 0;
        while (k < n && strcmp(all[k].owner, b->owner)) k++;
        if (k == n) {
            if (n == MAX_OWNERS) k = n - 1, all[k].owner = "(others)"; /* more owners than kept */
            else all[n++] = (pan_devpool_owner_use){b->owner, 0, 0};
        }
        all[k].bytes += b->size;
        all[k].blocks++;
    }
    pthread_mutex_unlock(&pool->lock);
    qsort(all, (size_t)n, sizeof *all, cmp_use_desc);
    for (int i = 0; i < n && i < max; i++) out[i] = all[i];
    return n;
}

int64_t pan_devpool_leak_report(pan_devpool *pool)
{
    int64_t n = 0;
    pthread_mutex_lock(&pool->lock);
    for (pan_devblock *b = pool->all; b; b = b->next_all) {
        if (atomic_load(&b->refs) <= 0) continue; /* free blocks sit at refcount 0 */
        n++;
        pan_log_warn("devpool", -1, "device %d: leak: %zu bytes owned by '%s' still in use at shutdown",
                     pool->device, b->size, b->owner);
    }
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void pan_devpool_destroy(pan_devpool **ppool)
{
    pan_devpool *pool;
    if (!ppool || !*ppool) return;
    pool = *ppool;
    *ppool = NULL;
    int64_t leaks = pan_devpool_leak_report(pool);
    pthread_mutex_lock(&pool->lock);
    pan_log_info("devpool", -1, "device %d: %zu MiB in %lld arena(s), peak in use %.1f MiB, %lld hits, %lld misses, %lld cudaMalloc, %lld leak(s)",
                 pool->device, pool->st.arena_bytes >> 20, (long long)pool->st.arenas,
                 (double)pool->st.peak_in_use / 1048576.0, (long long)pool->st.hits, (long long)pool->st.misses,
                 (long long)pool->st.cuda_mallocs, (long long)leaks);
    pool->closing = 1;
    int free_now = pool->st.blocks_in_use == 0;
    pthread_mutex_unlock(&pool->lock);
    if (free_now) pool_free_all(pool);
}

/* ---- process-wide pools ---- */

#define MAX_DEVICES 64
static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static pan_devpool *global_pools[MAX_DEVICES];

pan_status pan_devpool_get(int device, pan_devpool **pool)
{
    pan_status st = PAN_OK;
    if (!pool) return PAN_INVAL;
    *pool = NULL;
    if (device < 0 || device >= MAX_DEVICES) return PAN_NOGPU;
    pthread_mutex_lock(&global_lock);
    if (!global_pools[device]) {
        pan_devpool_params p = {.device = device};
        st = pan_devpool_create(&global_pools[device], &p);
    }
    *pool = global_pools[device];
    pthread_mutex_unlock(&global_lock);
    return st;
}

void pan_devpool_shutdown_all(void)
{
    pthread_mutex_lock(&global_lock);
    for (int d = 0; d < MAX_DEVICES; d++) pan_devpool_destroy(&global_pools[d]);
    pthread_mutex_unlock(&global_lock);
}
