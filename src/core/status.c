#include "panoptes/status.h"

const char *pan_status_name(int status)
{
    switch (status) {
#define PAN__STATUS_NAME(name, value, msg) case value: return "PAN_" #name;
        PAN_STATUS_TABLE(PAN__STATUS_NAME)
#undef PAN__STATUS_NAME
    }
    return "PAN_UNKNOWN";
}

const char *pan_status_str(int status)
{
    switch (status) {
#define PAN__STATUS_MSG(name, value, msg) case value: return msg;
        PAN_STATUS_TABLE(PAN__STATUS_MSG)
#undef PAN__STATUS_MSG
    }
    return "unknown error";
}
