/* Dispatch of one IR node to its cpu kernel. */
#include "nn/cpu_ops.h"
#include "panoptes/log.h"

pan_status pan__cpu_op_run(const pan_cpu_call *c)
{
    pan_status st;
    switch (c->n->op) {
    case PAN_OP_CONV: st = pan__cpu_conv(c); break;
    case PAN_OP_BATCHNORM: st = pan__cpu_batchnorm(c); break;
    case PAN_OP_GEMM: st = pan__cpu_gemm(c); break;
    case PAN_OP_MATMUL: st = pan__cpu_matmul(c); break;
    case PAN_OP_CAST: st = pan__cpu_cast(c); break;
    case PAN_OP_ADD:
    case PAN_OP_SUB:
    case PAN_OP_MUL:
    case PAN_OP_DIV:
    case PAN_OP_POW:
    case PAN_OP_MAX:
    case PAN_OP_MIN: st = pan__cpu_binary(c); break;
    case PAN_OP_SOFTMAX: st = pan__cpu_softmax(c); break;
    case PAN_OP_REDUCE_MEAN: st = pan__cpu_reduce_mean(c); break;
    case PAN_OP_MAXPOOL:
    case PAN_OP_AVGPOOL: st = pan__cpu_pool2d(c); break;
    case PAN_OP_GLOBAL_AVGPOOL:
    case PAN_OP_GLOBAL_MAXPOOL: st = pan__cpu_global_pool(c); break;
    case PAN_OP_RESIZE: st = pan__cpu_resize(c); break;
    default: st = pan__op_is_unary(c->n->op) ? pan__cpu_unary(c) : pan__cpu_data(c); break;
    }
    if (st == PAN_UNSUPPORTED) {
        const pan_tensor *t = c->n->n_inputs > 0 && c->n->inputs[0] >= 0 ? &c->g->tensors[c->n->inputs[0]] : NULL;
        pan_log_error("nn", -1, "%s: node '%s' (%s): not supported by the cpu backend for dtype %s", c->g->source,
                      c->n->name, pan__op_name(c->n->op), t ? pan_dtype_name(t->dtype) : "-");
    }
    return st;
}
