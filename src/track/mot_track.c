/* The tracker alone on MOTChallenge detections ("public detections" protocol). */
#include <stdlib.h>
#include <string.h>

#include "track/mot.h"

pan_status pan_mot_track(const pan_mot_seq *det, const pan_tracker_params *params, pan_mot_seq *res)
{
    pan_status st;
    pan_tracker *t = NULL;
    pan_detection *d = NULL;
    pan_track_report *rep = NULL;
    int cap = 0;
    if (!det || !res || (det->n && !det->frame_start)) return PAN_INVAL;
    memset(res, 0, sizeof *res);
    if ((st = pan_tracker_create(&t, params))) return st;
    for (int f = 1; f <= det->n_frames; f++) {
        size_t b = det->frame_start[f], e = det->frame_start[f + 1];
        int n = (int)(e - b), n_out = 0;
        if (n + 64 > cap) {
            cap = (n + 64) * 2;
            pan_detection *d2 = realloc(d, (size_t)cap * sizeof *d2);
            if (d2) d = d2;
            /* Reports are bounded by live tracks, which can outnumber this frame's detections. */
            pan_track_report *r2 = realloc(rep, (size_t)cap * 4 * sizeof *r2);
            if (r2) rep = r2;
            if (!d2 || !r2) {
                st = PAN_NOMEM;
                goto done;
            }
        }
        for (int i = 0; i < n; i++) {
            const pan_mot_row *r = &det->rows[b + i];
            d[i].box[0] = r->x;
            d[i].box[1] = r->y;
            d[i].box[2] = r->x + r->w;
            d[i].box[3] = r->y + r->h;
            d[i].score = r->conf;
            d[i].class_id = 0;
            const float *e = det->emb && det->emb_dim > 0 ? det->emb + (b + i) * det->emb_dim : NULL;
            int any = 0;
            for (int k = 0; e && k < det->emb_dim && !any; k++) any = e[k] != 0.f;
            d[i].embedding = any ? e : NULL; /* an all-zero row: no embedding (mot.h) */
            d[i].embedding_dim = any ? det->emb_dim : 0;
        }
        st = pan_tracker_update(t, d, n, rep, cap * 4, &n_out);
        if (st && st != PAN_LIMIT) goto done;
        for (int i = 0; i < n_out; i++) {
            if (rep[i].state != PAN_TRACK_CONFIRMED) continue;
            pan_mot_row o = {f, rep[i].id, rep[i].box[0], rep[i].box[1], rep[i].box[2] - rep[i].box[0],
                             rep[i].box[3] - rep[i].box[1], rep[i].score, -1, -1.f};
            if ((st = pan_mot_seq_push(res, &o))) goto done;
        }
    }
    st = pan_mot_seq_finish(res);
done:
    pan_tracker_destroy(&t);
    free(d);
    free(rep);
    if (st) pan_mot_seq_free(res);
    return st;
}
