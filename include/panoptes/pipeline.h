/* The pipeline: N cameras (one thread each: source → decoder) feed one batcher that runs
 * detection on batches of frames from all cameras, then the per-camera trackers, the
 * cross-camera identities and the sinks. See DESIGN.md, "Pipeline". */
#ifndef PANOPTES_PIPELINE_H
#define PANOPTES_PIPELINE_H

#include <stdint.h>

#include "panoptes/backend.h"
#include "panoptes/decoder.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PAN_MAX_CAMERAS 1024

typedef struct pan_pipeline_params {
    const char *const *cameras; /* URIs; camera i is cameras[i] */
    int n_cameras;
    pan_backend backend;
    int loop;                  /* loop file sources */
    int64_t max_frames;        /* per camera; 0 = all */
    const char *out_path;      /* JSON Lines; NULL = none */
    const char *mot_dir;       /* MOTChallenge files, one per camera; NULL = none */
    const char *annotate_path; /* annotated video of camera 0; NULL = none */
    const char *model_path;    /* detector model; NULL = models/nanodet.json */
    int detect;                /* run the detector (1) or decode only (0) */
    int track;                 /* run the trackers (needs detect) */
    float score_threshold;     /* detections below are dropped (default 0.35) */
    const int *classes;        /* class filter (COCO ids); NULL = all */
    int n_classes;
    int batch;                 /* max frames per detector batch; 0 = default */
    int batch_timeout_ms;      /* wait at most this long to fill a batch; 0 = default (5 ms) */
    int decoder_threads;       /* libavcodec threads per camera (cpu); 0 = auto */
    int fallback_cpu;          /* a camera NVDEC cannot take uses the cpu decoder */
    int progress;              /* print progress on stderr (the CLI sets it on a terminal) */
    int timeout_ms;            /* network timeout per blocking step; 0 = 5000 */
} pan_pipeline_params;

typedef struct pan_camera_summary {
    const char *uri;
    int64_t frames;
    int64_t detections;
    pan_status status;        /* PAN_OK, or why the camera stopped */
    pan_decoder_kind decoder;
    pan_decoder_stats decode;
} pan_camera_summary;

typedef struct pan_run_summary {
    int n_cameras;
    pan_camera_summary *cameras; /* n_cameras entries, owned by the summary */
    int64_t frames;              /* all cameras */
    double wall_s;
    double fps;                  /* frames / wall_s */
    double cpu_ms_per_frame;     /* host user+system CPU time / frames (getrusage) */
    double peak_rss_mib;
    int64_t pixel_bytes_copied;  /* host<->device pixel bytes (cuda backend: must be 0) */
    pan_backend backend;         /* the backend that ran */
    int failed_cameras;
    int interrupted;
} pan_run_summary;

void pan_pipeline_params_default(pan_pipeline_params *p);
/* Runs to the end of all sources (or max_frames, or pan_pipeline_interrupt). Returns PAN_OK
 * when the run itself worked, even if some cameras failed (see summary->failed_cameras). */
pan_status pan_pipeline_run(const pan_pipeline_params *p, pan_run_summary *summary);
void pan_run_summary_free(pan_run_summary *summary);
/* Async-signal-safe: asks a running pipeline to stop after the frames in flight. */
void pan_pipeline_interrupt(void);

#ifdef __cplusplus
}
#endif
#endif
