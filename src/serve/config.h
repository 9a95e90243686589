/* The `panoptes serve` config file (YAML, read with libyaml). Every key is optional; command-line
 * options override it; SIGHUP reads it again (cameras are then added and removed to match).
 *
 *   listen: 127.0.0.1:8080          # ADDR:PORT ([::1]:8080 for IPv6); port 0 = any free port
 *   token_file: /etc/panoptes/token # every /api request then needs "Authorization: Bearer <token>"
 *   backend: auto                   # auto, cpu, cuda
 *   model: models/nanodet.json      # TF.js model.json or an ONNX detector (README "Detector models")
 *   model_type: auto                # the detector family when the model does not say (as run --model-type)
 *   classes: [person, car]          # or "person,car"; COCO names or ids
 *   score: 0.35
 *   detect: true                    # false: decode only
 *   track: true
 *   reid: default                   # default, off, or an ONNX ReID model
 *   reid_interval: 1
 *   batch: 0                        # frames per detector batch (0 = the backend's default)
 *   threads: 1                      # libavcodec threads per camera
 *   io_threads: 0                   # threads that read and decode all cameras (0 = half the cores)
 *   camera_queue: 0                 # decoded frames a camera may have waiting (0 = 2 on cuda, 4 on cpu)
 *   fallback_cpu: false             # a camera NVDEC cannot take uses the cpu decoder
 *   max_backoff_s: 30               # longest wait between reconnect attempts
 *   realtime: false                 # read files at their native frame rate (like live cameras)
 *   overlaps: [[0, 1, -768, 0]]     # cameras A, B see one scene shifted: (x, y) in A is (x+DX, y+DY) in B
 *   sync: true                      # align file cameras by timestamps (default: on with overlaps)
 *   outputs:
 *     jsonl: /var/lib/panoptes/results.jsonl
 *     mot: /var/lib/panoptes/mot
 *   defaults:                       # every camera's options unless it sets its own
 *     reconnect: forever            # (serve's default: cameras are retried forever)
 *     timeout_ms: 5000
 *     transport: tcp
 *   cameras:
 *     - uri: rtsp://10.0.0.5/stream1
 *       name: door
 *       transport: udp
 *     - data/vtest.mp4              # a plain URI
 *
 * Camera fields are those of src/serve/camera.h. Errors name the file, the line and the key
 * ("serve.yaml:12: cameras[1].timeout_ms: expected an integer from 1 to 3600000"). */
#ifndef PANOPTES_SERVE_CONFIG_H
#define PANOPTES_SERVE_CONFIG_H

#include <stddef.h>

#include "panoptes/status.h"
#include "serve/camera.h"

typedef struct pan_serve_config {
    char *listen;       /* NULL = 127.0.0.1:8080 */
    char *token_file;   /* NULL = no token */
    char *backend;      /* "auto", "cpu" or "cuda"; NULL = auto */
    char *model;        /* NULL = the bundled NanoDet */
    char *model_type;   /* a pan_detector_kind_parse name (checked); NULL = auto */
    int *classes;       /* COCO ids; NULL = all */
    int n_classes;
    double score;       /* < 0 = default */
    int detect, track;  /* 1, 0, or -1 = default (on) */
    char *reid;         /* NULL = default */
    int reid_interval;  /* 0 = default */
    int batch;          /* 0 = default */
    int threads;        /* 0 = default */
    int io_threads;     /* 0 = default */
    int camera_queue;   /* 0 = default */
    int fallback_cpu;   /* 1, 0, or -1 = default (off) */
    int max_backoff_s;  /* 0 = default */
    int realtime;       /* 1, 0, or -1 = default (off) */
    /* {camera_a, camera_b, dx, dy} as pan_pipeline_params.overlaps, camera ids as the service
     * gives them (the config's cameras 0, 1, ... in order); NULL = none given */
    double (*overlaps)[4];
    int n_overlaps;
    int sync;           /* 1, 0, or -1 = default (on with overlaps) */
    char *jsonl;        /* outputs; NULL = none */
    char *mot;
    char *events;       /* outputs.events: analytics events as JSON Lines; NULL = none */
    char *mqtt;         /* outputs.mqtt: events to mqtt://host[:port]/prefix; NULL = none */
    char *analytics;    /* the analytics file (counting lines, zones; README "Analytics and events") */
    pan_serve_camera defaults; /* uri unused */
    pan_serve_camera *cameras;
    int n_cameras;
} pan_serve_config;

/* An empty config: every setting at its default, no camera. */
void pan_serve_config_init(pan_serve_config *c);
/* Reads and checks a config file into c (initialised). On error c is left empty and err says
 * where and what ("FILE:LINE: KEY: why"). */
pan_status pan_serve_config_load(pan_serve_config *c, const char *path, char *err, size_t n);
/* The same from text in memory; name stands for the file in messages. */
pan_status pan_serve_config_parse(pan_serve_config *c, const char *name, const char *text, size_t len,
                                  char *err, size_t n);
/* Appends a copy of cam. */
pan_status pan_serve_config_add_camera(pan_serve_config *c, const pan_serve_camera *cam);
/* "person,car,2" -> COCO ids (malloc'd). PAN_INVAL with err naming the bad item. */
pan_status pan_serve_parse_classes(const char *list, int **ids, int *n, char *err, size_t n_err);
/* "A,B,DX,DY" -> {A, B, DX, DY}: two different camera ids >= 0 and a shift in pixels (as run's
 * --overlap). PAN_INVAL with err saying what is wrong. */
pan_status pan_serve_parse_overlap(const char *s, double out[4], char *err, size_t n);
/* At most this many overlaps (as run). */
#define PAN_SERVE_MAX_OVERLAPS 64
/* "127.0.0.1:8080", "[::1]:80", ":8080" (all addresses) -> host ("" for any) and port. */
pan_status pan_serve_parse_listen(const char *s, char *host, size_t host_n, int *port, char *err, size_t n);
void pan_serve_config_free(pan_serve_config *c);

#endif
