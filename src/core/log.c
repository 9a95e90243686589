#include "panoptes/log.h"
#include "core/log_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

volatile int pan_log_level_current = PAN_LOG_INFO;

static pan_log_sink_fn log_sink;
/* The last error or warning logged on each thread, without its "[level] module: camera N: "
 * prefix (pan__log_last_error). */
static _Thread_local char last_error[512];
static void *log_sink_opaque;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void pan_log_init(void)
{
    const char *v = getenv("PANOPTES_LOG");
    const char *dbg = getenv("DEBUG");
    if (v && *v) {
        if (!strcasecmp(v, "debug")) pan_log_level_current = PAN_LOG_DEBUG;
        else if (!strcasecmp(v, "info")) pan_log_level_current = PAN_LOG_INFO;
        else if (!strcasecmp(v, "warn") || !strcasecmp(v, "warning")) pan_log_level_current = PAN_LOG_WARN;
        else if (!strcasecmp(v, "error")) pan_log_level_current = PAN_LOG_ERROR;
        else if (!strcasecmp(v, "quiet")) pan_log_level_current = PAN_LOG_QUIET;
    } else if (dbg && *dbg && strcmp(dbg, "0") != 0) {
        pan_log_level_current = PAN_LOG_DEBUG;
    }
}

void pan_log_set_level(pan_log_level level) { pan_log_level_current = level; }

void pan_log_set_sink(pan_log_sink_fn fn, void *opaque)
{
    pthread_mutex_lock(&log_lock);
    log_sink = fn;
    log_sink_opaque = opaque;
    pthread_mutex_unlock(&log_lock);
}

static const char *level_name(pan_log_level l)
{
    switch (l) {
    case PAN_LOG_ERROR: return "error";
    case PAN_LOG_WARN: return "warn";
    case PAN_LOG_INFO: return "info";
    case PAN_LOG_DEBUG: return "debug";
    default: return "?";
    }
}

void pan_log_write(pan_log_level level, const char *module, int camera, const char *fmt, ...)
{
    char line[1024];
    int n;
    if (camera >= 0)
        n = snprintf(line, sizeof line, "[%s] %s: camera %d: ", level_name(level), module ? module : "-", camera);
    else
        n = snprintf(line, sizeof line, "[%s] %s: ", level_name(level), module ? module : "-");
    if (n < 0) n = 0;
    if ((size_t)n < sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (level <= PAN_LOG_WARN) {
        size_t k = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
        snprintf(last_error, sizeof last_error, "%s", line + k);
    }
    if (!PAN_LOG_ENABLED(level)) return;
    pthread_mutex_lock(&log_lock);
    if (log_sink) log_sink(log_sink_opaque, level, line);
    else fprintf(stderr, "%s\n", line);
    pthread_mutex_unlock(&log_lock);
}

const char *pan__log_last_error(void) { return last_error; }

void pan__log_clear_last_error(void) { last_error[0] = 0; }
