// Batched preprocessing kernel: NV12/YUV420P surfaces of many cameras -> FP16 model input.
// One launch per batch; grid z = image index. Each thread makes one output pixel: bilinear
// luma (4 taps) and chroma (4 taps each of Cb, Cr) read straight from the decoder's surface,
// Y'CbCr -> R'G'B' of that image's matrix and range, normalisation, and 3 FP16 stores.
// The arithmetic mirrors pan_preprocess_cpu (src/vision/preprocess.c) operation by operation,
// so the two agree to float rounding (the test allows ±1 on the 0–255 scale).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "vision/preprocess_cuda.h"
#include "vision/yuv_sample.cuh"

namespace {

using pan_yuv::clampf;
using pan_yuv::clampi;
using pan_yuv::sample;

__global__ void preprocess_kernel(const pan_pp_image *__restrict__ images, pan_pp_batch bt, __half *__restrict__ out)
{
    const int X = blockIdx.x * blockDim.x + threadIdx.x;
    const int Y = blockIdx.y * blockDim.y + threadIdx.y;
    const int n = blockIdx.z;
    if (X >= bt.width || Y >= bt.height) return;
    const pan_pp_image im = images[n]; // ~100 B, uniform across the block: served by L1 broadcast

    float val[3];
    const int xi = X - (int)im.ox, yi = Y - (int)im.oy;
    if (xi >= 0 && xi < im.nw && yi >= 0 && yi < im.nh) {
        const float ud = ((float)X - im.ox + 0.5f) / im.sx - 0.5f; // displayed position
        const float vd = ((float)Y - im.oy + 0.5f) / im.sy - 0.5f;
        const float u = im.rot.a * ud + im.rot.b * vd + im.rot.c; // stored position
        const float v = im.rot.d * ud + im.rot.e * vd + im.rot.f;
        const float cu = (u + 0.5f) * 0.5f - 0.5f, cv = (v + 0.5f) * 0.5f - 0.5f; // 4:2:0 centre-sited
        float y = sample(im.y, im.pitch_y, 1, im.w, im.h, u, v);
        float cb = sample(im.cb, im.pitch_c, im.c_step, im.cw, im.ch, cu, cv);
        float cr = sample(im.cr, im.pitch_c, im.c_step, im.cw, im.ch, cu, cv);
        // same formula as pan_yuv_to_rgb: G from Y and the unclamped R, B
        float yl = (y - im.yoff) * im.yscale;
        float uu = (cb - 128.f) * im.cscale, vv = (cr - 128.f) * im.cscale;
        float R = yl + 2.f * (1.f - im.kr) * vv;
        float B = yl + 2.f * (1.f - im.kb) * uu;
        float G = (yl - im.kr * R - im.kb * B) / (1.f - im.kr - im.kb);
        float rgb0 = clampf(bt.bgr ? B : R, 0.f, 255.f);
        float rgb1 = clampf(G, 0.f, 255.f);
        float rgb2 = clampf(bt.bgr ? R : B, 0.f, 255.f);
        val[0] = (rgb0 - bt.mean[0]) * bt.inv_std[0];
        val[1] = (rgb1 - bt.mean[1]) * bt.inv_std[1];
        val[2] = (rgb2 - bt.mean[2]) * bt.inv_std[2];
    } else {
        val[0] = bt.pad[0];
        val[1] = bt.pad[1];
        val[2] = bt.pad[2];
    }
    const size_t plane = (size_t)bt.width * bt.height;
    const size_t i = (size_t)Y * bt.width + X;
    __half *o = out + (size_t)n * 3 * plane;
    if (bt.nhwc) {
        o[3 * i] = __float2half_rn(val[0]);
        o[3 * i + 1] = __float2half_rn(val[1]);
        o[3 * i + 2] = __float2half_rn(val[2]);
    } else {
        o[i] = __float2half_rn(val[0]);
        o[plane + i] = __float2half_rn(val[1]);
        o[2 * plane + i] = __float2half_rn(val[2]);
    }
}

} // namespace

extern "C" int pan__preprocess_launch(const pan_pp_image *images, int n, const pan_pp_batch *batch, void *out, void *stream)
{
    if (n <= 0) return (int)cudaSuccess;
    if (n > 65535) return (int)cudaErrorInvalidValue; // grid z limit
    // 32 x 8: a warp covers 32 consecutive output pixels of one row (64-byte FP16 stores per plane)
    dim3 block(32, 8, 1);
    dim3 grid((unsigned)((batch->width + 31) / 32), (unsigned)((batch->height + 7) / 8), (unsigned)n);
    preprocess_kernel<<<grid, block, 0, (cudaStream_t)stream>>>(images, *batch, (__half *)out);
    return (int)cudaGetLastError();
}
