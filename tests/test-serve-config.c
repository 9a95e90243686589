/* `panoptes serve` config file and camera descriptions: every field read, and every mistake
 * reported with the file, the line and the key. */
#include "test.h"

#ifdef PANOPTES_HAVE_SERVE
#include <unistd.h>

#include "serve/config.h"
#include "serve/reload.h"
#include "serve/service.h"

static const char full_yaml[] =
    "# a full config\n"
    "listen: 0.0.0.0:9090\n"
    "token_file: /etc/panoptes/token\n"
    "backend: cpu\n"
    "model: models/nanodet.json\n"
    "model_type: yolov5\n"
    "classes: [person, car, 2]\n"
    "score: 0.5\n"
    "detect: true\n"
    "track: no\n"
    "reid: off\n"
    "reid_interval: 3\n"
    "batch: 8\n"
    "threads: 2\n"
    "io_threads: 3\n"
    "camera_queue: 1\n"
    "fallback_cpu: yes\n"
    "max_backoff_s: 10\n"
    "realtime: true\n"
    "overlaps:\n"
    "  - [0, 2, -768, 0]\n"
    "  - \"1, 2, 5.5, -3\"\n"
    "sync: false\n"
    "outputs:\n"
    "  jsonl: /tmp/out.jsonl\n"
    "  mot: /tmp/mot\n"
    "defaults:\n"
    "  reconnect: forever\n"
    "  timeout_ms: 2500\n"
    "cameras:\n"
    "  - uri: rtsp://10.0.0.5/stream1\n"
    "    name: door\n"
    "    transport: udp\n"
    "    timeout_ms: 3000\n"
    "    reconnect: 5\n"
    "  - data/vtest.mp4\n"
    "  - uri: data/vtest.mp4\n"
    "    name: no\n"
    "    loop: true\n"
    "    max_frames: 100\n"
    "    reconnect: 0\n";

PAN_TEST(full_config_reads_every_key)
{
    pan_serve_config c;
    char err[512] = "";
    pan_status st = pan_serve_config_parse(&c, "full.yaml", full_yaml, sizeof full_yaml - 1, err, sizeof err);
    if (st) fprintf(stderr, "  %s\n", err);
    ASSERT_OK(st);
    ASSERT_STREQ(c.listen, "0.0.0.0:9090");
    ASSERT_STREQ(c.token_file, "/etc/panoptes/token");
    ASSERT_STREQ(c.backend, "cpu");
    ASSERT_STREQ(c.model, "models/nanodet.json");
    ASSERT_STREQ(c.model_type, "yolov5");
    ASSERT_EQ(c.n_classes, 3);
    ASSERT_EQ(c.classes[0], 0);
    ASSERT_EQ(c.classes[1], 2);
    ASSERT_EQ(c.classes[2], 2);
    ASSERT_NEAR(c.score, 0.5, 1e-9);
    ASSERT_EQ(c.detect, 1);
    ASSERT_EQ(c.track, 0);
    ASSERT_STREQ(c.reid, "off");
    ASSERT_EQ(c.reid_interval, 3);
    ASSERT_EQ(c.batch, 8);
    ASSERT_EQ(c.threads, 2);
    ASSERT_EQ(c.io_threads, 3);
    ASSERT_EQ(c.camera_queue, 1);
    ASSERT_EQ(c.fallback_cpu, 1);
    ASSERT_EQ(c.max_backoff_s, 10);
    ASSERT_EQ(c.realtime, 1);
    ASSERT_EQ(c.n_overlaps, 2);
    ASSERT_NEAR(c.overlaps[0][0], 0, 0);
    ASSERT_NEAR(c.overlaps[0][1], 2, 0);
    ASSERT_NEAR(c.overlaps[0][2], -768, 0);
    ASSERT_NEAR(c.overlaps[0][3], 0, 0);
    ASSERT_NEAR(c.overlaps[1][0], 1, 0);
    ASSERT_NEAR(c.overlaps[1][2], 5.5, 0);
    ASSERT_NEAR(c.overlaps[1][3], -3, 0);
    ASSERT_EQ(c.sync, 0);
    ASSERT_STREQ(c.jsonl, "/tmp/out.jsonl");
    ASSERT_STREQ(c.mot, "/tmp/mot");
    ASSERT_EQ(c.defaults.reconnect, PAN_SERVE_RECONNECT_FOREVER);
    ASSERT_EQ(c.defaults.timeout_ms, 2500);
    ASSERT_EQ(c.n_cameras, 3);
    ASSERT_STREQ(c.cameras[0].uri, "rtsp://10.0.0.5/stream1");
    ASSERT_STREQ(c.cameras[0].name, "door");
    ASSERT_EQ(c.cameras[0].transport, 2);
    ASSERT_EQ(c.cameras[0].timeout_ms, 3000);
    ASSERT_EQ(c.cameras[0].reconnect, 5);
    ASSERT_STREQ(c.cameras[1].uri, "data/vtest.mp4");
    ASSERT_TRUE(c.cameras[1].name == NULL);
    ASSERT_EQ(c.cameras[1].reconnect, 0);
    /* `name: no` is the string "no", not a boolean */
    ASSERT_STREQ(c.cameras[2].name, "no");
    ASSERT_EQ(c.cameras[2].loop, 1);
    ASSERT_EQ(c.cameras[2].max_frames, 100);
    ASSERT_EQ(c.cameras[2].reconnect, PAN_SERVE_RECONNECT_NONE);
    pan_serve_config_free(&c);
    ASSERT_EQ(c.n_cameras, 0);
}

PAN_TEST(empty_file_is_an_empty_config)
{
    pan_serve_config c;
    char err[256];
    ASSERT_OK(pan_serve_config_parse(&c, "empty.yaml", "", 0, err, sizeof err));
    ASSERT_EQ(c.n_cameras, 0);
    ASSERT_TRUE(c.listen == NULL);
    ASSERT_EQ(c.detect, -1);
    ASSERT_TRUE(c.model_type == NULL);
    ASSERT_TRUE(c.overlaps == NULL);
    ASSERT_EQ(c.sync, -1);
    pan_serve_config_free(&c);
    const char only_comment[] = "# nothing yet\ncameras:\n";
    ASSERT_OK(pan_serve_config_parse(&c, "c.yaml", only_comment, sizeof only_comment - 1, err, sizeof err));
    ASSERT_EQ(c.n_cameras, 0);
    pan_serve_config_free(&c);
}

/* Parses text that must fail; the message must contain `want`. */
static int fails_with(const char *text, const char *want, char *err, size_t n)
{
    pan_serve_config c;
    pan_status st = pan_serve_config_parse(&c, "bad.yaml", text, strlen(text), err, n);
    if (st == PAN_OK) {
        pan_serve_config_free(&c);
        snprintf(err, n, "(parsed without error)");
        return 0;
    }
    if (c.n_cameras != 0 || c.listen) return 0; /* left empty on error */
    return strstr(err, want) != NULL;
}

#define ASSERT_FAILS_WITH(text, want)                                              \
    do {                                                                           \
        char e_[512] = "";                                                         \
        if (!fails_with(text, want, e_, sizeof e_))                                \
            PAN__FAIL("expected an error containing \"%s\", got \"%s\"", want, e_); \
    } while (0)

PAN_TEST(errors_name_the_line_and_the_key)
{
    ASSERT_FAILS_WITH("listen: 127.0.0.1:8080\nmodle: x.onnx\n", "bad.yaml:2: modle: unknown key");
    ASSERT_FAILS_WITH("cameras:\n  - uri: a.mp4\n  - uri: b.mp4\n    timeout_ms: soon\n",
                      "bad.yaml:4: cameras[1].timeout_ms: expected an integer");
    ASSERT_FAILS_WITH("cameras:\n  - uri: a.mp4\n    colour: red\n", "bad.yaml:3: cameras[0].colour: unknown field");
    ASSERT_FAILS_WITH("cameras:\n  - name: door\n", "bad.yaml:2: cameras[0]: a camera needs a uri");
    ASSERT_FAILS_WITH("cameras:\n  - uri: a.mp4\n    transport: sctp\n", "cameras[0].transport: expected \"tcp\" or \"udp\"");
    ASSERT_FAILS_WITH("cameras:\n  - uri: a.mp4\n    loop: sometimes\n", "cameras[0].loop: expected true or false");
    ASSERT_FAILS_WITH("cameras:\n  - uri: a.mp4\n    reconnect: -5\n", "cameras[0].reconnect: -5 is out of range");
    ASSERT_FAILS_WITH("cameras:\n  - uri: [a, b]\n", "bad.yaml:2: cameras[0].uri: expected a single value");
    ASSERT_FAILS_WITH("cameras:\n  - uri: \"\"\n", "cameras[0].uri: must not be empty");
    ASSERT_FAILS_WITH("cameras: rtsp://x\n", "bad.yaml:1: cameras: expected a list");
    ASSERT_FAILS_WITH("listen: 1.2.3.4\n", "bad.yaml:1: listen: '1.2.3.4': expected ADDR:PORT");
    ASSERT_FAILS_WITH("listen: 127.0.0.1:99999\n", "listen: '127.0.0.1:99999': the port must be");
    ASSERT_FAILS_WITH("backend: quantum\n", "bad.yaml:1: backend: 'quantum' is not a backend");
    ASSERT_FAILS_WITH("score: 2\n", "score: expected a number from 0 to 1");
    ASSERT_FAILS_WITH("\n\nclasses: [person, unicorn]\n", "bad.yaml:3: classes: 'unicorn' is not a COCO class");
    ASSERT_FAILS_WITH("outputs:\n  video: a.mp4\n", "bad.yaml:2: outputs: unknown output 'video'");
    ASSERT_FAILS_WITH("defaults:\n  uri: a.mp4\n", "bad.yaml:2: defaults: uri belongs to a camera");
    ASSERT_FAILS_WITH("batch: 1\nbatch: 2\n", "bad.yaml:2: (top level): 'batch' is given twice");
    ASSERT_FAILS_WITH("detect: maybe\n", "detect: expected true or false");
    ASSERT_FAILS_WITH("- a\n- b\n", "bad.yaml:1: (top level): expected a mapping");
    ASSERT_FAILS_WITH("cameras:\n  - uri: a.mp4\n   name: x\n", "bad.yaml:3:");
    ASSERT_FAILS_WITH("listen: [1, 2]\n", "listen: expected a single value");
}

/* model_type: the names run's --model-type takes, and run's message (listing them) for others;
 * overlaps and sync as run's --overlap and --sync/--no-sync. */
PAN_TEST(model_type_overlaps_and_sync_are_checked)
{
    static const char *const good[] = {"auto", "nanodet", "yolov5", "yolov7", "yolox", "yolox-decoded",
                                       "yolov8", "yolo11", "yolov10", "rtdetr"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char text[64], err[512] = "";
        pan_serve_config c;
        snprintf(text, sizeof text, "model_type: %s\n", good[i]);
        pan_status st = pan_serve_config_parse(&c, "ok.yaml", text, strlen(text), err, sizeof err);
        if (st) PAN__FAIL("%s: %s", good[i], err);
        ASSERT_STREQ(c.model_type, good[i]);
        pan_serve_config_free(&c);
        ASSERT_TRUE(c.model_type == NULL);
    }
    ASSERT_FAILS_WITH("backend: cpu\nmodel_type: yolo12\n",
                      "bad.yaml:2: model_type: takes one of auto, nanodet, yolov5, yolov7, yolox, yolox-decoded, "
                      "yolov8, yolo11, yolov10, rtdetr, not 'yolo12'");
    ASSERT_FAILS_WITH("model_type: [yolov8]\n", "bad.yaml:1: model_type: expected a single value");
    ASSERT_FAILS_WITH("model_type: \"\"\n", "model_type: takes one of auto");
    ASSERT_FAILS_WITH("overlaps: 0,1,2,3\n", "bad.yaml:1: overlaps: expected a list of [A, B, DX, DY]");
    ASSERT_FAILS_WITH("overlaps:\n  - [0, 1, 5]\n", "bad.yaml:2: overlaps[0]: '0,1,5': expected A,B,DX,DY");
    ASSERT_FAILS_WITH("overlaps:\n  - [0, 1, 5, 0]\n  - [3, 3, 0, 0]\n",
                      "bad.yaml:3: overlaps[1]: '3,3,0,0': A and B must be two different camera ids");
    ASSERT_FAILS_WITH("overlaps:\n  - [0.5, 1, 0, 0]\n", "overlaps[0]: '0.5,1,0,0': A and B must be");
    ASSERT_FAILS_WITH("overlaps:\n  - [-1, 1, 0, 0]\n", "overlaps[0]: '-1,1,0,0': A and B must be");
    ASSERT_FAILS_WITH("overlaps:\n  - [0, 1, [2], 0]\n", "bad.yaml:2: overlaps[0]: expected [A, B, DX, DY]");
    ASSERT_FAILS_WITH("overlaps:\n  - {a: 0}\n", "bad.yaml:2: overlaps[0]: expected [A, B, DX, DY]");
    ASSERT_FAILS_WITH("overlaps:\n  - [0, 1, nan, 0]\n", "overlaps[0]: '0,1,nan,0': expected A,B,DX,DY");
    ASSERT_FAILS_WITH("sync: sometimes\n", "bad.yaml:1: sync: expected true or false");

    double o[4];
    char err[256];
    ASSERT_OK(pan_serve_parse_overlap(" 0 , 1 , -768 , 0.5 ", o, err, sizeof err));
    ASSERT_NEAR(o[1], 1, 0);
    ASSERT_NEAR(o[2], -768, 0);
    ASSERT_NEAR(o[3], 0.5, 0);
    static const char *const bad[] = {"0,1,2", "0,1,2,3,4", "a,1,2,3", "0,1,2,3x", "1,1,0,0", "0,1,inf,0", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (pan_serve_parse_overlap(bad[i], o, err, sizeof err) != PAN_INVAL || !strstr(err, bad[i]))
            PAN__FAIL("'%s' was not refused by name (%s)", bad[i], err);
}

/* The command line laid over the file, and what reaches pan_pipeline_params. */
PAN_TEST(model_type_overlaps_and_sync_reach_the_pipeline_params)
{
    const char text[] = "model_type: yolov5\noverlaps:\n  - [0, 1, 10, 20]\n  - [1, 2, 30, 40]\nsync: true\ncamera_queue: 1\n";
    pan_serve_config file, cli;
    pan_pipeline_params p;
    char err[512] = "";
    ASSERT_OK(pan_serve_config_parse(&file, "f.yaml", text, sizeof text - 1, err, sizeof err));
    ASSERT_OK(pan_serve_config_pipeline_params(&file, "models/nanodet.json", &p, err, sizeof err));
    ASSERT_STREQ(p.model_type, "yolov5");
    ASSERT_EQ(p.n_overlaps, 2);
    ASSERT_NEAR(p.overlaps[1][0], 1, 0);
    ASSERT_NEAR(p.overlaps[1][3], 40, 0);
    ASSERT_EQ(p.sync, 1);
    ASSERT_EQ(p.camera_queue, 1);

    /* --model-type yolox --overlap 2,3,-5,0 --no-sync over it: the list is replaced, not merged */
    pan_serve_config_init(&cli);
    cli.model_type = strdup("yolox");
    cli.overlaps = calloc(1, sizeof *cli.overlaps);
    ASSERT_TRUE(cli.model_type && cli.overlaps);
    ASSERT_OK(pan_serve_parse_overlap("2,3,-5,0", cli.overlaps[0], err, sizeof err));
    cli.n_overlaps = 1;
    cli.sync = 0;
    ASSERT_OK(pan_serve_config_overlay(&file, &cli));
    ASSERT_OK(pan_serve_config_pipeline_params(&file, "models/nanodet.json", &p, err, sizeof err));
    ASSERT_STREQ(p.model_type, "yolox");
    ASSERT_EQ(p.n_overlaps, 1);
    ASSERT_NEAR(p.overlaps[0][0], 2, 0);
    ASSERT_NEAR(p.overlaps[0][2], -5, 0);
    ASSERT_EQ(p.sync, -1);
    pan_serve_config_free(&cli);
    pan_serve_config_free(&file);

    /* nothing said: the pipeline's defaults (auto, no overlaps, sync on only with overlaps) */
    pan_serve_config_init(&file);
    ASSERT_OK(pan_serve_config_pipeline_params(&file, "models/nanodet.json", &p, err, sizeof err));
    ASSERT_TRUE(p.model_type == NULL);
    ASSERT_EQ(p.n_overlaps, 0);
    ASSERT_EQ(p.sync, 0);
    pan_serve_config_free(&file);
}

PAN_TEST(missing_file_is_named)
{
    pan_serve_config c;
    char err[512];
    ASSERT_EQ(pan_serve_config_load(&c, "/nonexistent/serve.yaml", err, sizeof err), PAN_NOTFOUND);
    ASSERT_TRUE(strstr(err, "/nonexistent/serve.yaml") != NULL);
}

PAN_TEST(load_reads_a_file)
{
    char path[] = "/tmp/test-serve-config-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    const char text[] = "cameras:\n  - uri: data/vtest.mp4\n    name: lobby\n";
    ASSERT_EQ(write(fd, text, sizeof text - 1), (long long)(sizeof text - 1));
    close(fd);
    pan_serve_config c;
    char err[512];
    pan_status st = pan_serve_config_load(&c, path, err, sizeof err);
    unlink(path);
    ASSERT_OK(st);
    ASSERT_EQ(c.n_cameras, 1);
    ASSERT_STREQ(c.cameras[0].name, "lobby");
    pan_serve_config_free(&c);
}

PAN_TEST(the_example_config_in_contrib_reads)
{
    pan_serve_config c;
    char err[512] = "";
    pan_status st = pan_serve_config_load(&c, pan_test_path("contrib/serve.yaml"), err, sizeof err);
    if (st) fprintf(stderr, "  %s\n", err);
    ASSERT_OK(st);
    ASSERT_EQ(c.n_cameras, 2);
    ASSERT_STREQ(c.listen, "127.0.0.1:8080");
    ASSERT_EQ(c.defaults.reconnect, PAN_SERVE_RECONNECT_FOREVER);
    pan_serve_config_free(&c);
}

PAN_TEST(camera_json_is_checked_field_by_field)
{
    char err[256];
    pan_serve_camera cam = {0};
    json_t *o = json_loads("{\"uri\":\"rtsp://a/b\",\"name\":\"gate\",\"transport\":\"tcp\",\"timeout_ms\":100,"
                           "\"reconnect\":\"forever\",\"loop\":false,\"max_frames\":0}", 0, NULL);
    ASSERT_OK(pan_serve_camera_from_json(&cam, o, err, sizeof err));
    json_decref(o);
    ASSERT_STREQ(cam.uri, "rtsp://a/b");
    ASSERT_EQ(cam.transport, 1);
    ASSERT_EQ(cam.reconnect, PAN_SERVE_RECONNECT_FOREVER);
    ASSERT_EQ(cam.loop, -1);
    ASSERT_EQ(cam.max_frames, -1);
    pan_serve_camera copy;
    ASSERT_OK(pan_serve_camera_copy(&copy, &cam));
    ASSERT_TRUE(pan_serve_camera_equal(&copy, &cam));
    copy.loop = 1;
    ASSERT_TRUE(!pan_serve_camera_equal(&copy, &cam));
    json_t *back = pan_serve_camera_to_json(&cam);
    ASSERT_STREQ(json_string_value(json_object_get(back, "reconnect")), "forever");
    json_decref(back);
    pan_serve_camera_clear(&copy);
    pan_serve_camera_clear(&cam);

    static const struct { const char *json, *want; } bad[] = {
        {"{\"name\":\"x\"}", "uri: missing"},
        {"{\"uri\":\"a\",\"url\":\"b\"}", "url: unknown field"},
        {"{\"uri\":5}", "uri: expected a string"},
        {"{\"uri\":\"a\\u0001b\"}", "uri: contains a control character"},
        {"{\"uri\":\"a\",\"timeout_ms\":\"5\"}", "timeout_ms: expected an integer"},
        {"{\"uri\":\"a\",\"max_frames\":-3}", "max_frames: -3 is out of range"},
        {"[1,2]", "expected a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pan_serve_camera c = {0};
        json_t *v = json_loads(bad[i].json, 0, NULL);
        ASSERT_TRUE(v != NULL);
        pan_status st = pan_serve_camera_from_json(&c, v, err, sizeof err);
        json_decref(v);
        pan_serve_camera_clear(&c);
        if (st != PAN_INVAL || !strstr(err, bad[i].want))
            PAN__FAIL("%s: expected \"%s\", got %d \"%s\"", bad[i].json, bad[i].want, st, err);
    }
}

PAN_TEST(reload_keeps_unchanged_cameras_and_adds_and_removes_the_rest)
{
    pan_serve_camera run[4] = {{.uri = "a"}, {.uri = "b", .name = "door"}, {.uri = "c"}, {.uri = "a"}};
    pan_serve_camera want[4] = {{.uri = "a"}, {.uri = "b", .name = "gate"}, {.uri = "c"}, {.uri = "d"}};
    int keep[4], add[4];
    /* "a" twice becomes "a" once; b is renamed (remove + add); c stays; d is new */
    ASSERT_EQ(pan_serve_reload_plan(run, 4, want, 4, keep, add), 4);
    ASSERT_EQ(keep[0], 1);
    ASSERT_EQ(keep[1], 0);
    ASSERT_EQ(keep[2], 1);
    ASSERT_EQ(keep[3], 0);
    ASSERT_EQ(add[0], 0);
    ASSERT_EQ(add[1], 1);
    ASSERT_EQ(add[2], 0);
    ASSERT_EQ(add[3], 1);
    want[1].name = "door";
    ASSERT_EQ(pan_serve_reload_plan(run, 3, want, 3, keep, add), 0);
    ASSERT_EQ(pan_serve_reload_plan(run, 0, want, 2, keep, add), 2);
    ASSERT_EQ(pan_serve_reload_plan(run, 2, want, 0, keep, add), 2);
}

PAN_TEST(listen_addresses)
{
    char host[64], err[256];
    int port;
    ASSERT_OK(pan_serve_parse_listen("127.0.0.1:8080", host, sizeof host, &port, err, sizeof err));
    ASSERT_STREQ(host, "127.0.0.1");
    ASSERT_EQ(port, 8080);
    ASSERT_OK(pan_serve_parse_listen("[::1]:0", host, sizeof host, &port, err, sizeof err));
    ASSERT_STREQ(host, "::1");
    ASSERT_EQ(port, 0);
    ASSERT_OK(pan_serve_parse_listen(":80", host, sizeof host, &port, err, sizeof err));
    ASSERT_STREQ(host, "");
    ASSERT_EQ(pan_serve_parse_listen("::1:80", host, sizeof host, &port, err, sizeof err), PAN_INVAL);
    ASSERT_EQ(pan_serve_parse_listen("localhost:http", host, sizeof host, &port, err, sizeof err), PAN_INVAL);
    ASSERT_EQ(pan_serve_parse_listen("[::1]80", host, sizeof host, &port, err, sizeof err), PAN_INVAL);
    ASSERT_EQ(pan_serve_parse_listen("a:-1", host, sizeof host, &port, err, sizeof err), PAN_INVAL);
}

PAN_TEST_MAIN(full_config_reads_every_key, empty_file_is_an_empty_config, errors_name_the_line_and_the_key,
              missing_file_is_named, load_reads_a_file, the_example_config_in_contrib_reads, camera_json_is_checked_field_by_field,
              reload_keeps_unchanged_cameras_and_adds_and_removes_the_rest, listen_addresses,
              model_type_overlaps_and_sync_are_checked, model_type_overlaps_and_sync_reach_the_pipeline_params)
#else
int main(void)
{
    fprintf(stderr, "skipped: panoptes serve is not built (needs libmicrohttpd-dev, libyaml-dev, libturbojpeg0-dev)\n");
    return 77;
}
#endif
