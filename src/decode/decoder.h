/* Decoders turn compressed packets into frames, with FFmpeg's send/receive contract:
 * pan_decoder_send_packet may return PAN_EAGAIN when output must be drained first (never
 * both calls EAGAIN); sending NULL starts draining; receive returns PAN_EAGAIN when it needs
 * input and PAN_EOF once drained.
 *
 * Two implementations behind one interface: "cpu" (libavcodec, frames in host memory from a
 * pan_frame_pool) and "nvdec" (nvcuvid loaded at run time, frames are mapped NVDEC surfaces in
 * device memory, unmapped when the frame's last reference drops). */
#ifndef PANOPTES_DECODER_H
#define PANOPTES_DECODER_H

#include "panoptes/frame.h"
#include "io/source.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pan_decoder_kind {
    PAN_DECODER_CPU = 0,
    PAN_DECODER_NVDEC,
} pan_decoder_kind;

typedef struct pan_decoder pan_decoder;

typedef struct pan_decoder_params {
    pan_decoder_kind kind;
    int camera;
    const char *uri;          /* for messages */
    const void *codecpar;     /* const AVCodecParameters * from pan_source_codecpar */
    int time_base_num, time_base_den;
    int max_frames;           /* frames that may be held downstream at once (pool size); 0 = 8 */
    int device;               /* CUDA device ordinal (nvdec) */
    void *cuda_stream;        /* cudaStream_t for this camera's work (nvdec); NULL = default */
    int threads;              /* libavcodec threads (cpu); 0 = 1 */
    /* nvdec: when set, receive does not wait while all max_frames frames are held downstream: it
     * returns PAN_LIMIT, and frame_back(frame_back_opaque) is called once when one comes back, on
     * the thread that releases it and under the decoder's lock (so it only wakes someone up).
     * Never called once pan_decoder_destroy has returned. NULL: receive waits (the cpu decoder
     * always waits). */
    void (*frame_back)(void *opaque);
    void *frame_back_opaque;
} pan_decoder_params;

/* Counters of one decoder's life (reported in the run summary). */
typedef struct pan_decoder_stats {
    int64_t packets;
    int64_t frames;
    int64_t errors;         /* damage events: packets or pictures the decoder reported as damaged */
    int64_t skipped;        /* packets dropped while waiting for a keyframe after damage */
    int64_t lost;           /* pictures lost to damage: packets the decoder rejected, pictures that
                               failed, packets skipped while waiting for a keyframe (nvdec) */
    int64_t concealed;      /* pictures delivered with damage concealed (also counted in errors) */
    int64_t discarded;      /* packets decoded as references only (an edit list hides them): they
                               are expected to give no picture */
    int64_t surface_bytes;  /* NVDEC: device memory of its decode and output surfaces, estimated
                               (NV12, rows 256-byte aligned, 2 MiB pages); 0 for the cpu decoder */
} pan_decoder_stats;

pan_status pan_decoder_create(pan_decoder **dec, const pan_decoder_params *params);
void pan_decoder_destroy(pan_decoder **dec);
/* pkt == NULL: end of input, start draining. */
pan_status pan_decoder_send_packet(pan_decoder *dec, const pan_packet *pkt);
/* On PAN_OK *frame holds one reference owned by the caller; its rotation is the display rotation
 * of the packets sent (pan_packet.rotation). PAN_EAGAIN: send more input; PAN_EOF: drained;
 * PAN_BUSY (NVDEC): the next frame is still being decoded by the device: call again shortly
 * (instead of waiting for it: one I/O thread serves many cameras); never once the end of input
 * was sent, when the last frames are waited for (a caller that stops at the first status other
 * than PAN_OK after the end loses none). PAN_LIMIT (NVDEC with
 * frame_back set): every frame it may lend is held downstream; frame_back says when one is back.
 * PAN_TIMEOUT when they have all been held for 10 s (the consumer is stuck). */
pan_status pan_decoder_receive_frame(pan_decoder *dec, pan_frame **frame);
void pan_decoder_get_stats(const pan_decoder *dec, pan_decoder_stats *stats);
const char *pan_decoder_kind_name(pan_decoder_kind kind);

/* 1 when NVDEC can be used on this machine (driver, libnvcuvid and a CUDA device found). */
int pan_decoder_nvdec_available(void);

#ifdef __cplusplus
}
#endif
#endif
