/* Helpers shared by the sub-commands (cli.h): shipped files, checked numbers. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int pan_cli_file_exists(const char *path) { return access(path, R_OK) == 0; }

const char *pan_cli_find_asset(const char *rel, char *buf, size_t n)
{
    const char *home = getenv("PANOPTES_HOME");
    if (home) {
        snprintf(buf, n, "%s/%s", home, rel);
        if (pan_cli_file_exists(buf)) return buf;
    }
    if (pan_cli_file_exists(rel)) return rel;
    char exe[PATH_MAX - 64];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = 0;
            snprintf(buf, n, "%s/%s", exe, rel);
            if (pan_cli_file_exists(buf)) return buf;
        }
    }
    return NULL;
}

int pan_cli_parse_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "panoptes %s: %s takes a whole number from %ld to %ld, not '%s'\n", cmd, opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int pan_cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "panoptes %s: %s takes a number from %g to %g, not '%s'\n", cmd, opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}
