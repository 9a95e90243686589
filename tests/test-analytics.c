/* Analytics (src/analytics/): the analytics file's errors, the counting rule of a line (band,
 * direction, ends of the segment), zones (enter, exit, dwell, occupancy), counting across tracker
 * imperfections (confirmed after crossing, id lost mid-crossing, walking out and in at a border),
 * the events and the JSON the sinks write. */
#include <math.h>

#include "analytics/analytics.h"
#include "test.h"

#define FPS 10.0

/* ------------------------------------------------------------------------ helpers */

static pan_analytics_config *config(const char *json)
{
    pan_analytics_config *cfg = NULL;
    char err[512];
    if (pan_analytics_config_parse(&cfg, json, strlen(json), "test.json", err, sizeof err)) {
        fprintf(stderr, "  config: %s\n", err);
        return NULL;
    }
    return cfg;
}

typedef struct recorder {
    int n;
    char types[512][16];
    char json[512][512];
    pan_event ev[512]; /* json and strings not kept */
} recorder;

static void record(void *opaque, const pan_event *ev)
{
    recorder *r = opaque;
    if (r->n >= 512) return;
    snprintf(r->types[r->n], sizeof r->types[0], "%s", pan_event_type_name(ev->type));
    snprintf(r->json[r->n], sizeof r->json[0], "%s", ev->json);
    r->ev[r->n] = *ev;
    r->ev[r->n].json = r->ev[r->n].line = r->ev[r->n].zone = r->ev[r->n].direction = r->ev[r->n].camera_name = NULL;
    r->n++;
}

static int count_type(const recorder *r, pan_event_type t)
{
    int n = 0;
    for (int i = 0; i < r->n; i++) n += r->ev[i].type == t;
    return n;
}

/* A box of a person whose bottom centre is (x, y): 40 x 100 px. */
static pan_track_report person(int64_t id, double x, double y)
{
    pan_track_report t;
    memset(&t, 0, sizeof t);
    t.id = id;
    t.class_id = 0;
    t.score = 0.9f;
    t.box[0] = (float)(x - 20), t.box[1] = (float)(y - 100), t.box[2] = (float)(x + 20), t.box[3] = (float)y;
    t.state = PAN_TRACK_CONFIRMED;
    return t;
}

static pan_detection det_at(double x, double y)
{
    pan_detection d;
    memset(&d, 0, sizeof d);
    d.box[0] = (float)(x - 20), d.box[1] = (float)(y - 100), d.box[2] = (float)(x + 20), d.box[3] = (float)y;
    d.score = 0.4f;
    return d;
}

static int feed(pan_analytics *a, int64_t frame, const pan_track_report *t, int n, const pan_detection *d, int nd)
{
    pan_analytics_frame f = {0, "door cam", frame, frame / FPS, 1280, 720, d, nd, t, n};
    return pan_analytics_update(a, &f);
}

static const char *one_line =
    "{\"cameras\": {\"0\": {\"lines\": [{\"name\": \"door\", \"points\": [[640, 100], [640, 600]]}]}}}";

/* ------------------------------------------------------------------------ the file */

static int parse_error(const char *json, const char *want)
{
    pan_analytics_config *cfg = NULL;
    char err[512] = "";
    int st = pan_analytics_config_parse(&cfg, json, strlen(json), "a.json", err, sizeof err);
    if (!st || cfg || !strstr(err, want)) {
        fprintf(stderr, "  want an error with \"%s\", got %d: %s\n", want, st, err);
        pan_analytics_config_destroy(&cfg);
        return 0;
    }
    return 1;
}

PAN_TEST(config_errors_name_the_camera_and_field)
{
    ASSERT_TRUE(parse_error("{\"cameras\": {\"0\": {\"lines\": [", "not valid JSON"));
    ASSERT_TRUE(parse_error("{\"cameras\": {\"door\": {}}}", "camera \"door\", unknown camera"));
    ASSERT_TRUE(parse_error("{\"cameras\": {\"-1\": {}}}", "camera \"-1\", unknown camera"));
    ASSERT_TRUE(parse_error("{\"cameras\": {\"0\": {\"zones\": [{\"name\": \"q\", \"polygon\": [[0, 0], [5, 5]]}]}}}",
                            "camera \"0\", zone \"q\": polygon has 2 points, a zone needs at least 3"));
    ASSERT_TRUE(parse_error("{\"cameras\": {\"1\": {\"lines\": [{\"name\": \"d\", \"points\": [[3, 4], [3, 4]]}]}}}",
                            "camera \"1\", line \"d\": points: zero-length line"));
    ASSERT_TRUE(parse_error("{\"cameras\": {\"0\": {\"lines\": [{\"points\": [[0, 0], [1, 1]]}]}}}",
                            "lines[0]: needs a \"name\""));
    ASSERT_TRUE(parse_error("{\"cameras\": {\"0\": {\"lines\": [{\"name\": \"d\", \"points\": [[0, 0], [1, \"x\"]]}]}}}",
                            "line \"d\": points[1] is not a point"));
    ASSERT_TRUE(parse_error("{\"cameras\": {\"0\": {\"lins\": []}}}", "unknown member \"lins\""));
    ASSERT_TRUE(parse_error("{\"cameras\": {\"0\": {\"lines\": [{\"name\": \"d\", \"points\": [[0, 0], [1, 1]], "
                            "\"classes\": [\"unicorn\"]}]}}}",
                            "classes[0] is not a COCO label"));
    ASSERT_TRUE(parse_error("{\"cameras\": {\"*\": {\"lines\": [{\"name\": \"d\", \"points\": [[0, 0], [1, 1]]}]},"
                            " \"0\": {\"lines\": [{\"name\": \"d\", \"points\": [[0, 0], [2, 1]]}]}}}",
                            "two lines have this name (one of them under \"*\")"));
    ASSERT_TRUE(parse_error("[1, 2]", "expects one object {\"cameras\""));

    /* a camera id the run does not have: the key and how many there are */
    pan_analytics_config *cfg = config("{\"cameras\": {\"*\": {}, \"3\": {}}}");
    char err[512] = "";
    ASSERT_TRUE(cfg != NULL);
    ASSERT_OK(pan_analytics_config_check_cameras(cfg, 4, err, sizeof err));
    ASSERT_EQ(pan_analytics_config_check_cameras(cfg, 2, err, sizeof err), PAN_INVAL);
    ASSERT_TRUE(strstr(err, "camera \"3\", unknown camera: this run has 2 cameras") != NULL);
    pan_analytics_config_destroy(&cfg);

    ASSERT_EQ(pan_analytics_config_load(&cfg, "/nonexistent/lines.json", err, sizeof err), PAN_NOTFOUND);
    ASSERT_TRUE(strstr(err, "/nonexistent/lines.json: cannot open") != NULL);
}

/* ------------------------------------------------------------------------ lines */

PAN_TEST(line_counts_in_and_out_with_a_band_against_jitter)
{
    pan_analytics_config *cfg = config(one_line);
    pan_analytics *a = NULL;
    recorder *r = calloc(1, sizeof *r);
    int64_t in = -1, out = -1, f = 0;
    ASSERT_OK(pan_analytics_create(&a, cfg, NULL));
    ASSERT_OK(pan_analytics_add_listener(a, record, r));
    /* Line from (640, 100) down to (640, 600): s > 0 on its left on screen (x < 640). Track 1 walks
     * right to left: decided + at x <= 620, so crossing from x > 660 counts `in`. */
    for (double x = 700; x >= 560; x -= 5) {
        pan_track_report t = person(1, x, 400);
        ASSERT_OK(feed(a, f++, &t, 1, NULL, 0));
    }
    ASSERT_OK(pan_analytics_line_counts(a, 0, "door", &in, &out));
    ASSERT_EQ(in, 1);
    ASSERT_EQ(out, 0);
    /* Track 2 jitters across the line inside the band (x 625..655): never counts. */
    for (int i = 0; i < 40; i++) {
        pan_track_report t = person(2, i % 2 ? 625 : 655, 300);
        ASSERT_OK(feed(a, f++, &t, 1, NULL, 0));
    }
    ASSERT_OK(pan_analytics_line_counts(a, 0, "door", &in, &out));
    ASSERT_EQ(in + out, 1);
    /* Track 3 walks left to right below the segment's end (y 650): its side changes, no count. */
    for (double x = 560; x <= 720; x += 5) {
        pan_track_report t = person(3, x, 650);
        ASSERT_OK(feed(a, f++, &t, 1, NULL, 0));
    }
    /* Track 4 walks left to right through it: `out`. */
    for (double x = 560; x <= 720; x += 5) {
        pan_track_report t = person(4, x, 500);
        ASSERT_OK(feed(a, f++, &t, 1, NULL, 0));
    }
    ASSERT_OK(pan_analytics_line_counts(a, 0, "door", &in, &out));
    ASSERT_EQ(in, 1);
    ASSERT_EQ(out, 1);
    ASSERT_EQ(count_type(r, PAN_EVENT_LINE_CROSS), 2);
    for (int i = 0; i < r->n; i++)
        if (r->ev[i].type == PAN_EVENT_LINE_CROSS) {
            ASSERT_TRUE(r->ev[i].track_id == 1 || r->ev[i].track_id == 4);
            /* the event is at the frame where the side was decided, with that frame's box */
            ASSERT_TRUE(strstr(r->json[i], "\"line\":\"door\"") != NULL);
            ASSERT_TRUE(strstr(r->json[i], r->ev[i].track_id == 1 ? "\"direction\":\"in\"" : "\"direction\":\"out\"") != NULL);
            ASSERT_NEAR((r->ev[i].box[0] + r->ev[i].box[2]) / 2, r->ev[i].track_id == 1 ? 620 : 660, 0.01);
        }
    pan_analytics_destroy(&a);
    pan_analytics_config_destroy(&cfg);
    free(r);
}

PAN_TEST(a_track_confirmed_after_crossing_counts_once)
{
    pan_analytics_config *cfg = config(one_line);
    pan_analytics *robust = NULL, *naive = NULL;
    pan_analytics_params p;
    pan_analytics_params_default(&p);
    ASSERT_OK(pan_analytics_create(&robust, cfg, &p));
    p.robust = 0;
    ASSERT_OK(pan_analytics_create(&naive, cfg, &p));
    /* Someone walks left from x = 760 with low-score detections only (partly hidden): no track.
     * The tracker confirms them at x = 580, past the line. */
    int64_t f = 0;
    for (double x = 760; x > 580; x -= 6, f++) {
        pan_detection d = det_at(x, 400);
        ASSERT_OK(feed(robust, f, NULL, 0, &d, 1));
        ASSERT_OK(feed(naive, f, NULL, 0, &d, 1));
    }
    for (double x = 580; x > 500; x -= 6, f++) {
        pan_track_report t = person(9, x, 400);
        pan_detection d = det_at(x, 400);
        ASSERT_OK(feed(robust, f, &t, 1, &d, 1));
        ASSERT_OK(feed(naive, f, &t, 1, &d, 1));
    }
    int64_t in, out;
    ASSERT_OK(pan_analytics_line_counts(robust, 0, "door", &in, &out));
    ASSERT_EQ(in, 1);
    ASSERT_EQ(out, 0);
    ASSERT_OK(pan_analytics_line_counts(naive, 0, "door", &in, &out));
    ASSERT_EQ(in + out, 0);
    pan_analytics_destroy(&robust), pan_analytics_destroy(&naive);
    pan_analytics_config_destroy(&cfg);
}

PAN_TEST(an_id_lost_mid_crossing_counts_once)
{
    pan_analytics_config *cfg = config(one_line);
    pan_analytics *a = NULL;
    recorder *r = calloc(1, sizeof *r);
    ASSERT_OK(pan_analytics_create(&a, cfg, NULL));
    ASSERT_OK(pan_analytics_add_listener(a, record, r));
    /* Track 5 walks left to x = 650 (in the band), is hidden for 40 frames (nothing seen), and
     * comes back as track 6 at x = 530, then walks on. */
    int64_t f = 0;
    double x = 760;
    for (; x > 650; x -= 4, f++) {
        pan_track_report t = person(5, x, 400);
        ASSERT_OK(feed(a, f, &t, 1, NULL, 0));
    }
    for (int i = 0; i < 30; i++, f++, x -= 4) ASSERT_OK(feed(a, f, NULL, 0, NULL, 0));
    for (; x > 400; x -= 4, f++) {
        pan_track_report t = person(6, x, 400);
        ASSERT_OK(feed(a, f, &t, 1, NULL, 0));
    }
    ASSERT_OK(pan_analytics_finish(a));
    int64_t in, out;
    ASSERT_OK(pan_analytics_line_counts(a, 0, "door", &in, &out));
    ASSERT_EQ(in, 1);
    ASSERT_EQ(out, 0);
    /* track 5 ended continued by 6, 6 started continuing 5, 6 crossed */
    int ended5 = 0, start6 = 0;
    for (int i = 0; i < r->n; i++) {
        if (r->ev[i].type == PAN_EVENT_TRACK_END && r->ev[i].track_id == 5) {
            ended5 = r->ev[i].continued_by == 6;
            ASSERT_TRUE(strstr(r->json[i], "\"continued_by\":6") != NULL);
        }
        if (r->ev[i].type == PAN_EVENT_TRACK_START && r->ev[i].track_id == 6) start6 = r->ev[i].continues == 5;
        if (r->ev[i].type == PAN_EVENT_LINE_CROSS) ASSERT_EQ(r->ev[i].track_id, 6);
    }
    ASSERT_TRUE(ended5 && start6);
    pan_analytics_destroy(&a);
    pan_analytics_config_destroy(&cfg);
    free(r);
}

PAN_TEST(people_leaving_and_entering_at_a_border_are_not_one)
{
    /* A horizontal line; track 1 walks out through the left border below it; 5 frames later track
     * 2 walks in at the same place and goes up across it. Without the border rule, 2 would
     * continue 1 (it is where 1's motion carried it) and the line would count a crossing 2 made
     * only in part (it entered inside the band). */
    pan_analytics_config *cfg = config(
        "{\"cameras\": {\"0\": {\"lines\": [{\"name\": \"h\", \"points\": [[0, 400], [1280, 400]]}]}}}");
    pan_analytics *a = NULL;
    pan_analytics_params p;
    pan_analytics_params_default(&p);
    ASSERT_OK(pan_analytics_create(&a, cfg, &p));
    int64_t f = 0;
    for (double x = 300; x >= 25; x -= 5, f++) {
        pan_track_report t = person(1, x, 450);
        ASSERT_OK(feed(a, f, &t, 1, NULL, 0));
    }
    for (int i = 0; i < 5; i++, f++) ASSERT_OK(feed(a, f, NULL, 0, NULL, 0));
    for (double x = 20, y = 390; x < 100; x += 5, y -= 2, f++) {
        pan_track_report t = person(2, x, y);
        ASSERT_OK(feed(a, f, &t, 1, NULL, 0));
    }
    int64_t in, out;
    ASSERT_OK(pan_analytics_line_counts(a, 0, "h", &in, &out));
    ASSERT_EQ(in + out, 0);
    pan_analytics_destroy(&a);

    /* the same away from the border (x shifted by 400): one person, whose crossing counts */
    ASSERT_OK(pan_analytics_create(&a, cfg, &p));
    f = 0;
    for (double x = 700; x >= 425; x -= 5, f++) {
        pan_track_report t = person(1, x, 450);
        ASSERT_OK(feed(a, f, &t, 1, NULL, 0));
    }
    for (int i = 0; i < 5; i++, f++) ASSERT_OK(feed(a, f, NULL, 0, NULL, 0));
    for (double x = 420, y = 390; x < 500; x += 5, y -= 2, f++) {
        pan_track_report t = person(2, x, y);
        ASSERT_OK(feed(a, f, &t, 1, NULL, 0));
    }
    ASSERT_OK(pan_analytics_line_counts(a, 0, "h", &in, &out));
    ASSERT_EQ(out, 1);
    pan_analytics_destroy(&a);
    pan_analytics_config_destroy(&cfg);
}

/* ------------------------------------------------------------------------ zones */

PAN_TEST(zone_enter_exit_dwell_and_occupancy)
{
    pan_analytics_config *cfg = config(
        "{\"cameras\": {\"*\": {\"zones\": [{\"name\": \"queue\", \"polygon\": [[200, 200], [600, 200], [600, 600], "
        "[200, 600]], \"classes\": [\"person\"]}]}}}");
    pan_analytics *a = NULL;
    recorder *r = calloc(1, sizeof *r);
    ASSERT_OK(pan_analytics_create(&a, cfg, NULL));
    ASSERT_OK(pan_analytics_add_listener(a, record, r));
    /* Two people walk in from the left at 5 px a frame; one waits; the other leaves to the right. */
    int64_t f = 0;
    int occ = -1;
    for (double x = 100; x <= 400; x += 5, f++) {
        pan_track_report t[2] = {person(1, x, 400), person(2, x, 500)};
        ASSERT_OK(feed(a, f, t, 2, NULL, 0));
    }
    ASSERT_OK(pan_analytics_zone_occupancy(a, 0, "queue", &occ));
    ASSERT_EQ(occ, 2);
    for (double x = 405; x <= 700; x += 5, f++) {
        pan_track_report t[2] = {person(1, 400, 400), person(2, x, 500)};
        ASSERT_OK(feed(a, f, t, 2, NULL, 0));
    }
    ASSERT_OK(pan_analytics_zone_occupancy(a, 0, "queue", &occ));
    ASSERT_EQ(occ, 1);
    /* per-frame member: cumulative lines (none here), occupancy by class */
    char buf[512] = "";
    FILE *mf = fmemopen(buf, sizeof buf, "w");
    pan_analytics_write_frame(a, 0, mf);
    fclose(mf);
    ASSERT_STREQ(buf, ",\"analytics\":{\"lines\":{},\"zones\":{\"queue\":{\"person\":1}}}");
    const double *dwell;
    int n;
    ASSERT_OK(pan_analytics_zone_dwell(a, 0, "queue", &dwell, &n));
    ASSERT_EQ(n, 1);
    /* entered 10 px inside (x = 210, frame 22), left 10 px outside (x = 610, frame 102) */
    ASSERT_NEAR(dwell[0], 80 / FPS, 1e-9);
    ASSERT_OK(pan_analytics_finish(a));
    ASSERT_OK(pan_analytics_zone_dwell(a, 0, "queue", &dwell, &n));
    ASSERT_EQ(n, 2); /* the one still inside leaves when its track ends */
    ASSERT_EQ(count_type(r, PAN_EVENT_ZONE_ENTER), 2);
    ASSERT_EQ(count_type(r, PAN_EVENT_ZONE_EXIT), 2);
    for (int i = 0; i < r->n; i++)
        if (r->ev[i].type == PAN_EVENT_ZONE_EXIT) {
            ASSERT_TRUE(strstr(r->json[i], "\"zone\":\"queue\",\"dwell_s\":") != NULL);
            ASSERT_NEAR(r->ev[i].dwell_s, r->ev[i].track_id == 2 ? 80 / FPS : r->ev[i].pts - 22 / FPS, 1e-9);
        }
    mf = fmemopen(buf, sizeof buf, "w");
    ASSERT_OK(pan_analytics_write_counts(a, 0, mf));
    fclose(mf);
    ASSERT_TRUE(!strncmp(buf, "{\"lines\":{},\"zones\":{\"queue\":{\"dwell_s\":[8.000,", 46));
    pan_analytics_destroy(&a);
    pan_analytics_config_destroy(&cfg);
    free(r);
}

/* ------------------------------------------------------------------------ events */

PAN_TEST(events_carry_camera_time_track_and_box)
{
    pan_analytics_config *cfg = config(one_line);
    pan_analytics *a = NULL;
    recorder *r = calloc(1, sizeof *r);
    ASSERT_OK(pan_analytics_create(&a, cfg, NULL));
    ASSERT_OK(pan_analytics_add_listener(a, record, r));
    for (int64_t f = 0; f < 20; f++) {
        pan_track_report t = person(3, 700 - 8.0 * f, 400);
        t.global_id = f < 10 ? 4 : 7; /* the identity changes its mind once */
        ASSERT_OK(feed(a, f, &t, 1, NULL, 0));
    }
    /* a second track joins identity 7, which track 3 holds: identity_link at its start */
    pan_track_report t2 = person(8, 100, 300);
    t2.global_id = 7;
    ASSERT_OK(feed(a, 20, &t2, 1, NULL, 0));
    ASSERT_OK(pan_analytics_finish(a));
    ASSERT_EQ(count_type(r, PAN_EVENT_TRACK_START), 2);
    ASSERT_EQ(count_type(r, PAN_EVENT_TRACK_END), 2);
    ASSERT_EQ(count_type(r, PAN_EVENT_LINE_CROSS), 1);
    ASSERT_EQ(count_type(r, PAN_EVENT_IDENTITY_LINK), 2);
    ASSERT_EQ(pan_analytics_event_count(a), r->n);
    for (int i = 0; i < r->n; i++) {
        const char *j = r->json[i];
        ASSERT_TRUE(!strncmp(j, "{\"event\":\"", 10));
        ASSERT_TRUE(strstr(j, "\"camera\":0,\"camera_name\":\"door cam\",\"frame\":") != NULL);
        ASSERT_TRUE(strstr(j, "\"time\":\"20") != NULL && strstr(j, "Z\",\"track_id\":") != NULL);
        ASSERT_TRUE(strstr(j, "\"class\":0,\"label\":\"person\",\"box\":[") != NULL);
        ASSERT_TRUE(j[strlen(j) - 1] == '}');
    }
    ASSERT_STREQ(r->types[0], "track_start");
    ASSERT_TRUE(strstr(r->json[0], "\"pts\":0.000000") && strstr(r->json[0], "\"global_id\":4"));
    for (int i = 0; i < r->n; i++) {
        if (r->ev[i].type == PAN_EVENT_IDENTITY_LINK && r->ev[i].track_id == 3) {
            ASSERT_EQ(r->ev[i].frame, 10);
            ASSERT_TRUE(strstr(r->json[i], "\"global_id\":7") && strstr(r->json[i], "\"previous_global_id\":4"));
        }
        if (r->ev[i].type == PAN_EVENT_TRACK_END && r->ev[i].track_id == 3) {
            ASSERT_TRUE(strstr(r->json[i], "\"first_seen\":0.000000,\"last_seen\":1.900000,\"duration_s\":1.900000"));
        }
    }
    pan_analytics_destroy(&a);
    pan_analytics_config_destroy(&cfg);
    free(r);
}

PAN_TEST(names_are_escaped_and_tracks_end_after_a_time_out)
{
    pan_analytics_config *cfg = config(
        "{\"cameras\": {\"0\": {\"lines\": [{\"name\": \"say \\\"hi\\\"\\n\", \"points\": [[0, 0], [10, 0]]}]}}}");
    pan_analytics *a = NULL;
    recorder *r = calloc(1, sizeof *r);
    pan_analytics_params p;
    pan_analytics_params_default(&p);
    p.end_after_frames = 5;
    ASSERT_OK(pan_analytics_create(&a, cfg, &p));
    ASSERT_OK(pan_analytics_add_listener(a, record, r));
    pan_track_report t = person(1, 100, 100);
    ASSERT_OK(feed(a, 0, &t, 1, NULL, 0));
    for (int64_t f = 1; f <= 5; f++) ASSERT_OK(feed(a, f, NULL, 0, NULL, 0));
    ASSERT_EQ(count_type(r, PAN_EVENT_TRACK_END), 0);
    ASSERT_OK(feed(a, 6, NULL, 0, NULL, 0));
    ASSERT_EQ(count_type(r, PAN_EVENT_TRACK_END), 1);
    char buf[256] = "";
    FILE *mf = fmemopen(buf, sizeof buf, "w");
    pan_analytics_write_frame(a, 0, mf);
    fclose(mf);
    ASSERT_STREQ(buf, ",\"analytics\":{\"lines\":{\"say \\\"hi\\\"\\n\":{\"in\":0,\"out\":0}},\"zones\":{}}");
    /* a camera with no lines or zones writes no member */
    buf[0] = 0;
    mf = fmemopen(buf, sizeof buf, "w");
    pan_analytics_write_frame(a, 5, mf);
    fclose(mf);
    ASSERT_STREQ(buf, "");
    /* frames out of order are refused */
    ASSERT_EQ(feed(a, 3, NULL, 0, NULL, 0), PAN_INVAL);
    pan_analytics_destroy(&a);
    pan_analytics_config_destroy(&cfg);
    free(r);
}

PAN_TEST_MAIN(config_errors_name_the_camera_and_field, line_counts_in_and_out_with_a_band_against_jitter,
              a_track_confirmed_after_crossing_counts_once, an_id_lost_mid_crossing_counts_once,
              people_leaving_and_entering_at_a_border_are_not_one, zone_enter_exit_dwell_and_occupancy,
              events_carry_camera_time_track_and_box, names_are_escaped_and_tracks_end_after_a_time_out)
