/* Reads a source to its end without decoding (`panoptes info`): counts packets and the frames
 * they show, notices damage and a premature end, and follows the picture size through the
 * stream with libavcodec's parser (a stream may change size at any new sequence header). */
#include <libavcodec/avcodec.h>
#include <string.h>

#include "io/source_impl.h"
#include "panoptes/log.h"

/* One size, from the first frame that has it. */
static void note_size(pan_source_scan_result *out, int w, int h, int64_t frame)
{
    if (w <= 0 || h <= 0) return;
    if (out->n_sizes > 0 && out->sizes[out->n_sizes - 1].width == w && out->sizes[out->n_sizes - 1].height == h) return;
    if (out->n_sizes == PAN_SOURCE_SCAN_SIZES) {
        out->more_sizes++;
        return;
    }
    out->sizes[out->n_sizes].width = w;
    out->sizes[out->n_sizes].height = h;
    out->sizes[out->n_sizes].from_frame = frame;
    out->n_sizes++;
}

pan_status pan_source_scan(pan_source *src, pan_source_scan_result *out)
{
    const AVCodecParameters *par = pan_source_codecpar(src);
    const pan_source_info *info = pan_source_get_info(src);
    AVCodecParserContext *parser = av_parser_init(par->codec_id);
    AVCodecContext *avctx = NULL;
    pan_status st = PAN_OK;
    memset(out, 0, sizeof *out);
    if (parser) {
        /* the parser reads the sequence headers in the extradata (avcC, hvcC) through a context */
        avctx = avcodec_alloc_context3(NULL);
        if (!avctx || avcodec_parameters_to_context(avctx, par) < 0) {
            av_parser_close(parser);
            parser = NULL;
        } else {
            parser->flags |= PARSER_FLAG_COMPLETE_FRAMES; /* demuxed packets are whole frames */
        }
    }
    note_size(out, info->width, info->height, 0);
    for (;;) {
        pan_packet pkt;
        st = pan_source_read(src, &pkt);
        if (st) break;
        out->packets++;
        if (pkt.discard) continue;
        if (parser) {
            uint8_t *data = NULL;
            int size = 0;
            av_parser_parse2(parser, avctx, &data, &size, pkt.data, pkt.size, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
            note_size(out, parser->width, parser->height, out->frames);
        }
        out->frames++;
    }
    av_parser_close(parser);
    avcodec_free_context(&avctx);
    pan_source_stats ss;
    pan_source_get_stats(src, &ss);
    out->corrupt = ss.corrupt;
    out->missing_packets = ss.missing_packets;
    out->missing_s = ss.missing_s;
    out->end = st == PAN_EOF ? PAN_OK : st;
    return out->end;
}
