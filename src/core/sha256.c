/* SHA-256 (core/sha256.h) on Nettle's implementation. */
#include "core/sha256.h"

#include <errno.h>
#include <stdio.h>

void pan__sha256_init(pan_sha256 *s) { sha256_init(&s->ctx); }

void pan__sha256_update(pan_sha256 *s, const void *data, size_t len) { sha256_update(&s->ctx, len, data); }

void pan__sha256_final(pan_sha256 *s, uint8_t out[PAN_SHA256_BYTES]) { sha256_digest(&s->ctx, PAN_SHA256_BYTES, out); }

void pan__sha256(const void *data, size_t len, uint8_t out[PAN_SHA256_BYTES])
{
    pan_sha256 s;
    pan__sha256_init(&s);
    pan__sha256_update(&s, data, len);
    pan__sha256_final(&s, out);
}

pan_status pan__sha256_file(pan_sha256 *s, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? PAN_NOTFOUND : PAN_IO;
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) pan__sha256_update(s, buf, n);
    int err = ferror(f);
    fclose(f);
    return err ? PAN_IO : PAN_OK;
}

void pan__sha256_hex(const uint8_t d[PAN_SHA256_BYTES], char hex[2 * PAN_SHA256_BYTES + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < PAN_SHA256_BYTES; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * PAN_SHA256_BYTES] = 0;
}
