/* The `panoptes serve` HTTP API over a real socket, with a fake pipeline behind the engine
 * interface (serve/engine.h): every route, every error status with its JSON message, the token,
 * snapshots (JPEG with the boxes drawn), /metrics through promtool, and four clients adding and
 * removing cameras at once while frames flow. tests/test-serve-cli.sh does the same against the
 * real pipeline. */
#include "test.h"

#ifdef PANOPTES_HAVE_SERVE
#include <jansson.h>
#include <pthread.h>
#include <turbojpeg.h>

#include "panoptes/log.h"
#include "serve/api.h"
#include "serve/http.h"
#include "serve/snapshot.h"
#include "test-serve-http.h"

/* ---------------------------------------------------------------- the fake pipeline */

#define FAKE_MAX 64 /* cameras at once: the 65th is refused with PAN_LIMIT */
#define FAKE_W 64
#define FAKE_H 48

typedef struct fake_cam {
    int id;
    char *name, *uri;
    const char *state;
    int64_t frames;
    int remove_pending; /* removed through the API; the producer finishes it (as the pipeline does) */
} fake_cam;

typedef struct fake {
    pthread_mutex_t mu;
    fake_cam cams[FAKE_MAX];
    int n, next_id;
    int failed;
    pan_serve_snapshots *snaps;
    pthread_t producer;
    int stop;
    uint8_t pixels[FAKE_W * FAKE_H * 3 / 2]; /* one grey YUV 4:2:0 frame every camera sends */
} fake;

static pan_status fake_add(void *opaque, const pan_serve_camera *cam, int *id)
{
    fake *f = opaque;
    pthread_mutex_lock(&f->mu);
    if (f->n == FAKE_MAX) {
        pthread_mutex_unlock(&f->mu);
        return PAN_LIMIT;
    }
    fake_cam *c = &f->cams[f->n++];
    memset(c, 0, sizeof *c);
    c->id = *id = f->next_id++;
    c->uri = strdup(cam->uri);
    c->name = strdup(cam->name ? cam->name : "");
    /* "bad:" URIs fail on their own, as a camera that cannot be opened does */
    c->state = !strncmp(cam->uri, "bad:", 4) ? "failed" : "live";
    pthread_mutex_unlock(&f->mu);
    return PAN_OK;
}

static pan_status fake_remove(void *opaque, int id)
{
    fake *f = opaque;
    pan_status st = PAN_NOTFOUND;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->n; i++)
        if (f->cams[i].id == id && !f->cams[i].remove_pending) f->cams[i].remove_pending = 1, st = PAN_OK;
    pthread_mutex_unlock(&f->mu);
    return st;
}

static pan_status fake_stats(void *opaque, pan_serve_stats *s)
{
    fake *f = opaque;
    pthread_mutex_lock(&f->mu);
    s->backend = "cpu";
    s->running = 1;
    s->failed = f->failed;
    s->status = f->failed ? "PAN_IO" : "PAN_OK";
    s->error = strdup(f->failed ? "results file: disk full" : "");
    s->uptime_s = 12.5;
    s->cameras = calloc((size_t)f->n + 1, sizeof *s->cameras);
    for (int i = 0; i < f->n; i++) {
        const fake_cam *c = &f->cams[i];
        if (c->remove_pending) continue; /* gone from the API at once, like the pipeline's stats */
        pan_serve_camera_info *o = &s->cameras[s->n_cameras++];
        o->id = c->id;
        o->name = strdup(c->name);
        o->uri = strdup(c->uri);
        o->error = strdup(strcmp(c->state, "failed") ? "" : "cannot open: no such file");
        o->state = c->state;
        o->status = "";
        o->decoder = "cpu";
        o->frames = c->frames;
        o->fps = 25;
        s->frames += c->frames;
    }
    s->batches = 10;
    s->batch_mean = 1.5;
    s->batch_hist[0] = 5, s->batch_hist[1] = 5;
    s->cpu_seconds = 1.25;
    pthread_mutex_unlock(&f->mu);
    return PAN_OK;
}

static pan_status fake_snapshot(void *opaque, int id, int timeout_ms, pan_serve_image **out)
{
    fake *f = opaque;
    int known = 0;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->n; i++) known |= f->cams[i].id == id && !f->cams[i].remove_pending;
    pthread_mutex_unlock(&f->mu);
    if (!known) return PAN_NOTFOUND;
    return pan_serve_snapshots_get(f->snaps, id, timeout_ms, out);
}

/* The delivery thread: a frame per live camera every 5 ms (one box in it), removals finished
 * here, cameras named "short" end after 3 frames. */
static void *fake_produce(void *arg)
{
    fake *f = arg;
    pan_frame fr = {0};
    fr.width = FAKE_W, fr.height = FAKE_H, fr.format = PAN_PIXFMT_YUV420P, fr.memory = PAN_MEMORY_HOST;
    fr.data[0] = f->pixels, fr.data[1] = f->pixels + FAKE_W * FAKE_H, fr.data[2] = fr.data[1] + FAKE_W * FAKE_H / 4;
    fr.pitch[0] = FAKE_W, fr.pitch[1] = fr.pitch[2] = FAKE_W / 2;
    pan_detection det = {{8, 8, 40, 40}, 0.9f, 0, NULL, 0};
    while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&f->mu);
        for (int i = 0; i < f->n; i++) {
            fake_cam *c = &f->cams[i];
            if (c->remove_pending) {
                pan_serve_snapshots_end(f->snaps, c->id, 1);
                free(c->name);
                free(c->uri);
                f->cams[i--] = f->cams[--f->n];
                continue;
            }
            if (strcmp(c->state, "live")) continue;
            pan_serve_snapshots_offer(f->snaps, c->id, c->frames, c->frames * 0.04, &fr, &det, 1, NULL, 0);
            if (++c->frames == 3 && !strcmp(c->name, "short")) {
                c->state = "ended";
                pan_serve_snapshots_end(f->snaps, c->id, 0);
            }
        }
        pthread_mutex_unlock(&f->mu);
        usleep(5000);
    }
    return NULL;
}

typedef struct server {
    fake fake;
    pan_serve_api *api;
    pan_serve_http *http;
    int port;
} server;

static int server_start(server *s, const char *token)
{
    memset(s, 0, sizeof *s);
    pan_log_init();
    pthread_mutex_init(&s->fake.mu, NULL);
    memset(s->fake.pixels, 128, sizeof s->fake.pixels);
    if (pan_serve_snapshots_create(&s->fake.snaps)) return -1;
    pthread_create(&s->fake.producer, NULL, fake_produce, &s->fake);
    pan_serve_api_params ap = {{&s->fake, fake_add, fake_remove, fake_stats, fake_snapshot}, token, 1000, 0};
    pan_serve_http_params hp = {"127.0.0.1", 0, NULL, 4096, 0};
    char err[256];
    if (pan_serve_api_create(&s->api, &ap)) return -1;
    hp.api = s->api;
    if (pan_serve_http_create(&s->http, &hp, err, sizeof err)) {
        fprintf(stderr, "  %s\n", err);
        return -1;
    }
    s->port = pan_serve_http_port(s->http);
    return 0;
}

static void server_stop(server *s)
{
    pan_serve_snapshots_close(s->fake.snaps);
    pan_serve_http_destroy(&s->http);
    __atomic_store_n(&s->fake.stop, 1, __ATOMIC_RELEASE);
    pthread_join(s->fake.producer, NULL);
    pan_serve_snapshots_destroy(&s->fake.snaps);
    pan_serve_api_destroy(&s->api);
    for (int i = 0; i < s->fake.n; i++) free(s->fake.cams[i].name), free(s->fake.cams[i].uri);
    pthread_mutex_destroy(&s->fake.mu);
}

/* The reply's body as JSON (new reference) or NULL. */
static json_t *body_json(const http_reply *r) { return json_loadb(r->body, r->len, 0, NULL); }

/* An error reply: the status, JSON {"error": "..."} whose message contains want. */
static int is_error(const http_reply *r, int status, const char *want)
{
    json_t *o = body_json(r);
    const char *msg = json_string_value(json_object_get(o, "error"));
    int ok = r->status == status && msg && strstr(msg, want) && strstr(http_header(r, "Content-Type"), "application/json");
    if (!ok) fprintf(stderr, "  got %d %s\n", r->status, r->body ? r->body : "");
    json_decref(o);
    return ok;
}

#define REQ(method, path, extra, body) \
    do { http_reply_free(&r); ASSERT_EQ(http_do(s.port, method, path, extra, body, &r), 0); } while (0)

/* ---------------------------------------------------------------- tests */

PAN_TEST(cameras_are_added_listed_and_removed)
{
    server s;
    http_reply r = {0};
    ASSERT_EQ(server_start(&s, NULL), 0);
    REQ("POST", "/api/cameras", NULL, "{\"uri\":\"rtsp://10.0.0.5/a\",\"name\":\"door\",\"transport\":\"udp\"}");
    ASSERT_EQ(r.status, 201);
    ASSERT_STREQ(r.body, "{\"id\":0}");
    ASSERT_STREQ(http_header(&r, "Location"), "/api/cameras/0");
    REQ("POST", "/api/cameras", NULL, "{\"uri\":\"bad:missing.mp4\"}");
    ASSERT_EQ(r.status, 201); /* a camera that cannot be opened fails on its own */
    REQ("GET", "/api/cameras", NULL, NULL);
    ASSERT_EQ(r.status, 200);
    json_t *a = body_json(&r);
    ASSERT_EQ(json_array_size(a), 2);
    json_t *c0 = json_array_get(a, 0), *c1 = json_array_get(a, 1);
    static const char *const keys[] = {"id", "name", "uri", "state", "fps", "frames", "dropped", "reconnects", "error"};
    for (int k = 0; k < 9; k++) ASSERT_TRUE(json_object_get(c0, keys[k]) != NULL);
    ASSERT_STREQ(json_string_value(json_object_get(c0, "name")), "door");
    ASSERT_STREQ(json_string_value(json_object_get(c1, "state")), "failed");
    ASSERT_TRUE(strlen(json_string_value(json_object_get(c1, "error"))) > 0);
    json_decref(a);
    REQ("GET", "/api/cameras/0", NULL, NULL);
    ASSERT_EQ(r.status, 200);
    a = body_json(&r);
    ASSERT_EQ(json_integer_value(json_object_get(a, "id")), 0);
    json_decref(a);
    REQ("GET", "/api/cameras/0/", NULL, NULL); /* a trailing slash is forgiven */
    ASSERT_EQ(r.status, 200);
    REQ("DELETE", "/api/cameras/0", NULL, NULL);
    ASSERT_EQ(r.status, 204);
    ASSERT_EQ(r.len, 0);
    REQ("GET", "/api/cameras/0", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 404, "no camera 0"));
    REQ("DELETE", "/api/cameras/0", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 404, "no camera 0"));
    REQ("GET", "/api/stats", NULL, NULL);
    ASSERT_EQ(r.status, 200);
    a = body_json(&r);
    ASSERT_EQ(json_integer_value(json_object_get(a, "n_cameras")), 1);
    ASSERT_EQ(json_array_size(json_object_get(a, "batch_hist")), PAN_SERVE_BATCH_HIST);
    json_decref(a);
    REQ("GET", "/api/health", NULL, NULL);
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(strstr(r.body, "\"status\":\"running\"") != NULL);
    REQ("GET", "/", NULL, NULL);
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(strstr(http_header(&r, "Content-Type"), "text/html") != NULL);
    ASSERT_TRUE(strstr(r.body, "id=\"add-form\"") != NULL);
    http_reply_free(&r);
    server_stop(&s);
}

PAN_TEST(bad_requests_get_json_errors)
{
    server s;
    http_reply r = {0};
    ASSERT_EQ(server_start(&s, NULL), 0);
    REQ("POST", "/api/cameras", NULL, "{\"uri\": \"a.mp4\",");
    ASSERT_TRUE(is_error(&r, 400, "malformed JSON at line 1"));
    REQ("POST", "/api/cameras", NULL, "{\"uri\":\"a.mp4\",\"colour\":\"red\"}");
    ASSERT_TRUE(is_error(&r, 400, "colour: unknown field"));
    REQ("POST", "/api/cameras", NULL, "{\"uri\":\"a.mp4\",\"uri\":\"b.mp4\"}");
    ASSERT_TRUE(is_error(&r, 400, "malformed JSON"));
    REQ("POST", "/api/cameras", NULL, "{\"name\":\"x\"}");
    ASSERT_TRUE(is_error(&r, 400, "uri: missing"));
    REQ("POST", "/api/cameras", NULL, "{\"uri\":\"a.mp4\",\"timeout_ms\":-5}");
    ASSERT_TRUE(is_error(&r, 400, "timeout_ms: -5 is out of range"));
    REQ("POST", "/api/cameras", NULL, "[]");
    ASSERT_TRUE(is_error(&r, 400, "expected a JSON object"));
    REQ("POST", "/api/cameras", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 400, "empty body"));
    REQ("GET", "/api/cameras/abc", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 400, "camera id 'abc' is not a number"));
    REQ("GET", "/api/cameras/-1", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 400, "is not a number"));
    REQ("GET", "/api/cameras/99999999999", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 400, "is not a number"));
    REQ("DELETE", "/api/cameras/12x", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 400, "is not a number"));
    REQ("GET", "/api/cameras/42", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 404, "no camera 42"));
    REQ("GET", "/api/cameras/42/snapshot.jpg", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 404, "no camera 42"));
    REQ("GET", "/api/cameras/0/thumbnail.png", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 404, "no such path"));
    REQ("GET", "/api/nothing", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 404, "no such path"));
    REQ("GET", "/favicon.ico", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 404, "no such path"));
    REQ("PUT", "/api/cameras", NULL, "{}");
    ASSERT_TRUE(is_error(&r, 405, "PUT is not allowed"));
    ASSERT_STREQ(http_header(&r, "Allow"), "GET, POST");
    REQ("POST", "/api/cameras/1", NULL, "{}");
    ASSERT_TRUE(is_error(&r, 405, "allowed: GET, DELETE"));
    REQ("DELETE", "/metrics", NULL, NULL);
    ASSERT_EQ(r.status, 405);

    /* bodies over the limit (4 KiB here): declared, and sent chunked without a length */
    char big[6000];
    memset(big, ' ', sizeof big - 1);
    big[0] = '{', big[sizeof big - 2] = '}', big[sizeof big - 1] = '\0';
    REQ("POST", "/api/cameras", NULL, big);
    ASSERT_TRUE(is_error(&r, 413, "larger than 4096 bytes"));
    const char head[] = "POST /api/cameras HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    size_t cap = sizeof head + 3 * (sizeof big + 16) + 8, n = 0;
    char *req = malloc(cap);
    n += (size_t)snprintf(req + n, cap - n, "%s", head);
    for (int k = 0; k < 3; k++) n += (size_t)snprintf(req + n, cap - n, "%zx\r\n%s\r\n", strlen(big), big);
    n += (size_t)snprintf(req + n, cap - n, "0\r\n\r\n");
    http_reply_free(&r);
    ASSERT_EQ(http_raw(s.port, req, n, &r), 0);
    free(req);
    ASSERT_TRUE(is_error(&r, 413, "larger than"));
    /* the service is unaffected */
    REQ("POST", "/api/cameras", NULL, "{\"uri\":\"after.mp4\"}");
    ASSERT_EQ(r.status, 201);
    http_reply_free(&r);
    server_stop(&s);
}

PAN_TEST(token_guards_the_api_but_not_health_metrics_or_page)
{
    server s;
    http_reply r = {0};
    ASSERT_EQ(server_start(&s, "s3cret-token"), 0);
    REQ("GET", "/api/cameras", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 401, "Authorization: Bearer"));
    ASSERT_TRUE(strstr(http_header(&r, "WWW-Authenticate"), "Bearer") != NULL);
    REQ("POST", "/api/cameras", "Authorization: Bearer wrong\r\n", "{\"uri\":\"a.mp4\"}");
    ASSERT_EQ(r.status, 401);
    REQ("GET", "/api/cameras", "Authorization: Bearer s3cret-toke\r\n", NULL);
    ASSERT_EQ(r.status, 401);
    REQ("GET", "/api/cameras", "Authorization: Basic czNjcmV0LXRva2Vu\r\n", NULL);
    ASSERT_EQ(r.status, 401);
    REQ("GET", "/api/cameras/abc", NULL, NULL);
    ASSERT_EQ(r.status, 401); /* nothing about the API is said before the token */
    REQ("POST", "/api/cameras", "Authorization: Bearer s3cret-token\r\n", "{\"uri\":\"a.mp4\"}");
    ASSERT_EQ(r.status, 201);
    REQ("GET", "/api/cameras", "Authorization: Bearer s3cret-token\r\n", NULL);
    ASSERT_EQ(r.status, 200);
    REQ("GET", "/api/health", NULL, NULL);
    ASSERT_EQ(r.status, 200);
    REQ("GET", "/metrics", NULL, NULL);
    ASSERT_EQ(r.status, 200);
    REQ("GET", "/", NULL, NULL);
    ASSERT_EQ(r.status, 200);
    ASSERT_OK(pan_serve_api_set_token(s.api, "new-token")); /* SIGHUP re-reads the token file */
    REQ("GET", "/api/cameras", "Authorization: Bearer s3cret-token\r\n", NULL);
    ASSERT_EQ(r.status, 401);
    REQ("GET", "/api/cameras", "Authorization: Bearer new-token\r\n", NULL);
    ASSERT_EQ(r.status, 200);
    http_reply_free(&r);
    server_stop(&s);
}

PAN_TEST(health_is_503_once_the_pipeline_failed)
{
    server s;
    http_reply r = {0};
    ASSERT_EQ(server_start(&s, NULL), 0);
    pthread_mutex_lock(&s.fake.mu);
    s.fake.failed = 1;
    pthread_mutex_unlock(&s.fake.mu);
    REQ("GET", "/api/health", NULL, NULL);
    ASSERT_EQ(r.status, 503);
    json_t *o = body_json(&r);
    ASSERT_STREQ(json_string_value(json_object_get(o, "status")), "failed");
    ASSERT_STREQ(json_string_value(json_object_get(o, "error")), "results file: disk full");
    json_decref(o);
    REQ("GET", "/metrics", NULL, NULL);
    ASSERT_TRUE(strstr(r.body, "\npanoptes_up 0\n") != NULL);
    http_reply_free(&r);
    server_stop(&s);
}

PAN_TEST(snapshot_is_a_jpeg_of_the_next_frame_with_its_boxes)
{
    server s;
    http_reply r = {0};
    ASSERT_EQ(server_start(&s, NULL), 0);
    REQ("POST", "/api/cameras", NULL, "{\"uri\":\"a.mp4\"}");
    REQ("POST", "/api/cameras", NULL, "{\"uri\":\"b.mp4\",\"name\":\"short\"}");
    REQ("POST", "/api/cameras", NULL, "{\"uri\":\"bad:c.mp4\"}");
    REQ("GET", "/api/cameras/0/snapshot.jpg", NULL, NULL);
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(http_header(&r, "Content-Type"), "image/jpeg");
    ASSERT_TRUE(r.len > 100 && (uint8_t)r.body[0] == 0xFF && (uint8_t)r.body[1] == 0xD8);
    tjhandle tj = tjInitDecompress();
    int w = 0, h = 0, sub = 0, cs = 0;
    ASSERT_EQ(tjDecompressHeader3(tj, (unsigned char *)r.body, r.len, &w, &h, &sub, &cs), 0);
    ASSERT_EQ(w, FAKE_W);
    ASSERT_EQ(h, FAKE_H);
    uint8_t *gray = malloc((size_t)w * h);
    ASSERT_EQ(tjDecompress2(tj, (unsigned char *)r.body, r.len, gray, w, 0, h, TJPF_GRAY, 0), 0);
    tjDestroy(tj);
    /* the frame is grey (luma 128); the box edge at x = 8 (rows 20..30, below the label strip) is
     * drawn in the class colour (luma 81), the box's inside untouched */
    int edge = 0, inside = 0;
    for (int y = 20; y < 30; y++) edge += gray[y * w + 8], inside += gray[y * w + 24];
    free(gray);
    ASSERT_LE(edge / 10, 100);
    ASSERT_NEAR(inside / 10, 128, 6);
    /* a camera that ended keeps its last picture only if one was taken; this one was not */
    usleep(100000);
    REQ("GET", "/api/cameras/1/snapshot.jpg", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 404, "ended before a snapshot"));
    /* a failed camera sends no frame: 503 after the wait (1 s here), the service unaffected */
    REQ("GET", "/api/cameras/2/snapshot.jpg", NULL, NULL);
    ASSERT_TRUE(is_error(&r, 503, "sent no frame"));
    REQ("GET", "/api/cameras/0/snapshot.jpg", NULL, NULL);
    ASSERT_EQ(r.status, 200);
    http_reply_free(&r);
    server_stop(&s);
}

PAN_TEST(metrics_pass_promtool)
{
    server s;
    http_reply r = {0};
    ASSERT_EQ(server_start(&s, NULL), 0);
    REQ("POST", "/api/cameras", NULL, "{\"uri\":\"a.mp4\",\"name\":\"hall \\\"east\\\" \\\\ 2\"}");
    REQ("POST", "/api/cameras", NULL, "{\"uri\":\"bad:b.mp4\"}");
    usleep(50000);
    REQ("GET", "/metrics", NULL, NULL);
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(strstr(http_header(&r, "Content-Type"), "text/plain; version=0.0.4") != NULL);
    ASSERT_TRUE(strstr(r.body, "panoptes_camera_state{camera=\"0\",name=\"hall \\\"east\\\" \\\\ 2\",state=\"live\"} 1\n"));
    ASSERT_TRUE(strstr(r.body, "panoptes_camera_state{camera=\"1\",name=\"\",state=\"failed\"} 1\n"));
    ASSERT_TRUE(strstr(r.body, "panoptes_camera_state{camera=\"1\",name=\"\",state=\"live\"} 0\n"));
    ASSERT_TRUE(strstr(r.body, "panoptes_batch_size_bucket{le=\"1\"} 5\n"));
    ASSERT_TRUE(strstr(r.body, "panoptes_batch_size_bucket{le=\"3\"} 10\n"));
    ASSERT_TRUE(strstr(r.body, "panoptes_batch_size_bucket{le=\"+Inf\"} 10\n"));
    ASSERT_TRUE(strstr(r.body, "panoptes_batch_size_count 10\n"));
    ASSERT_TRUE(strstr(r.body, "panoptes_host_cpu_seconds_total 1.25\n"));
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        http_reply_free(&r);
        server_stop(&s);
        PAN_SKIP("promtool not found (Debian package prometheus; scripts/setup.sh installs it)");
    }
    FILE *p = popen("promtool check metrics >/tmp/test-serve-promtool.txt 2>&1", "w");
    ASSERT_TRUE(p != NULL);
    fwrite(r.body, 1, r.len, p);
    int rc = pclose(p);
    if (rc != 0) {
        system("cat /tmp/test-serve-promtool.txt >&2");
        PAN__FAIL("promtool check metrics failed (%d)", rc);
    }
    http_reply_free(&r);
    server_stop(&s);
}

/* Four clients each add 200 cameras and remove all but every 50th while frames flow and
 * snapshots are taken; then the list holds exactly the cameras they kept. */
typedef struct client {
    int port, kept[8], n_kept, errors;
} client;

static void *client_run(void *arg)
{
    client *c = arg;
    http_reply r = {0};
    for (int i = 0; i < 200; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"uri\":\"file-%d.mp4\",\"name\":\"c%d\"}", i, i);
        if (http_do(c->port, "POST", "/api/cameras", NULL, body, &r) || r.status != 201) {
            c->errors++;
            http_reply_free(&r);
            continue;
        }
        json_t *o = json_loadb(r.body, r.len, 0, NULL);
        int id = (int)json_integer_value(json_object_get(o, "id"));
        json_decref(o);
        http_reply_free(&r);
        char path[64];
        if (i % 10 == 0) {
            snprintf(path, sizeof path, "/api/cameras/%d/snapshot.jpg", id);
            if (http_do(c->port, "GET", path, NULL, NULL, &r) || r.status != 200) c->errors++;
            http_reply_free(&r);
        }
        if (i % 50 == 49) {
            c->kept[c->n_kept++] = id;
            continue;
        }
        snprintf(path, sizeof path, "/api/cameras/%d", id);
        if (http_do(c->port, "DELETE", path, NULL, NULL, &r) || r.status != 204) c->errors++;
        http_reply_free(&r);
    }
    return NULL;
}

PAN_TEST(four_clients_add_and_remove_200_cameras_each)
{
    server s;
    http_reply r = {0};
    ASSERT_EQ(server_start(&s, NULL), 0);
    client cl[4];
    pthread_t th[4];
    for (int k = 0; k < 4; k++) {
        memset(&cl[k], 0, sizeof cl[k]);
        cl[k].port = s.port;
        pthread_create(&th[k], NULL, client_run, &cl[k]);
    }
    for (int k = 0; k < 4; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 4; k++) ASSERT_EQ(cl[k].errors, 0);
    REQ("GET", "/api/cameras", NULL, NULL);
    json_t *a = body_json(&r);
    ASSERT_EQ(json_array_size(a), 16);
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < cl[k].n_kept; j++) {
            int found = 0;
            for (size_t i = 0; i < json_array_size(a); i++)
                found += json_integer_value(json_object_get(json_array_get(a, i), "id")) == cl[k].kept[j];
            ASSERT_EQ(found, 1);
        }
    json_decref(a);
    http_reply_free(&r);
    server_stop(&s);
}

PAN_TEST(a_taken_port_is_reported)
{
    server s;
    ASSERT_EQ(server_start(&s, NULL), 0);
    pan_serve_http *second = NULL;
    pan_serve_http_params hp = {"127.0.0.1", s.port, s.api, 0, 0};
    char err[256] = "";
    ASSERT_EQ(pan_serve_http_create(&second, &hp, err, sizeof err), PAN_NET);
    ASSERT_TRUE(strstr(err, "Address already in use") != NULL);
    hp.host = "not an address";
    hp.port = 0;
    ASSERT_EQ(pan_serve_http_create(&second, &hp, err, sizeof err), PAN_NET);
    ASSERT_TRUE(strstr(err, "not an address") != NULL);
    server_stop(&s);
}

PAN_TEST_MAIN(cameras_are_added_listed_and_removed, bad_requests_get_json_errors,
              token_guards_the_api_but_not_health_metrics_or_page, health_is_503_once_the_pipeline_failed,
              snapshot_is_a_jpeg_of_the_next_frame_with_its_boxes, metrics_pass_promtool,
              four_clients_add_and_remove_200_cameras_each, a_taken_port_is_reported)
#else
int main(void)
{
    fprintf(stderr, "skipped: panoptes serve is not built (needs libmicrohttpd-dev, libyaml-dev, libturbojpeg0-dev)\n");
    return 77;
}
#endif
