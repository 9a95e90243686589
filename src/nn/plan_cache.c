/* Persistent plan cache: key, file format, validation, atomic save. Layout: plan_cache.h. */
#include "nn/plan_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "panoptes/log.h"

#define TAG "plan-cache"

#define DATA_OFF(id_len) (((size_t)(id_len) + 7) & ~(size_t)7)

static const uint8_t MAGIC[8] = {'P', 'A', 'N', 'P', 'L', 'A', 'N', 0};

typedef struct rec {
    uint32_t type;
    uint32_t id_len, data_len;
    uint8_t *bytes; /* id, then data at DATA_OFF(id_len): 8-byte aligned, like malloc's */
} rec;

struct pan_plan_cache {
    char path[4096];
    char dir[4096];
    uint8_t key[PAN_PLAN_KEY_BYTES];
    rec *recs;
    int n, cap;
    int loaded;
    int dirty;
    int warned; /* one warning per cache object */
};

/* ---- checksum and key ---------------------------------------------------------------------- */

uint32_t pan__crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) { /* zlib takes a uInt length */
        uInt n = len > (1u << 30) ? 1u << 30 : (uInt)len;
        crc = (uint32_t)crc32((uLong)crc, p, n);
        p += n, len -= n;
    }
    return crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void pan__plan_key_serialise(const pan_plan_key *k, uint8_t out[PAN_PLAN_KEY_BYTES])
{
    memset(out, 0, PAN_PLAN_KEY_BYTES);
    memcpy(out, k->model_sha256, PAN_SHA256_BYTES);
    uint8_t *p = out + PAN_SHA256_BYTES;
    /* the name up to its NUL only: bytes after it must not change the key */
    size_t nl = strnlen(k->gpu_name, sizeof k->gpu_name);
    memcpy(p, k->gpu_name, nl);
    p += sizeof k->gpu_name;
    const int32_t v[8] = {k->cc_major, k->cc_minor, k->driver_version, k->cudnn_version, k->cuda_runtime_version,
                          k->precision, k->batch, k->engine_version};
    for (int i = 0; i < 8; i++, p += 4) put32(p, (uint32_t)v[i]);
}

/* Which field of two serialised keys differs first (for the warning). */
static const char *key_diff(const uint8_t *a, const uint8_t *b)
{
    static const char *names[] = {"GPU compute capability (major)", "GPU compute capability (minor)",
                                  "driver version", "cuDNN version", "CUDA runtime version", "precision",
                                  "batch size", "engine record version"};
    if (memcmp(a, b, PAN_SHA256_BYTES)) return "model content hash";
    if (memcmp(a + PAN_SHA256_BYTES, b + PAN_SHA256_BYTES, PAN_PLAN_GPU_NAME)) return "GPU name";
    for (int i = 0; i < 8; i++) {
        size_t o = PAN_SHA256_BYTES + PAN_PLAN_GPU_NAME + 4 * (size_t)i;
        if (memcmp(a + o, b + o, 4)) return names[i];
    }
    return NULL;
}

/* ---- directory ----------------------------------------------------------------------------- */

int pan__plan_cache_disabled(const char *dir)
{
    if (!dir || !*dir) dir = getenv("PANOPTES_CACHE_DIR");
    return dir && (!strcasecmp(dir, "off") || !strcasecmp(dir, "none") || !strcmp(dir, "0"));
}

pan_status pan__plan_cache_dir(char *out, size_t cap, const char *dir)
{
    const char *env;
    int n;
    if (dir && *dir) n = snprintf(out, cap, "%s", dir);
    else if ((env = getenv("PANOPTES_CACHE_DIR")) && *env) n = snprintf(out, cap, "%s", env);
    else if ((env = getenv("XDG_CACHE_HOME")) && *env) n = snprintf(out, cap, "%s/panoptes", env);
    else if ((env = getenv("HOME")) && *env) n = snprintf(out, cap, "%s/.cache/panoptes", env);
    else return PAN_NOTFOUND;
    return n < 0 || (size_t)n >= cap ? PAN_RANGE : PAN_OK;
}

/* mkdir -p; errno is left set on failure. */
static int mkdirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
    struct stat st;
    if (stat(tmp, &st)) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* ---- records ------------------------------------------------------------------------------- */

static rec *find(const pan_plan_cache *c, uint32_t type, const void *id, size_t id_len)
{
    for (int i = 0; i < c->n; i++)
        if (c->recs[i].type == type && c->recs[i].id_len == id_len && !memcmp(c->recs[i].bytes, id, id_len))
            return &c->recs[i];
    return NULL;
}

static pan_status add(pan_plan_cache *c, uint32_t type, const void *id, size_t id_len, const void *data,
                      size_t data_len)
{
    if (id_len > UINT32_MAX / 2 || data_len > UINT32_MAX / 2) return PAN_RANGE;
    uint8_t *b = malloc(DATA_OFF(id_len) + data_len + 1);
    if (!b) return PAN_NOMEM;
    if (id_len) memcpy(b, id, id_len);
    if (data_len) memcpy(b + DATA_OFF(id_len), data, data_len);
    rec *r = find(c, type, id, id_len);
    if (!r) {
        if (c->n == c->cap) {
            int cap = c->cap ? 2 * c->cap : 16;
            rec *nr = realloc(c->recs, (size_t)cap * sizeof *nr);
            if (!nr) {
                free(b);
                return PAN_NOMEM;
            }
            c->recs = nr;
            c->cap = cap;
        }
        r = &c->recs[c->n++];
    } else {
        free(r->bytes);
    }
    r->type = type;
    r->id_len = (uint32_t)id_len;
    r->data_len = (uint32_t)data_len;
    r->bytes = b;
    return PAN_OK;
}

static void clear(pan_plan_cache *c)
{
    for (int i = 0; i < c->n; i++) free(c->recs[i].bytes);
    c->n = 0;
}

const void *pan__plan_cache_find(const pan_plan_cache *c, uint32_t type, const void *id, size_t id_len,
                                 size_t *data_len)
{
    rec *r = c ? find(c, type, id, id_len) : NULL;
    if (!r) return NULL;
    if (data_len) *data_len = r->data_len;
    return r->bytes + DATA_OFF(r->id_len);
}

pan_status pan__plan_cache_put(pan_plan_cache *c, uint32_t type, const void *id, size_t id_len, const void *data,
                               size_t data_len)
{
    if (!c || (!id && id_len) || (!data && data_len)) return PAN_INVAL;
    size_t have = 0;
    const void *old = pan__plan_cache_find(c, type, id, id_len, &have);
    if (old && have == data_len && !memcmp(old, data, data_len)) return PAN_OK; /* unchanged */
    pan_status st = add(c, type, id, id_len, data, data_len);
    if (!st) c->dirty = 1;
    return st;
}

/* ---- load ---------------------------------------------------------------------------------- */

static void warn_once(pan_plan_cache *c, const char *why, const char *detail)
{
    if (c->warned) {
        pan_log_debug(TAG, -1, "plan cache %s: %s%s%s", c->path, why, detail ? ": " : "", detail ? detail : "");
        return;
    }
    c->warned = 1;
    pan_log_warn(TAG, -1, "plan cache %s: %s%s%s; planning from scratch (the engine measures again and rewrites it)",
                 c->path, why, detail ? ": " : "", detail ? detail : "");
}

/* Parses a whole file image. Returns NULL when it is used, else why not (records added so far
 * are cleared by the caller). */
static const char *parse(pan_plan_cache *c, const uint8_t *b, size_t len, const char **field)
{
    if (len < 8 || memcmp(b, MAGIC, 8)) return len < 8 ? "truncated (shorter than its header)" : "not a plan cache file (wrong magic)";
    if (len < 16 + 4) return "truncated (shorter than its header)";
    uint32_t version = get32(b + 8);
    if (version != PAN_PLAN_CACHE_VERSION) return "written by another version of the file format";
    /* the checksum before anything that reads lengths: a flipped byte anywhere is caught here */
    if (get32(b + len - 4) != pan__crc32(0, b, len - 4)) return "checksum mismatch (corrupt or truncated)";
    if (get32(b + 12) != PAN_PLAN_KEY_BYTES) return "key of another size (another version)";
    size_t off = 16;
    if (len - 4 < off + PAN_PLAN_KEY_BYTES + 4) return "truncated (inside its key)";
    if ((*field = key_diff(b + off, c->key))) return "made for another key";
    off += PAN_PLAN_KEY_BYTES;
    uint32_t n = get32(b + off);
    off += 4;
    size_t end = len - 4;
    for (uint32_t i = 0; i < n; i++) {
        if (end - off < 12) return "truncated (inside a record header)";
        uint32_t type = get32(b + off), il = get32(b + off + 4), dl = get32(b + off + 8);
        off += 12;
        if ((size_t)il > end - off || (size_t)dl > end - off - il) return "a record runs past the end of the file";
        if (add(c, type, b + off, il, b + off + il, dl)) return "out of memory while loading";
        off += (size_t)il + dl;
    }
    if (off != end) return "bytes after the last record";
    return NULL;
}

static void load(pan_plan_cache *c)
{
    FILE *f = fopen(c->path, "rb");
    if (!f) {
        if (errno == ENOENT) pan_log_debug(TAG, -1, "plan cache %s: none yet (cold start)", c->path);
        else warn_once(c, "cannot be read", strerror(errno));
        return;
    }
    uint8_t *buf = NULL;
    const char *why = NULL;
    char detail[160] = "";
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        why = "not a regular file";
        goto done;
    }
    if ((uint64_t)st.st_size > PAN_PLAN_CACHE_MAX_FILE) {
        why = "larger than any plan cache (256 MiB)";
        goto done;
    }
    size_t len = (size_t)st.st_size;
    buf = malloc(len ? len : 1);
    if (!buf) {
        why = "out of memory while loading";
        goto done;
    }
    if (fread(buf, 1, len, f) != len) {
        why = "cannot be read";
        snprintf(detail, sizeof detail, "%s", ferror(f) ? strerror(errno) : "shorter than its size");
        goto done;
    }
    const char *field = NULL;
    why = parse(c, buf, len, &field);
    if (why && field) snprintf(detail, sizeof detail, "its %s differs from this engine's", field);
done:
    fclose(f);
    free(buf);
    if (why) {
        clear(c);
        warn_once(c, why, detail[0] ? detail : NULL);
        return;
    }
    c->loaded = c->n;
    pan_log_info(TAG, -1, "plan cache %s: %d records (warm start)", c->path, c->n);
}

/* ---- save ---------------------------------------------------------------------------------- */

/* The whole file image in one buffer (the CRC needs it all anyway). */
static uint8_t *serialise(const pan_plan_cache *c, size_t *len)
{
    size_t n = 16 + PAN_PLAN_KEY_BYTES + 4 + 4;
    for (int i = 0; i < c->n; i++) n += 12 + (size_t)c->recs[i].id_len + c->recs[i].data_len;
    uint8_t *b = malloc(n), *p = b;
    if (!b) return NULL;
    memcpy(p, MAGIC, 8);
    put32(p + 8, PAN_PLAN_CACHE_VERSION);
    put32(p + 12, PAN_PLAN_KEY_BYTES);
    memcpy(p + 16, c->key, PAN_PLAN_KEY_BYTES);
    p += 16 + PAN_PLAN_KEY_BYTES;
    put32(p, (uint32_t)c->n);
    p += 4;
    for (int i = 0; i < c->n; i++) {
        const rec *r = &c->recs[i];
        put32(p, r->type);
        put32(p + 4, r->id_len);
        put32(p + 8, r->data_len);
        memcpy(p + 12, r->bytes, r->id_len);
        memcpy(p + 12 + r->id_len, r->bytes + DATA_OFF(r->id_len), r->data_len);
        p += 12 + (size_t)r->id_len + r->data_len;
    }
    put32(p, pan__crc32(0, b, n - 4));
    *len = n;
    return b;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

pan_status pan__plan_cache_save(pan_plan_cache *c)
{
    if (!c) return PAN_INVAL;
    if (!c->dirty) return PAN_OK;
    char tmp[4096 + 16] = "";
    const char *what = NULL;
    int fd = -1, err = 0, have_tmp = 0;
    size_t len = 0;
    uint8_t *img = serialise(c, &len);
    if (!img) return PAN_NOMEM;
    if (mkdirs(c->dir)) {
        what = "cannot create the cache directory";
        goto fail;
    }
    /* same directory as the real name, so that rename is atomic; mkstemp makes it unique per writer */
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", c->path);
    if ((fd = mkstemp(tmp)) < 0) {
        what = "cannot write in the cache directory";
        goto fail;
    }
    have_tmp = 1;
    if (write_all(fd, img, len) || fsync(fd)) {
        what = "cannot write the file";
        goto fail;
    }
    if (close(fd)) {
        fd = -1;
        what = "cannot write the file";
        goto fail;
    }
    fd = -1;
    if (rename(tmp, c->path)) {
        what = "cannot rename the new file into place";
        goto fail;
    }
    /* the rename itself durable: fsync the directory (best effort: some file systems refuse) */
    int dfd = open(c->dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(img);
    c->dirty = 0;
    pan_log_info(TAG, -1, "plan cache %s: saved %d records", c->path, c->n);
    return PAN_OK;
fail:
    err = errno;
    if (fd >= 0) close(fd);
    if (have_tmp) unlink(tmp); /* never leave temporary files behind */
    free(img);
    if (c->warned) {
        pan_log_debug(TAG, -1, "plan cache %s: %s: %s", c->path, what, strerror(err));
    } else {
        c->warned = 1;
        pan_log_warn(TAG, -1, "plan cache %s: %s: %s; running without it (set --cache-dir to a writable directory or "
                     "--no-plan-cache)", c->path, what, strerror(err));
    }
    c->dirty = 0; /* one try per planning */
    return PAN_IO;
}

/* ---- object -------------------------------------------------------------------------------- */

pan_status pan__plan_cache_open(pan_plan_cache **out, const char *dir, const pan_plan_key *key)
{
    if (!out || !key) return PAN_INVAL;
    *out = NULL;
    if (pan__plan_cache_disabled(dir)) return PAN_OK;
    pan_plan_cache *c = calloc(1, sizeof *c);
    if (!c) return PAN_NOMEM;
    pan_status st = pan__plan_cache_dir(c->dir, sizeof c->dir, dir);
    if (st) {
        pan_log_warn(TAG, -1, "plan cache: %s; running without it (set --cache-dir or PANOPTES_CACHE_DIR)",
                     st == PAN_NOTFOUND ? "no cache directory (neither PANOPTES_CACHE_DIR, XDG_CACHE_HOME nor HOME is set)"
                                        : "the cache directory's path is too long");
        free(c);
        return st;
    }
    pan__plan_key_serialise(key, c->key);
    uint8_t h[PAN_SHA256_BYTES];
    char hex[2 * PAN_SHA256_BYTES + 1];
    pan__sha256(c->key, sizeof c->key, h);
    pan__sha256_hex(h, hex);
    hex[32] = 0;
    if (snprintf(c->path, sizeof c->path, "%s/plan-%s.bin", c->dir, hex) >= (int)sizeof c->path) {
        pan_log_warn(TAG, -1, "plan cache: the cache directory's path is too long: %s", c->dir);
        free(c);
        return PAN_RANGE;
    }
    load(c);
    *out = c;
    return PAN_OK;
}

void pan__plan_cache_destroy(pan_plan_cache **pc)
{
    if (!pc || !*pc) return;
    clear(*pc);
    free((*pc)->recs);
    free(*pc);
    *pc = NULL;
}

int pan__plan_cache_loaded(const pan_plan_cache *c) { return c ? c->loaded : 0; }
const char *pan__plan_cache_path(const pan_plan_cache *c) { return c ? c->path : ""; }
