/* TF.js importer, part 3: the node list -> IR graph (two passes so inputs may refer forward),
 * graph inputs (Placeholders: the leading dim is the batch) and outputs (the signature's, sorted
 * by name; without a signature, every node output nobody reads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/tfjs_impl.h"
#include "panoptes/log.h"

#define TAG "tfjs"
#define attr pan__tfjs_attr
#define json_int pan__tfjs_json_int
#define tf_dtype pan__tfjs_dtype

#define FAIL(st, ...)                                                                              \
    do {                                                                                           \
        char m_[400];                                                                              \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                      \
        pan_log_error(TAG, -1, "%s: node '%s' (%s): %s", c->g->source, c->name, c->op, m_);         \
        return (st);                                                                               \
    } while (0)

static int64_t attr_i(const pan_tfjs_node *c, const char *key, int64_t def) { return json_int(attr(c, key, "i"), def); }

static int split_ref(const char *ref, char *name, size_t size)
{
    const char *colon = strrchr(ref, ':');
    int k = 0;
    size_t len = strlen(ref);
    if (colon && colon[1] >= '0' && colon[1] <= '9') {
        k = atoi(colon + 1);
        len = (size_t)(colon - ref);
    }
    if (len >= size) len = size - 1;
    memcpy(name, ref, len);
    name[len] = 0;
    return k;
}

static int lookup(pan_graph *g, const char *ref)
{
    char name[1024], full[1100];
    int k = split_ref(ref, name, sizeof name);
    if (k == 0) return pan__graph_find_tensor(g, name);
    snprintf(full, sizeof full, "%s:%d", name, k);
    return pan__graph_find_tensor(g, full);
}

static pan_status mark_outputs(pan_graph *g, json_t *nodes, json_t *signature)
{
    json_t *outs = json_object_get(signature, "outputs");
    if (json_is_object(outs) && json_object_size(outs) > 0) {
        /* sorted by name: Identity, Identity_1, ... (the signature's own order is arbitrary) */
        size_t n = json_object_size(outs), k = 0;
        const char **names = calloc(n, sizeof *names);
        const char *key;
        json_t *v;
        if (!names) return PAN_NOMEM;
        json_object_foreach(outs, key, v) {
            const char *nm = json_string_value(json_object_get(v, "name"));
            names[k++] = nm ? nm : key;
        }
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
                const char *t = names[j];
                names[j] = names[j - 1];
                names[j - 1] = t;
            }
        for (size_t i = 0; i < n; i++) {
            int t = lookup(g, names[i]);
            pan_status st = t < 0 ? PAN_MODEL : pan__graph_mark_output(g, t);
            if (st) {
                pan_log_error(TAG, -1, "%s: signature output '%s' names no node", g->source, names[i]);
                free(names);
                return st;
            }
        }
        free(names);
        return PAN_OK;
    }
    /* no signature: every non-constant node output nobody reads */
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        const char *nm = json_string_value(json_object_get(json_array_get(nodes, i), "name"));
        int t = nm ? pan__graph_find_tensor(g, nm) : -1;
        if (t >= 0 && g->tensors[t].producer >= 0 && pan__graph_consumers(g, t) == 0) {
            pan_status st = pan__graph_mark_output(g, t);
            if (st) return st;
        }
    }
    if (!g->n_outputs) {
        pan_log_error(TAG, -1, "%s: the model has no outputs", g->source);
        return PAN_MODEL;
    }
    return PAN_OK;
}

pan_status pan__tfjs_convert_nodes(pan_graph *g, json_t *nodes, json_t *signature)
{
    size_t nn = json_array_size(nodes);
    pan_status st;
    /* pass 1: inputs and output tensors of every node, so inputs may refer forward */
    for (size_t i = 0; i < nn; i++) {
        json_t *node = json_array_get(nodes, i);
        pan_tfjs_node cc = {.g = g, .node = node};
        pan_tfjs_node *c = &cc;
        c->name = json_string_value(json_object_get(node, "name"));
        c->op = json_string_value(json_object_get(node, "op"));
        if (!c->name || !c->op || !*c->name) {
            pan_log_error(TAG, -1, "%s: node %zu lacks a name or op", g->source, i);
            return PAN_MODEL;
        }
        if (!strcmp(c->op, "NoOp")) continue;
        if (!strcmp(c->op, "Const")) {
            if (pan__graph_find_tensor(g, c->name) < 0)
                FAIL(PAN_MODEL, "constant has no entry in weightsManifest");
            continue;
        }
        if (pan__graph_find_tensor(g, c->name) >= 0) FAIL(PAN_MODEL, "node name is used twice");
        if (!strcmp(c->op, "Placeholder")) {
            json_t *dl = json_object_get(attr(c, "shape", "shape"), "dim");
            int64_t dims[PAN_MAX_DIMS];
            size_t rank = json_array_size(dl);
            if (!json_is_array(dl) || rank > PAN_MAX_DIMS) FAIL(PAN_UNSUPPORTED, "input needs a known shape of rank <= %d", PAN_MAX_DIMS);
            for (size_t d = 0; d < rank; d++) {
                int64_t v = json_int(json_object_get(json_array_get(dl, d), "size"), -1);
                /* the leading dim is the batch (converted graphs say 1 or -1) */
                dims[d] = d == 0 ? PAN_DIM_BATCH : v < 0 ? PAN_DIM_UNKNOWN : v;
                if (v > PAN_MAX_DIM_VALUE) FAIL(PAN_MODEL, "input dim %lld is absurd", (long long)v);
            }
            int t = pan__graph_add_input(g, c->name, tf_dtype(json_string_value(attr(c, "dtype", "type"))), (int)rank, dims);
            if (t < 0) return t;
            continue;
        }
        int64_t n_out = 1;
        if (!strcmp(c->op, "SplitV") || !strcmp(c->op, "Split")) n_out = attr_i(c, "num_split", 0);
        if (n_out < 1 || n_out > 64) FAIL(PAN_MODEL, "num_split %lld is invalid (1..64)", (long long)n_out);
        for (int k = 0; k < n_out; k++) {
            char nm[1100];
            if (k) snprintf(nm, sizeof nm, "%s:%d", c->name, k);
            else snprintf(nm, sizeof nm, "%s", c->name);
            int t = pan__graph_add_tensor(g, nm, tf_dtype(json_string_value(attr(c, "T", "type"))), 0, NULL);
            if (t < 0) return t;
        }
    }
    /* pass 2: convert; ops the importer does not know are collected and reported together */
    pan_op_missing missing = {0};
    for (size_t i = 0; i < nn; i++) {
        json_t *node = json_array_get(nodes, i);
        pan_tfjs_node *c = malloc(sizeof *c);
        if (!c) {
            pan__op_missing_report(&missing, g->source, "the TF.js importer", NULL);
            return PAN_NOMEM;
        }
        c->g = g;
        c->node = node;
        c->name = json_string_value(json_object_get(node, "name"));
        c->op = json_string_value(json_object_get(node, "op"));
        c->n_in = c->n_out = 0;
        if (!strcmp(c->op, "NoOp") || !strcmp(c->op, "Const") || !strcmp(c->op, "Placeholder")) {
            free(c);
            continue;
        }
        json_t *ins = json_object_get(node, "input");
        st = PAN_OK;
        for (size_t k = 0; k < json_array_size(ins) && !st; k++) {
            const char *ref = json_string_value(json_array_get(ins, k));
            if (!ref) st = PAN_MODEL;
            else if (ref[0] == '^') continue; /* control dependency */
            else if (c->n_in >= PAN_TFJS_MAX_INPUTS) st = PAN_LIMIT;
            else if ((c->in[c->n_in++] = lookup(g, ref)) < 0) {
                pan_log_error(TAG, -1, "%s: node '%s' (%s): input '%s' names no node or weight", g->source, c->name,
                              c->op, ref);
                st = PAN_MODEL;
            }
        }
        if (!st) {
            c->out[c->n_out++] = pan__graph_find_tensor(g, c->name);
            for (int k = 1; k < 64; k++) {
                char nm[1100];
                snprintf(nm, sizeof nm, "%s:%d", c->name, k);
                int t = pan__graph_find_tensor(g, nm);
                if (t < 0) break;
                c->out[c->n_out++] = t;
            }
            st = pan__tfjs_convert_one(c);
            if (st == PAN_NOTFOUND) {
                pan__op_missing_add(&missing, c->op, c->name);
                st = PAN_OK;
            }
        }
        free(c);
        if (st) {
            pan__op_missing_report(&missing, g->source, "the TF.js importer", NULL);
            return st;
        }
    }
    if ((st = pan__op_missing_report(&missing, g->source, "the TF.js importer",
                                     "Convert the model without these ops, or file an issue naming them")))
        return st;
    return mark_outputs(g, nodes, signature);
}
