/* Device memory pool (phase 1.2): one pool per CUDA device, shared by every GPU module.
 *
 * Memory comes from large arenas (one cudaMalloc each, 64 MiB by default) carved into size
 * classes: 256 B, then four classes per power of two (1, 1.25, 1.5, 1.75 × 2^k), so a block wastes
 * at most 25% of its size; from 16 MiB on (an engine's arena, a batch's buffers: one block each),
 * sixteen per power of two, at most 6.25%. A freed block returns to its class's free list and is reused by the
 * next request of that class: arenas are never split again or coalesced, so the pool cannot
 * fragment, and after warm-up (every size the pipeline uses has been seen once) no cudaMalloc
 * happens at all — the statistics count them so tests and the run summary can prove it.
 * Requests larger than a quarter of an arena get a dedicated arena of their class size.
 *
 * Blocks are reference-counted (pan_devblock_ref / _unref); the last unref returns the block.
 * Each block carries an owner tag (a string literal such as "preprocess.out") so that the leak
 * report at shutdown says who forgot to give memory back.
 *
 * Thread-safe. In builds without CUDA the functions link and return PAN_NOGPU. */
#ifndef PANOPTES_DEVPOOL_H
#define PANOPTES_DEVPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pan_devpool pan_devpool;
typedef struct pan_devblock pan_devblock;

typedef struct pan_devpool_params {
    int device;          /* CUDA ordinal */
    size_t arena_bytes;  /* 0 = 64 MiB */
    size_t limit_bytes;  /* cap on arena bytes; 0 = no cap (until cudaMalloc fails) */
} pan_devpool_params;

typedef struct pan_devpool_stats {
    size_t bytes_in_use;    /* sum of the class sizes of blocks handed out */
    size_t peak_in_use;     /* high-water mark of bytes_in_use */
    size_t arena_bytes;     /* device memory the pool holds (sum of cudaMalloc sizes) */
    int64_t blocks_in_use;
    int64_t hits;           /* allocations served from a free list */
    int64_t misses;         /* allocations that carved new memory */
    int64_t cuda_mallocs;   /* cudaMalloc calls (arenas) so far */
    int64_t arenas;
} pan_devpool_stats;

pan_status pan_devpool_create(pan_devpool **pool, const pan_devpool_params *params);
/* Reports leaks (pan_devpool_leak_report) and frees the arenas. If blocks are still out, the
 * arenas are kept until the last of them is unref'd, so a late unref is never a use-after-free. */
void pan_devpool_destroy(pan_devpool **pool);

/* The process-wide pool of `device`, created on first use with default parameters (calls
 * pan_gpu_init(device)). Every module takes its memory from here. */
pan_status pan_devpool_get(int device, pan_devpool **pool);
/* Destroys the process-wide pools (at shutdown; logs leaks). */
void pan_devpool_shutdown_all(void);

/* A block of at least `bytes` device bytes, 256-byte aligned, refcount 1. `owner` must be a
 * string that outlives the block (a literal). PAN_DEVMEM when the device or the cap is full. */
pan_status pan_devpool_alloc(pan_devpool *pool, size_t bytes, const char *owner, pan_devblock **block);
pan_devblock *pan_devblock_ref(pan_devblock *block);
/* Drops one reference; the last returns the block to its pool. Sets *block to NULL; NULL-safe. */
void pan_devblock_unref(pan_devblock **block);
/* Device address of the block (a CUdeviceptr as a pointer). */
void *pan_devblock_ptr(const pan_devblock *block);
/* Usable size: the class size, >= the bytes requested. */
size_t pan_devblock_size(const pan_devblock *block);

void pan_devpool_get_stats(pan_devpool *pool, pan_devpool_stats *stats);
/* Gives back to the device every arena that holds one free block and nothing else (a large block
 * that was used and released, such as the cuDNN search scratch of planning, or an engine arena
 * that was replaced by a larger one). Returns the bytes freed. For start-up and reconfiguration,
 * never a hot path (cudaFree synchronises the device). */
size_t pan_devpool_trim(pan_devpool *pool);
/* Blocks in use by owner tag. */
typedef struct pan_devpool_owner_use {
    const char *owner;
    size_t bytes;
    int64_t blocks;
} pan_devpool_owner_use;
/* The blocks in use summed by owner (tags compared as strings), largest first: up to max into
 * out. Returns how many owners there are (may be more than max). */
int pan_devpool_usage_by_owner(pan_devpool *pool, pan_devpool_owner_use *out, int max);
/* Logs one line per block still in use (owner, size) and returns their number. */
int64_t pan_devpool_leak_report(pan_devpool *pool);
/* Class size a request of `bytes` is rounded up to (exposed for tests). */
size_t pan_devpool_class_size(size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
