/* Helpers shared by the benchmark programs in bench/: a monotonic clock and comma lists. */
#ifndef PANOPTES_BENCH_UTIL_H
#define PANOPTES_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "64,128,256" -> out (at most max values); returns how many. */
static inline int bench_parse_list(const char *s, int *out, int max)
{
    int n = 0;
    while (*s && n < max) {
        out[n++] = (int)strtol(s, (char **)&s, 10);
        if (*s != ',') break;
        s++;
    }
    return n;
}

#endif
