/* What a source's video stream says about itself (pan_source_info): codec, sizes, rate, colour,
 * display rotation, pixel format, and what the container promises (index, duration) so that a
 * stream that ends early can be told from one that is complete. */
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/source_impl.h"

static void fill_colour(pan_source_info *info, const AVCodecParameters *par)
{
    /* Unspecified matrices follow the common convention: BT.709 for HD (height > 576), else BT.601. */
    switch (par->color_space) {
    case AVCOL_SPC_BT709: info->matrix = PAN_COLOR_BT709; break;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M:
    case AVCOL_SPC_FCC:
    case AVCOL_SPC_SMPTE240M: info->matrix = PAN_COLOR_BT601; break;
    default: info->matrix = par->height > 576 ? PAN_COLOR_BT709 : PAN_COLOR_BT601; break;
    }
    info->range = par->color_range == AVCOL_RANGE_JPEG ? PAN_RANGE_FULL : PAN_RANGE_LIMITED;
    if (par->format == AV_PIX_FMT_YUVJ420P) info->range = PAN_RANGE_FULL;
    const char *sp = par->color_space == AVCOL_SPC_UNSPECIFIED ? "unspecified" : av_color_space_name(par->color_space);
    snprintf(info->color_desc, sizeof info->color_desc, "%s/%s", sp ? sp : "unspecified",
             info->range == PAN_RANGE_FULL ? "pc" : "tv");
}

/* The display matrix (ISO/IEC 14496-12 'tkhd' matrix, Matroska projection, phone recordings) as
 * clockwise degrees, rounded to a quarter turn as players do. A mirrored matrix keeps its
 * rotation; the mirror is not applied (FFmpeg 5.1's own autorotate ignores it too). */
int pan__source_stream_rotation(const AVStream *vs)
{
    const int32_t *m = NULL;
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 29, 100)
    const AVPacketSideData *sd = av_packet_side_data_get(vs->codecpar->coded_side_data,
                                                         vs->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    if (sd && sd->size >= 9 * sizeof(int32_t)) m = (const int32_t *)sd->data;
#else
    size_t size = 0;
    const uint8_t *d = av_stream_get_side_data(vs, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (d && size >= 9 * sizeof(int32_t)) m = (const int32_t *)d;
#endif
    if (!m) return 0;
    double ccw = av_display_rotation_get(m); /* counter-clockwise degrees, NAN when degenerate */
    if (isnan(ccw)) return 0;
    long q = lround(-ccw / 90.0) % 4; /* quarter turns clockwise */
    return (int)((q + 4) % 4) * 90;
}

/* "DURATION" tags as Matroska/WebM muxers write them per stream: "HH:MM:SS.nnnnnnnnn". */
static double tag_duration(const AVStream *vs)
{
    const AVDictionaryEntry *e = av_dict_get(vs->metadata, "DURATION", NULL, 0);
    int h, m;
    double s;
    if (e && sscanf(e->value, "%d:%d:%lf", &h, &m, &s) == 3 && h >= 0 && m >= 0 && s >= 0)
        return h * 3600.0 + m * 60.0 + s;
    return 0;
}

/* The video stream's own duration: the stream's, a per-stream tag, or the container's when the
 * container holds this stream alone (a container duration covers audio too, which may run
 * longer). A duration estimated from the bit rate is no promise. */
static double stream_duration(const AVFormatContext *fmt, const AVStream *vs)
{
    if (vs->duration != AV_NOPTS_VALUE && vs->duration > 0) return (double)vs->duration * av_q2d(vs->time_base);
    double t = tag_duration(vs);
    if (t > 0) return t;
    if (fmt->nb_streams == 1 && fmt->duration > 0 && fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE)
        return (double)fmt->duration / AV_TIME_BASE;
    return 0;
}

void pan__source_describe(AVFormatContext *fmt, AVStream *vs, pan_source_info *info)
{
    const AVCodecParameters *par = vs->codecpar;
    snprintf(info->container, sizeof info->container, "%s", fmt->iformat->name);
    snprintf(info->codec, sizeof info->codec, "%s", avcodec_get_name(par->codec_id));
    info->codec_id = par->codec_id;
    info->width = par->width;
    info->height = par->height;
    AVRational fr = vs->avg_frame_rate.num ? vs->avg_frame_rate : vs->r_frame_rate;
    info->fps = fr.num && fr.den ? av_q2d(fr) : 0;
    info->duration = fmt->duration > 0 ? (double)fmt->duration / AV_TIME_BASE : 0;
    info->frames = vs->nb_frames;
    info->bit_rate = par->bit_rate ? par->bit_rate : fmt->bit_rate;
    fill_colour(info, par);

    info->rotation = pan__source_stream_rotation(vs);
    int swap = info->rotation == 90 || info->rotation == 270;
    info->display_width = swap ? par->height : par->width;
    info->display_height = swap ? par->width : par->height;

    const AVPixFmtDescriptor *pd = par->format >= 0 ? av_pix_fmt_desc_get((enum AVPixelFormat)par->format) : NULL;
    snprintf(info->pix_fmt, sizeof info->pix_fmt, "%s", pd ? pd->name : "unknown");
    info->bit_depth = pd ? pd->comp[0].depth : par->bits_per_raw_sample > 0 ? par->bits_per_raw_sample : 0;

    /* The MP4/MOV index lists every sample before the first is read (AVI's is read at open too,
     * but other demuxers build theirs while reading, or index keyframes only). */
    info->index_packets = info->index_frames = 0;
    if (strstr(fmt->iformat->name, "mp4")) {
        int n = avformat_index_get_entries_count(vs);
        int64_t shown = 0;
        for (int i = 0; i < n; i++) {
            const AVIndexEntry *e = avformat_index_get_entry(vs, i);
            if (e && !(e->flags & AVINDEX_DISCARD_FRAME)) shown++;
        }
        info->index_packets = n;
        info->index_frames = shown;
    }
    info->stream_duration = stream_duration(fmt, vs);
}
