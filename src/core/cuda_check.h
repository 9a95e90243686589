/* Internal: the one CUDA error-checking macro (runtime API). Logs the API call, the error's
 * name and string, file:line, and returns PAN_CUDA (PAN_DEVMEM for out-of-memory) from the
 * enclosing function. For code with a cleanup label, PAN_CUDA_TRY sets `st` and jumps to fail. */
#ifndef PANOPTES_CUDA_CHECK_H
#define PANOPTES_CUDA_CHECK_H

#include <cuda_runtime_api.h>

#include "panoptes/log.h"
#include "panoptes/status.h"

static inline pan_status pan__cuda_status(cudaError_t e, const char *call, const char *file, int line)
{
    if (e == cudaSuccess) return PAN_OK;
    pan_log_error("cuda", -1, "%s failed: %s (%s) at %s:%d", call, cudaGetErrorName(e),
                  cudaGetErrorString(e), file, line);
    return e == cudaErrorMemoryAllocation ? PAN_DEVMEM : PAN_CUDA;
}

#define PAN_CUDA_CHECK(call)                                                          \
    do {                                                                              \
        pan_status pan_cc_ = pan__cuda_status((call), #call, __FILE__, __LINE__);     \
        if (pan_cc_ != PAN_OK) return pan_cc_;                                        \
    } while (0)

#define PAN_CUDA_TRY(call)                                                            \
    do {                                                                              \
        st = pan__cuda_status((call), #call, __FILE__, __LINE__);                     \
        if (st != PAN_OK) goto fail;                                                  \
    } while (0)

#endif
