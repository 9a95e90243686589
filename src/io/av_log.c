/* Routes FFmpeg's own log lines through the Panoptes logger. libavcodec reports every damaged
 * macroblock it conceals; those are per-frame lines, so they become DEBUG (the decoder's error
 * counters and our own WARN lines report the damage). Only FFmpeg's fatal/panic lines stay ERROR. */
#include <libavutil/log.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "io/av_log.h"
#include "panoptes/log.h"

static void callback(void *avcl, int level, const char *fmt, va_list vl)
{
    pan_log_level ours = level <= AV_LOG_FATAL ? PAN_LOG_ERROR : PAN_LOG_DEBUG;
    if (!PAN_LOG_ENABLED(ours) || level > AV_LOG_VERBOSE) return;
    char line[1024];
    int prefix = 1;
    av_log_format_line(avcl, level, fmt, vl, line, sizeof line, &prefix);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (n) pan_log_write(ours, "ffmpeg", -1, "%s", line);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void install(void) { av_log_set_callback(callback); }

void pan__av_log_install(void) { pthread_once(&once, install); }
