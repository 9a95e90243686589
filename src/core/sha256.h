/* SHA-256 (FIPS 180-4), host only: content hashes for the plan cache (nn/plan_cache.c), where a
 * collision-resistant name matters (a cache file is trusted only for the model it was made from).
 * Nettle's implementation (nettle-dev) behind a small interface. */
#ifndef PANOPTES_CORE_SHA256_H
#define PANOPTES_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/sha2.h>

#include "panoptes/status.h"

#define PAN_SHA256_BYTES 32

typedef struct pan_sha256 {
    struct sha256_ctx ctx;
} pan_sha256;

void pan__sha256_init(pan_sha256 *s);
void pan__sha256_update(pan_sha256 *s, const void *data, size_t len);
void pan__sha256_final(pan_sha256 *s, uint8_t out[PAN_SHA256_BYTES]);
/* One call: the digest of data[0..len). */
void pan__sha256(const void *data, size_t len, uint8_t out[PAN_SHA256_BYTES]);
/* Adds the bytes of the file at path to s. PAN_NOTFOUND / PAN_IO when it cannot be read. */
pan_status pan__sha256_file(pan_sha256 *s, const char *path);
/* 64 lowercase hex digits and a NUL into hex[65]. */
void pan__sha256_hex(const uint8_t digest[PAN_SHA256_BYTES], char hex[2 * PAN_SHA256_BYTES + 1]);

#endif
