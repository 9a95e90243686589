/* Dispatch of one IR node to its cpu kernel: the op table's cpu column (op_table.h). */
#include "nn/cpu_ops.h"
#include "panoptes/log.h"

typedef pan_status (*cpu_kernel)(const pan_cpu_call *c);
#define PAN__OP_CPU(id, name, kind, attrs, onnx, shape, cpu, cuda) cpu,
static const cpu_kernel cpu_kernels[PAN_OP_COUNT] = {PAN_OP_TABLE(PAN__OP_CPU)};
#undef PAN__OP_CPU

int pan__cpu_has_op(pan_op op) { return (unsigned)op < PAN_OP_COUNT && cpu_kernels[op] != NULL; }

pan_status pan__cpu_op_run(const pan_cpu_call *c)
{
    pan_status st = pan__cpu_has_op(c->n->op) ? cpu_kernels[c->n->op](c) : PAN_UNSUPPORTED;
    if (st == PAN_UNSUPPORTED) {
        const pan_tensor *t = c->n->n_inputs > 0 && c->n->inputs[0] >= 0 ? &c->g->tensors[c->n->inputs[0]] : NULL;
        pan_log_error("nn", -1, "%s: node '%s' (%s): not supported by the cpu backend for dtype %s", c->g->source,
                      c->n->name, pan__op_name(c->n->op), t ? pan_dtype_name(t->dtype) : "-");
    }
    return st;
}

pan_status pan__cpu_op_prepare(const pan_graph *g, const pan_node *n, int threads, void **prep, size_t *scratch)
{
    *prep = NULL;
    *scratch = 0;
    if (n->op == PAN_OP_CONV) return pan__cpu_conv_prepare(g, n, threads, prep, scratch);
    return PAN_OK;
}

void pan__cpu_op_prep_free(const pan_node *n, void *prep)
{
    if (prep && n->op == PAN_OP_CONV) pan__cpu_conv_prep_free(prep);
}
