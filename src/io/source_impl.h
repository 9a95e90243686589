/* Internal to the source module (source.c, source_live.c, source_probe.c, source_scan.c). */
#ifndef PANOPTES_IO_SOURCE_IMPL_H
#define PANOPTES_IO_SOURCE_IMPL_H

#include <libavformat/avformat.h>
#include <stdatomic.h>

#include "io/source.h"

/* The sender's clock from RTCP sender reports (source_live.c): where it stands for this
 * connection. */
enum {
    PAN__RTCP_NONE,     /* no packet timed by a report yet */
    PAN__RTCP_WAIT,     /* timed packets, but none yet close enough to its arrival to trust */
    PAN__RTCP_USED,     /* agrees with our clock: it times the stream (clock_offset) */
    PAN__RTCP_REJECTED, /* disagrees with our clock (not synchronised): arrivals time the stream */
};

typedef struct pan__rtcp_clock {
    int state;          /* PAN__RTCP_* */
    int64_t timed;      /* packets that carried a report time */
    double min_delay;   /* least arrival − report time seen, seconds (INFINITY before any) */
    double last_delay;  /* the last one (for the message when it is rejected) */
} pan__rtcp_clock;

/* One more packet timed by a sender report, `delay` = its arrival − the capture time the report
 * gives it (seconds, both on one clock). Returns the new state; pure, tested on its own. */
int pan__rtcp_clock_judge(pan__rtcp_clock *c, double delay);

struct pan_source {
    pan_source_params params;
    char *uri;
    AVFormatContext *fmt;
    AVPacket *pkt;
    int stream;
    pan_source_info info;
    atomic_int interrupted;
    int network;         /* rtsp://, http://...: every blocking step has a deadline */
    int64_t deadline_us; /* absolute time (av_gettime_relative) a blocking step must end by */
    /* looping: timestamps of later passes are shifted by the duration of the earlier ones */
    int64_t serial;
    int64_t loop_offset;   /* in stream time base */
    int64_t pass_end;      /* largest pts+duration seen in this pass */
    int64_t pass_packets;  /* video packets read in this pass */
    int read_errors;       /* read errors in a row (damaged file) */
    int warned_truncated;  /* a looped file: the truncation is reported once */
    pan_source_stats stats;
    /* live: packets read ahead at connect (pan__source_read_ahead), handed out first */
    int settled;
    AVPacket **ahead;
    int n_ahead, ahead_pos;
    pan_status ahead_status;
    /* live: the clock (source_live.c) */
    pan__rtcp_clock rtcp;
    int rtcp_next;          /* report times come one packet early (FFmpeg's parser; see source_live.c) */
    double rtcp_carried;    /* that report time (CLOCK_MONOTONIC s), waiting for the next packet; NAN */
};

/* Fills everything in info that the stream and container say (not is_live, rtsp_transport). */
void pan__source_describe(AVFormatContext *fmt, AVStream *vs, pan_source_info *info);
/* Display rotation of a stream, clockwise degrees 0/90/180/270. */
int pan__source_stream_rotation(const AVStream *vs);

/* source.c: the next packet of the video stream into s->pkt (PAN_OK), or how the stream ended. */
pan_status pan__source_read_next(pan_source *s);

/* source_live.c */
double pan__mono_s(void);
/* Once, at a live stream's first read: reads the connect burst ahead and measures the clock. */
void pan__source_read_ahead(pan_source *s);
/* Each live packet as it is read (arrival = CLOCK_MONOTONIC s): the RTCP clock's check. */
void pan__source_live_arrived(pan_source *s, const AVPacket *pkt, double arrival);
/* Each live packet as it is handed out: refines clock_offset from the sender's clock. */
void pan__source_live_handed(pan_source *s, const AVPacket *pkt);

#endif
