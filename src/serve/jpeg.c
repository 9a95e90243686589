/* JPEG encoding of snapshots (src/serve/jpeg.h). */
#include "serve/jpeg.h"

#include <turbojpeg.h>

#include "panoptes/log.h"

pan_status pan_serve_jpeg_encode(const pan_serve_image *img, int quality, unsigned char **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    /* one handle per call: a few kilobytes, and requests on different threads never share one */
    tjhandle tj = tjInitCompress();
    if (!tj) return PAN_NOMEM;
    const unsigned char *planes[3] = {img->y, img->u, img->v};
    int strides[3] = {img->pitch_y, img->pitch_c, img->pitch_c};
    unsigned char *buf = NULL;
    unsigned long len = 0;
    pan_status st = PAN_OK;
    if (tjCompressFromYUVPlanes(tj, planes, img->width, strides, img->height, TJSAMP_420, &buf, &len, quality,
                                TJFLAG_FASTDCT) < 0) {
        pan_log_warn("serve", img->camera, "snapshot: JPEG encoding failed: %s", tjGetErrorStr2(tj));
        tjFree(buf);
        st = PAN_IO;
    } else {
        *out = buf;
        *size = len;
    }
    tjDestroy(tj);
    return st;
}

void pan_serve_jpeg_free(void *buf) { tjFree(buf); }
