/* Internal: display rotation as a map from displayed to stored pixel positions, shared by the cpu
 * samplers (preprocess.c, roi_crop.c) and the CUDA kernels (preprocess.cu, roi_crop.cu) so that
 * both backends turn frames the same way. Plain C (no frame.h): nvcc includes it.
 *
 * A frame stored w x h and rotated r degrees clockwise for display is shown dw x dh (w x h, or
 * h x w at 90/270). Positions use the pixel-centre convention of preprocess.h (pixel (x, y)'s
 * centre is (x, y)); displayed (ud, vd) reads stored
 *     u = a·ud + b·vd + c,   v = d·ud + e·vd + f
 *   r =   0: (ud, vd)                r =  90: (vd, h − 1 − ud)
 *   r = 180: (w − 1 − ud, h − 1 − vd)   r = 270: (w − 1 − vd, ud)
 * The coefficients are 0 or ±1 and the offsets integers, so the map is exact in float. */
#ifndef PANOPTES_VISION_DISPLAY_ROTATION_H
#define PANOPTES_VISION_DISPLAY_ROTATION_H

typedef struct pan__rot_map {
    float a, b, c, d, e, f;
} pan__rot_map;

static inline pan__rot_map pan__rot_map_make(int rotation, int w, int h)
{
    pan__rot_map m = {1.f, 0.f, 0.f, 0.f, 1.f, 0.f};
    switch (rotation) {
    case 90: m = (pan__rot_map){0.f, 1.f, 0.f, -1.f, 0.f, (float)(h - 1)}; break;
    case 180: m = (pan__rot_map){-1.f, 0.f, (float)(w - 1), 0.f, -1.f, (float)(h - 1)}; break;
    case 270: m = (pan__rot_map){0.f, -1.f, (float)(w - 1), 1.f, 0.f, 0.f}; break;
    default: break;
    }
    return m;
}

#endif
