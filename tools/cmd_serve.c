/* panoptes serve: the pipeline as a long-running service with an HTTP API, Prometheus metrics and
 * a status page (src/serve/). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "panoptes/log.h"

#ifndef PANOPTES_HAVE_SERVE
int pan_cli_serve(int argc, char **argv)
{
    fputs("panoptes serve: this build has no HTTP service; install libmicrohttpd-dev, libyaml-dev and\n"
          "libturbojpeg0-dev (scripts/setup.sh does) and build again\n",
          stderr);
    return 2;
}
#else
#include "panoptes/backend.h"
#include "serve/config.h"
#include "serve/service.h"
#include "vision/detector.h"

static void usage(FILE *f)
{
    fputs("usage: panoptes serve [--config FILE] [--camera URI [--name NAME]]... [--listen ADDR:PORT] [options]\n"
          "\n"
          "Runs the pipeline as a service: cameras are added and removed while it runs (HTTP API, config\n"
          "file), results go to the outputs, /metrics serves Prometheus, / shows a status page.\n"
          "\n"
          "  --config FILE       YAML config: listen, token_file, backend, model, model_type, outputs, defaults,\n"
          "                      cameras, ... (README, \"panoptes serve\"); the options below override it.\n"
          "                      SIGHUP reads it again and adds/removes its cameras to match (and re-reads the\n"
          "                      token file)\n"
          "  --camera URI        a camera to start with (repeatable); --name NAME after it names it\n"
          "  --listen ADDR:PORT  where the HTTP API listens (default 127.0.0.1:8080; port 0 = any free one)\n"
          "  --token-file FILE   every /api request then needs \"Authorization: Bearer <the file's text>\";\n"
          "                      /, /metrics and /api/health stay open\n"
          "  --backend B         auto (default), cpu, cuda\n"
          "  --model FILE        detector (default models/nanodet.json)\n"
          "  --model-type T      the detector family when the model does not say: auto (default), nanodet,\n"
          "                      yolov5, yolov7, yolox, yolox-decoded, yolov8, yolo11, yolov10, rtdetr\n"
          "  --classes LIST      keep only these classes, e.g. person,car\n"
          "  --score X           minimum detection score (default 0.35)\n"
          "  --no-detect         decode only; --no-track: detect without tracking\n"
          "  --reid R            default, off, or an ONNX ReID model; --reid-interval N\n"
          "  --batch N           frames per detector batch; --threads N: decoder threads per camera\n"
          "  --io-threads N      threads that read and decode all cameras (default: half the cores, >= 2)\n"
          "  --fallback cpu      a camera NVDEC cannot decode uses the cpu decoder\n"
          "  --overlap A,B,DX,DY cameras A and B (ids: the config's cameras 0, 1, ... in order, then the\n"
          "                      --camera ones) see one scene shifted: (x,y) in A is (x+DX,y+DY) in B\n"
          "                      (repeatable; replaces the config's overlaps); links their tracks into one id\n"
          "  --sync, --no-sync   keep file cameras within 0.1 s of each other's timestamps (default: on with\n"
          "                      overlaps)\n"
          "  --out FILE          JSON Lines results (appended to while the service runs)\n"
          "  --mot DIR           MOTChallenge track files, DIR/cam<id>.txt\n"
          "  --analytics FILE    counting lines and zones (as `panoptes run`; config: analytics: FILE)\n"
          "  --events FILE       analytics events as JSON Lines (config: outputs.events)\n"
          "  --mqtt URL          events to mqtt://host[:port]/prefix (config: outputs.mqtt)\n"
          "  --timeout MS        network timeout per blocking step (default 5000)\n"
          "  --reconnect N       attempts after a camera is lost (default -1: forever)\n"
          "  --max-backoff S     longest wait between attempts, seconds (default 30)\n"
          "  --rtsp-transport T  tcp (default) or udp\n"
          "  --loop              restart file cameras at their end (files as test cameras)\n"
          "  --realtime          read files at their native frame rate, as a live camera would send them\n"
          "\n"
          "SIGTERM or SIGINT: stop taking requests, deliver every decoded frame, close the outputs, exit 0.\n"
          "Exit status: 0 stopped by a signal, 2 bad usage or config, 3 could not start or the pipeline failed.\n",
          f);
}

enum {
    OPT_CONFIG = 256, OPT_CAMERA, OPT_NAME, OPT_LISTEN, OPT_TOKEN_FILE, OPT_BACKEND, OPT_MODEL, OPT_CLASSES,
    OPT_SCORE, OPT_NO_DETECT, OPT_NO_TRACK, OPT_REID, OPT_REID_INTERVAL, OPT_BATCH, OPT_THREADS, OPT_IO_THREADS, OPT_FALLBACK,
    OPT_OUT, OPT_MOT, OPT_TIMEOUT, OPT_RECONNECT, OPT_MAX_BACKOFF, OPT_RTSP_TRANSPORT, OPT_LOOP, OPT_REALTIME,
    OPT_ANALYTICS, OPT_EVENTS, OPT_MQTT, OPT_MODEL_TYPE, OPT_OVERLAP, OPT_SYNC, OPT_NO_SYNC,
};

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"camera", required_argument, NULL, OPT_CAMERA},
    {"name", required_argument, NULL, OPT_NAME},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"model", required_argument, NULL, OPT_MODEL},
    {"model-type", required_argument, NULL, OPT_MODEL_TYPE},
    {"classes", required_argument, NULL, OPT_CLASSES},
    {"score", required_argument, NULL, OPT_SCORE},
    {"no-detect", no_argument, NULL, OPT_NO_DETECT},
    {"no-track", no_argument, NULL, OPT_NO_TRACK},
    {"reid", required_argument, NULL, OPT_REID},
    {"reid-interval", required_argument, NULL, OPT_REID_INTERVAL},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"io-threads", required_argument, NULL, OPT_IO_THREADS},
    {"fallback", required_argument, NULL, OPT_FALLBACK},
    {"out", required_argument, NULL, OPT_OUT},
    {"analytics", required_argument, NULL, OPT_ANALYTICS},
    {"events", required_argument, NULL, OPT_EVENTS},
    {"mqtt", required_argument, NULL, OPT_MQTT},
    {"mot", required_argument, NULL, OPT_MOT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"reconnect", required_argument, NULL, OPT_RECONNECT},
    {"max-backoff", required_argument, NULL, OPT_MAX_BACKOFF},
    {"rtsp-transport", required_argument, NULL, OPT_RTSP_TRANSPORT},
    {"loop", no_argument, NULL, OPT_LOOP},
    {"realtime", no_argument, NULL, OPT_REALTIME},
    {"overlap", required_argument, NULL, OPT_OVERLAP},
    {"sync", no_argument, NULL, OPT_SYNC},
    {"no-sync", no_argument, NULL, OPT_NO_SYNC},
    {NULL, 0, NULL, 0},
};


static int set_str(char **dst, const char *s)
{
    free(*dst);
    return (*dst = strdup(s)) ? 0 : -1;
}

/* The command line, as a config of its own (unset fields as after pan_serve_config_init) that is
 * laid over the config file's. */
static int parse_options(int argc, char **argv, const char **config_path, pan_serve_config *cli)
{
    long v;
    char err[256];
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'h': usage(stdout); return -1;
        case OPT_CONFIG: *config_path = optarg; break;
        case OPT_CAMERA: {
            pan_serve_camera cam = {.uri = optarg};
            if (!*optarg) {
                fprintf(stderr, "panoptes serve: --camera needs a URI\n");
                return 2;
            }
            bad = pan_serve_config_add_camera(cli, &cam) != PAN_OK;
            break;
        }
        case OPT_NAME:
            if (!cli->n_cameras || cli->cameras[cli->n_cameras - 1].name) {
                fprintf(stderr, "panoptes serve: --name '%s' must follow the --camera it names\n", optarg);
                return 2;
            }
            bad = set_str(&cli->cameras[cli->n_cameras - 1].name, optarg);
            break;
        case OPT_LISTEN: {
            char host[256];
            int port;
            if (pan_serve_parse_listen(optarg, host, sizeof host, &port, err, sizeof err)) {
                fprintf(stderr, "panoptes serve: --listen %s\n", err);
                return 2;
            }
            bad = set_str(&cli->listen, optarg);
            break;
        }
        case OPT_TOKEN_FILE: bad = set_str(&cli->token_file, optarg); break;
        case OPT_BACKEND:
            if (pan_backend_parse(optarg) < 0) {
                fprintf(stderr, "panoptes serve: --backend must be auto, cpu or cuda, not '%s'\n", optarg);
                return 2;
            }
            bad = set_str(&cli->backend, optarg);
            break;
        case OPT_MODEL: bad = set_str(&cli->model, optarg); break;
        case OPT_MODEL_TYPE: {
            pan_detector_kind kind;
            if (pan_detector_kind_parse(optarg, &kind)) {
                fprintf(stderr, "panoptes serve: --model-type takes one of %s, not '%s'\n", pan_detector_kind_names(),
                        optarg);
                return 2;
            }
            bad = set_str(&cli->model_type, optarg);
            break;
        }
        case OPT_OVERLAP:
            if (!cli->overlaps && !(cli->overlaps = calloc(PAN_SERVE_MAX_OVERLAPS, sizeof *cli->overlaps))) {
                bad = 1;
                break;
            }
            if (cli->n_overlaps == PAN_SERVE_MAX_OVERLAPS) {
                fprintf(stderr, "panoptes serve: at most %d --overlap options\n", PAN_SERVE_MAX_OVERLAPS);
                return 2;
            }
            if (pan_serve_parse_overlap(optarg, cli->overlaps[cli->n_overlaps], err, sizeof err)) {
                fprintf(stderr, "panoptes serve: --overlap %s\n", err);
                return 2;
            }
            cli->n_overlaps++;
            break;
        case OPT_SYNC: cli->sync = 1; break;
        case OPT_NO_SYNC: cli->sync = 0; break;
        case OPT_CLASSES:
            free(cli->classes);
            cli->classes = NULL;
            if (pan_serve_parse_classes(optarg, &cli->classes, &cli->n_classes, err, sizeof err)) {
                fprintf(stderr, "panoptes serve: --classes: %s\n", err);
                return 2;
            }
            break;
        case OPT_SCORE: {
            char *end;
            double d = strtod(optarg, &end);
            if (!*optarg || *end || !(d >= 0 && d <= 1)) {
                fprintf(stderr, "panoptes serve: --score takes a number from 0 to 1, not '%s'\n", optarg);
                return 2;
            }
            cli->score = d;
            break;
        }
        case OPT_NO_DETECT: cli->detect = 0, cli->track = 0; break;
        case OPT_NO_TRACK: cli->track = 0; break;
        case OPT_REID: bad = set_str(&cli->reid, optarg); break;
        case OPT_REID_INTERVAL:
            if (pan_cli_parse_long("serve", "--reid-interval", optarg, 1, 1000, &v)) return 2;
            cli->reid_interval = (int)v;
            break;
        case OPT_BATCH:
            if (pan_cli_parse_long("serve", "--batch", optarg, 1, 1024, &v)) return 2;
            cli->batch = (int)v;
            break;
        case OPT_THREADS:
            if (pan_cli_parse_long("serve", "--threads", optarg, 1, 64, &v)) return 2;
            cli->threads = (int)v;
            break;
        case OPT_IO_THREADS:
            if (pan_cli_parse_long("serve", "--io-threads", optarg, 1, 256, &v)) return 2;
            cli->io_threads = (int)v;
            break;
        case OPT_FALLBACK:
            if (strcmp(optarg, "cpu")) {
                fprintf(stderr, "panoptes serve: --fallback takes 'cpu', not '%s'\n", optarg);
                return 2;
            }
            cli->fallback_cpu = 1;
            break;
        case OPT_OUT: bad = set_str(&cli->jsonl, optarg); break;
        case OPT_ANALYTICS: bad = set_str(&cli->analytics, optarg); break;
        case OPT_EVENTS: bad = set_str(&cli->events, optarg); break;
        case OPT_MQTT: bad = set_str(&cli->mqtt, optarg); break;
        case OPT_MOT: bad = set_str(&cli->mot, optarg); break;
        case OPT_TIMEOUT:
            if (pan_cli_parse_long("serve", "--timeout", optarg, 1, 3600000, &v)) return 2;
            cli->defaults.timeout_ms = (int)v;
            break;
        case OPT_RECONNECT:
            if (pan_cli_parse_long("serve", "--reconnect", optarg, -1, 1000000, &v)) return 2;
            cli->defaults.reconnect = v == 0 ? PAN_SERVE_RECONNECT_NONE : (int)v;
            break;
        case OPT_MAX_BACKOFF:
            if (pan_cli_parse_long("serve", "--max-backoff", optarg, 1, 86400, &v)) return 2;
            cli->max_backoff_s = (int)v;
            break;
        case OPT_RTSP_TRANSPORT:
            if (strcmp(optarg, "tcp") && strcmp(optarg, "udp")) {
                fprintf(stderr, "panoptes serve: --rtsp-transport takes tcp or udp, not '%s'\n", optarg);
                return 2;
            }
            cli->defaults.transport = !strcmp(optarg, "udp") ? 2 : 1;
            break;
        case OPT_LOOP: cli->defaults.loop = 1; break;
        case OPT_REALTIME: cli->realtime = 1; break;
        default:
            if (optopt >= OPT_CONFIG || c == ':')
                fprintf(stderr, "panoptes serve: %s needs a value (see --help)\n", argv[optind - 1]);
            else
                fprintf(stderr, "panoptes serve: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "panoptes serve: out of memory\n");
            return 3;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "panoptes serve: unexpected argument '%s' (cameras are given with --camera URI)\n", argv[optind]);
        return 2;
    }
    return 0;
}

int pan_cli_serve(int argc, char **argv)
{
    const char *config_path = NULL;
    char model[PATH_MAX], err[1024];
    pan_serve_config cli;
    pan_serve_config_init(&cli);
    int rc = parse_options(argc, argv, &config_path, &cli);
    if (rc) {
        pan_serve_config_free(&cli);
        return rc < 0 ? 0 : rc;
    }
    /* The signals are blocked in every thread the service starts (they inherit this mask) and
     * taken here, one at a time, outside any handler: a reload or a stop is ordinary code. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);

    pan_serve_service *svc = NULL;
    const char *model_default = pan_cli_find_asset("models/nanodet.json", model, sizeof model);
    pan_status st = pan_serve_service_start(&svc, config_path, &cli, model_default, err, sizeof err);
    pan_serve_config_free(&cli);
    if (st) {
        fprintf(stderr, "panoptes serve: %s\n", err);
        rc = st == PAN_INVAL ? 2 : 3;
        goto out;
    }
    fprintf(stderr, "panoptes serve: listening on http://%s/\n", pan_serve_service_address(svc));
    for (;;) {
        int sig = sigwaitinfo(&set, NULL);
        if (sig == SIGHUP) {
            pan_log_info("serve", -1, "SIGHUP: reading %s again", config_path ? config_path : "the config");
            pan_serve_service_reload(svc);
        } else if (sig == SIGINT || sig == SIGTERM) {
            pan_log_info("serve", -1, "%s: stopping; every frame already decoded is delivered",
                         sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
    }
    /* a second signal while draining ends the process the ordinary way */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    st = pan_serve_service_stop(svc);
    if (st) fprintf(stderr, "panoptes serve: the pipeline failed: %s\n", pan_status_str(st));
    rc = st ? 3 : 0;
out:
    pan_serve_service_destroy(&svc);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
#endif
