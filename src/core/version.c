#include "panoptes/version.h"

const char *pan_version(void) { return PAN_VERSION_STRING; }
