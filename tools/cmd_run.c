/* panoptes run: the main job. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "panoptes/detection.h"
#include "panoptes/log.h"
#include "panoptes/pipeline.h"

static void usage(FILE *f)
{
    fputs("usage: panoptes run [options]\n"
          "\n"
          "Decodes camera streams, detects objects, tracks them, and writes one JSON object per frame per\n"
          "camera. With no --camera, runs the bundled sample (data/vtest.mp4, made by scripts/setup.sh).\n"
          "\n"
          "  --camera URI        a file (MP4, MKV, AVI, TS), an Annex-B .h264/.h265, rtsp:// or http:// URL;\n"
          "                      repeat for more cameras (camera N = the N-th --camera, from 0)\n"
          "  --cameras FILE      cameras from a file, one URI per line (# comments), numbered in order\n"
          "                      with the --camera options around it\n"
          "  --backend B         auto (default: cuda when an NVIDIA GPU with NVDEC is usable), cpu, cuda\n"
          "  --out FILE          JSON Lines results ('-' = stdout)\n"
          "  --mot DIR           MOTChallenge track files, DIR/camN.txt\n"
          "  --annotate FILE     video of one camera with boxes and ids (copies frames to the host)\n"
          "  --annotate-camera N the camera --annotate shows (default 0)\n"
          "  --max-frames N      stop each camera after N frames\n"
          "  --loop              restart file sources at their end\n"
          "  --model FILE        detector: TF.js model.json or YOLOv8/11 .onnx (default models/nanodet.json)\n"
          "  --classes LIST      keep only these classes, e.g. person,car (COCO names or ids)\n"
          "  --score X           minimum detection score (default 0.35)\n"
          "  --no-detect         decode only (no detection or tracking)\n"
          "  --no-track          detect without tracking\n"
          "  --reid R            appearance for tracking: default (the default: a colour descriptor, no\n"
          "                      model), off, or an ONNX ReID model (OSNet/torchreid style, [B,3,H,W] RGB in,\n"
          "                      [B,D] out; its embeddings also link identities across cameras)\n"
          "  --reid-interval N   ReID on every Nth frame of each camera only (default 1: every frame); the\n"
          "                      frames between are tracked by motion, the tracks keep their embeddings\n"
          "                      (synthetic scenes: N = 2 keeps ~60% of appearance's gain, N >= 5 none)\n"
          "  --overlap A,B,DX,DY cameras A and B see the same scene shifted: pixel (x,y) of A is (x+DX,y+DY)\n"
          "                      in B (repeatable); links their tracks into one global id\n"
          "  --batch N           frames per detector batch (default: 1 on cpu, 32 on cuda)\n"
          "  --fallback cpu      a camera NVDEC cannot decode uses the cpu decoder\n"
          "  --threads N         libavcodec threads per camera (cpu decoder)\n"
          "  --timeout MS        network timeout per blocking step (default 5000)\n"
          "  --reconnect N       a network camera that cannot connect or is lost is tried N more times in a\n"
          "                      row, waiting 0.5 s, 1 s, 2 s... (up to --max-backoff); -1 = forever (default 0)\n"
          "  --max-backoff S     longest wait between reconnect attempts, seconds (default 30)\n"
          "  --rtsp-transport T  tcp (default) or udp\n"
          "  --realtime          read files at their native frame rate (live cameras always are); like live\n"
          "                      cameras they then drop frames (counted) when processing falls behind\n"
          "  --sync, --no-sync   keep file cameras within 0.1 s of each other's timestamps (default: on with\n"
          "                      --overlap, whose cross-camera links compare timestamps; the run goes as fast\n"
          "                      as the slowest file)\n"
          "  --summary-json FILE write the end-of-run summary as JSON\n"
          "  --quiet             no summary on stderr\n"
          "\n"
          "Exit status: 0 all cameras ran to the end, 1 some camera failed, 2 bad usage, 3 the run failed.\n",
          f);
}

static int file_exists(const char *p) { return access(p, R_OK) == 0; }

/* Finds a file shipped with Panoptes (data/, models/): $PANOPTES_HOME, the working directory,
 * then the folder above the executable's (build/panoptes → ./). */
/* The texts of the --cameras files: the camera URIs point into them until the run is over. */
static char *camera_texts[16];
static int n_camera_texts;

static void free_camera_lists(void)
{
    while (n_camera_texts > 0) free(camera_texts[--n_camera_texts]);
}

/* --cameras FILE: one URI per line; blank lines and lines starting with '#' are skipped, spaces
 * around a URI trimmed. 0 on success, else 2 (usage) with a message naming the file. */
static int read_camera_list(const char *path, const char **cams, int *n_cams)
{
    if (n_camera_texts == 16) {
        fprintf(stderr, "panoptes run: at most 16 --cameras files\n");
        return 2;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "panoptes run: --cameras %s: %s\n", path, strerror(errno));
        return 2;
    }
    size_t len = 0, cap = 4096;
    char *t = malloc(cap);
    size_t got;
    while (t && (got = fread(t + len, 1, cap - 1 - len, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *nt = realloc(t, cap *= 2);
            if (!nt) free(t);
            t = nt;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!t || bad) {
        free(t);
        fprintf(stderr, "panoptes run: --cameras %s: cannot read it\n", path);
        return 2;
    }
    t[len] = '\0';
    camera_texts[n_camera_texts++] = t;
    int before = *n_cams, line_no = 0;
    for (char *line = t; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line_no++;
        while (isspace((unsigned char)*line)) line++;
        char *end = line + strlen(line);
        while (end > line && isspace((unsigned char)end[-1])) *--end = '\0';
        if (*line && *line != '#') {
            if (*n_cams >= PAN_MAX_CAMERAS) {
                fprintf(stderr, "panoptes run: --cameras %s:%d: at most %d cameras\n", path, line_no, PAN_MAX_CAMERAS);
                return 2;
            }
            cams[(*n_cams)++] = line;
        }
        line = next;
    }
    if (*n_cams == before) {
        fprintf(stderr, "panoptes run: --cameras %s lists no camera (one URI per line, # for comments)\n", path);
        return 2;
    }
    return 0;
}

static const char *find_asset(const char *rel, char *buf, size_t n)
{
    const char *home = getenv("PANOPTES_HOME");
    if (home) {
        snprintf(buf, n, "%s/%s", home, rel);
        if (file_exists(buf)) return buf;
    }
    if (file_exists(rel)) return rel;
    char exe[PATH_MAX - 64];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = 0;
            snprintf(buf, n, "%s/%s", exe, rel);
            if (file_exists(buf)) return buf;
        }
    }
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    pan_pipeline_interrupt();
    /* a second signal ends the process the ordinary way */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

static int parse_classes(const char *s, int *out, int max)
{
    int n = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        long v = strtol(tok, &end, 10);
        int id = *end == 0 ? (int)v : pan_coco_class(tok);
        if (id < 0 || id >= PAN_COCO_CLASSES) {
            fprintf(stderr, "panoptes run: unknown class '%s' (use COCO names such as person, car, or ids 0..79)\n", tok);
            return -1;
        }
        if (n < max) out[n++] = id;
    }
    return n;
}

static void write_summary(FILE *f, const pan_run_summary *s, int json)
{
    if (json) {
        fprintf(f, "{\"backend\":\"%s\",\"cameras\":[", pan_backend_name(s->backend));
        for (int i = 0; i < s->n_cameras; i++) {
            const pan_camera_summary *c = &s->cameras[i];
            fprintf(f, "%s{\"camera\":%d,\"frames\":%lld,\"detections\":%lld,\"decoder\":\"%s\",\"decode_errors\":%lld,"
                       "\"status\":\"%s\"",
                    i ? "," : "", i, (long long)c->frames, (long long)c->detections, pan_decoder_kind_name(c->decoder),
                    (long long)c->decode.errors, c->status ? pan_status_name(c->status) : "ok");
            fprintf(f, ",\"state\":\"%s\",\"live\":%s,\"dropped\":%lld,\"reconnects\":%lld,\"failed_attempts\":%lld,"
                       "\"outage_s\":%.3f,\"thread_cpu_s\":%.3f}",
                    pan_camera_state_name(c->state), c->live ? "true" : "false", (long long)c->dropped,
                    (long long)c->reconnects, (long long)c->failed_attempts, c->outage_s, c->cpu_s);
        }
        fprintf(f, "],\"frames\":%lld,\"wall_s\":%.3f,\"fps\":%.2f,\"cpu_ms_per_frame\":%.4f,\"peak_rss_mib\":%.1f,"
                   "\"pixel_bytes_copied\":%lld,\"device_mib_used\":%.1f,\"failed_cameras\":%d,\"interrupted\":%s,\"dropped\":%lld,"
                   "\"reconnects\":%lld,\"steady_fps\":%.2f,\"steady_cpu_ms_per_frame\":%.4f,"
                   "\"cpu_ms_per_frame_cameras\":%.4f,\"cpu_ms_per_frame_batcher\":%.4f,\"cpu_ms_per_frame_other\":%.4f}\n",
                (long long)s->frames, s->wall_s, s->fps, s->cpu_ms_per_frame, s->peak_rss_mib,
                (long long)s->pixel_bytes_copied, s->device_mib_used, s->failed_cameras, s->interrupted ? "true" : "false",
                (long long)s->dropped, (long long)s->reconnects, s->steady_fps, s->steady_cpu_ms_per_frame,
                s->cpu_ms_per_frame_cameras, s->cpu_ms_per_frame_batcher, s->cpu_ms_per_frame_other);
        return;
    }
    fprintf(f, "summary (%s backend):\n", pan_backend_name(s->backend));
    for (int i = 0; i < s->n_cameras; i++) {
        const pan_camera_summary *c = &s->cameras[i];
        fprintf(f, "  camera %d  %-40s %8lld frames  %8lld detections  decoder %-5s  %s", i, c->uri,
                (long long)c->frames, (long long)c->detections, pan_decoder_kind_name(c->decoder),
                c->status ? pan_status_str(c->status) : "ok");
        if (c->decode.errors) fprintf(f, "  (%lld damaged packets/pictures)", (long long)c->decode.errors);
        if (c->live || c->reconnects || c->failed_attempts)
            fprintf(f, "  [%s: %lld dropped, %lld reconnects, %lld failed attempts, %.1f s outage]",
                    pan_camera_state_name(c->state), (long long)c->dropped, (long long)c->reconnects,
                    (long long)c->failed_attempts, c->outage_s);
        fputc('\n', f);
    }
    fprintf(f, "  total %lld frames in %.2f s: %.1f frames/s, host CPU %.3f ms/frame, peak memory %.1f MiB%s\n",
            (long long)s->frames, s->wall_s, s->fps, s->cpu_ms_per_frame, s->peak_rss_mib,
            s->interrupted ? " (interrupted)" : "");
    if (s->frames)
        fprintf(f, "  host CPU by thread, ms/frame: camera threads %.3f, batcher %.3f, other threads %.3f\n",
                s->cpu_ms_per_frame_cameras, s->cpu_ms_per_frame_batcher, s->cpu_ms_per_frame_other);
    if (s->steady_fps > 0)
        fprintf(f, "  steady state (after the first %.0f s, to the last frame): %.1f frames/s, host CPU %.3f ms/frame\n",
                PAN_STEADY_AFTER_S, s->steady_fps, s->steady_cpu_ms_per_frame);
    if (s->backend == PAN_BACKEND_CUDA)
        fprintf(f, "  pixel bytes copied host<->device: %lld; device memory used %.1f MiB (%.1f MiB per camera)\n",
                (long long)s->pixel_bytes_copied, s->device_mib_used, s->device_mib_used / s->n_cameras);
}

int pan_cli_run(int argc, char **argv)
{
    static const char *cams[PAN_MAX_CAMERAS];
    static int classes[PAN_COCO_CLASSES];
    char sample[PATH_MAX], model[PATH_MAX];
    static double overlaps[64][4];
    int n_overlaps = 0;
    const char *summary_json = NULL;
    int quiet = 0, n_cams = 0;
    pan_pipeline_params p;
    pan_pipeline_params_default(&p);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define NEED_ARG()                                                                   \
    do {                                                                             \
        if (i + 1 >= argc) {                                                         \
            fprintf(stderr, "panoptes run: %s needs a value (see --help)\n", a);      \
            return 2;                                                                \
        }                                                                            \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--camera")) {
            NEED_ARG();
            if (n_cams >= PAN_MAX_CAMERAS) {
                fprintf(stderr, "panoptes run: at most %d cameras\n", PAN_MAX_CAMERAS);
                return 2;
            }
            cams[n_cams++] = argv[++i];
        } else if (!strcmp(a, "--cameras")) {
            NEED_ARG();
            int rc = read_camera_list(argv[++i], cams, &n_cams);
            if (rc) return rc;
        } else if (!strcmp(a, "--backend")) {
            NEED_ARG();
            int b = pan_backend_parse(argv[++i]);
            if (b < 0) {
                fprintf(stderr, "panoptes run: --backend must be auto, cpu or cuda, not '%s'\n", argv[i]);
                return 2;
            }
            p.backend = (pan_backend)b;
        } else if (!strcmp(a, "--out")) {
            NEED_ARG();
            p.out_path = argv[++i];
        } else if (!strcmp(a, "--mot")) {
            NEED_ARG();
            p.mot_dir = argv[++i];
        } else if (!strcmp(a, "--annotate")) {
            NEED_ARG();
            p.annotate_path = argv[++i];
        } else if (!strcmp(a, "--annotate-camera")) {
            NEED_ARG();
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v >= PAN_MAX_CAMERAS) {
                fprintf(stderr, "panoptes run: --annotate-camera takes a camera index (0 = the first --camera), not '%s'\n",
                        argv[i]);
                return 2;
            }
            p.annotate_camera = (int)v;
        } else if (!strcmp(a, "--max-frames")) {
            NEED_ARG();
            p.max_frames = strtoll(argv[++i], NULL, 10);
            if (p.max_frames < 0) p.max_frames = 0;
        } else if (!strcmp(a, "--loop")) {
            p.loop = 1;
        } else if (!strcmp(a, "--model")) {
            NEED_ARG();
            p.model_path = argv[++i];
        } else if (!strcmp(a, "--classes")) {
            NEED_ARG();
            int n = parse_classes(argv[++i], classes, PAN_COCO_CLASSES);
            if (n < 0) return 2;
            p.classes = classes;
            p.n_classes = n;
        } else if (!strcmp(a, "--score")) {
            NEED_ARG();
            p.score_threshold = strtof(argv[++i], NULL);
        } else if (!strcmp(a, "--no-detect")) {
            p.detect = 0;
            p.track = 0;
        } else if (!strcmp(a, "--no-track")) {
            p.track = 0;
        } else if (!strcmp(a, "--reid")) {
            NEED_ARG();
            p.reid = argv[++i];
            if (strcmp(p.reid, "default") && strcmp(p.reid, "off") && !file_exists(p.reid)) {
                fprintf(stderr, "panoptes run: --reid takes default, off or an ONNX model file; '%s' cannot be read\n", p.reid);
                return 2;
            }
        } else if (!strcmp(a, "--overlap")) {
            NEED_ARG();
            double *o = overlaps[n_overlaps];
            char tail;
            if (n_overlaps >= 64 || sscanf(argv[++i], "%lf,%lf,%lf,%lf%c", &o[0], &o[1], &o[2], &o[3], &tail) != 4 ||
                o[0] != (int)o[0] || o[1] != (int)o[1] || o[0] < 0 || o[1] < 0 || o[0] == o[1]) {
                fprintf(stderr, "panoptes run: --overlap takes A,B,DX,DY (two different camera indices and a shift in "
                                "pixels), at most 64 times; not '%s'\n", argv[i]);
                return 2;
            }
            n_overlaps++;
        } else if (!strcmp(a, "--batch")) {
            NEED_ARG();
            p.batch = atoi(argv[++i]);
        } else if (!strcmp(a, "--fallback")) {
            NEED_ARG();
            if (strcmp(argv[++i], "cpu")) {
                fprintf(stderr, "panoptes run: --fallback takes 'cpu'\n");
                return 2;
            }
            p.fallback_cpu = 1;
        } else if (!strcmp(a, "--threads")) {
            NEED_ARG();
            p.decoder_threads = atoi(argv[++i]);
        } else if (!strcmp(a, "--timeout")) {
            NEED_ARG();
            p.timeout_ms = atoi(argv[++i]);
        } else if (!strcmp(a, "--reconnect")) {
            NEED_ARG();
            p.reconnect = atoi(argv[++i]);
            if (p.reconnect < -1) p.reconnect = -1;
        } else if (!strcmp(a, "--max-backoff")) {
            NEED_ARG();
            p.backoff_max_ms = (int)(strtod(argv[++i], NULL) * 1000);
            if (p.backoff_max_ms <= 0) {
                fprintf(stderr, "panoptes run: --max-backoff takes seconds > 0, e.g. 0.5 or 30\n");
                return 2;
            }
            if (p.backoff_max_ms < 500) p.backoff_min_ms = p.backoff_max_ms;
        } else if (!strcmp(a, "--rtsp-transport")) {
            NEED_ARG();
            const char *t = argv[++i];
            if (strcmp(t, "tcp") && strcmp(t, "udp")) {
                fprintf(stderr, "panoptes run: --rtsp-transport takes tcp or udp, not '%s'\n", t);
                return 2;
            }
            p.rtsp_udp = !strcmp(t, "udp");
        } else if (!strcmp(a, "--realtime")) {
            p.realtime = 1;
        } else if (!strcmp(a, "--reid-interval")) {
            NEED_ARG();
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 1000) {
                fprintf(stderr, "panoptes run: --reid-interval takes a frame count from 1 to 1000, not '%s'\n", argv[i]);
                return 2;
            }
            p.reid_interval = (int)v;
        } else if (!strcmp(a, "--sync") || !strcmp(a, "--no-sync")) {
            p.sync = !strcmp(a, "--sync") ? 1 : -1;
        } else if (!strcmp(a, "--summary-json")) {
            NEED_ARG();
            summary_json = argv[++i];
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
        } else {
            fprintf(stderr, "panoptes run: unknown option '%s' (see --help)\n", a);
            return 2;
        }
#undef NEED_ARG
    }
    if (n_cams == 0) {
        const char *s = find_asset("data/vtest.mp4", sample, sizeof sample);
        if (!s) {
            fputs("panoptes run: no --camera given and the bundled sample data/vtest.mp4 is missing;\n"
                  "run scripts/setup.sh first, or pass --camera URI\n",
                  stderr);
            return 2;
        }
        cams[n_cams++] = s;
    }
    if (!p.model_path && p.detect) p.model_path = find_asset("models/nanodet.json", model, sizeof model);
    if (!p.model_path && p.detect) {
        fputs("panoptes run: the default detector models/nanodet.json is missing; run scripts/setup.sh, pass\n"
              "--model FILE, or --no-detect to decode only\n",
              stderr);
        return 2;
    }
    for (int k = 0; k < n_overlaps; k++)
        if (overlaps[k][0] >= n_cams || overlaps[k][1] >= n_cams) {
            fprintf(stderr, "panoptes run: --overlap names camera %d, but there are %d cameras\n",
                    (int)(overlaps[k][0] >= n_cams ? overlaps[k][0] : overlaps[k][1]), n_cams);
            return 2;
        }
    if (p.annotate_path && p.annotate_camera >= n_cams) {
        fprintf(stderr, "panoptes run: --annotate-camera %d, but there are %d cameras\n", p.annotate_camera, n_cams);
        return 2;
    }
    p.overlaps = (const double(*)[4])overlaps;
    p.n_overlaps = n_overlaps;
    p.cameras = cams;
    p.n_cameras = n_cams;
    p.progress = isatty(STDERR_FILENO) && !quiet;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    pan_run_summary sum;
    pan_status st = pan_pipeline_run(&p, &sum);
    if (!sum.cameras) {
        fprintf(stderr, "panoptes run: %s\n", pan_status_str(st));
        return 3;
    }
    if (!quiet) write_summary(stderr, &sum, 0);
    if (summary_json) {
        FILE *f = fopen(summary_json, "w");
        if (f) {
            write_summary(f, &sum, 1);
            fclose(f);
        } else {
            fprintf(stderr, "panoptes run: cannot write %s\n", summary_json);
        }
    }
    int rc = st ? 3 : sum.failed_cameras ? 1 : 0;
    pan_run_summary_free(&sum);
    free_camera_lists();
    return rc;
}
