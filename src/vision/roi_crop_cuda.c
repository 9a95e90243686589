/* Host side of the ROI crop kernel: per-crop descriptors (frame planes, colour, geometry) and the
 * batch constants. Shared by the ReID backend (reid_cuda.c), the test and the benchmark. */
#include "panoptes/log.h"
#include "vision/roi_crop.h"

#define TAG "reid"

void pan__roi_batch_init(const pan_roi_params *p, int half, pan__roi_batch *bt)
{
    bt->width = p->width;
    bt->height = p->height;
    bt->nhwc = p->layout == PAN_LAYOUT_NHWC;
    bt->bgr = p->channels == PAN_CHANNELS_BGR;
    bt->half = half;
    for (int k = 0; k < 3; k++) {
        bt->mean[k] = p->mean[k];
        bt->inv_std[k] = p->std[k] != 0.f ? 1.f / p->std[k] : 1.f;
        bt->pad[k] = (p->pad_value - p->mean[k]) * bt->inv_std[k];
    }
}

pan_status pan__roi_describe(const pan_frame *f, const float box[4], const pan_roi_params *p, pan__roi_desc *d)
{
    if (f->memory != PAN_MEMORY_DEVICE) {
        pan_log_error(TAG, f->camera, "GPU-only violation in reid crop: frame %lld is in host memory", (long long)f->index);
        return PAN_RESIDENCY;
    }
    if (f->format != PAN_PIXFMT_NV12 && f->format != PAN_PIXFMT_YUV420P) return PAN_UNSUPPORTED;
    if (f->width <= 0 || f->height <= 0) return PAN_INVAL;
    d->y = f->data[0];
    d->pitch_y = f->pitch[0];
    d->pitch_c = f->pitch[1];
    if (f->format == PAN_PIXFMT_NV12) {
        d->cb = f->data[1];
        d->cr = f->data[1] + 1;
        d->c_step = 2;
    } else {
        d->cb = f->data[1];
        d->cr = f->data[2];
        d->c_step = 1;
    }
    d->w = f->width;
    d->h = f->height;
    d->cw = (f->width + 1) / 2;
    d->ch = (f->height + 1) / 2;
    if (f->range == PAN_RANGE_LIMITED) {
        d->yoff = 16.f, d->yscale = 255.f / 219.f, d->cscale = 255.f / 224.f;
    } else {
        d->yoff = 0.f, d->yscale = 1.f, d->cscale = 1.f;
    }
    d->kr = f->matrix == PAN_COLOR_BT709 ? 0.2126f : 0.299f;
    d->kb = f->matrix == PAN_COLOR_BT709 ? 0.0722f : 0.114f;
    int dw, dh;
    pan_frame_display_size(f, &dw, &dh); /* boxes are in displayed pixels */
    pan__roi_geometry(box, dw, dh, p, &d->g);
    d->rot = pan__rot_map_make(f->rotation, f->width, f->height);
    return PAN_OK;
}

