/* Settings read from the environment for measuring (src/core/env.h). */
#include "core/env.h"

#include <stdlib.h>

int pan__env_int(const char *name, int dflt, int lo, int hi)
{
    const char *e = getenv(name);
    if (!e || !*e) return dflt;
    int n = atoi(e);
    return n < lo ? lo : n > hi ? hi : n;
}
