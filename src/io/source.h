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
    /* Display rotation, clockwise degrees (0, 90, 180, 270) from the container's display matrix
     * (phone recordings); display_width/height are the frame as displayed (swapped at 90/270). */
    int rotation;
    int display_width, display_height;
    char pix_fmt[32];     /* "yuv420p", "yuv420p10le", ...; "unknown" */
    int bit_depth;        /* bits per luma sample; 0 when unknown */
    /* What the container promises, for telling a complete stream from a truncated one (0 = it
     * does not say): index_packets are the video packets its index lists (MP4/MOV), index_frames
     * the frames they display (fewer when an edit list hides some: they are decoded as
     * references and not shown), stream_duration the video stream's own duration in seconds. */
    int64_t index_packets;
    int64_t index_frames;
    double stream_duration;
    const char *rtsp_transport; /* RTSP: "tcp" or "udp" (what the server took); NULL otherwise */
    /* CLOCK_MONOTONIC seconds at which the stream began to flow (the open returned: for RTSP,
     * PLAY was answered). The packets read first were received from then on, even when the
     * probing held them back and they come out of pan_source_read all at once. */
    double opened_at;
} pan_source_info;

/* What a source has read so far (counters over every pass of a looped file). */
typedef struct pan_source_stats {
    int64_t packets;       /* video packets read */
    int64_t discarded;     /* of which hidden by an edit list (decoded as references, not shown) */
    int64_t corrupt;       /* of which the demuxer flagged as corrupt (e.g. MPEG-TS continuity errors) */
    int64_t truncated;     /* passes that ended before the container said they would */
    /* At the last truncated end: packets the index lists that were never read (0 when the
     * container has no index), and seconds of stream the container promised beyond the end. */
    int64_t missing_packets;
    double missing_s;
    double first_pts;      /* pts_seconds of the first packet read; NAN before it or when it had none */
    /* Live streams: the stream's clock on ours, CLOCK_MONOTONIC seconds − pts_seconds: a frame
     * with timestamp p happened at about p + clock_offset. Measured at connect from the least
     * delayed of the packets read once a burst (the probing's held-back packets, a server's
     * cached GOP) has passed: p + clock_offset is then about when the frame was received. Once
     * the camera's RTCP sender reports have come and agree with our clock (clock_rtcp), it is
     * the capture time they give instead, updated at each report (it follows the camera's clock
     * rate); it changes then, by the delay from capture to arrival. NAN otherwise. */
    double clock_offset;
    /* 1 while clock_offset comes from the camera's RTCP sender reports (RTSP cameras and
     * servers send them every few seconds; the camera's clock must be synchronised with this
     * machine's, by NTP, and is checked against the arrivals: a camera whose clock disagrees is
     * warned about once and timed by arrivals). 0 before the first report and without them. */
    int clock_rtcp;
    /* The least arrival − capture time seen in the packets timed by sender reports, seconds:
     * encoder, network and server latency. (A parsed codec's picture, H.264 say, is handed out
     * when the next one begins to arrive, a frame interval later.) NAN before the first report. */
    double rtcp_delay;
    /* The measure from arrivals at connect (what clock_offset is until sender reports refine it;
     * a picture's arrival, so later than its capture by the delay above). NAN before it. */
    double arrival_offset;
} pan_source_stats;

/* One compressed packet of the video stream. Valid until the next pan_source_read. */
typedef struct pan_packet {
    const uint8_t *data;
    int size;
    int64_t pts, dts;    /* in the stream's time base; INT64_MIN when unknown */
    double pts_seconds;  /* NAN when unknown; includes the loop offset */
    int keyframe;
    int64_t serial;      /* 0 for the first pass of a file, incremented at each loop */
    const void *av_packet; /* the underlying AVPacket, for decoders that need side data */
    int rotation;        /* the stream's display rotation (pan_source_info.rotation): decoders
                            stamp it on their frames */
    int discard;         /* decode it, but its picture is not shown (an edit list hides it) */
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
 * timeout_ms, PAN_CORRUPT...). Each error is also logged once, naming the camera and the URI.
 * PAN_TRUNCATED instead of PAN_EOF when the stream ended before its container said it would:
 * fewer packets than the MP4 index lists, less than the stream's declared duration, or a read
 * error at the end (a download cut short, "Stream ends prematurely"); the packets read before are
 * good (drain the decoder), and pan_source_get_stats says how much is missing. A looped file
 * that is truncated warns once and loops on. PAN_NOSEEK from create: an MP4 over HTTP whose index
 * is at the end, from a server without range requests (nothing of it can be read). */
pan_status pan_source_read(pan_source *src, pan_packet *pkt);
void pan_source_get_stats(const pan_source *src, pan_source_stats *stats);
/* What a whole source holds, read to its end without decoding (`panoptes info`). */
#define PAN_SOURCE_SCAN_SIZES 8
typedef struct pan_source_scan {
    int64_t packets;  /* video packets */
    int64_t frames;   /* frames they show (packets an edit list hides are not counted) */
    int64_t corrupt;  /* damaged packets or data the demuxer skipped */
    /* picture sizes in stream order, each from the frame that first has it (as the parser reads
     * the sequence headers; codecs without a parser that reports sizes show the first only) */
    struct {
        int width, height;
        int64_t from_frame;
    } sizes[PAN_SOURCE_SCAN_SIZES];
    int n_sizes, more_sizes;
    pan_status end;   /* PAN_OK at a complete end, PAN_TRUNCATED, or the read error */
    int64_t missing_packets; /* truncated: as pan_source_stats */
    double missing_s;
} pan_source_scan_result;
/* Reads src (just created, not read from) to its end. Returns out->end. Never for a live stream. */
pan_status pan_source_scan(pan_source *src, pan_source_scan_result *out);

/* Asks a blocking read to return early (thread-safe; used on SIGINT). */
void pan_source_interrupt(pan_source *src);
/* 1 when the URI names a network protocol (rtsp://, http://, udp://...), not a local file. Network
 * cameras can be reconnected; a local file that fails to open stays failed. */
int pan_source_uri_is_network(const char *uri);

#ifdef __cplusplus
}
#endif
#endif
