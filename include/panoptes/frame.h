/* Decoded video frames, shared by every decoder (libavcodec on the host, NVDEC on the GPU).
 *
 * A frame is a reference-counted view of pixel memory that belongs to someone else: a host
 * buffer pool (cpu decoder) or a mapped NVDEC surface (cuda decoder). When the last reference
 * is dropped, `release` hands the memory back (returns the buffer to its pool, unmaps the surface).
 *
 * Layouts: NV12 = plane 0 luma (width x height), plane 1 interleaved CbCr (width x height/2,
 * pairs of bytes). YUV420P = three planes, chroma (width/2 x height/2). Rows are `pitch` bytes
 * apart. Pixel (x, y) has its centre at (x + 0.5, y + 0.5) in source coordinates. */
#ifndef PANOPTES_FRAME_H
#define PANOPTES_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pan_pixfmt {
    PAN_PIXFMT_NONE = 0,
    PAN_PIXFMT_NV12,
    PAN_PIXFMT_YUV420P,
} pan_pixfmt;

/* Where the planes live: host memory, or device memory of `device` (CUDA ordinal). */
typedef enum pan_memory {
    PAN_MEMORY_HOST = 0,
    PAN_MEMORY_DEVICE,
} pan_memory;

typedef enum pan_color_matrix {
    PAN_COLOR_BT601 = 0, /* also the default for unspecified SD content */
    PAN_COLOR_BT709,
} pan_color_matrix;

typedef enum pan_color_range {
    PAN_RANGE_LIMITED = 0, /* "TV": Y 16..235, C 16..240 */
    PAN_RANGE_FULL,        /* "PC"/JPEG: 0..255 */
} pan_color_range;

typedef struct pan_frame pan_frame;
typedef void (*pan_frame_release_fn)(pan_frame *frame, void *opaque);

struct pan_frame {
    int camera;        /* 0-based camera index in the pipeline */
    int64_t index;     /* 0-based index of the frame in its camera's stream (decode output order) */
    double pts;        /* presentation time in seconds (NAN when the stream has none) */
    int width, height; /* visible size in pixels */
    pan_pixfmt format;
    pan_memory memory;
    int device; /* CUDA device ordinal when memory == PAN_MEMORY_DEVICE */
    pan_color_matrix matrix;
    pan_color_range range;
    uint8_t *data[3]; /* host pointers, or device pointers (CUdeviceptr cast) */
    int pitch[3];     /* bytes per row of each plane */
    /* Display rotation: the stored picture (width x height, the planes above) turned this many
     * degrees clockwise is the picture as it is meant to be seen (0, 90, 180 or 270; a display
     * matrix in the container, as phones record). Frames are analysed as displayed: the
     * preprocessing and the ROI crops apply it, boxes and the reported size are in displayed
     * pixels (pan_frame_display_size). */
    int rotation;

    /* reference counting; private to frame.c and frame providers (an int changed only with
     * atomic builtins, so that this header is plain C and C++) */
    int refs;
    pan_frame_release_fn release;
    void *release_opaque;
};

/* The frame as displayed: width x height, swapped when rotated by 90 or 270 degrees. */
static inline void pan_frame_display_size(const pan_frame *f, int *width, int *height)
{
    int swap = f->rotation == 90 || f->rotation == 270;
    if (width) *width = swap ? f->height : f->width;
    if (height) *height = swap ? f->width : f->height;
}

/* Number of planes of a format (NV12: 2, YUV420P: 3). */
int pan_pixfmt_planes(pan_pixfmt fmt);
const char *pan_pixfmt_name(pan_pixfmt fmt);

/* Initialises the reference count to 1 and sets the release callback. */
void pan_frame_init_ref(pan_frame *frame, pan_frame_release_fn release, void *opaque);
/* Takes one more reference; returns frame. */
pan_frame *pan_frame_ref(pan_frame *frame);
/* Drops one reference, releasing the frame on the last one; sets *frame to NULL. NULL-safe. */
void pan_frame_unref(pan_frame **frame);

/* ---- host frame pool -------------------------------------------------------------------
 * Fixed-capacity pool of host frames of one size and format. pan_frame_pool_get blocks while
 * all frames are in use (back-pressure towards the decoder) unless nonblocking is set.
 * The pool may be destroyed while frames are still out: it is freed when the last one returns. */
typedef struct pan_frame_pool pan_frame_pool;

pan_status pan_frame_pool_create(pan_frame_pool **pool, int width, int height, pan_pixfmt format, int capacity);
/* Returns PAN_EAGAIN when nonblocking and empty, PAN_CLOSED after the pool is being destroyed. */
pan_status pan_frame_pool_get(pan_frame_pool *pool, int nonblocking, pan_frame **out);
void pan_frame_pool_destroy(pan_frame_pool **pool);
/* Frames currently handed out (for leak checks and tests). */
int pan_frame_pool_in_use(const pan_frame_pool *pool);

/* Copies a device frame's pixels into a host frame of the same size and format (dst from a
 * pan_frame_pool). For tools that must see pixels on the host (--annotate); counted in the run
 * summary's pixel bytes copied. PAN_NOGPU in builds without CUDA. */
pan_status pan_frame_download(const pan_frame *src, pan_frame *dst);

#ifdef __cplusplus
}
#endif
#endif
