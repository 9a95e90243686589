/* Test helper: real frames of a clip, decoded on the host and preprocessed for NanoDet-g 416
 * (BGR, the model's mean/std, centred letterbox, NCHW FP32), as the engine tests feed them. */
#ifndef PANOPTES_TEST_NANODET_FRAMES_H
#define PANOPTES_TEST_NANODET_FRAMES_H

#include "decode/decoder.h"
#include "vision/preprocess.h"
#include "io/source.h"

#define PAN_TEST_NANODET_SIZE 416

/* Decodes frames `want[0..n)` (ascending indices) of a clip and preprocesses them into out. */
static inline int pan_test_nanodet_frames(const char *uri, const int *want, int n, float *out)
{
    pan_source *src = NULL;
    pan_decoder *dec = NULL;
    pan_source_params sp = {.uri = uri};
    int got = 0, idx = 0;
    if (pan_source_create(&src, &sp)) return 0;
    int num, den;
    pan_source_time_base(src, &num, &den);
    pan_decoder_params dp = {.kind = PAN_DECODER_CPU, .uri = uri, .codecpar = pan_source_codecpar(src),
                             .time_base_num = num, .time_base_den = den};
    if (pan_decoder_create(&dec, &dp)) goto done;
    pan_preprocess_params pp = {.width = PAN_TEST_NANODET_SIZE, .height = PAN_TEST_NANODET_SIZE, .channels = PAN_CHANNELS_BGR,
                                .mean = {103.53f, 116.28f, 123.675f}, .std = {57.375f, 57.12f, 58.395f},
                                .layout = PAN_LAYOUT_NCHW, .keep_ratio = 1, .pad_value = 0};
    pan_packet pkt;
    int eof = 0;
    while (got < n) {
        pan_frame *f = NULL;
        pan_status st = pan_decoder_receive_frame(dec, &f);
        if (st == PAN_OK) {
            if (idx == want[got]) {
                pan_letterbox lb;
                if (pan_preprocess_cpu(f, &pp, out + (size_t)got * 3 * PAN_TEST_NANODET_SIZE * PAN_TEST_NANODET_SIZE, &lb) == PAN_OK) got++;
            }
            idx++;
            pan_frame_unref(&f);
            continue;
        }
        if (st != PAN_EAGAIN || eof) break;
        st = pan_source_read(src, &pkt);
        if (st == PAN_EOF) {
            eof = 1;
            pan_decoder_send_packet(dec, NULL);
        } else if (st) break;
        else pan_decoder_send_packet(dec, &pkt);
    }
done:
    pan_decoder_destroy(&dec);
    pan_source_destroy(&src);
    return got == n;
}

#endif
