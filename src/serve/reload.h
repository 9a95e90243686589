/* SIGHUP: the config file is read again and the cameras it lists are added and removed to match.
 * Only the cameras that came from the config file take part; those added through the API or
 * with --camera stay. A camera whose entry is unchanged (same uri, name and options) keeps
 * running untouched; an edited entry is a removal plus an addition. */
#ifndef PANOPTES_SERVE_RELOAD_H
#define PANOPTES_SERVE_RELOAD_H

#include "serve/camera.h"

/* keep[i] = 1 when running[i] is still wanted (else remove it); add[j] = 1 when want[j] has no
 * running camera (start it). Equal entries pair up one to one, in order, so listing a camera
 * twice runs it twice. Returns the number of changes (removals + additions). */
int pan_serve_reload_plan(const pan_serve_camera *running, int n_running, const pan_serve_camera *want, int n_want,
                          int *keep, int *add);

#endif
