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

/* ---- dense heads: the GPU twin of head_post.c ------------------------------------------------ */
template <typename T>
__device__ __forceinline__ float hat(const pan__gpu_post_params &p, const pan_head_field &f, int b, int64_t n, int64_t k)
{
    const T *t = (const T *)p.head_tensor[f.tensor];
    return ld(t, (size_t)b * p.head_image_stride[f.tensor] + (size_t)(f.offset + n * f.row_stride + k * f.field_stride));
}

template <typename T> __device__ int head_best(const pan__gpu_post_params &p, int b, int64_t n, float *value)
{
    int best = 0;
    float v = hat<T>(p, p.head.scores, b, n, 0);
    for (int c = 1; c < p.head.num_classes; c++) {
        float x = hat<T>(p, p.head.scores, b, n, c);
        if (x > v || (isnan(v) && !isnan(x))) v = x, best = c; /* first maximum, as the cpu decode */
    }
    *value = v;
    return best;
}

template <typename T> __global__ void head_decode(pan__gpu_post_params p)
{
    const int64_t n = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int b = blockIdx.y;
    const pan_head_params &h = p.head;
    if (n >= h.num_rows) return;
    float score;
    int cls;
    switch (h.score) {
    case PAN_HEAD_SCORE_OBJ_CLASSES:
        cls = head_best<T>(p, b, n, &score);
        score *= hat<T>(p, h.objectness, b, n, 0);
        break;
    case PAN_HEAD_SCORE_LOGITS:
        cls = head_best<T>(p, b, n, &score);
        score = 1.f / (1.f + expf(-score));
        break;
    case PAN_HEAD_SCORE_ID: {
        float id = hat<T>(p, h.class_id, b, n, 0);
        score = hat<T>(p, h.scores, b, n, 0);
        if (!(id >= 0.f && id < 1e6f)) return;
        cls = __float2int_rn(id);
        break;
    }
    default:
        cls = head_best<T>(p, b, n, &score);
        break;
    }
    if (!(score >= p.score_threshold) || !allowed(p, cls)) return;
    float a = hat<T>(p, h.boxes, b, n, 0), bb = hat<T>(p, h.boxes, b, n, 1), c = hat<T>(p, h.boxes, b, n, 2),
          d = hat<T>(p, h.boxes, b, n, 3);
    float box[4];
    if (h.box == PAN_HEAD_BOX_XYXY) {
        box[0] = a, box[1] = bb, box[2] = c, box[3] = d;
    } else {
        if (h.box == PAN_HEAD_BOX_CXCYWH_NORM) {
            a *= (float)h.input_w, c *= (float)h.input_w;
            bb *= (float)h.input_h, d *= (float)h.input_h;
        } else if (h.box == PAN_HEAD_BOX_GRID) {
            int64_t i = n;
            int l = 0, s = h.strides[0], fw = (h.input_w + s - 1) / s;
            for (;;) {
                int64_t rows = (int64_t)fw * ((h.input_h + s - 1) / s);
                if (i < rows || l + 1 >= h.num_levels) break;
                i -= rows;
                s = h.strides[++l];
                fw = (h.input_w + s - 1) / s;
            }
            a = (a + (float)(i % fw)) * (float)s;
            bb = (bb + (float)(i / fw)) * (float)s;
            c = expf(c) * (float)s;
            d = expf(d) * (float)s;
        }
        box[0] = a - 0.5f * c, box[1] = bb - 0.5f * d, box[2] = a + 0.5f * c, box[3] = bb + 0.5f * d;
    }
    if (!isfinite(box[0]) || !isfinite(box[1]) || !isfinite(box[2]) || !isfinite(box[3])) return;
    emit(p, b, box, score, cls);
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
    float *out = p.out + (size_t)b * p.top_k * 6;
    if (p.yolo && !p.head.nms_enabled) { /* end-to-end heads: the order and the cut only */
        const int m = min(n, p.top_k);
        for (int i = t; i < m * 6; i += NMS_THREADS) out[i] = cand[order[i / 6] * 6 + i % 6];
        if (t == 0) p.counts[p.batch + b] = m;
        return;
    }
    for (int i = t; i < n; i += NMS_THREADS) removed[i] = 0;
    __syncthreads();
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
        if (p.head.num_rows == 0) { /* the YOLOv8/11 shorthand */
            pan_yolo_params y;
            pan_yolo_params_default(&y, p.num_classes, p.num_anchors);
            pan_yolo_head(&y, &p.head);
            p.head_tensor[0] = p.yolo_out;
            p.head_image_stride[0] = (size_t)(4 + p.num_classes) * (size_t)p.num_anchors;
        }
        dim3 grid((unsigned)((p.head.num_rows + 127) / 128), p.batch);
        if (p.half) head_decode<__half><<<grid, 128, 0, s>>>(p);
        else head_decode<float><<<grid, 128, 0, s>>>(p);
    }
    nms_kernel<<<p.batch, NMS_THREADS, 0, s>>>(p);
    return (int)cudaGetLastError();
}
