#ifndef PANOPTES_IO_AV_LOG_H
#define PANOPTES_IO_AV_LOG_H
/* Installs the FFmpeg → Panoptes log bridge (once per process; thread-safe). */
void pan__av_log_install(void);
#endif
