/* Internal: the table of functions each decoder implementation provides. */
#ifndef PANOPTES_DECODER_IMPL_H
#define PANOPTES_DECODER_IMPL_H

#include "decode/decoder.h"

typedef struct pan_decoder_ops {
    const char *name;
    pan_status (*create)(pan_decoder *dec, const pan_decoder_params *params);
    void (*destroy)(pan_decoder *dec);
    pan_status (*send_packet)(pan_decoder *dec, const pan_packet *pkt);
    pan_status (*receive_frame)(pan_decoder *dec, pan_frame **frame);
} pan_decoder_ops;

struct pan_decoder {
    const pan_decoder_ops *ops;
    pan_decoder_params params;
    pan_decoder_stats stats;
    int64_t next_index; /* index given to the next output frame */
    int rotation;       /* display rotation of the stream (from its packets), stamped on frames */
    void *priv;         /* implementation state */
};

extern const pan_decoder_ops pan__decoder_cpu_ops;
#if defined(PANOPTES_HAVE_CUDA) && defined(PANOPTES_HAVE_FFNVCODEC)
extern const pan_decoder_ops pan__decoder_nvdec_ops;
#endif

#endif
