/* Embedding Panoptes: open the cameras named on the command line, print one line per frame
 * ("camera frame persons=N"), add one more camera after a few seconds and remove it again, and
 * stop cleanly on SIGINT (every decoded frame is still delivered).
 *
 *   cc embed.c $(pkg-config --cflags --libs panoptes) -o embed
 *   ./embed data/vtest.mp4 rtsp://camera/stream           (PANOPTES_MODEL=... picks the detector)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <panoptes/panoptes.h>

static volatile sig_atomic_t stop;

static void on_sigint(int sig)
{
    (void)sig;
    stop = 1;
}

/* Called on the pipeline's delivery thread for every frame: count the people, print, return. */
static pan_status on_frame(void *opaque, const pan_frame_result *r)
{
    (void)opaque;
    int persons = 0;
    for (int i = 0; i < r->n_detections; i++) persons += r->detections[i].class_id == 0;
    printf("%d %lld persons=%d\n", r->camera, (long long)r->frame, persons);
    fflush(stdout);
    return PAN_OK;
}

static void on_camera(void *opaque, const pan_camera_event *e)
{
    (void)opaque;
    fprintf(stderr, "camera %d (%s): %s%s%s\n", e->camera, e->uri, pan_camera_state_name(e->state),
            e->message ? ": " : "", e->message ? e->message : "");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s URI... (files loop; Ctrl-C stops)\n", argv[0]);
        return 2;
    }
    pan_pipeline_params params;
    pan_pipeline_params_default(&params);
    params.backend = PAN_BACKEND_AUTO; /* cuda when an NVIDIA GPU is there, cpu otherwise */
    params.model_path = getenv("PANOPTES_MODEL");
    params.loop = 1;
    params.track = 0;

    pan_pipeline *pl = NULL;
    pan_status st = pan_pipeline_create(&pl, &params);
    if (st) {
        fprintf(stderr, "cannot create the pipeline: %s\n", pan_status_str(st));
        return 3;
    }
    pan_consumer printer = {.name = "printer", .on_frame = on_frame, .on_camera = on_camera};
    pan_pipeline_add_consumer(pl, &printer);
    signal(SIGINT, on_sigint);
    if ((st = pan_pipeline_start(pl))) goto out;
    for (int i = 1; i < argc; i++) {
        pan_camera_params cam = {.uri = argv[i]};
        if ((st = pan_pipeline_add_camera(pl, &cam, NULL))) goto out;
    }

    /* one more camera after 2 s, removed 2 s later */
    double t0 = now_s();
    int extra = -1, added = 0;
    while (!stop) {
        double t = now_s() - t0;
        if (!added && t > 2) {
            pan_camera_params cam = {.uri = argv[1], .name = "extra"};
            if (pan_pipeline_add_camera(pl, &cam, &extra) == PAN_OK) fprintf(stderr, "added camera %d\n", extra);
            added = 1;
        }
        if (extra >= 0 && t > 4) {
            pan_pipeline_remove_camera(pl, extra);
            fprintf(stderr, "removed camera %d\n", extra);
            extra = -1;
        }
        struct timespec nap = {0, 50 * 1000000L};
        nanosleep(&nap, NULL);
    }
    st = pan_pipeline_stop(pl);

    pan_pipeline_stats stats;
    if (pan_pipeline_get_stats(pl, &stats) == PAN_OK) {
        fprintf(stderr, "%lld frames, %.1f frames/s, host CPU %.3f ms/frame\n", (long long)stats.frames, stats.fps,
                stats.cpu_ms_per_frame);
        pan_pipeline_stats_free(&stats);
    }
out:
    if (st) fprintf(stderr, "pipeline: %s\n", pan_status_str(st));
    pan_pipeline_destroy(&pl);
    return st ? 3 : 0;
}
