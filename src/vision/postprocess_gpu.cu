/* GPU detection postprocessing (see postprocess_gpu.h): a decode kernel with one thread per
 * prior/anchor appends candidates above the threshold; an NMS kernel with one block per image
 * sorts them (bitonic, in shared memory) and runs greedy class-wise NMS. */
#include <cuda_fp16.h>
#include <float.h>

#include "vision/postprocess_gpu.h"

#define NMS_THREADS 1024

extern "C" size_t pan__gpu_post_candidates_bytes(int batch)
{
    return (size_t)batch * PAN_GPU_POST_CANDIDATES * 6 * sizeof(float);
}
extern "C" size_t pan__gpu_post_counts_bytes(int batch) { return (size_t)(2 * batch + 1) * sizeof(int); }
extern "C" size_t pan__gpu_post_out_bytes(int batch, int top_k) { return (size_t)batch * top_k * 6 * sizeof(float); }

template <typename T> __device__ __forceinline__ float ld(const T *p, size_t i);
template <> __device__ __forceinline__ float ld<float>(const float *p, size_t i) { return p[i]; }
template <> __device__ __forceinline__ float ld<__half>(const __half *p, size_t i) { return __half2float(p[i]); }

__device__ __forceinline__ bool allowed(const pan__gpu_post_params &p, int c)
{
    if (!p.filter) return true;
    if (c >= 128) return false;
    return (p.class_mask[c >> 5] >> (c & 31)) & 1u;
}

__device__ __forceinline__ void emit(const pan__gpu_post_params &p, int b, const float box[4], float score, int c)
{
    int k = atomicAdd(&p.counts[b], 1);
    if (k >= PAN_GPU_POST_CANDIDATES) return;
    float *o = p.candidates + ((size_t)b * PAN_GPU_POST_CANDIDATES + k) * 6;
    o[0] = box[0], o[1] = box[1], o[2] = box[2], o[3] = box[3], o[4] = score, o[5] = (float)c;
}

/* Σ softmax(x)_i · i over n bins: the GFL expected distance in units of the stride. */
template <typename T> __device__ float integral(const T *x, size_t base, int n)
{
    float mx = -FLT_MAX;
    for (int i = 0; i < n; i++) mx = fmaxf(mx, ld(x, base + i));
    float sum = 0.f, acc = 0.f;
    for (int i = 0; i < n; i++) {
        float e = __expf(ld(x, base + i) - mx);
        sum += e;
        acc += e * (float)i;
    }
    return acc / sum;
}

template <typename T> __global__ void nanodet_decode(pan__gpu_post_params p, int total)
{
    int g = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
    if (g >= total) return;
    int l = 0, i = g;
    while (l < p.num_levels - 1 && i >= p.level_n[l]) i -= p.level_n[l++];
    const int C = p.num_classes, n = p.level_n[l], bins = p.reg_max + 1, s = p.stride[l];
    const T *cls = (const T *)p.cls[l];
    const T *reg = (const T *)p.reg[l];
    size_t sbase = ((size_t)b * n + i) * C;
    float mx = -FLT_MAX;
    for (int c = 0; c < C; c++) mx = fmaxf(mx, ld(cls, sbase + c));
    if (!(mx >= p.score_threshold)) return;
    const float cx = ((float)(i % p.level_fw[l]) + 0.5f) * (float)s, cy = ((float)(i / p.level_fw[l]) + 0.5f) * (float)s;
    size_t rbase = ((size_t)b * n + i) * 4 * bins;
    const float W = (float)p.input_w, H = (float)p.input_h;
    float box[4] = {
        fminf(fmaxf(cx - integral(reg, rbase, bins) * s, 0.f), W),
        fminf(fmaxf(cy - integral(reg, rbase + bins, bins) * s, 0.f), H),
        fminf(fmaxf(cx + integral(reg, rbase + 2 * bins, bins) * s, 0.f), W),
        fminf(fmaxf(cy + integral(reg, rbase + 3 * bins, bins) * s, 0.f), H),
    };
    for (int c = 0; c < C; c++) {
        float sc = ld(cls, sbase + c);
        if (sc >= p.score_threshold && allowed(p, c)) emit(p, b, box, sc, c);
    }
}

/* Counts, per image and level, priors whose best score passes: more than nms_pre marks overflow. */
template <typename T> __global__ void nanodet_level_count(pan__gpu_post_params p, int l)
{
    __shared__ int count;
    if (threadIdx.x == 0) count = 0;
    __syncthreads();
    const int b = blockIdx.x, n = p.level_n[l], C = p.num_classes;
    const T *cls = (const T *)p.cls[l];
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        size_t base = ((size_t)b * n + i) * C;
        float mx = -FLT_MAX;
        for (int c = 0; c < C; c++) mx = fmaxf(mx, ld(cls, base + c));
        if (mx >= p.score_threshold) atomicAdd(&count, 1);
    }
    __syncthreads();
    if (threadIdx.x == 0 && count > p.nms_pre) atomicAdd(&p.counts[2 * p.batch], 1);
}

template <typename T> __global__ void yolo_decode(pan__gpu_post_params p)
{
    int a = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
    if (a >= p.num_anchors) return;
    const T *o = (const T *)p.yolo_out;
    const int N = p.num_anchors, C = p.num_classes;
    size_t base = (size_t)b * (4 + C) * N;
    int best = 0;
    float bs = ld(o, base + (size_t)4 * N + a);
    for (int c = 1; c < C; c++) {
        float v = ld(o, base + (size_t)(4 + c) * N + a);
        if (v > bs || (isnan(bs) && !isnan(v))) bs = v, best = c; /* first maximum, as the cpu decode */
    }
    if (!(bs >= p.score_threshold) || !allowed(p, best)) return;
    float cx = ld(o, base + a), cy = ld(o, base + N + a), w = ld(o, base + 2 * (size_t)N + a), h = ld(o, base + 3 * (size_t)N + a);
    if (!isfinite(cx) || !isfinite(cy) || !isfinite(w) || !isfinite(h)) return;
    float box[4] = {cx - 0.5f * w, cy - 0.5f * h, cx + 0.5f * w, cy + 0.5f * h};
    emit(p, b, box, bs, best);
}

/* The total order of pan_nms: score descending, class ascending, box coordinates ascending. */
__device__ __forceinline__ bool before(const float *a, const float *b)
{
    if (a[4] != b[4]) return a[4] > b[4];
    if (a[5] != b[5]) return a[5] < b[5];
    for (int k = 0; k < 4; k++)
        if (a[k] != b[k]) return a[k] < b[k];
    return false;
}

__device__ __forceinline__ float iou(const float *a, const float *b)
{
    float iw = fminf(a[2], b[2]) - fmaxf(a[0], b[0]);
    float ih = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (!(iw > 0.f) || !(ih > 0.f)) return 0.f;
    float inter = iw * ih;
    float ua = fmaxf(a[2] - a[0], 0.f) * fmaxf(a[3] - a[1], 0.f);
    float ub = fmaxf(b[2] - b[0], 0.f) * fmaxf(b[3] - b[1], 0.f);
    float uni = ua + ub - inter;
    return uni > 0.f ? inter / uni : 0.f;
}

__global__ void __launch_bounds__(NMS_THREADS) nms_kernel(pan__gpu_post_params p)
{
    __shared__ short order[PAN_GPU_POST_CANDIDATES];
    __shared__ unsigned char removed[PAN_GPU_POST_CANDIDATES];
    __shared__ int kept;
    const int b = blockIdx.x, t = threadIdx.x;
    const float *cand = p.candidates + (size_t)b * PAN_GPU_POST_CANDIDATES * 6;
    int n = min(p.counts[b], PAN_GPU_POST_CANDIDATES);
    int m = 1;
    while (m < n) m <<= 1;
    for (int i = t; i < m; i += NMS_THREADS) order[i] = (short)(i < n ? i : -1);
    if (t == 0) kept = 0;
    __syncthreads();
    /* bitonic sort of indices; -1 (padding) sorts last */
    for (int k = 2; k <= m; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = t; i < m; i += NMS_THREADS) {
                int ij = i ^ j;
                if (ij > i) {
                    short a = order[i], c = order[ij];
                    bool a_first = a >= 0 && (c < 0 || before(cand + a * 6, cand + c * 6));
                    bool up = (i & k) == 0;
                    if (up ? !a_first && a != c : a_first) order[i] = c, order[ij] = a;
                }
            }
            __syncthreads();
        }
    for (int i = t; i < n; i += NMS_THREADS) removed[i] = 0;
    __syncthreads();
    float *out = p.out + (size_t)b * p.top_k * 6;
    for (int i = 0; i < n; i++) {
        if (removed[i]) continue; /* uniform: every thread reads the same shared flag */
        const float *bi = cand + order[i] * 6;
        if (t == 0) {
            for (int k = 0; k < 6; k++) out[kept * 6 + k] = bi[k];
            kept++;
        }
        __syncthreads();
        if (kept >= p.top_k) break;
        for (int j = i + 1 + t; j < n; j += NMS_THREADS) {
            const float *bj = cand + order[j] * 6;
            if (!removed[j] && bj[5] == bi[5] && iou(bi, bj) > p.iou_threshold) removed[j] = 1;
        }
        __syncthreads();
    }
    if (t == 0) p.counts[p.batch + b] = kept;
}

extern "C" int pan__gpu_post_launch(const pan__gpu_post_params *pp, void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    pan__gpu_post_params p = *pp;
    cudaError_t err = cudaMemsetAsync(p.counts, 0, pan__gpu_post_counts_bytes(p.batch), s);
    if (err) return err;
    if (!p.yolo) {
        int total = 0;
        for (int l = 0; l < p.num_levels; l++) total += p.level_n[l];
        dim3 grid((total + 127) / 128, p.batch);
        if (p.half) nanodet_decode<__half><<<grid, 128, 0, s>>>(p, total);
        else nanodet_decode<float><<<grid, 128, 0, s>>>(p, total);
        if (p.nms_pre > 0)
            for (int l = 0; l < p.num_levels; l++) {
                if (p.level_n[l] <= p.nms_pre) continue;
                if (p.half) nanodet_level_count<__half><<<p.batch, 256, 0, s>>>(p, l);
                else nanodet_level_count<float><<<p.batch, 256, 0, s>>>(p, l);
            }
    } else {
        dim3 grid((p.num_anchors + 127) / 128, p.batch);
        if (p.half) yolo_decode<__half><<<grid, 128, 0, s>>>(p);
        else yolo_decode<float><<<grid, 128, 0, s>>>(p);
    }
    nms_kernel<<<p.batch, NMS_THREADS, 0, s>>>(p);
    return (int)cudaGetLastError();
}
