/* Status codes: one table generates the enum, the names and the messages (libuv style).
 * 0 is success, every error is negative. Functions that can fail return pan_status. */
#ifndef PANOPTES_STATUS_H
#define PANOPTES_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, message). Append new codes at the end; never renumber. */
#define PAN_STATUS_TABLE(X)                                                              \
    X(OK, 0, "success")                                                                  \
    X(EAGAIN, -1, "resource temporarily unavailable: feed more input or drain output")  \
    X(EOF, -2, "end of stream")                                                          \
    X(NOMEM, -3, "out of host memory")                                                   \
    X(INVAL, -4, "invalid argument")                                                     \
    X(IO, -5, "input/output error")                                                      \
    X(NOTFOUND, -6, "file or resource not found")                                        \
    X(UNSUPPORTED, -7, "unsupported format, codec or operation")                         \
    X(CORRUPT, -8, "corrupt or malformed data")                                          \
    X(TIMEOUT, -9, "operation timed out")                                                \
    X(CUDA, -10, "CUDA runtime or driver error")                                         \
    X(NVDEC, -11, "NVDEC (nvcuvid) error")                                               \
    X(NOGPU, -12, "no usable NVIDIA GPU or driver")                                      \
    X(MODEL, -13, "invalid or unsupported model")                                        \
    X(SHAPE, -14, "tensor shape mismatch")                                               \
    X(RANGE, -15, "value out of range")                                                  \
    X(STATE, -16, "call not valid in the object's current state")                        \
    X(INTERRUPTED, -17, "interrupted")                                                   \
    X(LIMIT, -18, "a configured limit was exceeded")                                     \
    X(NET, -19, "network error")                                                         \
    X(RESIDENCY, -20, "GPU-only violation: a buffer is not in device memory")           \
    X(DEVMEM, -21, "out of GPU memory")                                                  \
    X(CLOSED, -22, "queue or stream closed")                                             \
    X(DNN, -23, "cuDNN or cuBLAS error")                                                 \
    X(FORMAT, -24, "container or demuxer error")                                         \
    X(TRUNCATED, -25, "the stream ended before its container said it would (truncated file or cut download)") \
    X(DAMAGED, -26, "damaged data: frames were lost or concealed")                       \
    X(NOSEEK, -27, "the input needs seeking that it does not allow (MP4 index at the end, server without range requests)") \
    X(BUSY, -28, "the device is still working on it: try again shortly")

typedef enum pan_status {
#define PAN__STATUS_ENUM(name, value, msg) PAN_##name = value,
    PAN_STATUS_TABLE(PAN__STATUS_ENUM)
#undef PAN__STATUS_ENUM
} pan_status;

/* "PAN_EAGAIN" etc.; "PAN_UNKNOWN" for values outside the table. */
const char *pan_status_name(int status);
/* Human-readable message; never NULL. */
const char *pan_status_str(int status);

#ifdef __cplusplus
}
#endif
#endif
