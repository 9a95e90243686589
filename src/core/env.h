/* Settings read from the environment for measuring (PANOPTES_CAMERA_QUEUE, PANOPTES_NVDEC_*):
 * not the library's options, which come through its parameters. */
#ifndef PANOPTES_CORE_ENV_H
#define PANOPTES_CORE_ENV_H

/* The integer in variable `name` clamped to lo..hi (text that is no number reads as 0, then
 * clamped), or dflt (as given) when it is unset or empty. */
int pan__env_int(const char *name, int dflt, int lo, int hi);

#endif
