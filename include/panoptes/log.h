/* Levelled, tagged logging. The level is checked before any formatting, so a disabled
 * per-frame DEBUG line costs one predictable branch. PANOPTES_LOG=error|warn|info|debug
 * (or DEBUG=1, as in the seed plan) sets the level at the first call of pan_log_init(). */
#ifndef PANOPTES_LOG_H
#define PANOPTES_LOG_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pan_log_level {
    PAN_LOG_QUIET = -1,
    PAN_LOG_ERROR = 0,
    PAN_LOG_WARN = 1,
    PAN_LOG_INFO = 2,
    PAN_LOG_DEBUG = 3,
} pan_log_level;

/* Current level; read directly by the macros below (one load and one compare). */
extern volatile int pan_log_level_current;

/* Reads PANOPTES_LOG / DEBUG from the environment. Safe to call more than once. */
void pan_log_init(void);
void pan_log_set_level(pan_log_level level);

/* Sink: receives fully formatted lines (without trailing newline). Default writes to stderr. */
typedef void (*pan_log_sink_fn)(void *opaque, pan_log_level level, const char *line);
void pan_log_set_sink(pan_log_sink_fn fn, void *opaque);

/* camera < 0 means "not about one camera". module is a short tag such as "decode". */
void pan_log_write(pan_log_level level, const char *module, int camera, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#define PAN_LOG_ENABLED(lvl) ((int)(lvl) <= pan_log_level_current)
/* Errors and warnings are always formatted (they are rare): the last one of each thread is kept
 * for the camera's statistics even when the level hides it. */
#define pan_log(lvl, module, camera, ...)                                                             \
    do {                                                                                              \
        if (PAN_LOG_ENABLED(lvl) || (int)(lvl) <= PAN_LOG_WARN) pan_log_write((lvl), (module), (camera), __VA_ARGS__); \
    } while (0)
#define pan_log_error(module, camera, ...) pan_log(PAN_LOG_ERROR, module, camera, __VA_ARGS__)
#define pan_log_warn(module, camera, ...) pan_log(PAN_LOG_WARN, module, camera, __VA_ARGS__)
#define pan_log_info(module, camera, ...) pan_log(PAN_LOG_INFO, module, camera, __VA_ARGS__)
#define pan_log_debug(module, camera, ...) pan_log(PAN_LOG_DEBUG, module, camera, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
