/* TF.js graph-model importer, part 1: model.json, the weights manifest and the shard files.
 *
 * Format (tfjs-converter "graph-model"): model.json holds
 *   modelTopology.node[]: {name, op, input[] ("name", "name:k" = output k, "^name" = control
 *                          dependency), attr{...}} (a TensorFlow GraphDef in JSON);
 *   weightsManifest[]: groups {paths[] (shard files beside model.json, concatenated in order),
 *                      weights[] {name, shape, dtype float32|int32|bool, quantization?}}, the
 *                      weights packed back to back in the group's bytes (little endian);
 *   signature.inputs/outputs: optional, names "node:0".
 * Quantized weights: {dtype float16} (IEEE half), {dtype uint8|uint16, scale, min}
 * (value = q * scale + min). Integer weights are widened to int64 in the IR (TF's Const dtype is
 * often DT_INT64 stored as int32).
 *
 * Every weight becomes an IR constant named as in the manifest (= its Const node's name). The
 * node conversion lives in tfjs_ops.c. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ir.h"
#include "nn/tfjs_impl.h"
#include "panoptes/log.h"

#define TAG "tfjs"
#define MAX_WEIGHTS_BYTES (INT64_C(2) << 30)

float pan__half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) bits = sign;
        else { /* subnormal: renormalise */
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | mant << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | mant << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static pan_status read_file(const char *path, char **data, size_t *len, int64_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? PAN_NOTFOUND : PAN_IO;
    pan_status st = PAN_OK;
    char *buf = NULL;
    long sz;
    if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) st = PAN_IO;
    else if (sz > max) st = PAN_LIMIT;
    else if (!(buf = malloc((size_t)sz + 1))) st = PAN_NOMEM;
    else if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) st = PAN_IO;
    fclose(f);
    if (st) {
        free(buf);
        return st;
    }
    buf[sz] = 0;
    *data = buf;
    *len = (size_t)sz;
    return PAN_OK;
}

/* Decodes one manifest entry from bytes [off, off+need) of the group buffer into a constant. */
static pan_status add_weight(pan_graph *g, const char *group_src, json_t *w, const uint8_t *buf, size_t buf_len,
                             size_t *off)
{
    const char *name = json_string_value(json_object_get(w, "name"));
    const char *dtype = json_string_value(json_object_get(w, "dtype"));
    json_t *shape = json_object_get(w, "shape"), *q = json_object_get(w, "quantization");
    if (!name || !dtype || !json_is_array(shape) || json_array_size(shape) > PAN_MAX_DIMS) {
        pan_log_error(TAG, -1, "%s: weightsManifest entry '%s' lacks name, dtype or a valid shape", g->source,
                      name ? name : "?");
        return PAN_MODEL;
    }
    int64_t dims[PAN_MAX_DIMS], numel = 1;
    int rank = (int)json_array_size(shape);
    for (int i = 0; i < rank; i++) {
        json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > PAN_MAX_DIM_VALUE ||
            (numel *= json_integer_value(d)) > PAN_MAX_TENSOR_ELEMS) {
            pan_log_error(TAG, -1, "%s: weight '%s': invalid or absurd shape", g->source, name);
            return PAN_MODEL;
        }
        dims[i] = json_integer_value(d);
    }
    const char *qtype = q ? json_string_value(json_object_get(q, "dtype")) : NULL;
    size_t es;
    if (q && !qtype) {
        pan_log_error(TAG, -1, "%s: weight '%s': quantization without dtype", g->source, name);
        return PAN_MODEL;
    }
    if (qtype) es = !strcmp(qtype, "float16") || !strcmp(qtype, "uint16") ? 2 : !strcmp(qtype, "uint8") ? 1 : 0;
    else es = !strcmp(dtype, "float32") || !strcmp(dtype, "int32") ? 4 : !strcmp(dtype, "bool") ? 1 : 0;
    if (!es) {
        pan_log_error(TAG, -1, "%s: weight '%s': unsupported dtype %s%s%s", g->source, name, dtype,
                      qtype ? " quantized as " : "", qtype ? qtype : "");
        return PAN_UNSUPPORTED;
    }
    size_t need = (size_t)numel * es;
    if (*off > buf_len || need > buf_len - *off) {
        pan_log_error(TAG, -1,
                      "%s: weight '%s' needs bytes %zu..%zu but the shards (%s) hold only %zu bytes: truncated or "
                      "mismatched weights file; fetch the model again (scripts/setup.sh)",
                      g->source, name, *off, *off + need, group_src, buf_len);
        return PAN_CORRUPT;
    }
    const uint8_t *p = buf + *off;
    *off += need;
    int is_int = !strcmp(dtype, "int32") || !strcmp(dtype, "bool");
    pan_dtype to = is_int ? (strcmp(dtype, "bool") ? PAN_DTYPE_I64 : PAN_DTYPE_BOOL) : PAN_DTYPE_F32;
    void *data = malloc((size_t)numel * pan_dtype_size(to) + 1);
    if (!data) return PAN_NOMEM;
    double scale = q ? json_number_value(json_object_get(q, "scale")) : 1.0;
    double mn = q ? json_number_value(json_object_get(q, "min")) : 0.0;
    for (int64_t i = 0; i < numel; i++) {
        double v;
        if (qtype && !strcmp(qtype, "float16")) {
            uint16_t h;
            memcpy(&h, p + i * 2, 2);
            v = pan__half_to_float(h);
        } else if (qtype && !strcmp(qtype, "uint16")) {
            uint16_t h;
            memcpy(&h, p + i * 2, 2);
            v = h * scale + mn;
        } else if (qtype) {
            v = p[i] * scale + mn;
        } else if (!strcmp(dtype, "float32")) {
            float f;
            memcpy(&f, p + i * 4, 4);
            v = f;
        } else if (!strcmp(dtype, "int32")) {
            int32_t k;
            memcpy(&k, p + i * 4, 4);
            v = k;
        } else {
            v = p[i] != 0;
        }
        if (to == PAN_DTYPE_F32) ((float *)data)[i] = pan__d2f(v);
        else if (to == PAN_DTYPE_I64) ((int64_t *)data)[i] = isfinite(v) ? pan__f2i(round(v)) : 0;
        else ((uint8_t *)data)[i] = v != 0;
    }
    if (pan__graph_find_tensor(g, name) >= 0) {
        free(data);
        pan_log_error(TAG, -1, "%s: weight '%s' appears twice in the manifest", g->source, name);
        return PAN_MODEL;
    }
    int t = pan__graph_add_const_owned(g, name, to, rank, dims, data);
    return t < 0 ? (pan_status)t : PAN_OK;
}

/* Path of a shard: beside model.json; absolute paths and ".." are refused (a model file must not
 * make us read elsewhere). */
static pan_status shard_path(const char *model_path, const char *rel, char *out, size_t size)
{
    if (!rel || !*rel || rel[0] == '/' || strstr(rel, "..")) return PAN_MODEL;
    const char *slash = strrchr(model_path, '/');
    int dir = slash ? (int)(slash - model_path + 1) : 0;
    if ((size_t)snprintf(out, size, "%.*s%s", dir, model_path, rel) >= size) return PAN_MODEL;
    return PAN_OK;
}

/* Loads the weights: from the shard files beside model_path, or from `mem` (all groups'
 * bytes concatenated) when model_path is NULL. */
static pan_status load_weights(pan_graph *g, json_t *manifest, const char *model_path, const uint8_t *mem,
                               size_t mem_len)
{
    size_t mem_off = 0;
    if (!json_is_array(manifest)) {
        pan_log_error(TAG, -1, "%s: weightsManifest is missing or not an array", g->source);
        return PAN_MODEL;
    }
    for (size_t gi = 0; gi < json_array_size(manifest); gi++) {
        json_t *grp = json_array_get(manifest, gi), *paths = json_object_get(grp, "paths"),
               *weights = json_object_get(grp, "weights");
        if (!json_is_array(paths) || !json_is_array(weights)) {
            pan_log_error(TAG, -1, "%s: weightsManifest group %zu lacks paths or weights", g->source, gi);
            return PAN_MODEL;
        }
        uint8_t *buf = NULL;
        size_t len = 0;
        char src[4096] = "memory";
        pan_status st = PAN_OK;
        if (model_path) {
            for (size_t pi = 0; pi < json_array_size(paths) && !st; pi++) {
                char path[4096];
                const char *rel = json_string_value(json_array_get(paths, pi));
                char *data = NULL;
                size_t n = 0;
                if (shard_path(model_path, rel, path, sizeof path)) {
                    pan_log_error(TAG, -1, "%s: weight shard path '%s' is not a plain file name beside model.json",
                                  g->source, rel ? rel : "?");
                    st = PAN_MODEL;
                    break;
                }
                snprintf(src, sizeof src, "%s", path);
                st = read_file(path, &data, &n, MAX_WEIGHTS_BYTES - (int64_t)len);
                if (st) {
                    pan_log_error(TAG, -1, "%s: cannot read weight shard %s: %s", g->source, path, pan_status_str(st));
                    break;
                }
                uint8_t *nb = realloc(buf, len + n + 1);
                if (!nb) {
                    free(data);
                    st = PAN_NOMEM;
                    break;
                }
                buf = nb;
                memcpy(buf + len, data, n);
                len += n;
                free(data);
            }
        }
        const uint8_t *bytes = model_path ? buf : mem + mem_off;
        size_t avail = model_path ? len : mem_len - mem_off, off = 0;
        for (size_t wi = 0; wi < json_array_size(weights) && !st; wi++)
            st = add_weight(g, src, json_array_get(weights, wi), bytes, avail, &off);
        if (!st && model_path && off != len)
            pan_log_warn(TAG, -1, "%s: weight shards (%s) hold %zu bytes, the manifest uses %zu", g->source, src, len,
                         off);
        mem_off += off;
        free(buf);
        if (st) return st;
    }
    return PAN_OK;
}

static pan_status import_json(const char *text, size_t len, const char *model_path, const uint8_t *mem, size_t mem_len,
                              const char *source, pan_graph **out)
{
    pan_graph *g = NULL;
    json_error_t err;
    *out = NULL;
    pan_status st = pan__graph_create(&g, source);
    if (st) return st;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        pan_log_error(TAG, -1, "%s: not valid JSON (line %d, column %d: %s); is this a TF.js model.json?", source,
                      err.line, err.column, err.text);
        st = PAN_CORRUPT;
        goto fail;
    }
    const char *format = json_string_value(json_object_get(root, "format"));
    json_t *topo = json_object_get(root, "modelTopology");
    json_t *nodes = json_object_get(topo, "node");
    if (format && strcmp(format, "graph-model")) {
        pan_log_error(TAG, -1, "%s: format '%s' is not supported (only TF.js graph models; convert layers models "
                               "with tensorflowjs_converter)", source, format);
        st = PAN_UNSUPPORTED;
        goto fail;
    }
    if (!json_is_array(nodes)) {
        pan_log_error(TAG, -1, "%s: modelTopology.node is missing; not a TF.js graph model", source);
        st = PAN_MODEL;
        goto fail;
    }
    if ((st = load_weights(g, json_object_get(root, "weightsManifest"), model_path, mem, mem_len))) goto fail;
    if ((st = pan__tfjs_convert_nodes(g, nodes, json_object_get(root, "signature")))) goto fail;
    if ((st = pan__graph_sort(g))) goto fail;
    json_decref(root);
    *out = g;
    return PAN_OK;
fail:
    json_decref(root);
    pan__graph_destroy(&g);
    return st;
}

pan_status pan__tfjs_import(const char *path, pan_graph **g)
{
    char *text = NULL;
    size_t len = 0;
    *g = NULL;
    pan_status st = read_file(path, &text, &len, INT64_C(256) << 20);
    if (st) {
        pan_log_error(TAG, -1, "%s: cannot read the model: %s%s", path, pan_status_str(st),
                      st == PAN_NOTFOUND ? " (run scripts/setup.sh to fetch models)" : "");
        return st;
    }
    st = import_json(text, len, path, NULL, 0, path, g);
    free(text);
    return st;
}

pan_status pan__tfjs_import_memory(const char *json, size_t json_len, const void *weights, size_t weights_len,
                                   const char *source, pan_graph **g)
{
    *g = NULL;
    if (!json) return PAN_INVAL;
    return import_json(json, json_len, NULL, weights ? weights : (const void *)"", weights ? weights_len : 0,
                       source ? source : "(memory)", g);
}
