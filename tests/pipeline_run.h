/* Tests and benchmarks: a batch run of the pipeline object, as `panoptes run` does it — cameras
 * added in order (ids 0..n-1), run to their end (or until *stop becomes non-zero), JSON Lines
 * written to `out` when given, the statistics returned (free them with pan_pipeline_stats_free;
 * n_cameras is 0 when the pipeline could not be created). pan_test_run_ticking also calls
 * tick(pipeline, arg) from the running thread every 50 ms while it waits (a soak adds and removes
 * cameras there). */
#ifndef PANOPTES_TEST_PIPELINE_RUN_H
#define PANOPTES_TEST_PIPELINE_RUN_H

#include <string.h>

#include "io/outputs.h"
#include "panoptes/pipeline.h"

typedef void (*pan_test_tick)(pan_pipeline *pl, void *arg);

static inline pan_status pan_test_run_ticking(const pan_pipeline_params *p, const char *const *uris, int n,
                                              const char *out, volatile int *stop, pan_pipeline_stats *stats,
                                              pan_test_tick tick, void *tick_arg)
{
    pan_pipeline *pl = NULL;
    pan_outputs *o = NULL;
    pan_outputs_params op = {.jsonl_path = out};
    memset(stats, 0, sizeof *stats);
    pan_status st = pan_outputs_create(&o, &op);
    if (!st) st = pan_pipeline_create(&pl, p);
    if (!st) st = pan_outputs_attach(o, pl);
    if (!st) st = pan_pipeline_start(pl);
    for (int i = 0; !st && i < n; i++) {
        pan_camera_params cp = {.uri = uris[i]};
        st = pan_pipeline_add_camera(pl, &cp, NULL);
    }
    if (!st) {
        while ((st = pan_pipeline_wait(pl, 50)) == PAN_TIMEOUT && !(stop && *stop))
            if (tick) tick(pl, tick_arg);
        pan_status stop_st = pan_pipeline_stop(pl);
        st = st == PAN_TIMEOUT ? stop_st : st ? st : stop_st;
        pan_status s2 = pan_pipeline_get_stats(pl, stats);
        if (!st) st = s2;
    }
    pan_pipeline_destroy(&pl);
    pan_outputs_destroy(&o);
    return st;
}

static inline pan_status pan_test_run(const pan_pipeline_params *p, const char *const *uris, int n, const char *out,
                                      volatile int *stop, pan_pipeline_stats *stats)
{
    return pan_test_run_ticking(p, uris, n, out, stop, stats, NULL, NULL);
}

#endif
