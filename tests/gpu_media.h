/* Helpers of the GPU tests: sample clips, a decode loop over source + decoder, and test-only
 * uploads/downloads of NV12 frames (the pipeline itself never copies pixels; these copies are
 * counted with pan_gpu_count_pixel_copy like any other). */
#ifndef PANOPTES_TEST_GPU_MEDIA_H
#define PANOPTES_TEST_GPU_MEDIA_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media.h"
#include "decode/decoder.h"
#include "panoptes/frame.h"
#include "core/gpu.h"
#include "io/source.h"

#ifdef PANOPTES_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

/* A sample clip: $PANOPTES_DATA_DIR/name (the GPU machine's staged copy), else <source>/data/name.
 * NULL when missing. */
static inline const char *pan_test_data(const char *name)
{
    static char paths[8][1024];
    static int slot;
    char *p = paths[slot++ & 7];
    const char *dir = getenv("PANOPTES_DATA_DIR");
    if (dir && *dir) {
        snprintf(p, 1024, "%s/%s", dir, name);
        if (access(p, R_OK) == 0) return p;
    }
    snprintf(p, 1024, "%s/data/%s", PANOPTES_SOURCE_DIR, name);
    return access(p, R_OK) == 0 ? p : NULL;
}

/* The full-range BT.709 synthetic clip: staged (synth-709-full.mp4) or made here with ffmpeg. */
static inline const char *pan_test_synth_709_full(void)
{
    const char *p = pan_test_data("synth-709-full.mp4");
    if (p) return p;
    if (!pan_test_have_ffmpeg()) return NULL;
    return pan_test_make_clip("synth-709-full.mp4", "testsrc2=size=640x360:rate=25,format=yuv420p",
                              "-frames:v 12 -vf scale=out_range=full:out_color_matrix=bt709 -pix_fmt yuvj420p "
                              "-color_range pc -colorspace bt709 -color_primaries bt709 -color_trc bt709 "
                              "-c:v libx264 -preset ultrafast -g 6");
}

/* Decodes `path` with decoder `kind`, calling fn(frame, opaque) for every frame (the frame is
 * unref'd after fn returns 0; fn returning non-zero stops). Returns the frame count or a
 * negative status. stats (may be NULL) receives the decoder's counters. */
typedef int (*pan_test_frame_fn)(pan_frame *f, void *opaque);
static inline int pan_test_decode(const char *path, pan_decoder_kind kind, int max_frames, pan_test_frame_fn fn,
                                  void *opaque, pan_decoder_stats *stats)
{
    pan_source *src = NULL;
    pan_decoder *dec = NULL;
    pan_source_params sp = {.uri = path};
    pan_status st;
    int n = 0, stop = 0, eof = 0;
    if ((st = pan_source_create(&src, &sp))) return st;
    pan_decoder_params dp = {.kind = kind, .uri = path, .codecpar = pan_source_codecpar(src), .max_frames = max_frames};
    pan_source_time_base(src, &dp.time_base_num, &dp.time_base_den);
    if ((st = pan_decoder_create(&dec, &dp))) {
        pan_source_destroy(&src);
        return st;
    }
    while (!eof && !stop) {
        pan_packet pkt;
        pan_status rs = pan_source_read(src, &pkt);
        if (rs != PAN_OK && rs != PAN_EOF) {
            /* a damaged container read: keep reading like the pipeline does */
            if (rs == PAN_CORRUPT) continue;
            st = rs;
            break;
        }
        eof = rs == PAN_EOF;
        for (;;) {
            st = pan_decoder_send_packet(dec, eof ? NULL : &pkt);
            pan_frame *f;
            pan_status r;
            while (!stop && (r = pan_decoder_receive_frame(dec, &f)) == PAN_OK) {
                n++;
                stop = fn ? fn(f, opaque) : 0;
                pan_frame_unref(&f);
            }
            if (st != PAN_EAGAIN) break;
        }
        if (st == PAN_EOF) st = PAN_OK;
        if (st) break;
    }
    if (stats) pan_decoder_get_stats(dec, stats);
    pan_decoder_destroy(&dec);
    pan_source_destroy(&src);
    return st ? (int)st : n;
}

/* 64-bit FNV-1a over the visible luma rows, and over Cb then Cr samples (planar order) of a host
 * frame (NV12 or YUV420P): equal hashes mean bit-identical pictures whatever the layout. */
static inline void pan_test_hash_frame(const uint8_t *y, int ypitch, const uint8_t *cb, const uint8_t *cr, int cpitch,
                                       int cstep, int w, int h, uint64_t *hy, uint64_t *hc)
{
    uint64_t a = 1469598103934665603ull, b = 1469598103934665603ull;
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) a = (a ^ y[(size_t)j * ypitch + i]) * 1099511628211ull;
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    for (int j = 0; j < ch; j++)
        for (int i = 0; i < cw; i++) b = (b ^ cb[(size_t)j * cpitch + (size_t)i * cstep]) * 1099511628211ull;
    for (int j = 0; j < ch; j++)
        for (int i = 0; i < cw; i++) b = (b ^ cr[(size_t)j * cpitch + (size_t)i * cstep]) * 1099511628211ull;
    *hy = a;
    *hc = b;
}

static inline void pan_test_hash_host_frame(const pan_frame *f, uint64_t *hy, uint64_t *hc)
{
    if (f->format == PAN_PIXFMT_NV12)
        pan_test_hash_frame(f->data[0], f->pitch[0], f->data[1], f->data[1] + 1, f->pitch[1], 2, f->width, f->height, hy, hc);
    else
        pan_test_hash_frame(f->data[0], f->pitch[0], f->data[1], f->data[2], f->pitch[1], 1, f->width, f->height, hy, hc);
}

#ifdef PANOPTES_HAVE_CUDA
/* Host copy (tight NV12: pitch = width) of a device NV12 frame. Test only; counted. */
static inline uint8_t *pan_test_download_nv12(const pan_frame *f)
{
    size_t w = (size_t)f->width, h = (size_t)f->height, ch = (h + 1) / 2, cwb = 2 * ((w + 1) / 2);
    uint8_t *buf = malloc(w * h + cwb * ch);
    if (!buf) return NULL;
    /* NVDEC frames: the map's copy into the output surface runs on the camera's stream */
    if (pan_gpu_frame_wait(f, NULL) != PAN_OK ||
        cudaMemcpy2D(buf, w, f->data[0], (size_t)f->pitch[0], w, h, cudaMemcpyDeviceToHost) != cudaSuccess ||
        cudaMemcpy2D(buf + w * h, cwb, f->data[1], (size_t)f->pitch[1], cwb, ch, cudaMemcpyDeviceToHost) != cudaSuccess) {
        free(buf);
        return NULL;
    }
    pan_gpu_count_pixel_copy(w * h + cwb * ch);
    return buf;
}

/* A device NV12 copy of a host frame (NV12 or YUV420P), as a pan_frame with memory=DEVICE whose
 * release frees the copy. Test only; counted. */
typedef struct pan_test_devframe {
    pan_frame frame;
    void *mem;
} pan_test_devframe;

static inline void pan_test_devframe_release(pan_frame *f, void *opaque)
{
    pan_test_devframe *d = opaque;
    (void)f;
    cudaFree(d->mem);
    free(d);
}

static inline pan_frame *pan_test_upload_nv12(const pan_frame *hf)
{
    int w = hf->width, h = hf->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    size_t pitch = ((size_t)2 * cw + 255) & ~(size_t)255; /* a pitch unlike the source's, on purpose */
    uint8_t *host = malloc(pitch * (size_t)(h + ch));
    pan_test_devframe *d = calloc(1, sizeof *d);
    if (!host || !d) goto fail;
    for (int j = 0; j < h; j++) memcpy(host + (size_t)j * pitch, hf->data[0] + (size_t)j * hf->pitch[0], (size_t)w);
    for (int j = 0; j < ch; j++) {
        uint8_t *row = host + (size_t)(h + j) * pitch;
        for (int i = 0; i < cw; i++) {
            if (hf->format == PAN_PIXFMT_NV12) {
                row[2 * i] = hf->data[1][(size_t)j * hf->pitch[1] + 2 * i];
                row[2 * i + 1] = hf->data[1][(size_t)j * hf->pitch[1] + 2 * i + 1];
            } else {
                row[2 * i] = hf->data[1][(size_t)j * hf->pitch[1] + i];
                row[2 * i + 1] = hf->data[2][(size_t)j * hf->pitch[2] + i];
            }
        }
    }
    if (cudaMalloc(&d->mem, pitch * (size_t)(h + ch)) != cudaSuccess) goto fail;
    if (cudaMemcpy(d->mem, host, pitch * (size_t)(h + ch), cudaMemcpyHostToDevice) != cudaSuccess) goto fail;
    pan_gpu_count_pixel_copy(pitch * (size_t)(h + ch));
    free(host);
    pan_frame *f = &d->frame;
    *f = (pan_frame){0};
    f->camera = hf->camera;
    f->index = hf->index;
    f->width = w;
    f->height = h;
    f->format = PAN_PIXFMT_NV12;
    f->memory = PAN_MEMORY_DEVICE;
    f->device = 0;
    f->matrix = hf->matrix;
    f->range = hf->range;
    f->data[0] = d->mem;
    f->data[1] = (uint8_t *)d->mem + pitch * (size_t)h;
    f->pitch[0] = f->pitch[1] = (int)pitch;
    pan_frame_init_ref(f, pan_test_devframe_release, d);
    return f;
fail:
    if (d && d->mem) cudaFree(d->mem);
    free(d);
    free(host);
    return NULL;
}
#endif

#endif
