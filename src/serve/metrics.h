/* GET /metrics: the statistics in Prometheus' text exposition format (version 0.0.4), in base
 * units (seconds, bytes), counters ending in _total; `promtool check metrics` passes them.
 *
 * Per camera (labels camera="ID", name="NAME"):
 *   panoptes_camera_state{state="live"}        1 for the camera's state, 0 for the other five
 *   panoptes_camera_frames_per_second          recent delivered frames/s
 *   panoptes_camera_frames_total, _dropped_frames_total, _decode_errors_total, _reconnects_total,
 *   panoptes_camera_detections_total
 * Pipeline:
 *   panoptes_up (1 running, 0 failed or stopping), panoptes_uptime_seconds, panoptes_cameras,
 *   panoptes_cameras_draining (removed, their last frames still being delivered),
 *   panoptes_frames_total, panoptes_dropped_frames_total, panoptes_reconnects_total (removed
 *   cameras included), panoptes_host_cpu_seconds_total, panoptes_host_cpu_seconds_per_frame,
 *   panoptes_peak_resident_memory_bytes, panoptes_device_memory_bytes,
 *   panoptes_pixel_copied_bytes_total, panoptes_batch_size (histogram of frames per detector
 *   batch), panoptes_frame_latency_seconds (histogram, when the pipeline measures latency). */
#ifndef PANOPTES_SERVE_METRICS_H
#define PANOPTES_SERVE_METRICS_H

#include <stddef.h>

#include "serve/engine.h"

/* The text (malloc'd, NUL-terminated; *len its length), or NULL when out of memory. */
char *pan_serve_metrics_text(const pan_serve_stats *s, size_t *len);

#endif
