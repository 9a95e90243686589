/* Which detector family a model is (src/vision/family.h), and the --model-type names.
 *
 * Order of evidence:
 *  1. Metadata. Ultralytics exports carry metadata_props: author "Ultralytics", head
 *     ("Detect", "v10Detect", "RTDETRDecoder"), end2end ("True" for NMS-free heads), task and
 *     names (a Python dict literal: its entry count is C). ultralytics/yolov5's export.py writes
 *     stride and names only: C, not the family.
 *  2. Shapes of the (single) output [B, a, b] against the grid cells of the input size (cells =
 *     Σ ceil(W/s)·ceil(H/s) over strides 8, 16, 32, or 8..64 for P6 models):
 *       b == cells, a < b          YOLOv8/11 [B, 4+C, N]
 *       a == 3·cells               YOLOv5/v7 (three anchors per cell)
 *       a == cells                 anchor-free, fields last: YOLOv8 [B, N, 4+C] when 4+C fits the
 *                                  metadata's C (or 84 = COCO without metadata), else YOLOX
 *       b == 6, a unrelated        YOLOv10 [B, K, 6]
 *       b > 4, a unrelated         RT-DETR [B, Q, 4+C]
 *     Two outputs [B, Q, 4] and [B, Q, C]: RT-DETR's split boxes / logits. Pairs [B, N, C] +
 *     [B, N, 4k] per level: NanoDet.
 *  3. Otherwise an error that lists the families with their layouts and what the model has. */
#include "vision/family.h"

#include <stdio.h>
#include <string.h>

#include "panoptes/log.h"

#define TAG "detector"

static const struct {
    const char *name;
    pan_detector_kind kind;
} NAMES[] = {
    {"auto", PAN_DETECTOR_AUTO},       {"nanodet", PAN_DETECTOR_NANODET},
    {"yolov5", PAN_DETECTOR_YOLOV5},   {"yolov7", PAN_DETECTOR_YOLOV5},
    {"yolox", PAN_DETECTOR_YOLOX},     {"yolox-decoded", PAN_DETECTOR_YOLOX_DECODED},
    {"yolov8", PAN_DETECTOR_YOLO},     {"yolo11", PAN_DETECTOR_YOLO},
    {"yolo", PAN_DETECTOR_YOLO},       {"yolov10", PAN_DETECTOR_YOLOV10},
    {"rtdetr", PAN_DETECTOR_RTDETR},   {"rt-detr", PAN_DETECTOR_RTDETR},
};

const char *pan_detector_kind_name(pan_detector_kind k)
{
    switch (k) {
    case PAN_DETECTOR_AUTO: return "auto";
    case PAN_DETECTOR_NANODET: return "nanodet";
    case PAN_DETECTOR_YOLO: return "yolov8";
    case PAN_DETECTOR_YOLOV5: return "yolov5";
    case PAN_DETECTOR_YOLOX: return "yolox";
    case PAN_DETECTOR_YOLOX_DECODED: return "yolox-decoded";
    case PAN_DETECTOR_YOLOV10: return "yolov10";
    case PAN_DETECTOR_RTDETR: return "rtdetr";
    }
    return "unknown";
}

pan_status pan_detector_kind_parse(const char *name, pan_detector_kind *kind)
{
    if (!name || !kind) return PAN_INVAL;
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++)
        if (!strcmp(name, NAMES[i].name)) {
            *kind = NAMES[i].kind;
            return PAN_OK;
        }
    return PAN_INVAL;
}

const char *pan_detector_kind_names(void)
{
    return "auto, nanodet, yolov5, yolov7, yolox, yolox-decoded, yolov8, yolo11, yolov10, rtdetr";
}

/* ---- helpers for the family files ------------------------------------------------------------ */
int pan__family_cells(const pan__family_probe *p, int levels)
{
    static const int strides[4] = {8, 16, 32, 64};
    return pan_head_grid_rows(p->input_w, p->input_h, strides, levels);
}

const char *pan__family_dims(const pan_engine_tensor_info *t, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < t->rank && k < n; i++) {
        int w;
        if (i == 0 && t->dims[0] == PAN_ENGINE_DIM_BATCH) w = snprintf(buf + k, n - k, "[B");
        else w = snprintf(buf + k, n - k, "%s%lld", i ? ", " : "[", (long long)t->dims[i]);
        if (w < 0) break;
        k += (size_t)w;
    }
    if (k < n) snprintf(buf + k, n - k, t->rank ? "]" : "[]");
    return buf;
}

void pan__family_ultralytics_input(pan__family_config *cfg)
{
    cfg->channels = PAN_CHANNELS_RGB;
    for (int c = 0; c < 3; c++) {
        cfg->mean[c] = 0.f;
        cfg->std[c] = 255.f;
    }
    cfg->keep_ratio = 1;
    cfg->pad_value = 114.f;
}

void pan__family_rows(pan__family_config *cfg, int output, int64_t rows, int64_t fields)
{
    pan_head_params *h = &cfg->head;
    cfg->n_tensors = 1;
    cfg->outputs[0] = output;
    h->num_rows = (int)rows;
    h->boxes = (pan_head_field){0, 0, fields, 1};
    h->scores = (pan_head_field){0, 4, fields, 1};
}

/* Entries of a Python dict literal ("{0: 'person', 1: 'bicycle'}"): colons outside quotes. */
static int dict_entries(const char *s)
{
    int n = 0;
    char q = 0;
    if (!s) return 0;
    for (; *s; s++) {
        if (q) {
            if (*s == '\\' && s[1]) s++;
            else if (*s == q) q = 0;
        } else if (*s == '\'' || *s == '"') q = *s;
        else if (*s == ':') n++;
    }
    return n;
}

static const char *meta(const pan__family_probe *p, const char *key)
{
    return p->meta ? p->meta(p->meta_ctx, key) : NULL;
}

static int contains_ci(const char *s, const char *needle)
{
    if (!s) return 0;
    size_t n = strlen(needle);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && (s[i] | 32) == (needle[i] | 32)) i++;
        if (i == n) return 1;
    }
    return 0;
}

/* A NanoDet head: an even number (>= 4) of rank-3 outputs (class scores + distributions per level). */
static int looks_like_nanodet(const pan__family_probe *p)
{
    if (p->n_outputs < 4 || p->n_outputs % 2) return 0;
    for (int j = 0; j < p->n_outputs; j++)
        if (p->outputs[j].rank != 3) return 0;
    return 1;
}

static pan__family_fn family_of(pan_detector_kind k)
{
    switch (k) {
    case PAN_DETECTOR_YOLO: return pan__family_yolov8;
    case PAN_DETECTOR_YOLOV5: return pan__family_yolov5;
    case PAN_DETECTOR_YOLOX:
    case PAN_DETECTOR_YOLOX_DECODED: return pan__family_yolox;
    case PAN_DETECTOR_YOLOV10: return pan__family_yolov10;
    case PAN_DETECTOR_RTDETR: return pan__family_rtdetr;
    default: return NULL;
    }
}

/* The family the shapes (and metadata) point at; AUTO when none. */
static pan_detector_kind guess(const pan__family_probe *p, int nc)
{
    const char *author = meta(p, "author"), *head = meta(p, "head"), *e2e = meta(p, "end2end");
    const char *desc = meta(p, "description");
    if (contains_ci(head, "rtdetr") || contains_ci(desc, "rt-detr") || contains_ci(desc, "rtdetr"))
        return PAN_DETECTOR_RTDETR;
    if (contains_ci(head, "v10detect") || (e2e && contains_ci(e2e, "true"))) return PAN_DETECTOR_YOLOV10;
    if (author && contains_ci(author, "ultralytics") && (!head || !strcmp(head, "Detect"))) return PAN_DETECTOR_YOLO;
    if (p->n_outputs == 2) return PAN_DETECTOR_RTDETR; /* split boxes / logits (checked by the family) */
    if (looks_like_nanodet(p)) return PAN_DETECTOR_NANODET;
    if (p->n_outputs != 1 || p->outputs[0].rank != 3) return PAN_DETECTOR_AUTO;
    const int64_t a = p->outputs[0].dims[1], b = p->outputs[0].dims[2];
    for (int levels = 3; levels <= 4; levels++) {
        const int64_t cells = pan__family_cells(p, levels);
        if (cells <= 0) continue;
        if (b == cells && a < b) return PAN_DETECTOR_YOLO;
        if (a == 3 * cells) return PAN_DETECTOR_YOLOV5;
        if (a == cells) {
            if (nc > 0) return b - 4 == nc ? PAN_DETECTOR_YOLO : PAN_DETECTOR_YOLOX;
            return b == 84 ? PAN_DETECTOR_YOLO : PAN_DETECTOR_YOLOX;
        }
    }
    if (b == 6) return PAN_DETECTOR_YOLOV10;
    if (b > 4) return PAN_DETECTOR_RTDETR;
    return PAN_DETECTOR_AUTO;
}

static void describe_outputs(const pan__family_probe *p, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = 0;
    for (int j = 0; j < p->n_outputs && j < 8 && k + 1 < n; j++) {
        char d[96];
        int w = snprintf(buf + k, n - k, "%s%s %s", j ? ", " : "", p->outputs[j].name ? p->outputs[j].name : "?",
                         pan__family_dims(&p->outputs[j], d, sizeof d));
        if (w < 0) break;
        k += (size_t)w;
    }
    if (p->n_outputs > 8 && k + 1 < n) snprintf(buf + k, n - k, ", ... (%d outputs)", p->n_outputs);
}

static const char FAMILIES[] =
    "nanodet ([B, N, C] + [B, N, 4*(reg_max+1)] per stride), yolov5/yolov7 ([B, 3*cells, 5+C]), "
    "yolox / yolox-decoded ([B, cells, 5+C]), yolov8/yolo11 ([B, 4+C, cells] or [B, cells, 4+C]), "
    "yolov10 ([B, K, 6]), rtdetr ([B, Q, 4+C] or [B, Q, 4] + [B, Q, C])";

pan_status pan__family_resolve(const pan__family_probe *p, pan_detector_kind kind, pan__family_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    const int nc = dict_entries(meta(p, "names"));
    char seen[512], why[256] = "";
    describe_outputs(p, seen, sizeof seen);
    const int cells = pan__family_cells(p, 3);
    pan_detector_kind k = kind == PAN_DETECTOR_AUTO ? guess(p, nc) : kind;
    if (k == PAN_DETECTOR_NANODET) {
        cfg->kind = k;
        return PAN_OK;
    }
    pan__family_fn fn = family_of(k);
    if (!fn) {
        int rank5 = 0;
        for (int j = 0; j < p->n_outputs; j++) rank5 |= p->outputs[j].rank == 5;
        pan_log_error(TAG, -1,
                      "%s: no known detector family fits its outputs: %s (input %dx%d: %d grid cells at "
                      "strides 8/16/32)%s. Known families: %s. Export the model as the README's table says, "
                      "or name the family with --model-type (model_type in a serve config; %s)",
                      p->model_path, seen, p->input_w, p->input_h, cells,
                      rank5 ? "; 5-D outputs are raw anchor maps (YOLOv7: export with --grid)" : "", FAMILIES,
                      pan_detector_kind_names());
        return PAN_MODEL;
    }
    cfg->kind = k;
    pan_status st = fn(p, k, nc, cfg, why, sizeof why);
    if (st) {
        if (kind == PAN_DETECTOR_AUTO)
            pan_log_error(TAG, -1,
                          "%s: the outputs look closest to %s but do not fit it: %s. Seen: %s (input %dx%d, %d "
                          "grid cells). Known families: %s; name one with --model-type (model_type in a serve "
                          "config; %s)",
                          p->model_path, pan_detector_kind_name(k), why, seen, p->input_w, p->input_h, cells,
                          FAMILIES, pan_detector_kind_names());
        else
            pan_log_error(TAG, -1,
                          "%s: the outputs disagree with --model-type %s (model_type in a serve config): %s. "
                          "Seen: %s (input %dx%d, %d grid cells). Known families: %s",
                          p->model_path, pan_detector_kind_name(k), why, seen, p->input_w, p->input_h, cells, FAMILIES);
        return PAN_MODEL;
    }
    snprintf(cfg->layout, sizeof cfg->layout, "%s", seen);
    cfg->head.input_w = p->input_w;
    cfg->head.input_h = p->input_h;
    cfg->head.score_threshold = 0.35f;
    if (nc > 0 && cfg->head.num_classes != nc && cfg->head.score != PAN_HEAD_SCORE_ID)
        pan_log_warn(TAG, -1, "%s: the metadata names %d classes but the outputs hold %d; using %d", p->model_path,
                     nc, cfg->head.num_classes, cfg->head.num_classes);
    if (cfg->head.score == PAN_HEAD_SCORE_ID) cfg->head.num_classes = nc > 0 ? nc : PAN_COCO_CLASSES;
    return PAN_OK;
}
