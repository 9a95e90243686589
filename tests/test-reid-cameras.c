/* Global identities across two cameras that see the same people, without the pipeline's threads.
 *
 * Two overlapping crops of data/vtest-1080p.mp4 (left 60% and right 60% of the width: x 0..1152
 * and 768..1920; the middle 384 px are seen by both) are made here with ffmpeg and decoded in
 * lockstep, frame i of camera 0 and frame i of camera 1 as one batch of the pipeline's own stages
 * (src/pipeline_stages.c: detect, ReID, per-camera tracking, identities, JSONL sink). Lockstep
 * matters: `panoptes run` processes frames in arrival order, and on a busy host one file camera
 * ran 47 frames (4.7 s) ahead of the other, beyond the identity module's overlap window (0.5 s),
 * which made the same command link 3% or 58% of the people from run to run.
 *
 * Four runs: appearance off / default descriptor, without / with the overlap (camera 0 pixel x is
 * x − 768 in camera 1: --overlap 0,1,-768,0), scored by tests/peers/score_overlap.py: of the
 * people visible in both cameras (frame by frame), how many carry one global_id.
 * Checked: without overlap nothing links the cameras (the default descriptor is per camera and
 * identities take embeddings from ReID models only); with the overlap at least 50% are linked
 * without appearance and 90% with the default descriptor, which must not do worse (measured on
 * cpu, 100 / 300 frames: 87.7% / 73.7% without, 98.5% / 99.3% with).
 * Backend: cuda with NVDEC when available, else cpu. REID_FRAMES frames (default 100).
 * Skips (77) without ffmpeg (libx264), /usr/bin/python3, the clip or the detector. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu_media.h"
#include "decode/decoder.h"
#include "io/sink.h"
#include "io/source.h"
#include "pipeline_stages.h"
#include "test.h"

typedef struct cam {
    pan_source *src;
    pan_decoder *dec;
    pan_packet pkt;
    int eof, pending, camera;
} cam;

static pan_status cam_open(cam *c, const char *path, int camera, pan_decoder_kind kind)
{
    memset(c, 0, sizeof *c);
    c->camera = camera;
    pan_source_params sp = {.uri = path};
    pan_status st = pan_source_create(&c->src, &sp);
    if (st) return st;
    pan_decoder_params dp = {.kind = kind, .uri = path, .codecpar = pan_source_codecpar(c->src), .camera = camera};
    pan_source_time_base(c->src, &dp.time_base_num, &dp.time_base_den);
    return pan_decoder_create(&c->dec, &dp);
}

static void cam_close(cam *c)
{
    pan_decoder_destroy(&c->dec);
    pan_source_destroy(&c->src);
}

/* Next decoded frame, or NULL at the end. A packet the decoder refused (EAGAIN: drain first)
 * stays pending and is sent again after the next receive; it is valid until the next read. */
static pan_frame *cam_next(cam *c)
{
    pan_frame *f = NULL;
    for (;;) {
        if (pan_decoder_receive_frame(c->dec, &f) == PAN_OK) {
            f->camera = c->camera;
            return f;
        }
        if (c->eof) return NULL;
        if (!c->pending) {
            pan_status rs = pan_source_read(c->src, &c->pkt);
            if (rs == PAN_CORRUPT) continue;
            if (rs != PAN_OK) {
                pan_decoder_send_packet(c->dec, NULL);
                c->eof = 1;
                continue;
            }
            c->pending = 1;
        }
        if (pan_decoder_send_packet(c->dec, &c->pkt) != PAN_EAGAIN) c->pending = 0;
    }
}

static pan_status write_jsonl(void *opaque, int i, pan_frame_result *r)
{
    return pan_jsonl_sink_write(opaque, r);
}

static double run_config(const char *dir, const char *reid, int overlap, pan_backend be, char *score, size_t n)
{
    char out[512], l[512], r[512], cmd[1024];
    snprintf(out, sizeof out, "%s/%s-%d.jsonl", dir, reid, overlap);
    snprintf(l, sizeof l, "%s/L.mp4", dir);
    snprintf(r, sizeof r, "%s/R.mp4", dir);
    const char *uris[2] = {l, r};
    static const double ov[1][4] = {{0, 1, -768, 0}};
    static const int person = 0;
    pan_pipeline_params p;
    pan_pipeline_params_default(&p);
    p.backend = be;
    p.classes = &person;
    p.n_classes = 1;
    p.batch = 2;
    p.reid = reid;
    p.overlaps = ov;
    p.n_overlaps = overlap;
    p.model_path = pan_test_path("models/nanodet.json");
    pan_stages s;
    pan_stages_cam *sc[2] = {NULL, NULL};
    pan_stages_cam **scs[2] = {&sc[0], &sc[1]};
    pan_jsonl_sink *sink = NULL;
    cam c[2];
    double frac = -1;
    pan_decoder_kind kind = be == PAN_BACKEND_CUDA ? PAN_DECODER_NVDEC : PAN_DECODER_CPU;
    (void)uris;
    if (pan_jsonl_sink_create(&sink, out) || pan_stages_create(&s, &p, be) || cam_open(&c[0], l, 0, kind) || cam_open(&c[1], r, 1, kind)) return -1;
    for (;;) {
        pan_frame *f[2] = {cam_next(&c[0]), cam_next(&c[1])};
        int ok = f[0] && f[1] && pan_stages_process_batch(&s, f, scs, 2, write_jsonl, sink) == PAN_OK;
        pan_frame_unref(&f[0]);
        pan_frame_unref(&f[1]);
        if (!ok) break;
    }
    pan_stages_cam_destroy(&sc[0]);
    pan_stages_cam_destroy(&sc[1]);
    pan_stages_destroy(&s);
    pan_jsonl_sink_destroy(&sink);
    cam_close(&c[0]);
    cam_close(&c[1]);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' 768 1152", pan_test_path("tests/peers/score_overlap.py"), out);
    FILE *pf = popen(cmd, "r");
    if (pf && fgets(score, (int)n, pf)) {
        const char *k = strstr(score, "\"frac\": ");
        if (k) frac = atof(k + 8);
    }
    if (pf) pclose(pf);
    return frac;
}

PAN_TEST(two_overlapping_cameras_share_global_ids)
{
    const char *src = pan_test_data("vtest-1080p.mp4");
    if (!src) PAN_SKIP("data/vtest-1080p.mp4 missing (run scripts/setup.sh)");
    if (access(pan_test_path("models/nanodet.json"), R_OK)) PAN_SKIP("models/nanodet.json missing (run scripts/setup.sh)");
    if (access("/usr/bin/python3", X_OK)) PAN_SKIP("no /usr/bin/python3 (scores the runs)");
    if (!pan_test_have_ffmpeg()) PAN_SKIP("no ffmpeg to make the two crops");
    int frames = getenv("REID_FRAMES") ? atoi(getenv("REID_FRAMES")) : 100;
    char dir[] = "/tmp/panoptes-reid-cams-XXXXXX", cmd[2048];
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    static const char *names[2] = {"L", "R"};
    static const int x0[2] = {0, 768};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -v error -y -i '%s' -frames:v %d -vf crop=1152:1080:%d:0 -c:v libx264 -preset ultrafast -crf 18 "
                 "'%s/%s.mp4'",
                 src, frames, x0[i], dir, names[i]);
        if (system(cmd)) PAN_SKIP("ffmpeg cannot make the crops (libx264?)");
    }
    pan_backend be = pan_decoder_nvdec_available() ? PAN_BACKEND_CUDA : PAN_BACKEND_CPU;
    fprintf(stderr, "  backend %s, %d frames per camera\n", pan_backend_name(be), frames);
    double frac[2][2];
    for (int a = 0; a < 2; a++)
        for (int o = 0; o < 2; o++) {
            char score[1024] = "";
            frac[a][o] = run_config(dir, a ? "default" : "off", o, be, score, sizeof score);
            fprintf(stderr, "  reid %-7s overlap %-3s: %s", a ? "default" : "off", o ? "yes" : "no", score[0] ? score : "(failed)\n");
            ASSERT_GE(frac[a][o], 0);
        }
    ASSERT_NEAR(frac[0][0], 0, 0);
    ASSERT_NEAR(frac[1][0], 0, 0);
    ASSERT_GE(frac[0][1], 0.5);
    ASSERT_GE(frac[1][1], 0.9);
    ASSERT_GE(frac[1][1], frac[0][1]); /* appearance keeps the linked tracks whole */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)!system(cmd);
}

PAN_TEST_MAIN(two_overlapping_cameras_share_global_ids)
