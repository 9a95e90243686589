/* Test helpers: synthetic clips made with the ffmpeg command-line tool in a temp folder. */
#ifndef PANOPTES_TEST_MEDIA_H
#define PANOPTES_TEST_MEDIA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline int pan_test_have_ffmpeg(void) { return system("ffmpeg -version >/dev/null 2>&1") == 0; }

/* A per-process temp folder, made once. */
static inline const char *pan_test_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/panoptes-test-XXXXXX");
        if (!mkdtemp(dir)) return "/tmp";
    }
    return dir;
}

/* Makes tmpdir/name with `ffmpeg -f lavfi -i <lavfi> <args>` unless it exists. Returns the path or NULL. */
static inline const char *pan_test_make_clip(const char *name, const char *lavfi, const char *args)
{
    static char paths[16][512];
    static int slot;
    char *path = paths[slot++ & 15];
    char cmd[2048];
    snprintf(path, 512, "%s/%s", pan_test_tmpdir(), name);
    if (access(path, R_OK) == 0) return path;
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -y -f lavfi -i '%s' %s '%s'", lavfi, args, path);
    if (system(cmd) != 0) return NULL;
    return path;
}

#endif
