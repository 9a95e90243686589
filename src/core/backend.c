#include "panoptes/backend.h"

#include <string.h>

const char *pan_backend_name(pan_backend b)
{
    switch (b) {
    case PAN_BACKEND_AUTO: return "auto";
    case PAN_BACKEND_CPU: return "cpu";
    case PAN_BACKEND_CUDA: return "cuda";
    }
    return "unknown";
}

int pan_backend_parse(const char *s)
{
    if (!strcmp(s, "auto")) return PAN_BACKEND_AUTO;
    if (!strcmp(s, "cpu")) return PAN_BACKEND_CPU;
    if (!strcmp(s, "cuda")) return PAN_BACKEND_CUDA;
    return -1;
}
