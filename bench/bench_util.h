/* Helpers shared by the benchmark programs in bench/: clocks and comma lists. */
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

/* Host CPU seconds of this process, all threads (on a busy machine wall time includes waiting for
 * a core, CPU time does not). */
static inline double bench_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline double bench_now_ms(void) { return 1e3 * bench_now_s(); }
static inline double bench_cpu_ms(void) { return 1e3 * bench_cpu_s(); }

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
