/* Internal: what the logger keeps for the pipeline's statistics. */
#ifndef PANOPTES_LOG_INTERNAL_H
#define PANOPTES_LOG_INTERNAL_H

/* The last error or warning logged on the calling thread ("" when none), without the level,
 * module and camera prefix. Valid until the thread logs again. */
const char *pan__log_last_error(void);
void pan__log_clear_last_error(void);

#endif
