/* `panoptes serve` under four clients at once on the real pipeline (cpu backend): each adds 200
 * cameras (the looped sample), asks some for snapshots and for the list, and removes all but every
 * 50th, while a first camera's frames flow into a JSON Lines output. No request fails, the final
 * list holds exactly the cameras that were kept, every removed camera leaves the pipeline, and the
 * service stops on SIGTERM with exit 0 and no sanitizer report (the test build has AddressSanitizer
 * with leak detection: a leak makes the exit status 23).
 *
 * Decode only (--no-detect): the cpu detector under AddressSanitizer on two cores delivers about
 * 8 frames/s, far less than 17 looped cameras send; this test is about adding and removing cameras
 * concurrently, not throughput (test-serve-cli.sh runs the service with detection and tracking). */
#include "test.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "panoptes/status.h"
#include "test-serve-http.h"

#define CLIENTS 4
#define ROUNDS 200

typedef struct client {
    int port, index;
    int kept[ROUNDS / 50], n_kept;
    int errors, snapshots;
    char last_error[256];
} client;

static void client_error(client *c, const char *what, const http_reply *r)
{
    c->errors++;
    snprintf(c->last_error, sizeof c->last_error, "%s: %d %.180s", what, r->status, r->body ? r->body : "");
}

static void *client_run(void *arg)
{
    client *c = arg;
    http_reply r = {0};
    char body[256], path[64];
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(body, sizeof body, "{\"uri\":\"%s/data/vtest.mp4\",\"name\":\"c%d-%d\",\"loop\":true}",
                 PANOPTES_SOURCE_DIR, c->index, i);
        if (http_do(c->port, "POST", "/api/cameras", NULL, body, &r) || r.status != 201) {
            client_error(c, "POST", &r);
            http_reply_free(&r);
            continue;
        }
        json_t *o = json_loadb(r.body, r.len, 0, NULL);
        int id = (int)json_integer_value(json_object_get(o, "id"));
        json_decref(o);
        http_reply_free(&r);
        if (i % 20 == 0) {
            /* 503 when the new camera has not sent a frame within the wait: allowed, not an error */
            snprintf(path, sizeof path, "/api/cameras/%d/snapshot.jpg", id);
            if (http_do(c->port, "GET", path, NULL, NULL, &r) || (r.status != 200 && r.status != 503))
                client_error(c, "snapshot", &r);
            c->snapshots += r.status == 200;
            http_reply_free(&r);
        }
        if (i % 10 == 5) {
            if (http_do(c->port, "GET", "/api/cameras", NULL, NULL, &r) || r.status != 200) client_error(c, "list", &r);
            http_reply_free(&r);
        }
        if (i % 50 == 49) {
            c->kept[c->n_kept++] = id;
            continue;
        }
        snprintf(path, sizeof path, "/api/cameras/%d", id);
        if (http_do(c->port, "DELETE", path, NULL, NULL, &r) || r.status != 204) client_error(c, "DELETE", &r);
        http_reply_free(&r);
    }
    return NULL;
}

/* Starts the service with stderr into err_path; returns its pid and sets *port (0 on failure). */
static pid_t start_serve(const char *cli, const char *err_path, const char *jsonl, int *port)
{
    char sample[4096];
    snprintf(sample, sizeof sample, "%s/data/vtest.mp4", PANOPTES_SOURCE_DIR);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *e = freopen(err_path, "w", stderr);
        (void)e;
        execl(cli, cli, "serve", "--listen", "127.0.0.1:0", "--backend", "cpu", "--realtime", "--camera", sample,
              "--name", "flow", "--loop", "--no-detect", "--out", jsonl, (char *)NULL);
        _exit(127);
    }
    *port = 0;
    for (int t = 0; t < 1200 && *port == 0; t++) {
        usleep(100000);
        FILE *f = fopen(err_path, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            const char *at = strstr(line, "listening on http://127.0.0.1:");
            if (at) *port = atoi(at + strlen("listening on http://127.0.0.1:"));
        }
        if (f) fclose(f);
        if (waitpid(pid, NULL, WNOHANG) == pid) break;
    }
    return pid;
}

PAN_TEST(four_clients_add_and_remove_cameras_while_frames_flow)
{
    const char *cli = getenv("PANOPTES_CLI");
    char sample[4096], err_path[] = "/tmp/test-serve-stress-XXXXXX", jsonl[4200];
    snprintf(sample, sizeof sample, "%s/data/vtest.mp4", PANOPTES_SOURCE_DIR);
    if (!cli) PAN_SKIP("PANOPTES_CLI not set (run through ctest)");
    if (access(sample, R_OK) || access(pan_test_path("models/nanodet.json"), R_OK))
        PAN_SKIP("run scripts/setup.sh (sample or model missing)");
    char probe[4200];
    snprintf(probe, sizeof probe, "%s serve --help >/dev/null 2>&1", cli);
    if (system(probe) != 0) PAN_SKIP("this build has no panoptes serve");
    int fd = mkstemp(err_path);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    snprintf(jsonl, sizeof jsonl, "%s.jsonl", err_path);
    int port;
    pid_t pid = start_serve(cli, err_path, jsonl, &port);
    if (port == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        PAN__FAIL("serve did not start (see %s)", err_path);
    }
    http_reply r = {0};
    /* frames flow before the clients start */
    for (int t = 0; t < 600; t++) {
        http_do(port, "GET", "/api/cameras/0", NULL, NULL, &r);
        json_t *o = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
        int64_t frames = json_integer_value(json_object_get(o, "frames"));
        json_decref(o);
        http_reply_free(&r);
        if (frames > 0) break;
        usleep(100000);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    client cl[CLIENTS];
    pthread_t th[CLIENTS];
    for (int k = 0; k < CLIENTS; k++) {
        memset(&cl[k], 0, sizeof cl[k]);
        cl[k].port = port;
        cl[k].index = k;
        pthread_create(&th[k], NULL, client_run, &cl[k]);
    }
    int errors = 0, snapshots = 0;
    for (int k = 0; k < CLIENTS; k++) {
        pthread_join(th[k], NULL);
        if (cl[k].errors) fprintf(stderr, "  client %d: %d errors, last: %s\n", k, cl[k].errors, cl[k].last_error);
        errors += cl[k].errors;
        snapshots += cl[k].snapshots;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "  %d clients x %d cameras added and removed in %.1f s, %d snapshots\n", CLIENTS, ROUNDS,
            (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9, snapshots);

    /* the list: camera 0 and the kept ones, each once */
    ASSERT_EQ(http_do(port, "GET", "/api/cameras", NULL, NULL, &r), 0);
    json_t *list = json_loadb(r.body, r.len, 0, NULL);
    http_reply_free(&r);
    int expected = 1, consistent = json_array_size(list) == (size_t)(1 + CLIENTS * (ROUNDS / 50));
    for (int k = 0; k < CLIENTS; k++) expected += cl[k].n_kept;
    for (int k = -1; k < CLIENTS; k++)
        for (int j = 0; j < (k < 0 ? 1 : cl[k].n_kept); j++) {
            int want = k < 0 ? 0 : cl[k].kept[j], found = 0;
            for (size_t i = 0; i < json_array_size(list); i++)
                found += json_integer_value(json_object_get(json_array_get(list, i), "id")) == want;
            consistent &= found == 1;
        }
    size_t listed = json_array_size(list);
    json_decref(list);
    ASSERT_EQ(http_do(port, "GET", "/api/health", NULL, NULL, &r), 0);
    int health = r.status;
    http_reply_free(&r);
    /* the removed cameras leave the pipeline once their decoded frames are delivered */
    int draining = -1;
    for (int t = 0; t < 600 && draining != 0; t++) {
        if (t) usleep(100000);
        http_do(port, "GET", "/api/stats", NULL, NULL, &r);
        json_t *o = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
        draining = o ? (int)json_integer_value(json_object_get(o, "draining_cameras")) : -1;
        json_decref(o);
        http_reply_free(&r);
    }

    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    char grep[256];
    snprintf(grep, sizeof grep, "grep -q Sanitizer %s", err_path);
    int sanitizer = system(grep) == 0;
    if (sanitizer || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(grep, sizeof grep, "grep -B2 -A30 Sanitizer %s | head -60 >&2", err_path);
        system(grep);
    } else {
        unlink(err_path);
    }
    /* every line of the results whole */
    char check[4400];
    snprintf(check, sizeof check, "/usr/bin/python3 -c \"import json,sys; n=sum(1 for l in open(sys.argv[1]) "
             "if json.loads(l)); assert n > 0\" %s", jsonl);
    int jsonl_ok = system(check) == 0;
    unlink(jsonl);
    ASSERT_EQ(errors, 0);
    ASSERT_EQ(listed, expected);
    ASSERT_EQ(draining, 0);
    ASSERT_TRUE(jsonl_ok);
    ASSERT_TRUE(consistent);
    ASSERT_EQ(health, 200);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    ASSERT_TRUE(!sanitizer);
}

PAN_TEST_MAIN(four_clients_add_and_remove_cameras_while_frames_flow)
