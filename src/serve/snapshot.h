/* Snapshots for GET /api/cameras/{id}/snapshot.jpg, taken only when asked.
 *
 * A request registers that it wants camera N's next frame and waits. The delivery thread offers
 * every frame (one atomic load when nobody waits); the first frame of a wanted camera is copied
 * into a host YUV 4:2:0 picture (a device frame is downloaded first: one frame per request, counted
 * in bytes_downloaded and in the pipeline's pixel-copy count), its boxes and track ids are drawn
 * in, and every request waiting for that camera receives it. The request then encodes it (JPEG).
 * The last picture of each camera is kept, for cameras that have ended or stalled. */
#ifndef PANOPTES_SERVE_SNAPSHOT_H
#define PANOPTES_SERVE_SNAPSHOT_H

#include <stdint.h>

#include "panoptes/detection.h"
#include "panoptes/frame.h"
#include "panoptes/status.h"

/* A picture: planar YUV 4:2:0, luma width x height, chroma (width+1)/2 x (height+1)/2, in one
 * allocation. Read-only once handed out; reference-counted. */
typedef struct pan_serve_image {
    int camera;
    int64_t frame; /* the frame's index in its camera's stream */
    double pts;
    int width, height;
    uint8_t *y, *u, *v;
    int pitch_y, pitch_c;
    int refs; /* atomic builtins */
} pan_serve_image;

/* A blank (mid-grey) picture with one reference. */
pan_status pan_serve_image_create(pan_serve_image **img, int width, int height);
pan_serve_image *pan_serve_image_ref(pan_serve_image *img);
void pan_serve_image_unref(pan_serve_image **img);

typedef struct pan_serve_snapshots pan_serve_snapshots;

pan_status pan_serve_snapshots_create(pan_serve_snapshots **s);
/* Wakes waiters (PAN_CLOSED) and frees; call after the pipeline no longer offers. NULL-safe. */
void pan_serve_snapshots_destroy(pan_serve_snapshots **s);

/* Delivery side, for every frame of every camera: returns at once unless a request is waiting for
 * this camera. image may be host or device memory (NV12 or YUV 4:2:0), or NULL (nothing to take). */
void pan_serve_snapshots_offer(pan_serve_snapshots *s, int camera, int64_t frame, double pts, const pan_frame *image,
                               const pan_detection *dets, int n_dets, const pan_track_report *tracks, int n_tracks);
/* The camera sends no more frames (a final state): waiting requests get its last picture or
 * PAN_EOF. removed: it is gone; its picture is freed and later requests get PAN_NOTFOUND. */
void pan_serve_snapshots_end(pan_serve_snapshots *s, int camera, int removed);

/* Request side: the camera's next frame within timeout_ms (or its last picture when none comes,
 * or at once when it has ended). PAN_TIMEOUT / PAN_EOF when there is no picture at all,
 * PAN_NOTFOUND after it was removed, PAN_CLOSED when closing. */
pan_status pan_serve_snapshots_get(pan_serve_snapshots *s, int camera, int timeout_ms, pan_serve_image **out);
/* Wakes every waiter with PAN_CLOSED; offers and requests after it are refused. */
void pan_serve_snapshots_close(pan_serve_snapshots *s);

/* Pixel bytes downloaded from the device for snapshots so far. */
int64_t pan_serve_snapshots_bytes_downloaded(pan_serve_snapshots *s);

#endif
