/* Plan cache (src/nn/plan_cache.c): SHA-256 and CRC-32 against their reference vectors, the
 * cache directory's resolution, a round trip, and that every damaged file (cut at every length,
 * each byte flipped, another key per field, another format version or magic, a directory that
 * cannot hold it) is refused whole with exactly one warning naming the file, never half used,
 * and rewritten by the next save; concurrent writers of one key leave one valid file. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sha256.h"
#include "nn/plan_cache.h"
#include "panoptes/log.h"
#include "panoptes/status.h"
#include "test.h"

/* ---- captured warnings ----------------------------------------------------------------------- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int n_warn;
static char last_warn[1024];

static void sink(void *opaque, pan_log_level level, const char *line)
{
    (void)opaque;
    if (level > PAN_LOG_WARN) return;
    pthread_mutex_lock(&log_mu);
    n_warn++;
    snprintf(last_warn, sizeof last_warn, "%s", line);
    pthread_mutex_unlock(&log_mu);
}

static void capture(void)
{
    pan_log_set_level(PAN_LOG_WARN);
    pan_log_set_sink(sink, NULL);
    n_warn = 0;
    last_warn[0] = 0;
}

/* ---- helpers --------------------------------------------------------------------------------- */

static char *tmpdir(char buf[256])
{
    snprintf(buf, 256, "/tmp/pan-plan-cache-XXXXXX");
    return mkdtemp(buf);
}

static void rmtree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            rmtree(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int count_files(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static pan_plan_key sample_key(void)
{
    pan_plan_key k = {0};
    pan__sha256("model bytes", 11, k.model_sha256);
    snprintf(k.gpu_name, sizeof k.gpu_name, "NVIDIA H100 80GB HBM3");
    k.cc_major = 9;
    k.cc_minor = 0;
    k.driver_version = 13000;
    k.cudnn_version = 91900;
    k.cuda_runtime_version = 13000;
    k.precision = PAN_PLAN_FP16;
    k.batch = 4;
    k.engine_version = 1;
    return k;
}

/* Three records of the shapes the engine writes (a conv id -> engine choice), one with no data. */
static const char ID0[] = "conv n=4 c=64 56x56 k=64 3x3", ID1[] = "conv n=4 c=64 56x56 k=256 1x1", ID2[] = "empty";
static const int64_t DATA0[] = {2, 17, 3, 1, 5, 0}, DATA1[] = {1, 42};

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    *len = b && fread(b, 1, (size_t)n, f) == (size_t)n ? (size_t)n : 0;
    fclose(f);
    return b;
}

static int write_file(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(b, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Puts the sample's records into c and saves it. */
static pan_status fill_sample(pan_plan_cache *c)
{
    pan_status st = pan__plan_cache_put(c, PAN_PLAN_REC_CONV, ID0, sizeof ID0, DATA0, sizeof DATA0);
    if (!st) st = pan__plan_cache_put(c, PAN_PLAN_REC_CONV, ID1, sizeof ID1, DATA1, sizeof DATA1);
    if (!st) st = pan__plan_cache_put(c, 77, ID2, sizeof ID2, NULL, 0); /* unknown type: kept */
    if (!st) st = pan__plan_cache_save(c);
    return st;
}

/* Writes the sample cache of key into dir; returns its path in path[4096]. */
static pan_status make_sample(const char *dir, const pan_plan_key *key, char path[4096])
{
    pan_plan_cache *c = NULL;
    pan_status st = pan__plan_cache_open(&c, dir, key);
    if (st) return st;
    st = fill_sample(c);
    snprintf(path, 4096, "%s", pan__plan_cache_path(c));
    pan__plan_cache_destroy(&c);
    return st;
}

/* A fresh directory with the sample file of the sample key: its path and bytes (NULL when any of
 * that failed). */
static uint8_t *sample_file(char tbuf[256], pan_plan_key *k, char path[4096], size_t *len)
{
    *len = 0;
    *k = sample_key();
    if (!tmpdir(tbuf) || make_sample(tbuf, k, path)) return NULL;
    return read_file(path, len);
}

/* Opens key in dir; 1 when it loaded the whole sample, 0 when it loaded nothing, -1 for anything
 * else (a partial load: the one outcome that must never happen). */
static int open_state(const char *dir, const pan_plan_key *key)
{
    pan_plan_cache *c = NULL;
    if (pan__plan_cache_open(&c, dir, key)) return -1;
    size_t l0 = 0, l1 = 0, l2 = 1;
    const void *d0 = pan__plan_cache_find(c, PAN_PLAN_REC_CONV, ID0, sizeof ID0, &l0);
    const void *d1 = pan__plan_cache_find(c, PAN_PLAN_REC_CONV, ID1, sizeof ID1, &l1);
    const void *d2 = pan__plan_cache_find(c, 77, ID2, sizeof ID2, &l2);
    int n = pan__plan_cache_loaded(c), r = -1;
    if (n == 3 && d0 && l0 == sizeof DATA0 && !memcmp(d0, DATA0, l0) && d1 && l1 == sizeof DATA1 &&
        !memcmp(d1, DATA1, l1) && d2 && l2 == 0)
        r = 1;
    else if (n == 0 && !d0 && !d1 && !d2)
        r = 0;
    pan__plan_cache_destroy(&c);
    return r;
}

/* ---- cases ----------------------------------------------------------------------------------- */

PAN_TEST(sha256_and_crc32_match_reference_vectors)
{
    uint8_t d[32];
    char hex[65];
    pan__sha256("", 0, d);
    pan__sha256_hex(d, hex);
    ASSERT_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    pan__sha256("abc", 3, d);
    pan__sha256_hex(d, hex);
    ASSERT_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 448 bits: padding spills */
    pan__sha256(m, strlen(m), d);
    pan__sha256_hex(d, hex);
    ASSERT_STREQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* a million 'a' fed in uneven pieces: the block buffering across update calls */
    pan_sha256 s;
    pan__sha256_init(&s);
    char a[1000];
    memset(a, 'a', sizeof a);
    size_t left = 1000000, step = 1;
    while (left) {
        size_t n = step < left ? step : left;
        pan__sha256_update(&s, a, n);
        left -= n;
        step = step % 977 + 13; /* 13..989: within a */
    }
    pan__sha256_final(&s, d);
    pan__sha256_hex(d, hex);
    ASSERT_STREQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    ASSERT_EQ(pan__crc32(0, "123456789", 9), 0xCBF43926u);
    ASSERT_EQ(pan__crc32(pan__crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

PAN_TEST(cache_dir_explicit_then_env_then_xdg_then_home)
{
    char out[4096], home[1024];
    snprintf(home, sizeof home, "%s", getenv("HOME") ? getenv("HOME") : "/root");
    setenv("PANOPTES_CACHE_DIR", "/env/dir", 1);
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
    ASSERT_OK(pan__plan_cache_dir(out, sizeof out, "/explicit"));
    ASSERT_STREQ(out, "/explicit");
    ASSERT_OK(pan__plan_cache_dir(out, sizeof out, NULL));
    ASSERT_STREQ(out, "/env/dir");
    unsetenv("PANOPTES_CACHE_DIR");
    ASSERT_OK(pan__plan_cache_dir(out, sizeof out, ""));
    ASSERT_STREQ(out, "/xdg/panoptes");
    unsetenv("XDG_CACHE_HOME");
    ASSERT_OK(pan__plan_cache_dir(out, sizeof out, NULL));
    ASSERT_STREQ(out, "/home/u/.cache/panoptes");
    unsetenv("HOME");
    ASSERT_EQ(pan__plan_cache_dir(out, sizeof out, NULL), PAN_NOTFOUND);
    setenv("HOME", home, 1);
    ASSERT_EQ(pan__plan_cache_dir(out, 4, "/too/long"), PAN_RANGE);
    ASSERT_TRUE(pan__plan_cache_disabled("off") && pan__plan_cache_disabled("none") && pan__plan_cache_disabled("0"));
    ASSERT_TRUE(!pan__plan_cache_disabled(NULL) && !pan__plan_cache_disabled("/tmp/x"));
    /* off through the environment too, unless a directory is named */
    setenv("PANOPTES_CACHE_DIR", "off", 1);
    ASSERT_TRUE(pan__plan_cache_disabled(NULL) && pan__plan_cache_disabled(""));
    ASSERT_TRUE(!pan__plan_cache_disabled("/tmp/x"));
    pan_plan_key k = sample_key();
    pan_plan_cache *c = (pan_plan_cache *)&k; /* overwritten */
    ASSERT_OK(pan__plan_cache_open(&c, NULL, &k));
    ASSERT_TRUE(c == NULL);
    ASSERT_TRUE(pan__plan_cache_find(c, PAN_PLAN_REC_CONV, "x", 1, NULL) == NULL);
    unsetenv("PANOPTES_CACHE_DIR");
}

PAN_TEST(round_trip_keeps_every_record_and_creates_the_directory)
{
    char tbuf[256], dir[512], path[4096];
    ASSERT_TRUE(tmpdir(tbuf));
    snprintf(dir, sizeof dir, "%s/a/b/c", tbuf); /* mkdir -p on save */
    pan_plan_key k = sample_key();
    capture();
    ASSERT_EQ(open_state(dir, &k), 0); /* cold: nothing, no warning */
    ASSERT_OK(make_sample(dir, &k, path));
    ASSERT_TRUE(strstr(path, dir) == path && strstr(path, "/plan-") && strstr(path, ".bin"));
    ASSERT_EQ(open_state(dir, &k), 1);
    ASSERT_EQ(count_files(dir), 1); /* no temporary left */
    /* a put that changes nothing does not mark it for saving; one that does replaces the record */
    pan_plan_cache *c = NULL;
    ASSERT_OK(pan__plan_cache_open(&c, dir, &k));
    ASSERT_OK(pan__plan_cache_put(c, PAN_PLAN_REC_CONV, ID0, sizeof ID0, DATA0, sizeof DATA0));
    const int64_t other[] = {9};
    ASSERT_OK(pan__plan_cache_put(c, PAN_PLAN_REC_CONV, ID1, sizeof ID1, other, sizeof other));
    ASSERT_OK(pan__plan_cache_save(c));
    pan__plan_cache_destroy(&c);
    ASSERT_TRUE(c == NULL);
    pan__plan_cache_destroy(&c); /* NULL-safe */
    ASSERT_OK(pan__plan_cache_open(&c, dir, &k));
    size_t l = 0;
    const int64_t *got = pan__plan_cache_find(c, PAN_PLAN_REC_CONV, ID1, sizeof ID1, &l);
    ASSERT_TRUE(got && l == sizeof other && got[0] == 9);
    ASSERT_EQ(pan__plan_cache_loaded(c), 3);
    pan__plan_cache_destroy(&c);
    ASSERT_EQ(n_warn, 0);
    pan_log_set_sink(NULL, NULL);
    rmtree(tbuf);
}

/* Writes b[0..len) over the sample's file and starts as the engine does: the open refuses it whole
 * (nothing found) with exactly one warning that names the file, the engine plans afresh (the
 * puts) and saves with no second warning, and the next start loads it. 0 when all held. */
static int refused_once(const char *dir, const pan_plan_key *k, const char *path, const uint8_t *b, size_t len,
                        const char *reason)
{
    if (write_file(path, b, len)) return -1;
    n_warn = 0;
    last_warn[0] = 0;
    pan_plan_cache *c = NULL;
    if (pan__plan_cache_open(&c, dir, k)) return -2;
    int r = 0;
    if (pan__plan_cache_loaded(c) || pan__plan_cache_find(c, PAN_PLAN_REC_CONV, ID0, sizeof ID0, NULL) ||
        pan__plan_cache_find(c, PAN_PLAN_REC_CONV, ID1, sizeof ID1, NULL))
        r = -3; /* something of it was used */
    else if (n_warn != 1 || !strstr(last_warn, path)) r = -4;
    else if (reason && !strstr(last_warn, reason)) r = -5;
    else if (fill_sample(c) || strcmp(pan__plan_cache_path(c), path)) r = -6;
    pan__plan_cache_destroy(&c);
    if (!r && (n_warn != 1 || open_state(dir, k) != 1 || n_warn != 1)) r = -7;
    return r;
}

PAN_TEST(truncated_at_every_length_is_refused_whole)
{
    char tbuf[256], path[4096];
    pan_plan_key k;
    size_t len;
    uint8_t *img = sample_file(tbuf, &k, path, &len);
    ASSERT_TRUE(img && len > 100 && len < 4096);
    capture();
    int bad = 0;
    for (size_t n = 0; n < len && !bad; n++) {
        int r = refused_once(tbuf, &k, path, img, n, NULL);
        if (r) {
            fprintf(stderr, "  cut at %zu of %zu: %d (%s)\n", n, len, r, last_warn);
            bad = 1;
        }
    }
    /* a file with bytes appended after its CRC is refused too */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, img, len);
    longer[len] = 0;
    int r = refused_once(tbuf, &k, path, longer, len + 1, NULL);
    free(longer);
    ASSERT_EQ(r, 0);
    free(img);
    pan_log_set_sink(NULL, NULL);
    rmtree(tbuf);
    ASSERT_EQ(bad, 0);
}

PAN_TEST(a_flipped_byte_anywhere_is_refused_whole)
{
    char tbuf[256], path[4096];
    pan_plan_key k;
    size_t len;
    uint8_t *img = sample_file(tbuf, &k, path, &len);
    ASSERT_TRUE(img && len > 100);
    capture();
    int bad = 0;
    for (size_t i = 0; i < len && !bad; i++) {
        for (int bit = 0; bit < 8 && !bad; bit += 7) { /* the lowest and the highest bit */
            img[i] ^= (uint8_t)(1u << bit);
            int r = refused_once(tbuf, &k, path, img, len, NULL);
            img[i] ^= (uint8_t)(1u << bit);
            if (r) {
                fprintf(stderr, "  byte %zu bit %d of %zu: %d (%s)\n", i, bit, len, r, last_warn);
                bad = 1;
            }
        }
    }
    free(img);
    pan_log_set_sink(NULL, NULL);
    rmtree(tbuf);
    ASSERT_EQ(bad, 0);
}

/* A file of another key under this key's name (renamed, or a collision of the name's hash) is
 * refused, and the warning says which field differs; under its own name it is just a miss. */
PAN_TEST(another_key_per_field_is_refused)
{
    char tbuf[256], path[4096], opath[4096];
    pan_plan_key k;
    size_t len;
    uint8_t *img = sample_file(tbuf, &k, path, &len);
    ASSERT_TRUE(img != NULL);
    ASSERT_OK(unlink(path));
    capture();
    static const char *fields[] = {"model content hash", "GPU name", "compute capability (major)",
                                   "compute capability (minor)", "driver version", "cuDNN version",
                                   "CUDA runtime version", "precision", "batch size", "engine record version"};
    for (int f = 0; f < 10; f++) {
        pan_plan_key o = k;
        switch (f) {
        case 0: o.model_sha256[31] ^= 1; break;
        case 1: snprintf(o.gpu_name, sizeof o.gpu_name, "NVIDIA H200"); break;
        case 2: o.cc_major = 8; break;
        case 3: o.cc_minor = 9; break;
        case 4: o.driver_version = 12080; break;
        case 5: o.cudnn_version = 91000; break;
        case 6: o.cuda_runtime_version = 12080; break;
        case 7: o.precision = PAN_PLAN_FP32; break;
        case 8: o.batch = 8; break;
        case 9: o.engine_version = 2; break;
        }
        n_warn = 0;
        /* the other key's own file: only its records, and none of the other's */
        ASSERT_OK(make_sample(tbuf, &o, opath));
        ASSERT_TRUE(strcmp(opath, path) != 0);
        ASSERT_EQ(open_state(tbuf, &k), 0); /* a miss, not a warning */
        ASSERT_EQ(n_warn, 0);
        ASSERT_OK(rename(opath, path)); /* now under k's name */
        ASSERT_EQ(open_state(tbuf, &k), 0);
        ASSERT_EQ(n_warn, 1);
        if (!strstr(last_warn, fields[f]) || !strstr(last_warn, "another key") || !strstr(last_warn, path))
            PAN__FAIL("field %s: warning was '%s'", fields[f], last_warn);
        ASSERT_OK(unlink(path));
    }
    /* bytes after the GPU name's NUL do not change the key (only the name does) */
    pan_plan_key z = k;
    z.gpu_name[sizeof z.gpu_name - 1] = 'x';
    uint8_t a[PAN_PLAN_KEY_BYTES], b[PAN_PLAN_KEY_BYTES];
    pan__plan_key_serialise(&k, a);
    pan__plan_key_serialise(&z, b);
    ASSERT_TRUE(memcmp(a, b, sizeof a) == 0);
    free(img);
    pan_log_set_sink(NULL, NULL);
    rmtree(tbuf);
}

static void restamp_crc(uint8_t *img, size_t len)
{
    uint32_t crc = pan__crc32(0, img, len - 4);
    for (int i = 0; i < 4; i++) img[len - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
}

PAN_TEST(another_format_version_or_magic_is_refused)
{
    char tbuf[256], path[4096];
    pan_plan_key k;
    size_t len;
    uint8_t *img = sample_file(tbuf, &k, path, &len);
    ASSERT_TRUE(img && len > 20);
    capture();
    /* a well-formed file of format version 2 (its CRC right): refused for the version */
    img[8] = (uint8_t)(PAN_PLAN_CACHE_VERSION + 1);
    restamp_crc(img, len);
    ASSERT_EQ(refused_once(tbuf, &k, path, img, len, "another version"), 0);
    img[8] = (uint8_t)PAN_PLAN_CACHE_VERSION;
    img[0] = 'X';
    restamp_crc(img, len);
    ASSERT_EQ(refused_once(tbuf, &k, path, img, len, "wrong magic"), 0);
    img[0] = 'P';
    /* a record length pointing past the end, the CRC right: the bounds checks, not the CRC */
    size_t rec0 = 16 + PAN_PLAN_KEY_BYTES + 4;
    img[rec0 + 4] = 0xff;
    img[rec0 + 5] = 0xff;
    restamp_crc(img, len);
    ASSERT_EQ(refused_once(tbuf, &k, path, img, len, "past the end"), 0);
    free(img);
    pan_log_set_sink(NULL, NULL);
    rmtree(tbuf);
}

PAN_TEST(a_directory_that_cannot_hold_it_is_one_warning)
{
    char tbuf[256], dir[1024], file[512];
    ASSERT_TRUE(tmpdir(tbuf));
    pan_plan_key k = sample_key();
    capture();
    /* under a regular file: refused even for root (ENOTDIR) */
    snprintf(file, sizeof file, "%s/plain-file", tbuf);
    ASSERT_OK(write_file(file, (const uint8_t *)"x", 1));
    snprintf(dir, sizeof dir, "%s/cache", file);
    pan_plan_cache *c = NULL;
    ASSERT_OK(pan__plan_cache_open(&c, dir, &k));
    ASSERT_EQ(pan__plan_cache_loaded(c), 0);
    ASSERT_OK(pan__plan_cache_put(c, PAN_PLAN_REC_CONV, ID0, sizeof ID0, DATA0, sizeof DATA0));
    ASSERT_EQ(pan__plan_cache_save(c), PAN_IO);
    ASSERT_EQ(pan__plan_cache_save(c), PAN_OK); /* one try per planning: nothing left to save */
    pan__plan_cache_destroy(&c);
    ASSERT_EQ(n_warn, 1);
    ASSERT_TRUE(strstr(last_warn, dir) != NULL);
    /* the cache path itself a directory: not a regular file, one warning, the save cannot replace it */
    char path[4096];
    ASSERT_OK(pan__plan_cache_open(&c, tbuf, &k));
    snprintf(path, sizeof path, "%s", pan__plan_cache_path(c));
    pan__plan_cache_destroy(&c);
    ASSERT_OK(mkdir(path, 0755));
    char inside[4200];
    snprintf(inside, sizeof inside, "%s/x", path);
    ASSERT_OK(write_file(inside, (const uint8_t *)"x", 1)); /* a non-empty directory: rename refuses */
    n_warn = 0;
    ASSERT_OK(pan__plan_cache_open(&c, tbuf, &k));
    ASSERT_OK(pan__plan_cache_put(c, PAN_PLAN_REC_CONV, ID0, sizeof ID0, DATA0, sizeof DATA0));
    ASSERT_EQ(pan__plan_cache_save(c), PAN_IO);
    pan__plan_cache_destroy(&c);
    ASSERT_EQ(n_warn, 1);
    ASSERT_EQ(count_files(tbuf), 2); /* the file, the directory: no temporary left behind */
    /* a read-only directory: only refuses writers that are not root */
    char ro[512];
    snprintf(ro, sizeof ro, "%s/ro", tbuf);
    ASSERT_OK(mkdir(ro, 0555));
    n_warn = 0;
    ASSERT_OK(pan__plan_cache_open(&c, ro, &k));
    ASSERT_OK(pan__plan_cache_put(c, PAN_PLAN_REC_CONV, ID0, sizeof ID0, DATA0, sizeof DATA0));
    pan_status st = pan__plan_cache_save(c);
    pan__plan_cache_destroy(&c);
    if (geteuid() != 0) {
        ASSERT_EQ(st, PAN_IO);
        ASSERT_EQ(n_warn, 1);
        ASSERT_EQ(count_files(ro), 0);
    } else {
        ASSERT_EQ(st, PAN_OK); /* root writes anyway: the regular-file case above covers root */
        ASSERT_EQ(n_warn, 0);
    }
    chmod(ro, 0755);
    pan_log_set_sink(NULL, NULL);
    rmtree(tbuf);
}

/* ---- concurrent writers ---------------------------------------------------------------------- */

#define WRITERS 6
#define ROUNDS 25

typedef struct writer_arg {
    const char *dir;
    const pan_plan_key *key;
    int id;
    int bad;
} writer_arg;

/* Each writer's records are all stamped with its id and a payload of its own size, so a file
 * mixing two writers, or a half-written one, is visible. */
static void *writer(void *p)
{
    writer_arg *a = p;
    size_t big = 4096 + 1024 * (size_t)a->id;
    uint8_t *payload = malloc(big);
    memset(payload, a->id, big);
    for (int r = 0; r < ROUNDS; r++) {
        pan_plan_cache *c = NULL;
        if (pan__plan_cache_open(&c, a->dir, a->key)) {
            a->bad++;
            continue;
        }
        int n = pan__plan_cache_loaded(c);
        if (n) {
            /* whatever it loaded is one writer's whole file */
            size_t l0 = 0, l1 = 0;
            const uint8_t *d0 = pan__plan_cache_find(c, 1, "a", 1, &l0);
            const uint8_t *d1 = pan__plan_cache_find(c, 2, "b", 1, &l1);
            if (n != 2 || !d0 || !d1 || l0 != 4096 + 1024 * (size_t)d1[0] || l1 != 1 || d0[0] != d1[0] ||
                d0[l0 - 1] != d1[0])
                a->bad++;
        }
        if (pan__plan_cache_put(c, 1, "a", 1, payload, big) || pan__plan_cache_put(c, 2, "b", 1, payload, 1) ||
            pan__plan_cache_save(c))
            a->bad++;
        pan__plan_cache_destroy(&c);
    }
    free(payload);
    return NULL;
}

PAN_TEST(concurrent_writers_leave_one_valid_file)
{
    char tbuf[256];
    ASSERT_TRUE(tmpdir(tbuf));
    pan_plan_key k = sample_key();
    capture();
    pthread_t t[WRITERS];
    writer_arg a[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        a[i] = (writer_arg){tbuf, &k, i + 1, 0};
        ASSERT_OK(pthread_create(&t[i], NULL, writer, &a[i]));
    }
    int bad = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        bad += a[i].bad;
    }
    ASSERT_EQ(bad, 0);
    ASSERT_EQ(n_warn, 0);
    ASSERT_EQ(count_files(tbuf), 1);
    pan_plan_cache *c = NULL;
    ASSERT_OK(pan__plan_cache_open(&c, tbuf, &k));
    ASSERT_EQ(pan__plan_cache_loaded(c), 2);
    pan__plan_cache_destroy(&c);
    pan_log_set_sink(NULL, NULL);
    rmtree(tbuf);
}

PAN_TEST_MAIN(sha256_and_crc32_match_reference_vectors, cache_dir_explicit_then_env_then_xdg_then_home,
              round_trip_keeps_every_record_and_creates_the_directory, truncated_at_every_length_is_refused_whole,
              a_flipped_byte_anywhere_is_refused_whole, another_key_per_field_is_refused,
              another_format_version_or_magic_is_refused, a_directory_that_cannot_hold_it_is_one_warning,
              concurrent_writers_leave_one_valid_file)
