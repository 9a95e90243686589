/* Test helpers for damaged inputs (issue #16): clips cut from the sample with ffmpeg, damaged
 * deterministically (bytes overwritten, files cut), and a read of a whole file through the
 * source and the cpu decoder that reports what each saw. */
#ifndef PANOPTES_TESTS_DAMAGE_H
#define PANOPTES_TESTS_DAMAGE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode/decoder.h"
#include "io/source.h"
#include "media.h"
#include "test.h"

/* tmpdir/name made by `ffmpeg -i data/vtest.mp4 <args> out` unless it exists; NULL on failure. */
static inline const char *damage_clip(const char *name, const char *args)
{
    static char paths[16][512];
    static int slot;
    char *path = paths[slot++ & 15];
    char cmd[2048];
    snprintf(path, 512, "%s/%s", pan_test_tmpdir(), name);
    if (access(path, R_OK) == 0) return path;
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -y -i '%s' %s '%s'", pan_test_path("data/vtest.mp4"), args, path);
    return system(cmd) == 0 ? path : NULL;
}

static inline long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Copies src to tmpdir/name, keeping `keep` bytes (all when < 0) and overwriting `len` bytes at
 * `at` with a fixed pattern (none when len == 0). */
static inline const char *damage_copy(const char *src, const char *name, long keep, long at, long len)
{
    static char paths[16][512];
    static int slot;
    char *path = paths[slot++ & 15];
    snprintf(path, 512, "%s/%s", pan_test_tmpdir(), name);
    FILE *in = fopen(src, "rb"), *out = fopen(path, "wb");
    long n = 0;
    int c;
    if (!in || !out) {
        if (in) fclose(in);
        if (out) fclose(out);
        return NULL;
    }
    while ((keep < 0 || n < keep) && (c = fgetc(in)) != EOF) {
        if (len > 0 && n >= at && n < at + len) c = (int)((n * 131u + 7u) & 0xff);
        fputc(c, out);
        n++;
    }
    fclose(in);
    fclose(out);
    return path;
}

/* What reading a whole source through the cpu decoder gave. */
typedef struct damage_read {
    pan_status open;    /* pan_source_create */
    pan_status end;     /* the read that ended it: PAN_EOF, PAN_TRUNCATED, ... */
    int64_t frames;     /* decoded */
    pan_source_info info;
    pan_source_stats src;
    pan_decoder_stats dec;
} damage_read;

static inline damage_read damage_read_all(const char *uri)
{
    damage_read r;
    memset(&r, 0, sizeof r);
    pan_source *src = NULL;
    pan_decoder *dec = NULL;
    pan_source_params sp = {.uri = uri, .timeout_ms = 5000};
    r.open = pan_source_create(&src, &sp);
    if (r.open) return r;
    r.info = *pan_source_get_info(src);
    pan_decoder_params dp = {.kind = PAN_DECODER_CPU, .uri = uri, .codecpar = pan_source_codecpar(src)};
    pan_source_time_base(src, &dp.time_base_num, &dp.time_base_den);
    if ((r.open = pan_decoder_create(&dec, &dp))) {
        pan_source_destroy(&src);
        return r;
    }
    for (;;) {
        pan_packet pkt;
        pan_frame *f = NULL;
        pan_status st = pan_source_read(src, &pkt);
        if (st) {
            r.end = st;
            break;
        }
        while (pan_decoder_send_packet(dec, &pkt) == PAN_EAGAIN)
            while (pan_decoder_receive_frame(dec, &f) == PAN_OK) r.frames++, pan_frame_unref(&f);
        while (pan_decoder_receive_frame(dec, &f) == PAN_OK) r.frames++, pan_frame_unref(&f);
    }
    if (pan_decoder_send_packet(dec, NULL) == PAN_OK) {
        pan_frame *f = NULL;
        while (pan_decoder_receive_frame(dec, &f) == PAN_OK) r.frames++, pan_frame_unref(&f);
    }
    pan_source_get_stats(src, &r.src);
    pan_decoder_get_stats(dec, &r.dec);
    pan_decoder_destroy(&dec);
    pan_source_destroy(&src);
    return r;
}

static inline void damage_print(const char *what, const damage_read *r)
{
    fprintf(stderr,
            "  %-22s open %s end %s: %lld frames; source %lld packets (%lld hidden, %lld corrupt, %lld missing, "
            "%.2f s short); decoder %lld errors, %lld lost, %lld concealed\n",
            what, pan_status_name(r->open), pan_status_name(r->end), (long long)r->frames, (long long)r->src.packets,
            (long long)r->src.discarded, (long long)r->src.corrupt, (long long)r->src.missing_packets, r->src.missing_s,
            (long long)r->dec.errors, (long long)r->dec.lost, (long long)r->dec.concealed);
}

#endif
