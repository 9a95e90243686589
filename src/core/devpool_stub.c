/* cpu-only builds: the device pool's API links and says there is no GPU. */
#ifndef PANOPTES_HAVE_CUDA
#include "core/devpool.h"

#include <string.h>

pan_status pan_devpool_create(pan_devpool **pool, const pan_devpool_params *params)
{
    (void)params;
    if (pool) *pool = NULL;
    return PAN_NOGPU;
}
void pan_devpool_destroy(pan_devpool **pool)
{
    if (pool) *pool = NULL;
}
pan_status pan_devpool_get(int device, pan_devpool **pool)
{
    (void)device;
    if (pool) *pool = NULL;
    return PAN_NOGPU;
}
void pan_devpool_shutdown_all(void) {}
pan_status pan_devpool_alloc(pan_devpool *pool, size_t bytes, const char *owner, pan_devblock **block)
{
    (void)pool, (void)bytes, (void)owner;
    if (block) *block = NULL;
    return PAN_NOGPU;
}
pan_devblock *pan_devblock_ref(pan_devblock *block) { return block; }
void pan_devblock_unref(pan_devblock **block)
{
    if (block) *block = NULL;
}
void *pan_devblock_ptr(const pan_devblock *block)
{
    (void)block;
    return NULL;
}
size_t pan_devblock_size(const pan_devblock *block)
{
    (void)block;
    return 0;
}
void pan_devpool_get_stats(pan_devpool *pool, pan_devpool_stats *stats)
{
    (void)pool;
    if (stats) memset(stats, 0, sizeof *stats);
}
int64_t pan_devpool_leak_report(pan_devpool *pool)
{
    (void)pool;
    return 0;
}
size_t pan_devpool_class_size(size_t bytes) { return bytes; }
int pan_devpool_usage_by_owner(pan_devpool *pool, pan_devpool_owner_use *out, int max)
{
    (void)pool;
    (void)out;
    (void)max;
    return 0;
}
size_t pan_devpool_trim(pan_devpool *pool)
{
    (void)pool;
    return 0;
}
#endif
