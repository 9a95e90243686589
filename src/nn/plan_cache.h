/* Persistent plan cache of the cuda engine (host only, no CUDA): what planning a model chose for
 * one GPU, kept on disk so that a second start skips the measuring (TensorRT's timing cache idea).
 *
 * One file per key (model content, GPU, driver/cuDNN/CUDA versions, precision, batch size) in the
 * cache directory, named plan-<first 32 hex digits of SHA-256(serialised key)>.bin. It holds typed
 * records, each (type, id, data): the id says what was planned (e.g. a convolution's shape,
 * epilogue and buffer alignments), the data what was chosen (e.g. the cuDNN engine's global index
 * and knob choices). Records are opaque bytes here; their layouts belong to the user
 * (cuda_conv_cuda.c).
 *
 * File layout, integers little-endian:
 *   0   8  magic "PANPLAN\0"
 *   8   4  format version (PAN_PLAN_CACHE_VERSION)
 *   12  4  key bytes (PAN_PLAN_KEY_BYTES)
 *   16  .. the serialised key (see pan__plan_key_serialise)
 *   ..  4  record count
 *   ..     records: u32 type, u32 id length, u32 data length, id bytes, data bytes
 *   end 4  CRC-32 (IEEE 802.3, the polynomial and values of zlib's crc32) of every byte before it
 * A file is used only when all of it checks: magic, version, the stored key equal to the wanted
 * key (a renamed file or a name collision is refused), every length inside the file, nothing
 * after the last record but the CRC, and the CRC. Else it is ignored with one warning that names
 * the file and the reason, planning starts from scratch, and saving writes a fresh file.
 *
 * Writing is atomic: a temporary file in the same directory, fsync, rename over the real name
 * (and fsync of the directory), so a crash or a concurrent writer never leaves a half file under
 * the real name; of concurrent writers of one key the last rename wins, and each wrote a whole file.
 *
 * One cache object belongs to one planning thread (not locked). */
#ifndef PANOPTES_NN_PLAN_CACHE_H
#define PANOPTES_NN_PLAN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/sha256.h"
#include "panoptes/status.h"

#define PAN_PLAN_CACHE_VERSION 1u
#define PAN_PLAN_CACHE_MAX_FILE (256u << 20) /* larger files are refused unread */

#define PAN_PLAN_GPU_NAME 256

/* Everything a stored choice depends on. Zero-initialise; strings are NUL-terminated and cut to
 * their array. */
typedef struct pan_plan_key {
    uint8_t model_sha256[PAN_SHA256_BYTES]; /* model file bytes and its weights */
    char gpu_name[PAN_PLAN_GPU_NAME];       /* cudaDeviceProp.name (char[256] too) */
    int32_t cc_major, cc_minor;             /* compute capability */
    int32_t driver_version;                 /* cudaDriverGetVersion, e.g. 13000 */
    int32_t cudnn_version;                  /* cudnnGetVersion, e.g. 91900 */
    int32_t cuda_runtime_version;           /* cudaRuntimeGetVersion */
    int32_t precision;                      /* pan_plan_precision */
    int32_t batch;                          /* the planned batch size */
    int32_t engine_version;                 /* the user's record layout version: bump when it changes */
} pan_plan_key;

typedef enum pan_plan_precision { PAN_PLAN_FP32 = 1, PAN_PLAN_FP16 = 2 } pan_plan_precision;

/* The serialised key: fixed size, little-endian, field by field in the order above. */
#define PAN_PLAN_KEY_BYTES (PAN_SHA256_BYTES + PAN_PLAN_GPU_NAME + 8 * 4)
void pan__plan_key_serialise(const pan_plan_key *key, uint8_t out[PAN_PLAN_KEY_BYTES]);

/* Record types (u32 in the file). Unknown types in a valid file are kept and ignored. */
enum {
    PAN_PLAN_REC_CONV = 1,   /* a convolution's chosen implementation (cuda_conv_cuda.c) */
    PAN_PLAN_REC_KERNEL = 2, /* a runtime-compiled kernel: cuDNN's JSON serialisation of a fused
                                plan, which carries it (cuda_conv_cuda.c; same id as its conv) */
};

typedef struct pan_plan_cache pan_plan_cache;

/* The cache directory for `dir`: dir itself when given (not NULL, not ""), else
 * $PANOPTES_CACHE_DIR, else $XDG_CACHE_HOME/panoptes, else $HOME/.cache/panoptes.
 * PAN_NOTFOUND when none of them is set; PAN_RANGE when the path does not fit `cap`. */
pan_status pan__plan_cache_dir(char *out, size_t cap, const char *dir);
/* Does `dir` switch the cache off ("off", "none" or "0"; for NULL or "": does $PANOPTES_CACHE_DIR)? */
int pan__plan_cache_disabled(const char *dir);

/* Opens the cache of `key` in `dir` (resolved with pan__plan_cache_dir) and loads its file when
 * there is a valid one; *cache is NULL (and PAN_OK) when `dir` switches the cache off. Never fails for a missing, unreadable or bad file (one warning, then an
 * empty cache); fails only for bad arguments or host memory. The directory is created on save. */
pan_status pan__plan_cache_open(pan_plan_cache **cache, const char *dir, const pan_plan_key *key);
void pan__plan_cache_destroy(pan_plan_cache **cache);

/* Records loaded from the file (0 on a miss or a refused file). */
int pan__plan_cache_loaded(const pan_plan_cache *cache);
/* The data of record (type, id), or NULL; 8-byte aligned, valid until the next put or destroy. */
const void *pan__plan_cache_find(const pan_plan_cache *cache, uint32_t type, const void *id, size_t id_len,
                                 size_t *data_len);
/* Adds or replaces record (type, id). */
pan_status pan__plan_cache_put(pan_plan_cache *cache, uint32_t type, const void *id, size_t id_len, const void *data,
                               size_t data_len);
/* Writes the file when a put changed something since the open (atomically, see above). A failure
 * (directory not creatable or not writable, disk full) is one warning naming the path and the
 * reason, and PAN_IO; the caller carries on without a cache. At most one warning per cache object
 * (a file refused at open already had its warning). */
pan_status pan__plan_cache_save(pan_plan_cache *cache);
/* The cache file's full path (for logs and tests). */
const char *pan__plan_cache_path(const pan_plan_cache *cache);

/* CRC-32 (zlib's crc32: IEEE, reflected 0xEDB88320; crc32(0, "123456789") = 0xCBF43926),
 * continuing `crc`. */
uint32_t pan__crc32(uint32_t crc, const void *data, size_t len);

#endif
