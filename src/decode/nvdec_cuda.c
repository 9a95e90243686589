/* NVDEC decoder: nvcuvid loaded at run time (ffnvcodec's loader), frames are mapped NVDEC
 * surfaces in device memory, consumed in place and unmapped when their last reference drops.
 *
 * Flow (one camera, one thread calling send/receive; frames may be released on any thread):
 *   send_packet: MP4/MKV packets (length-prefixed NAL units, avcC/hvcC extradata) become Annex-B
 *     through libavcodec's bitstream filter, then cuvidParseVideoData. The parser calls back,
 *     synchronously and only to record: sequence (create/reconfigure the decoder), decode
 *     (cuvidDecodePicture: queues the picture on the engine, returns at once) and display
 *     (CUVIDPARSERDISPINFO copied by value into `disp`). Errors are stored in the context and
 *     looked at after cuvidParseVideoData returns; no callback ever blocks or unwinds.
 *   receive_frame: PAN_BUSY while the next displayed picture is still being decoded (its decode
 *     status: a pool thread does not wait in the map), else pops one display entry and maps it (cuvidMapVideoFrame on the camera's
 *     stream: the engine's NV12 output is post-processed into one of ulNumOutputSurfaces output
 *     surfaces), records an event the consumer's stream waits on, and returns a pan_frame whose
 *     planes point into the mapped surface.
 *
 * Surface reuse. The parser recycles a picture's decode surface as soon as it has been
 * displayed. A displayed-but-unmapped picture is therefore safe only until the next parse call,
 * so send_packet refuses input (PAN_EAGAIN) while `disp` is not empty: every displayed picture
 * is mapped (its pixels copied into an output surface by the map) before more is decoded.
 *
 * Back-pressure. At most ulNumOutputSurfaces (= params->max_frames) frames are mapped at once;
 * when all are out, receive_frame returns PAN_LIMIT and calls params->frame_back once one is
 * released (an I/O thread serving many cameras never waits for one), or without frame_back waits
 * for it; so a slow consumer slows the camera instead of growing memory.
 *
 * Damage. A picture NVDEC reports as failed (cuvidGetDecodeStatus: Error) is dropped and the
 * camera waits for the next keyframe (packets before it are counted in stats.skipped and not
 * fed); the keyframe is fed with CUVID_PKT_DISCONTINUITY so the parser drops its references.
 * Concealed errors are counted and their frames delivered. A parse or decode call failure is
 * damage too. Only an unsupported stream (codec, size, chroma format, bit depth) or a CUDA
 * failure is fatal for the camera. */
#if defined(PANOPTES_HAVE_FFNVCODEC)

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavutil/pixdesc.h>
#include <stddef.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode/decoder_impl.h"
#include "decode/nvdec_frame.h"
#include "core/env.h"
#include "core/gpu.h"
#include "panoptes/log.h"

/* The loader's own messages ("Cannot load libnvcuvid.so.1") go to DEBUG: a machine without a
 * driver is a normal case that pan_decoder_nvdec_available() reports once, in our words. They are
 * printf formats with arguments and a trailing newline (an earlier macro passed the format on as
 * the text, and the log read "Cannot load %s"). */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void loader_log(const char *fmt, ...)
{
    if (!PAN_LOG_ENABLED(PAN_LOG_DEBUG)) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    pan_log_debug("nvdec", -1, "%s", line);
}
#define FFNV_LOG_FUNC(logctx, ...) loader_log(__VA_ARGS__)
#define FFNV_DEBUG_LOG_FUNC(logctx, ...) loader_log(__VA_ARGS__)
#include <ffnvcodec/dynlink_loader.h>

/* Display entries waiting to be mapped. The parser displays at most its DPB plus its display
 * delay at once, far below this. */
#define DISP_CAP 64
#define HIDDEN_CAP 256
/* Parser display delay: the parser holds this many decoded pictures back before displaying
 * them, so cuvidDecodePicture of the next pictures is queued on the engine before the consumer
 * maps (and so waits for) the current one. NVIDIA suggests 2..4 for a single stream; with many
 * cameras the engines are kept busy by the other cameras and every held picture costs a decode
 * surface (4 MiB at 1080p), so the default is 0: measured on an H200 with 32 and 64 1080p
 * cameras, the same frames/s as 1 (BENCHMARKS.md). PANOPTES_NVDEC_DISPLAY_DELAY=0..4 overrides. */
#define DEFAULT_DISPLAY_DELAY 0
/* Decode surfaces beyond min_num_decode_surfaces (what the stream needs to decode: its DPB and
 * the picture being decoded): the pictures the parser holds back for the display delay, plus
 * DEFAULT_SPARE. A spare one would let the engine decode ahead while the displayed picture is
 * mapped; with many cameras the engines are busy with the others, and none costs nothing (H100,
 * 32 and 64 1080p cameras, with and without B-frames: frames/s within 1%, every frame bit-exact
 * in test-gpu-nvdec; BENCHMARKS.md) while each is 4 MiB at 1080p.
 * PANOPTES_NVDEC_SPARE_SURFACES=0..4 overrides, to measure. */
#define DEFAULT_SPARE 0
#define SURFACE_MARGIN(c) ((c)->display_delay + (c)->spare)

static int spare_surfaces(void) { return pan__env_int("PANOPTES_NVDEC_SPARE_SURFACES", DEFAULT_SPARE, 0, 4); }

static int display_delay(void) { return pan__env_int("PANOPTES_NVDEC_DISPLAY_DELAY", DEFAULT_DISPLAY_DELAY, 0, 4); }

static CudaFunctions *cu;
static CuvidFunctions *cv;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_ok;

static void load(void)
{
    int n = 0;
    if (cuda_load_functions(&cu, NULL) < 0) {
        pan_log_info("nvdec", -1, "NVDEC unavailable: libcuda.so.1 not found (no NVIDIA driver)");
        return;
    }
    if (cuvid_load_functions(&cv, NULL) < 0) {
        pan_log_info("nvdec", -1, "NVDEC unavailable: libnvcuvid.so.1 not found (driver without the video decode library)");
        return;
    }
    if (cu->cuInit(0) != CUDA_SUCCESS || cu->cuDeviceGetCount(&n) != CUDA_SUCCESS || n == 0) {
        pan_log_info("nvdec", -1, "NVDEC unavailable: no CUDA device");
        return;
    }
    load_ok = 1;
}

int pan_decoder_nvdec_available(void)
{
    pthread_once(&load_once, load);
    return load_ok && pan_gpu_available();
}

/* The one nvcuvid/driver check: logs the call, the error name, file:line; evaluates to a status. */
static pan_status cu_status(CUresult r, const char *call, int camera, const char *file, int line)
{
    const char *name = NULL, *str = NULL;
    if (r == CUDA_SUCCESS) return PAN_OK;
    if (cu && cu->cuGetErrorName) cu->cuGetErrorName(r, &name);
    if (cu && cu->cuGetErrorString) cu->cuGetErrorString(r, &str);
    pan_log_error("nvdec", camera, "%s failed: %s (%s) at %s:%d", call, name ? name : "?", str ? str : "?", file, line);
    return r == 2 /* CUDA_ERROR_OUT_OF_MEMORY */ ? PAN_DEVMEM : PAN_NVDEC;
}
#define CU_CHECK(call, cam) cu_status((call), #call, (cam), __FILE__, __LINE__)

typedef struct nv_ctx nv_ctx;

#define BUSY_MAX_S 0.25 /* longest a picture is reported busy before the map waits for it */
#define HELD_MAX_S 10.0 /* every output surface held downstream this long: the consumer is stuck */

typedef struct nv_slot {
    pan_frame frame; /* first member: a pan_frame * from us is an nv_slot * */
    nv_ctx *ctx;
    CUdeviceptr mapped;
    CUevent ready; /* recorded on the camera stream after the map */
    int busy;
} nv_slot;

struct nv_ctx {
    pthread_mutex_t lock; /* guards the decoder handle's map/unmap/decode, slots, refs */
    pthread_cond_t released;
    int refs;             /* 1 for the pan_decoder + 1 per mapped frame */
    int camera, device;
    int display_delay;    /* parser display delay, pictures */
    int spare;            /* decode surfaces beyond the stream's minimum and the display delay */
    const char *uri;
    double time_base;     /* seconds per pts unit */

    CUvideoparser parser;
    CUvideodecoder decoder;
    CUstream stream;      /* the camera's stream (given, or ours) */
    int own_stream;
    AVBSFContext *bsf;    /* NULL when packets are Annex-B already */
    AVPacket *pkt;

    /* sequence */
    cudaVideoCodec codec;
    int coded_w, coded_h, max_w, max_h;
    int disp_w, disp_h, surface_h;
    int num_decode, num_output;
    pan_color_matrix matrix;
    pan_color_range range;

    CUVIDPARSERDISPINFO disp[DISP_CAP];
    int disp_head, disp_count;
    int eos;              /* the parser signalled the end (NOTIFY_EOS) */
    int draining;

    pan_status fatal;     /* stored by callbacks; fatal for the camera */
    int damaged;          /* a decode/parse failure seen since the last check */
    int need_keyframe;
    /* the head display entry was found still decoding: since when (CLOCK_MONOTONIC s, 0 = not) */
    double busy_since;

    /* Timestamps of packets an edit list hides (pan_packet.discard): decoded as references, their
     * pictures are not shown, as libavcodec drops them for the cpu decoder. A ring: edit lists
     * hide the start of a GOP, far fewer pictures than this. */
    int64_t hidden[HIDDEN_CAP];
    int n_hidden, hidden_next;

    nv_slot *slots;
    int mapped;
    pan_decoder_stats *stats;
    /* params->frame_back (NULL once destroyed) and whether receive is waiting for it (c->lock);
     * since when every output surface has been held (CLOCK_MONOTONIC s, 0 = not) */
    void (*frame_back)(void *opaque);
    void *frame_back_opaque;
    int want_back;
    double held_since;
};

/* ---- callbacks: record only ---- */

static const char *codec_name(cudaVideoCodec c)
{
    return c == cudaVideoCodec_H264 ? "H.264" : c == cudaVideoCodec_HEVC ? "HEVC" : "this codec";
}

/* Reads the engine's limits for the stream; PAN_UNSUPPORTED with a message naming the camera. */
static pan_status check_caps(nv_ctx *c, cudaVideoCodec codec, cudaVideoChromaFormat chroma, int bit_depth_minus8, int w, int h)
{
    CUVIDDECODECAPS caps;
    if (chroma != cudaVideoChromaFormat_420 || bit_depth_minus8 != 0) {
        pan_log_error("nvdec", c->camera, "%s: %s stream with %s %d-bit samples: the NVDEC path takes 8-bit 4:2:0 only; "
                      "use --fallback cpu for this camera", c->uri, codec_name(codec),
                      chroma == cudaVideoChromaFormat_422 ? "4:2:2" : chroma == cudaVideoChromaFormat_444 ? "4:4:4" :
                      chroma == cudaVideoChromaFormat_Monochrome ? "monochrome" : "4:2:0", 8 + bit_depth_minus8);
        return PAN_UNSUPPORTED;
    }
    if (!cv->cuvidGetDecoderCaps) return PAN_OK; /* very old driver: let cuvidCreateDecoder decide */
    memset(&caps, 0, sizeof caps);
    caps.eCodecType = codec;
    caps.eChromaFormat = chroma;
    caps.nBitDepthMinus8 = (unsigned)bit_depth_minus8;
    pan_status st = CU_CHECK(cv->cuvidGetDecoderCaps(&caps), c->camera);
    if (st) return st;
    if (!caps.bIsSupported) {
        pan_log_error("nvdec", c->camera, "%s: this GPU's NVDEC cannot decode %s 8-bit 4:2:0; use --fallback cpu for this camera",
                      c->uri, codec_name(codec));
        return PAN_UNSUPPORTED;
    }
    if (w > (int)caps.nMaxWidth || h > (int)caps.nMaxHeight || w < caps.nMinWidth || h < caps.nMinHeight ||
        (unsigned)((w + 15) / 16) * (unsigned)((h + 15) / 16) > caps.nMaxMBCount) {
        pan_log_error("nvdec", c->camera, "%s: %dx%d %s is outside this GPU's NVDEC limits (%ux%u .. %ux%u, %u macroblocks); "
                      "use --fallback cpu for this camera", c->uri, w, h, codec_name(codec), caps.nMinWidth,
                      caps.nMinHeight, caps.nMaxWidth, caps.nMaxHeight, caps.nMaxMBCount);
        return PAN_UNSUPPORTED;
    }
    return PAN_OK;
}

static void signal_to_color(nv_ctx *c, const CUVIDEOFORMAT *f)
{
    /* The same choice the cpu decoder makes from libavcodec's reading of the same VUI:
     * matrix_coefficients 1 = BT.709, 5/6 = BT.601, unspecified: by size (HD is BT.709). */
    switch (f->video_signal_description.matrix_coefficients) {
    case 1: c->matrix = PAN_COLOR_BT709; break;
    case 5:
    case 6: c->matrix = PAN_COLOR_BT601; break;
    default: c->matrix = c->disp_h > 576 ? PAN_COLOR_BT709 : PAN_COLOR_BT601; break;
    }
    c->range = f->video_signal_description.video_full_range_flag ? PAN_RANGE_FULL : PAN_RANGE_LIMITED;
}

static int CUDAAPI on_sequence(void *opaque, CUVIDEOFORMAT *f)
{
    nv_ctx *c = opaque;
    pan_status st;
    int dw = f->display_area.right - f->display_area.left, dh = f->display_area.bottom - f->display_area.top;
    int num = f->min_num_decode_surfaces + SURFACE_MARGIN(c);
    if (c->fatal) return 0;
    if (num > 32) num = 32; /* nvcuvid's maximum for H.264/HEVC */
    if (c->decoder && f->codec == c->codec && (int)f->coded_width == c->coded_w && (int)f->coded_height == c->coded_h &&
        dw == c->disp_w && dh == c->disp_h && num <= c->num_decode) {
        signal_to_color(c, f);
        return c->num_decode; /* same stream again (e.g. a looped file): nothing to do */
    }
    if ((st = check_caps(c, f->codec, f->chroma_format, f->bit_depth_luma_minus8, (int)f->coded_width, (int)f->coded_height))) {
        c->fatal = st;
        return 0;
    }
    if (c->decoder && f->codec == c->codec && (int)f->coded_width <= c->max_w && (int)f->coded_height <= c->max_h &&
        num <= c->num_decode && c->mapped == 0) {
        /* size change within the maximum the decoder was made for: reconfigure in place */
        CUVIDRECONFIGUREDECODERINFO rc;
        memset(&rc, 0, sizeof rc);
        rc.ulWidth = f->coded_width;
        rc.ulHeight = f->coded_height;
        rc.ulTargetWidth = (unsigned)dw;
        rc.ulTargetHeight = (unsigned)dh;
        rc.ulNumDecodeSurfaces = (unsigned)c->num_decode;
        rc.display_area.left = (short)f->display_area.left;
        rc.display_area.top = (short)f->display_area.top;
        rc.display_area.right = (short)f->display_area.right;
        rc.display_area.bottom = (short)f->display_area.bottom;
        if ((st = CU_CHECK(cv->cuvidReconfigureDecoder(c->decoder, &rc), c->camera))) {
            c->fatal = st;
            return 0;
        }
    } else {
        if (c->decoder) {
            if (c->mapped > 0) {
                /* A new decoder would invalidate surfaces still held downstream. */
                pan_log_error("nvdec", c->camera, "%s: the stream changed format (%dx%d) while %d frame(s) are still held",
                              c->uri, dw, dh, c->mapped);
                c->fatal = PAN_STATE;
                return 0;
            }
            cv->cuvidDestroyDecoder(c->decoder);
            c->decoder = NULL;
        }
        CUVIDDECODECREATEINFO ci;
        memset(&ci, 0, sizeof ci);
        ci.CodecType = f->codec;
        ci.ChromaFormat = f->chroma_format;
        ci.OutputFormat = cudaVideoSurfaceFormat_NV12;
        ci.bitDepthMinus8 = f->bit_depth_luma_minus8;
        ci.DeinterlaceMode = f->progressive_sequence ? cudaVideoDeinterlaceMode_Weave : cudaVideoDeinterlaceMode_Adaptive;
        ci.ulWidth = f->coded_width;
        ci.ulHeight = f->coded_height;
        ci.ulMaxWidth = f->coded_width;
        ci.ulMaxHeight = f->coded_height;
        ci.ulTargetWidth = (unsigned)dw;
        ci.ulTargetHeight = (unsigned)dh;
        ci.display_area.left = (short)f->display_area.left;
        ci.display_area.top = (short)f->display_area.top;
        ci.display_area.right = (short)f->display_area.right;
        ci.display_area.bottom = (short)f->display_area.bottom;
        ci.ulNumDecodeSurfaces = (unsigned)num;
        ci.ulNumOutputSurfaces = (unsigned)c->num_output;
        ci.ulCreationFlags = cudaVideoCreate_PreferCUVID;
        if ((st = CU_CHECK(cv->cuvidCreateDecoder(&c->decoder, &ci), c->camera))) {
            c->fatal = st;
            return 0;
        }
        c->codec = f->codec;
        c->max_w = (int)f->coded_width;
        c->max_h = (int)f->coded_height;
        c->num_decode = num;
    }
    c->coded_w = (int)f->coded_width;
    c->coded_h = (int)f->coded_height;
    c->disp_w = dw;
    c->disp_h = dh;
    c->surface_h = (dh + 1) & ~1; /* chroma starts after the luma rows of the output surface */
    /* what the surfaces hold on the device: NV12 rows 256-byte aligned, each surface in 2 MiB
     * pages (a 1080p surface takes 4 MiB: measured on an H200, where a camera costs 4 MiB a
     * surface and 6.9 MiB of the decoder's own) */
    const int64_t page = (int64_t)2 << 20;
    int64_t decode_one = (int64_t)((c->max_w + 255) & ~255) * ((c->max_h + 1) & ~1) * 3 / 2;
    int64_t output_one = (int64_t)((dw + 255) & ~255) * c->surface_h * 3 / 2;
    decode_one = (decode_one + page - 1) / page * page;
    output_one = (output_one + page - 1) / page * page;
    c->stats->surface_bytes = (int64_t)c->num_decode * decode_one + (int64_t)c->num_output * output_one;
    signal_to_color(c, f);
    pan_log_info("nvdec", c->camera, "%s: %s %dx%d, %d decode surfaces (stream minimum %d + %d), %d output surfaces",
                 c->uri, codec_name(f->codec), dw, dh, c->num_decode, f->min_num_decode_surfaces, SURFACE_MARGIN(c), c->num_output);
    return c->num_decode; /* > 1: the parser cycles through this many surfaces */
}

static int CUDAAPI on_decode(void *opaque, CUVIDPICPARAMS *pic)
{
    nv_ctx *c = opaque;
    if (c->fatal || !c->decoder) return 0;
    CUresult r = cv->cuvidDecodePicture(c->decoder, pic);
    if (r != CUDA_SUCCESS) {
        const char *name = NULL;
        cu->cuGetErrorName(r, &name);
        pan_log_warn("nvdec", c->camera, "%s: cuvidDecodePicture failed (%s): damaged picture", c->uri, name ? name : "?");
        c->damaged = 1;
        return 0;
    }
    return 1;
}

static int CUDAAPI on_display(void *opaque, CUVIDPARSERDISPINFO *d)
{
    nv_ctx *c = opaque;
    if (!d) { /* NOTIFY_EOS: the parser has displayed everything */
        c->eos = 1;
        return 1;
    }
    if (c->disp_count == DISP_CAP) {
        c->fatal = PAN_STATE; /* cannot happen with the parser's own limits; never overwrite */
        return 0;
    }
    c->disp[(c->disp_head + c->disp_count) % DISP_CAP] = *d;
    c->disp_count++;
    return 1;
}

/* ---- frames ---- */

static void ctx_free(nv_ctx *c)
{
    if (c->decoder) cv->cuvidDestroyDecoder(c->decoder);
    if (c->slots)
        for (int i = 0; i < c->num_output; i++)
            if (c->slots[i].ready) cu->cuEventDestroy(c->slots[i].ready);
    if (c->own_stream && c->stream) cu->cuStreamDestroy(c->stream);
    free(c->slots);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->released);
    free(c);
}

/* Drops one reference to the context, with c->lock held; frees it on the last. */
static void ctx_unref_locked(nv_ctx *c)
{
    int last = --c->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (last) ctx_free(c);
}

static void frame_release(pan_frame *f, void *opaque)
{
    nv_slot *s = (nv_slot *)f;
    nv_ctx *c = opaque;
    (void)pan_gpu_init(c->device); /* any thread may drop the last reference */
    pthread_mutex_lock(&c->lock);
    /* cuvidUnmapVideoFrame orders itself after the work queued on the surface by the map; the
     * consumer guarantees its kernels have finished (pan_preprocess_gpu_wait) before unref. */
    (void)CU_CHECK(cv->cuvidUnmapVideoFrame(c->decoder, s->mapped), c->camera);
    s->busy = 0;
    s->mapped = 0;
    c->mapped--;
    pthread_cond_signal(&c->released);
    /* under the lock: nv_destroy clears frame_back under it, and the camera may go after that */
    if (c->want_back && c->frame_back) c->frame_back(c->frame_back_opaque);
    c->want_back = 0;
    ctx_unref_locked(c);
}

void *pan__nvdec_frame_event(const pan_frame *f)
{
    if (!f || f->release != frame_release) return NULL;
    return (void *)((const nv_slot *)f)->ready;
}

/* ---- ops ---- */

static void nv_destroy(pan_decoder *dec)
{
    nv_ctx *c = dec->priv;
    if (!c) return;
    dec->priv = NULL;
    (void)pan_gpu_init(c->device);
    if (c->parser) cv->cuvidDestroyVideoParser(c->parser);
    c->parser = NULL;
    av_bsf_free(&c->bsf);
    av_packet_free(&c->pkt);
    pthread_mutex_lock(&c->lock);
    c->stats = NULL;
    c->frame_back = NULL;
    ctx_unref_locked(c); /* the decoder itself goes when the last mapped frame is released */
}

static pan_status nv_create(pan_decoder *dec, const pan_decoder_params *p)
{
    const AVCodecParameters *par = p->codecpar;
    nv_ctx *c;
    pan_status st;
    if (!pan_decoder_nvdec_available()) {
        pan_log_error("nvdec", p->camera, "%s: NVDEC is not available on this machine (no NVIDIA driver, libnvcuvid or GPU); "
                      "use --backend cpu", p->uri ? p->uri : "?");
        return PAN_NOGPU;
    }
    if ((st = pan_gpu_init(p->device))) return st;
    c = calloc(1, sizeof *c);
    if (!c) return PAN_NOMEM;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->released, NULL);
    c->refs = 1;
    c->camera = p->camera;
    c->device = p->device;
    c->display_delay = display_delay();
    c->spare = spare_surfaces();
    c->uri = p->uri ? p->uri : "?";
    c->time_base = p->time_base_den > 0 ? (double)p->time_base_num / p->time_base_den : 0.0;
    c->stats = &dec->stats;
    c->frame_back = p->frame_back;
    c->frame_back_opaque = p->frame_back_opaque;
    c->num_output = p->max_frames > 0 ? p->max_frames : 8;
    if (c->num_output > 64) c->num_output = 64; /* nvcuvid's limit on simultaneously mapped frames */
    dec->priv = c;

    switch (par->codec_id) {
    case AV_CODEC_ID_H264: c->codec = cudaVideoCodec_H264; break;
    case AV_CODEC_ID_HEVC: c->codec = cudaVideoCodec_HEVC; break;
    default:
        pan_log_error("nvdec", p->camera, "%s: codec %s is not supported by the NVDEC path (H.264 and HEVC are); "
                      "use --fallback cpu for this camera", c->uri, avcodec_get_name(par->codec_id));
        st = PAN_UNSUPPORTED;
        goto fail;
    }
    /* Early, clear refusal from the container's description; the sequence header is checked again. */
    {
        const AVPixFmtDescriptor *pd = av_pix_fmt_desc_get((enum AVPixelFormat)par->format);
        cudaVideoChromaFormat chroma = cudaVideoChromaFormat_420;
        int depth_minus8 = 0;
        if (pd) {
            depth_minus8 = pd->comp[0].depth - 8;
            chroma = pd->nb_components == 1 ? cudaVideoChromaFormat_Monochrome
                     : pd->log2_chroma_w == 0 ? cudaVideoChromaFormat_444
                     : pd->log2_chroma_h == 0 ? cudaVideoChromaFormat_422 : cudaVideoChromaFormat_420;
        }
        if ((st = check_caps(c, c->codec, chroma, depth_minus8, par->width, par->height))) goto fail;
    }

    /* MP4/MKV carry avcC/hvcC extradata (first byte 1) and length-prefixed NAL units: convert.
     * Annex-B sources (.h264, MPEG-TS, RTSP) have start codes already and pass through. */
    if (par->extradata_size > 0 && par->extradata[0] == 1) {
        const AVBitStreamFilter *f = av_bsf_get_by_name(c->codec == cudaVideoCodec_H264 ? "h264_mp4toannexb" : "hevc_mp4toannexb");
        if (!f || av_bsf_alloc(f, &c->bsf) < 0 || avcodec_parameters_copy(c->bsf->par_in, par) < 0 || av_bsf_init(c->bsf) < 0) {
            pan_log_error("nvdec", p->camera, "%s: cannot set up the Annex-B bitstream filter", c->uri);
            st = PAN_UNSUPPORTED;
            goto fail;
        }
    }
    c->pkt = av_packet_alloc();
    c->slots = calloc((size_t)c->num_output, sizeof *c->slots);
    if (!c->pkt || !c->slots) {
        st = PAN_NOMEM;
        goto fail;
    }
    for (int i = 0; i < c->num_output; i++)
        if ((st = CU_CHECK(cu->cuEventCreate(&c->slots[i].ready, CU_EVENT_DISABLE_TIMING), c->camera))) goto fail;
    if (p->cuda_stream) {
        c->stream = (CUstream)p->cuda_stream;
    } else {
        if ((st = CU_CHECK(cu->cuStreamCreate(&c->stream, CU_STREAM_NON_BLOCKING), c->camera))) goto fail;
        c->own_stream = 1;
    }

    CUVIDPARSERPARAMS pp;
    memset(&pp, 0, sizeof pp);
    pp.CodecType = c->codec;
    pp.ulMaxNumDecodeSurfaces = 1; /* raised by the sequence callback's return value */
    pp.ulMaxDisplayDelay = (unsigned)c->display_delay;
    pp.ulErrorThreshold = 100; /* decode even damaged pictures: NVDEC conceals, we count */
    pp.pUserData = c;
    pp.pfnSequenceCallback = on_sequence;
    pp.pfnDecodePicture = on_decode;
    pp.pfnDisplayPicture = on_display;
    if ((st = CU_CHECK(cv->cuvidCreateVideoParser(&c->parser, &pp), c->camera))) goto fail;
    return PAN_OK;
fail:
    nv_destroy(dec);
    return st;
}

/* One Annex-B buffer into the parser; then the stored callback results. */
static pan_status parse(pan_decoder *dec, nv_ctx *c, const uint8_t *data, int size, int64_t pts, unsigned flags)
{
    CUVIDSOURCEDATAPACKET sp;
    memset(&sp, 0, sizeof sp);
    sp.payload = data;
    sp.payload_size = (unsigned long)size;
    sp.flags = flags;
    if (pts != AV_NOPTS_VALUE && pts != INT64_MIN) {
        sp.flags |= CUVID_PKT_TIMESTAMP;
        sp.timestamp = pts;
    }
    pthread_mutex_lock(&c->lock);
    CUresult r = cv->cuvidParseVideoData(c->parser, &sp);
    pthread_mutex_unlock(&c->lock);
    if (c->fatal) return c->fatal;
    if (r != CUDA_SUCCESS || c->damaged) {
        const char *name = NULL;
        if (r != CUDA_SUCCESS) cu->cuGetErrorName(r, &name);
        dec->stats.errors++;
        c->damaged = 0;
        if (!c->need_keyframe)
            pan_log_warn("nvdec", c->camera, "%s: damaged data in the bitstream (%s); resuming at the next keyframe",
                         c->uri, name ? name : "picture not decodable");
        c->need_keyframe = 1;
    }
    return PAN_OK;
}

static pan_status nv_send_packet(pan_decoder *dec, const pan_packet *pkt)
{
    nv_ctx *c = dec->priv;
    pan_status st;
    int ret;
    if (c->fatal) return c->fatal;
    if (c->disp_count > 0) return PAN_EAGAIN; /* map what was displayed before its surface is reused */
    if (c->draining) return PAN_EOF;
    if ((st = pan_gpu_init(c->device))) return st;
    if (!pkt) {
        c->draining = 1;
        if (c->bsf) {
            av_bsf_send_packet(c->bsf, NULL);
            while (av_bsf_receive_packet(c->bsf, c->pkt) == 0) {
                st = parse(dec, c, c->pkt->data, c->pkt->size, c->pkt->pts, 0);
                av_packet_unref(c->pkt);
                if (st) return st;
            }
        }
        return parse(dec, c, NULL, 0, AV_NOPTS_VALUE, CUVID_PKT_ENDOFSTREAM | CUVID_PKT_NOTIFY_EOS);
    }
    unsigned flags = 0;
    if (c->need_keyframe) {
        if (!pkt->keyframe) {
            dec->stats.skipped++;
            dec->stats.lost++;
            return PAN_OK;
        }
        flags |= CUVID_PKT_DISCONTINUITY; /* the parser forgets references lost with the damage */
        c->need_keyframe = 0;
        pan_log_info("nvdec", c->camera, "%s: keyframe after damage, decoding again", c->uri);
    }
    if (pkt->discard && pkt->pts != INT64_MIN) {
        c->hidden[c->hidden_next] = pkt->pts;
        c->hidden_next = (c->hidden_next + 1) % HIDDEN_CAP;
        if (c->n_hidden < HIDDEN_CAP) c->n_hidden++;
    }
    if (!c->bsf) return parse(dec, c, pkt->data, pkt->size, pkt->pts, flags);

    if (pkt->av_packet) {
        ret = av_packet_ref(c->pkt, pkt->av_packet);
    } else {
        ret = av_new_packet(c->pkt, pkt->size);
        if (ret == 0) {
            memcpy(c->pkt->data, pkt->data, (size_t)pkt->size);
            c->pkt->pts = pkt->pts == INT64_MIN ? AV_NOPTS_VALUE : pkt->pts;
            if (pkt->keyframe) c->pkt->flags |= AV_PKT_FLAG_KEY;
        }
    }
    if (ret < 0) return PAN_NOMEM;
    ret = av_bsf_send_packet(c->bsf, c->pkt);
    av_packet_unref(c->pkt);
    if (ret < 0) {
        /* a packet the filter cannot convert (truncated length prefix): damage */
        dec->stats.errors++;
        c->need_keyframe = 1;
        pan_log_warn("nvdec", c->camera, "%s: malformed packet; resuming at the next keyframe", c->uri);
        return PAN_OK;
    }
    while ((ret = av_bsf_receive_packet(c->bsf, c->pkt)) == 0) {
        st = parse(dec, c, c->pkt->data, c->pkt->size, c->pkt->pts, flags);
        flags = 0;
        av_packet_unref(c->pkt);
        if (st) return st;
    }
    return PAN_OK;
}

/* 1 when a displayed picture's timestamp is one an edit list hides (and forgets it). */
static int take_hidden(nv_ctx *c, int64_t ts)
{
    for (int i = 0; i < c->n_hidden; i++) {
        int k = (c->hidden_next - 1 - i + HIDDEN_CAP) % HIDDEN_CAP;
        if (c->hidden[k] != ts) continue;
        c->hidden[k] = INT64_MIN; /* a ring slot: cleared rather than moved */
        return 1;
    }
    return 0;
}

static pan_status nv_receive_frame(pan_decoder *dec, pan_frame **out)
{
    nv_ctx *c = dec->priv;
    pan_status st;
    *out = NULL;
    if (c->fatal) return c->fatal;
    if ((st = pan_gpu_init(c->device))) return st;
    while (c->disp_count > 0) {
        CUVIDPARSERDISPINFO d = c->disp[c->disp_head];
        if (cv->cuvidGetDecodeStatus) {
            /* Not decoded yet: the map would wait for the engine, holding an I/O thread that
             * serves other cameras; they come back for it instead (PAN_BUSY), while NVDEC decodes
             * every camera's queued pictures. A picture still "in progress" after BUSY_MAX_S is
             * mapped anyway (the map waits): a driver whose status never moves on cannot stall
             * the camera. Once draining, the last pictures are waited for: callers that read
             * until the first status other than PAN_OK after the end of input (decoder.h) lost
             * the last frame when it was still being decoded (display delay 0 made it likely). */
            CUVIDGETDECODESTATUS ds;
            memset(&ds, 0, sizeof ds);
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            double t = (double)now.tv_sec + now.tv_nsec * 1e-9;
            if (!c->draining && (c->busy_since == 0 || t - c->busy_since < BUSY_MAX_S) &&
                cv->cuvidGetDecodeStatus(c->decoder, d.picture_index, &ds) == CUDA_SUCCESS &&
                ds.decodeStatus == cuvidDecodeStatus_InProgress) {
                if (c->busy_since == 0) c->busy_since = t;
                return PAN_BUSY;
            }
            c->busy_since = 0;
        }
        if (c->frame_back) {
            /* every output surface held downstream: the caller is told when one comes back */
            pthread_mutex_lock(&c->lock);
            int full = c->mapped == c->num_output;
            c->want_back = full;
            pthread_mutex_unlock(&c->lock);
            if (full) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                double t = (double)now.tv_sec + now.tv_nsec * 1e-9;
                if (c->held_since == 0) c->held_since = t;
                if (t - c->held_since < HELD_MAX_S) return PAN_LIMIT;
                pan_log_error("nvdec", c->camera, "%s: all %d mapped frames held downstream for %.0f s; the consumer is stuck",
                              c->uri, c->num_output, HELD_MAX_S);
                return PAN_TIMEOUT;
            }
            c->held_since = 0;
        }
        c->disp_head = (c->disp_head + 1) % DISP_CAP;
        c->disp_count--;
        if (c->n_hidden && take_hidden(c, (int64_t)d.timestamp)) {
            /* decoded for reference only: nothing to map (the parser reuses the surface) */
            continue;
        }

        pthread_mutex_lock(&c->lock);
        while (c->mapped == c->num_output) {
            /* back-pressure: every output surface is held downstream */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 10;
            if (pthread_cond_timedwait(&c->released, &c->lock, &ts) != 0 && c->mapped == c->num_output) {
                pthread_mutex_unlock(&c->lock);
                pan_log_error("nvdec", c->camera, "%s: all %d mapped frames held downstream for 10 s; the consumer is stuck",
                              c->uri, c->num_output);
                return PAN_TIMEOUT;
            }
        }
        nv_slot *s = NULL;
        for (int i = 0; i < c->num_output; i++)
            if (!c->slots[i].busy) {
                s = &c->slots[i];
                break;
            }
        CUVIDPROCPARAMS pp;
        memset(&pp, 0, sizeof pp);
        pp.progressive_frame = d.progressive_frame;
        pp.top_field_first = d.top_field_first;
        pp.unpaired_field = d.repeat_first_field < 0;
        pp.output_stream = c->stream;
        unsigned pitch = 0;
        CUdeviceptr ptr = 0;
        CUresult r = cv->cuvidMapVideoFrame(c->decoder, d.picture_index, &ptr, &pitch, &pp);
        if (r != CUDA_SUCCESS) {
            pthread_mutex_unlock(&c->lock);
            (void)CU_CHECK(r, c->camera);
            dec->stats.errors++;
            dec->stats.lost++;
            c->need_keyframe = 1;
            continue; /* the camera lives on; the picture is lost */
        }
        if (cv->cuvidGetDecodeStatus) {
            /* after the map, which waited for the engine: the status is final */
            CUVIDGETDECODESTATUS ds;
            memset(&ds, 0, sizeof ds);
            if (cv->cuvidGetDecodeStatus(c->decoder, d.picture_index, &ds) == CUDA_SUCCESS &&
                (ds.decodeStatus == cuvidDecodeStatus_Error || ds.decodeStatus == cuvidDecodeStatus_Error_Concealed)) {
                dec->stats.errors++;
                if (ds.decodeStatus == cuvidDecodeStatus_Error_Concealed) dec->stats.concealed++;
                if (ds.decodeStatus == cuvidDecodeStatus_Error) {
                    dec->stats.lost++;
                    cv->cuvidUnmapVideoFrame(c->decoder, ptr);
                    pthread_mutex_unlock(&c->lock);
                    if (!c->need_keyframe)
                        pan_log_warn("nvdec", c->camera, "%s: picture decoded with errors, dropped; resuming at the next keyframe", c->uri);
                    c->need_keyframe = 1;
                    continue;
                }
            }
        }
        r = cu->cuEventRecord(s->ready, c->stream);
        if (r != CUDA_SUCCESS) {
            cv->cuvidUnmapVideoFrame(c->decoder, ptr);
            pthread_mutex_unlock(&c->lock);
            return CU_CHECK(r, c->camera);
        }
        s->busy = 1;
        s->mapped = ptr;
        s->ctx = c;
        c->mapped++;
        c->refs++;
        pthread_mutex_unlock(&c->lock);

        pan_frame *f = &s->frame;
        memset(f, 0, offsetof(pan_frame, refs));
        f->width = c->disp_w;
        f->height = c->disp_h;
        f->format = PAN_PIXFMT_NV12;
        f->memory = PAN_MEMORY_DEVICE;
        f->device = c->device;
        f->matrix = c->matrix;
        f->range = c->range;
        /* NV12 output surface: luma rows, then interleaved CbCr rows, same pitch (bytes). */
        f->data[0] = (uint8_t *)(uintptr_t)ptr;
        f->data[1] = (uint8_t *)(uintptr_t)(ptr + (CUdeviceptr)pitch * (CUdeviceptr)c->surface_h);
        f->pitch[0] = f->pitch[1] = (int)pitch;
        f->pts = c->time_base > 0 ? (double)d.timestamp * c->time_base : NAN;
        pan_frame_init_ref(f, frame_release, c);
        pan_log_debug("nvdec", c->camera, "frame mapped: surface %d, pitch %u", d.picture_index, pitch);
        *out = f;
        return PAN_OK;
    }
    return c->draining ? PAN_EOF : PAN_EAGAIN; /* after the EOS parse every picture has been displayed */
}

const pan_decoder_ops pan__decoder_nvdec_ops = {
    .name = "nvdec",
    .create = nv_create,
    .destroy = nv_destroy,
    .send_packet = nv_send_packet,
    .receive_frame = nv_receive_frame,
};

#else /* CUDA without the ffnvcodec headers: nothing decodes on the GPU */

#include "decode/nvdec_frame.h"

/* pan_decoder_nvdec_available() returns 0 from decode/decoder.c in this configuration. */
void *pan__nvdec_frame_event(const pan_frame *f)
{
    (void)f;
    return NULL;
}

#endif
