/* The operator table (src/nn/op_table.h): its columns agree with each other and with the importers,
 * and a backend that lacks ops names every one of them in one message. */
#include <stdio.h>
#include <string.h>

#include "nn/cpu_ops.h"
#include "nn/ir.h"
#include "nn/onnx.h"
#include "panoptes/log.h"
#include "test.h"
#include "nn_test_util.h"

PAN_TEST(every_op_has_a_unique_name_and_a_cpu_kernel)
{
    for (int i = 0; i < PAN_OP_COUNT; i++) {
        const char *nm = pan__op_name((pan_op)i);
        ASSERT_TRUE(nm && *nm && strcmp(nm, "?"));
        ASSERT_EQ(pan__op_from_name(nm), i); /* unique: the first row with that name is this one */
        ASSERT_TRUE(pan__cpu_has_op((pan_op)i)); /* constant folding runs every op on the cpu */
        ASSERT_TRUE(pan__op_attrs((pan_op)i)[0] != 0);
    }
    ASSERT_EQ(pan__op_from_name("NoSuchOp"), -1);
    ASSERT_STREQ(pan__op_name(PAN_OP_COUNT), "?");
}

PAN_TEST(unary_ops_read_unary_attrs)
{
    for (int i = 0; i < PAN_OP_COUNT; i++) {
        if (pan__op_is_unary((pan_op)i)) ASSERT_STREQ(pan__op_attrs((pan_op)i), "unary");
        ASSERT_TRUE(!(pan__op_is_unary((pan_op)i) && pan__op_is_binary((pan_op)i)));
    }
    ASSERT_TRUE(pan__op_is_unary(PAN_OP_RELU));
    ASSERT_TRUE(pan__op_is_binary(PAN_OP_ADD));
    ASSERT_TRUE(!pan__op_is_unary(PAN_OP_CONV));
}

PAN_TEST(onnx_rows_marked_own_have_a_converter)
{
#ifdef PANOPTES_HAVE_ONNX
    for (int i = 0; i < PAN_OP_COUNT; i++) {
        const char *nm = pan__op_name((pan_op)i);
        if (pan__op_onnx((pan_op)i) == PAN_ONNX_OWN && !pan__onnx_has_converter(nm))
            fprintf(stderr, "    %s is marked OWN but onnx_ops.c has no converter\n", nm);
        if (pan__op_onnx((pan_op)i) == PAN_ONNX_OWN) ASSERT_TRUE(pan__onnx_has_converter(nm));
    }
#else
    PAN_SKIP("built without ONNX");
#endif
}

static char last_error[2048];
static int n_errors;
static void sink(void *opaque, pan_log_level level, const char *line)
{
    (void)opaque;
    if (level != PAN_LOG_ERROR) return;
    snprintf(last_error, sizeof last_error, "%s", line);
    n_errors++;
}

PAN_TEST(a_backend_lists_every_missing_op_in_one_message)
{
    pan_graph *g = NULL;
    ASSERT_OK(pan__graph_create(&g, "model.onnx"));
    int x = nt_input(g, "x", 4, D(1, 2, 4, 4));
    int a = nt_node(g, PAN_OP_SIGMOID, "s1", NULL, 1, x);
    int b = nt_node(g, PAN_OP_TANH, "t1", NULL, 1, a);
    int c = nt_node(g, PAN_OP_SIGMOID, "s2", NULL, 1, b);
    int d = nt_node(g, PAN_OP_RELU, "r1", NULL, 1, c);
    ASSERT_TRUE(d >= 0);
    ASSERT_OK(pan__graph_mark_output(g, d));
    unsigned char has[PAN_OP_COUNT];
    memset(has, 1, sizeof has);
    ASSERT_OK(pan__graph_check_backend(g, "test", has));
    has[PAN_OP_SIGMOID] = has[PAN_OP_TANH] = 0;
    pan_log_set_sink(sink, NULL);
    n_errors = 0;
    ASSERT_EQ(pan__graph_check_backend(g, "test", has), PAN_UNSUPPORTED);
    pan_log_set_sink(NULL, NULL);
    fprintf(stderr, "    %s\n", last_error);
    ASSERT_EQ(n_errors, 1);
    ASSERT_TRUE(strstr(last_error, "model.onnx") != NULL);
    ASSERT_TRUE(strstr(last_error, "the test backend") != NULL);
    ASSERT_TRUE(strstr(last_error, "Sigmoid (2 nodes, first 's1')") != NULL);
    ASSERT_TRUE(strstr(last_error, "Tanh (node 't1')") != NULL);
    ASSERT_TRUE(strstr(last_error, "Relu") == NULL);
    pan__graph_destroy(&g);
}

PAN_TEST(missing_list_reports_nothing_when_empty)
{
    pan_op_missing m = {0};
    ASSERT_OK(pan__op_missing_report(&m, "x", "y", NULL));
    pan__op_missing_add(&m, "A", "n1");
    pan__op_missing_add(&m, "A", "n2");
    pan__op_missing_add(&m, NULL, NULL);
    ASSERT_EQ(m.n, 2);
    ASSERT_EQ(m.v[0].count, 2);
    pan_log_set_level(PAN_LOG_QUIET);
    ASSERT_EQ(pan__op_missing_report(&m, NULL, "y", NULL), PAN_UNSUPPORTED);
    pan_log_set_level(PAN_LOG_WARN);
    ASSERT_EQ(m.n, 0);
    ASSERT_TRUE(m.v == NULL);
}

PAN_TEST_MAIN(every_op_has_a_unique_name_and_a_cpu_kernel, unary_ops_read_unary_attrs,
              onnx_rows_marked_own_have_a_converter, a_backend_lists_every_missing_op_in_one_message,
              missing_list_reports_nothing_when_empty)
