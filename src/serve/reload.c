/* Matching the running config cameras to a re-read config (src/serve/reload.h). */
#include "serve/reload.h"

int pan_serve_reload_plan(const pan_serve_camera *running, int n_running, const pan_serve_camera *want, int n_want,
                          int *keep, int *add)
{
    int changes = 0;
    for (int i = 0; i < n_running; i++) keep[i] = 0;
    for (int j = 0; j < n_want; j++) {
        add[j] = 1;
        for (int i = 0; i < n_running; i++)
            if (!keep[i] && pan_serve_camera_equal(&running[i], &want[j])) {
                keep[i] = 1;
                add[j] = 0;
                break;
            }
        changes += add[j];
    }
    for (int i = 0; i < n_running; i++) changes += !keep[i];
    return changes;
}
