/* Decoder front: picks the implementation and keeps the counters common to all of them. */
#include "decode/decoder.h"

#include <stdlib.h>

#include "decode/decoder_impl.h"
#include "panoptes/log.h"

const char *pan_decoder_kind_name(pan_decoder_kind kind)
{
    return kind == PAN_DECODER_NVDEC ? "nvdec" : "cpu";
}

#if !(defined(PANOPTES_HAVE_CUDA) && defined(PANOPTES_HAVE_FFNVCODEC))
int pan_decoder_nvdec_available(void) { return 0; }
#endif

pan_status pan_decoder_create(pan_decoder **out, const pan_decoder_params *params)
{
    pan_decoder *dec;
    const pan_decoder_ops *ops = &pan__decoder_cpu_ops;
    pan_status st;
    *out = NULL;
    if (!params || !params->codecpar) return PAN_INVAL;
    if (params->kind == PAN_DECODER_NVDEC) {
#if defined(PANOPTES_HAVE_CUDA) && defined(PANOPTES_HAVE_FFNVCODEC)
        ops = &pan__decoder_nvdec_ops;
#else
        pan_log_error("decode", params->camera, "%s: NVDEC requested but this build has no CUDA support",
                      params->uri ? params->uri : "?");
        return PAN_UNSUPPORTED;
#endif
    }
    dec = calloc(1, sizeof *dec);
    if (!dec) return PAN_NOMEM;
    dec->ops = ops;
    dec->params = *params;
    if (dec->params.max_frames <= 0) dec->params.max_frames = 8;
    st = ops->create(dec, &dec->params);
    if (st) {
        free(dec);
        return st;
    }
    *out = dec;
    return PAN_OK;
}

void pan_decoder_destroy(pan_decoder **pdec)
{
    if (!pdec || !*pdec) return;
    (*pdec)->ops->destroy(*pdec);
    free(*pdec);
    *pdec = NULL;
}

pan_status pan_decoder_send_packet(pan_decoder *dec, const pan_packet *pkt)
{
    if (pkt) dec->rotation = pkt->rotation;
    pan_status st = dec->ops->send_packet(dec, pkt);
    if (st == PAN_OK && pkt) {
        dec->stats.packets++;
        if (pkt->discard) dec->stats.discarded++;
    }
    return st;
}

pan_status pan_decoder_receive_frame(pan_decoder *dec, pan_frame **frame)
{
    pan_status st = dec->ops->receive_frame(dec, frame);
    if (st == PAN_OK) {
        (*frame)->camera = dec->params.camera;
        (*frame)->index = dec->next_index++;
        (*frame)->rotation = dec->rotation;
        dec->stats.frames++;
    }
    return st;
}

void pan_decoder_get_stats(const pan_decoder *dec, pan_decoder_stats *stats) { *stats = dec->stats; }
