/* Sources: a camera URI (file, Annex-B elementary stream, rtsp://, http://) demultiplexed by
 * libavformat into compressed packets of its first video stream. */
#ifndef PANOPTES_SOURCE_H
#define PANOPTES_SOURCE_H

#include <stdint.h>

#include "panoptes/frame.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pan_source pan_source;

typedef struct pan_source_params {
    const char *uri;
    int camera;          /* index used in log lines */
    int loop;            /* restart a file at its end (timestamps keep increasing) */
    int timeout_ms;      /* network open/read timeout; 0 = default (5000) */
    int rtsp_udp;        /* RTSP over UDP instead of TCP */
    /* Polled (with the deadline) by every blocking step, the connect included: nonzero aborts the
     * step with PAN_INTERRUPTED. Lets a pipeline stop a camera that is still connecting. NULL = none. */
    int (*stop)(void *opaque);
    void *stop_opaque;
} pan_source_params;

/* What the source holds (`panoptes info`). */
typedef struct pan_source_info {
    char container[64];   /* demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
    char codec[32];       /* "h264", "hevc", ... */
    int codec_id;         /* FFmpeg AVCodecID */
    int width, height;
    double fps;           /* average frame rate, 0 when unknown */
    double duration;      /* seconds, 0 when unknown (live) */
    int64_t frames;       /* frame count from the container, 0 when unknown */
    int64_t bit_rate;
    pan_color_matrix matrix;
    pan_color_range range;
    char color_desc[64];  /* e.g. "bt709/tv", "unspecified/tv" */
    int is_live;          /* a live network stream (RTSP, RTMP, UDP, HTTP without a known duration):
                             its end or an error means the connection was lost, it never loops */
} pan_source_info;

/* One compressed packet of the video stream. Valid until the next pan_source_read. */
typedef struct pan_packet {
    const uint8_t *data;
    int size;
    int64_t pts, dts;    /* in the stream's time base; INT64_MIN when unknown */
    double pts_seconds;  /* NAN when unknown; includes the loop offset */
    int keyframe;
    int64_t serial;      /* 0 for the first pass of a file, incremented at each loop */
    const void *av_packet; /* the underlying AVPacket, for decoders that need side data */
} pan_packet;

pan_status pan_source_create(pan_source **src, const pan_source_params *params);
void pan_source_destroy(pan_source **src);
const pan_source_info *pan_source_get_info(const pan_source *src);
/* The stream's AVCodecParameters (const AVCodecParameters *), for decoders. */
const void *pan_source_codecpar(const pan_source *src);
/* Stream time base as num/den. */
void pan_source_time_base(const pan_source *src, int *num, int *den);
/* PAN_OK with a packet, PAN_EOF at the end (never with loop, except for a live stream whose server
 * ended it), or an error (PAN_IO, PAN_NET, PAN_TIMEOUT when a network stream sent nothing within
 * timeout_ms, PAN_CORRUPT...). Each error is also logged once, naming the camera and the URI. */
pan_status pan_source_read(pan_source *src, pan_packet *pkt);
/* Asks a blocking read to return early (thread-safe; used on SIGINT). */
void pan_source_interrupt(pan_source *src);
/* 1 when the URI names a network protocol (rtsp://, http://, udp://...), not a local file. Network
 * cameras can be reconnected; a local file that fails to open stays failed. */
int pan_source_uri_is_network(const char *uri);

#ifdef __cplusplus
}
#endif
#endif
