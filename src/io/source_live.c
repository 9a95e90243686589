/* A live stream's clock on ours (pan_source_stats.clock_offset): measured from arrivals once the
 * connect burst has passed, and refined by the camera's RTCP sender reports where it sends them.
 *
 * Sender reports. An RTSP camera sends, every few seconds, an RTCP sender report pairing its
 * wall clock (NTP) with its RTP timestamps. FFmpeg 5.1's RTP demuxer (libavformat/rtpdec.c,
 * rtp_set_prft) turns the latest report into AV_PKT_DATA_PRFT side data on every packet after
 * it: AVProducerReferenceTime.wallclock = the report's NTP time + (this RTP timestamp − the
 * report's) / clock rate, in microseconds since 1970. That is the capture time of the picture on
 * the camera's clock; with the camera's clock and ours kept by NTP, it is a frame time that does
 * not depend on the network's delay, its jitter, or bursts. (AVFormatContext.start_time_realtime
 * is no substitute: rtsp.c sets it once, from the first report, for the pts of the RTP base
 * timestamp plus the PLAY reply's range start, which it does not expose.)
 *
 * One packet early. The RTP depacketizers of H.264, HEVC, MPEG-4 part 2, MPEG-1/2, H.261/H.263
 * and DV ask for a full parser (need_parsing = AVSTREAM_PARSE_FULL), and libavformat's
 * parse_packet (demux.c) moves an input packet's side data onto the frame that this input
 * completes: the frame before it. The RTP packet that begins picture N+1 completes picture N,
 * so picture N carries the report time of picture N+1, whose pts is the next packet's. Those
 * report times are therefore matched with the next packet (measured against gst-rtsp-server at
 * 5 and 10 fps: the report time minus the same packet's pts is one frame interval later than
 * start_time_realtime says, exactly). Other codecs (MJPEG, VP8, VP9) are not parsed and carry
 * their own.
 *
 * Trust. The report times are used only when they agree with our clock: a picture is captured
 * before it arrives, and not long before. A packet whose report time is more than RTCP_AHEAD_S
 * after its arrival means the camera's clock is ahead of ours; one whose least delay stays above
 * RTCP_MAX_DELAY_S (for RTCP_JUDGE_PACKETS packets: the first may come in a burst), or exceeds
 * RTCP_FAR_S, means it is behind (an unset clock, a camera on local time in another zone).
 * Either way the camera's clock is not synchronised with ours: its reports are not used (said
 * once), and the arrivals time the stream. */
#include <libavformat/avformat.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/source_impl.h"
#include "panoptes/log.h"

#define RTCP_AHEAD_S 0.05       /* a report time this much after the arrival: the sender's clock is ahead */
#define RTCP_MAX_DELAY_S 1.0    /* capture to arrival can take this long (encoder, network, server) */
#define RTCP_JUDGE_PACKETS 100  /* timed packets after which a clock that never came close is rejected */
#define RTCP_FAR_S 60.0         /* later than any burst: the sender's clock is behind ours, at once */

double pan__mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CLOCK_REALTIME − CLOCK_MONOTONIC, seconds: a wall-clock time onto the monotonic clock. */
static double realtime_minus_mono(void)
{
    struct timespec r, m;
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &m);
    return (double)(r.tv_sec - m.tv_sec) + (r.tv_nsec - m.tv_nsec) * 1e-9;
}

/* The report time a packet carries, on CLOCK_MONOTONIC (seconds); NAN when none. */
static double report_time(const AVPacket *pkt)
{
    size_t size = 0;
    const AVProducerReferenceTime *prft =
        (const AVProducerReferenceTime *)av_packet_get_side_data(pkt, AV_PKT_DATA_PRFT, &size);
    if (!prft || size < sizeof *prft) return NAN;
    return (double)prft->wallclock * 1e-6 - realtime_minus_mono();
}

int pan__rtcp_clock_judge(pan__rtcp_clock *c, double delay)
{
    if (c->state == PAN__RTCP_REJECTED || isnan(delay)) return c->state;
    c->timed++;
    c->last_delay = delay;
    if (!(delay >= c->min_delay)) c->min_delay = delay;
    if (delay < -RTCP_AHEAD_S) c->state = PAN__RTCP_REJECTED; /* captured after it arrived */
    else if (c->min_delay <= RTCP_MAX_DELAY_S) c->state = PAN__RTCP_USED;
    else if (c->timed >= RTCP_JUDGE_PACKETS || c->min_delay > RTCP_FAR_S)
        c->state = PAN__RTCP_REJECTED; /* never came close, or far beyond any burst */
    else c->state = PAN__RTCP_WAIT; /* late so far: a burst, or a clock behind ours */
    return c->state;
}

/* Codecs whose RTP depacketizer in FFmpeg 5.1 asks for a full parser (rtpdec_*.c need_parsing =
 * AVSTREAM_PARSE_FULL): their report times come one packet early. */
static int parsed_over_rtp(enum AVCodecID id)
{
    switch (id) {
    case AV_CODEC_ID_H264:
    case AV_CODEC_ID_HEVC:
    case AV_CODEC_ID_MPEG4:
    case AV_CODEC_ID_MPEG1VIDEO:
    case AV_CODEC_ID_MPEG2VIDEO:
    case AV_CODEC_ID_H261:
    case AV_CODEC_ID_H263:
    case AV_CODEC_ID_H263P:
    case AV_CODEC_ID_DVVIDEO: return 1;
    default: return 0;
    }
}

void pan__source_live_arrived(pan_source *s, const AVPacket *pkt, double arrival)
{
    double t = report_time(pkt);
    if (isnan(t)) return;
    int before = s->rtcp.state;
    int now = pan__rtcp_clock_judge(&s->rtcp, arrival - t);
    s->stats.rtcp_delay = s->rtcp.min_delay;
    if (now == before) return;
    if (now == PAN__RTCP_USED) {
        pan_log_info("source", s->params.camera,
                     "%s: frames timed by the camera's RTCP sender reports from now on (its clock agrees with ours)",
                     s->uri);
    } else if (now == PAN__RTCP_REJECTED) {
        int ahead = s->rtcp.last_delay < -RTCP_AHEAD_S;
        pan_log_warn("source", s->params.camera,
                     "%s: the camera's RTCP sender reports put its pictures %.3f s %s their arrival on our clock: "
                     "its clock is not synchronised with this machine's (set both to NTP); frames are timed by their "
                     "arrival instead",
                     s->uri, ahead ? -s->rtcp.last_delay : s->rtcp.min_delay, ahead ? "after" : "before");
    }
}

void pan__source_live_handed(pan_source *s, const AVPacket *pkt)
{
    double t = report_time(pkt);
    if (s->rtcp_next) { /* this packet's report time is the next one's; its own came with the one before */
        double mine = s->rtcp_carried;
        s->rtcp_carried = t;
        t = mine;
    }
    if (s->rtcp.state == PAN__RTCP_REJECTED && s->stats.clock_rtcp) {
        s->stats.clock_rtcp = 0;
        s->stats.clock_offset = s->stats.arrival_offset;
    }
    int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (s->rtcp.state != PAN__RTCP_USED || isnan(t) || ts == AV_NOPTS_VALUE) return;
    s->stats.clock_offset = t - (double)ts * av_q2d(s->fmt->streams[s->stream]->time_base);
    s->stats.clock_rtcp = 1;
}

/* A live stream's first packets often come in a burst: the ones the probing held back (about 2 s
 * at every connect), or a GOP a server cached. Their arrival says nothing of when they were sent,
 * so they are read ahead here until packets arrive at the pace of their timestamps (the last
 * AHEAD_PACE packets took at least half their stream time to come), and the stream's clock is
 * measured then: arrival − pts of the least delayed packet (pan_source_stats.clock_offset, until
 * sender reports refine it). The packets are then handed out one by one. Bounded: AHEAD_CAP
 * packets, AHEAD_MAX_S of waiting. */
#define AHEAD_CAP 1024
#define AHEAD_PACE 5
#define AHEAD_MAX_S 1.5
void pan__source_read_ahead(pan_source *s)
{
    const AVStream *vs = s->fmt->streams[s->stream];
    double t0 = pan__mono_s(), min_d = INFINITY, maxpts = -INFINITY;
    double arr[AHEAD_PACE + 1], top[AHEAD_PACE + 1];
    int timed = 0, untimed = 0;
    s->settled = 1;
    s->rtcp = (pan__rtcp_clock){.state = PAN__RTCP_NONE, .min_delay = INFINITY, .last_delay = NAN};
    s->rtcp_carried = NAN;
    s->rtcp_next = (!strcmp(s->fmt->iformat->name, "rtsp") || !strcmp(s->fmt->iformat->name, "sdp")) &&
                   parsed_over_rtp(vs->codecpar->codec_id);
    s->ahead = calloc(AHEAD_CAP, sizeof *s->ahead);
    if (!s->ahead) return;
    while (s->n_ahead < AHEAD_CAP) {
        pan_status st = pan__source_read_next(s);
        if (st) {
            s->ahead_status = st; /* told after the packets before it */
            break;
        }
        double now = pan__mono_s();
        AVPacket *c = av_packet_clone(s->pkt);
        if (!c) {
            s->ahead_status = PAN_NOMEM;
            break;
        }
        s->ahead[s->n_ahead++] = c;
        int64_t ts = c->pts != AV_NOPTS_VALUE ? c->pts : c->dts;
        if (ts == AV_NOPTS_VALUE) { /* untimed (before the first RTCP report, say): not a clock reading */
            if (++untimed > AHEAD_PACE * 4) break; /* a stream without timestamps */
            continue;
        }
        int n = timed++;
        double pts = (double)ts * av_q2d(vs->time_base);
        if (pts > maxpts) maxpts = pts;
        if (now - pts < min_d) min_d = now - pts;
        int i = n % (AHEAD_PACE + 1);
        arr[i] = now;
        top[i] = maxpts;
        if (n >= AHEAD_PACE) {
            int j = (n - AHEAD_PACE) % (AHEAD_PACE + 1); /* AHEAD_PACE packets back */
            double span = top[i] - top[j];
            if (span > 0 && now - arr[j] >= 0.5 * span) break; /* at the stream's pace: the burst is over */
        }
        if (now - t0 > AHEAD_MAX_S) break;
    }
    if (isfinite(min_d)) {
        s->stats.arrival_offset = min_d;
        if (!s->stats.clock_rtcp) s->stats.clock_offset = min_d;
    }
    pan_log_debug("source", s->params.camera, "%s: %d packet(s) read ahead at connect, clock offset %.3f s", s->uri,
                  s->n_ahead, s->stats.clock_offset);
}
