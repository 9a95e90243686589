/* What the analytics report as numbers: the per-frame "analytics" member of a JSONL line
 * (cumulative line counts, current zone occupancy by class) and the final counts file. */
#include <string.h>

#include "analytics/analytics_impl.h"

static pan__an_cam *cam_of(const pan_analytics *a, int camera)
{
    return a && camera >= 0 && camera < a->n_cams ? a->cams[camera] : NULL;
}

/* Occupancy of zone z by class: objects with a live track, decided inside. Writes up to max
 * (class, count) pairs, the zone's class filter first (zeros included), then the others in
 * ascending class order. */
static int occupancy(pan_analytics *a, pan__an_cam *c, int z, int *cls, int *cnt, int max)
{
    const pan__an_zone *Z = c->zones[z];
    int n = 0;
    for (int i = 0; Z->classes && i < Z->n_classes && n < max; i++) {
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= cls[j] == Z->classes[i];
        if (!dup) cls[n] = Z->classes[i], cnt[n++] = 0;
    }
    a->stamp++;
    for (int i = 0; i < c->n_trk; i++) {
        pan__an_trk *k = &c->trk[i];
        pan__an_obj *o = k->obj;
        if (k->ended || !o->inside[z] || o->stamp == a->stamp) continue;
        o->stamp = a->stamp; /* an object with two live tracks counts once */
        int j = 0;
        while (j < n && cls[j] != k->class_id) j++;
        if (j == n) {
            if (n == max) continue;
            int at = Z->classes ? Z->n_classes : 0; /* keep the others sorted */
            if (at > n) at = n;
            while (at < n && cls[at] < k->class_id) at++;
            memmove(cls + at + 1, cls + at, (size_t)(n - at) * sizeof *cls);
            memmove(cnt + at + 1, cnt + at, (size_t)(n - at) * sizeof *cnt);
            cls[at] = k->class_id, cnt[at] = 0, n++;
            j = at;
        }
        cnt[j]++;
    }
    return n;
}

void pan_analytics_write_frame(pan_analytics *a, int camera, FILE *f)
{
    pan__an_cam *c = cam_of(a, camera);
    int cls[PAN_COCO_CLASSES + 16], cnt[PAN_COCO_CLASSES + 16];
    if (!c || (!c->n_lines && !c->n_zones)) return;
    fputs(",\"analytics\":{\"lines\":{", f);
    for (int l = 0; l < c->n_lines; l++) {
        fputs(l ? "," : "", f);
        pan__an_fput_json_str(f, c->lines[l]->name);
        fprintf(f, ":{\"in\":%lld,\"out\":%lld}", (long long)c->in[l], (long long)c->out[l]);
    }
    fputs("},\"zones\":{", f);
    for (int z = 0; z < c->n_zones; z++) {
        int n = occupancy(a, c, z, cls, cnt, (int)(sizeof cls / sizeof cls[0]));
        fputs(z ? "," : "", f);
        pan__an_fput_json_str(f, c->zones[z]->name);
        fputs(":{", f);
        for (int i = 0; i < n; i++) {
            fputs(i ? "," : "", f);
            pan__an_fput_json_str(f, pan_coco_label(cls[i]));
            fprintf(f, ":%d", cnt[i]);
        }
        fputc('}', f);
    }
    fputs("}}", f);
}

pan_status pan_analytics_write_counts(pan_analytics *a, int camera, FILE *f)
{
    /* a camera that never had a frame still has its configured lines and zones, at zero */
    pan__an_cam *c = a ? pan__an_get_cam(a, camera) : NULL;
    if (!c || !f) return a && f ? PAN_NOMEM : PAN_INVAL;
    fputs("{\"lines\":{", f);
    for (int l = 0; l < c->n_lines; l++) {
        fputs(l ? "," : "", f);
        pan__an_fput_json_str(f, c->lines[l]->name);
        fprintf(f, ":{\"in\":%lld,\"out\":%lld}", (long long)c->in[l], (long long)c->out[l]);
    }
    fputs("},\"zones\":{", f);
    for (int z = 0; z < c->n_zones; z++) {
        fputs(z ? "," : "", f);
        pan__an_fput_json_str(f, c->zones[z]->name);
        fputs(":{\"dwell_s\":[", f);
        for (int i = 0; i < c->n_dwell[z]; i++) fprintf(f, "%s%.3f", i ? "," : "", c->dwell[z][i]);
        fputs("]}", f);
    }
    fputs("}}\n", f);
    return ferror(f) ? PAN_IO : PAN_OK;
}

static int line_index(const pan__an_cam *c, const char *name)
{
    for (int l = 0; c && name && l < c->n_lines; l++)
        if (!strcmp(c->lines[l]->name, name)) return l;
    return -1;
}

static int zone_index(const pan__an_cam *c, const char *name)
{
    for (int z = 0; c && name && z < c->n_zones; z++)
        if (!strcmp(c->zones[z]->name, name)) return z;
    return -1;
}

pan_status pan_analytics_line_counts(const pan_analytics *a, int camera, const char *line, int64_t *in, int64_t *out)
{
    pan__an_cam *c = cam_of(a, camera);
    int l = line_index(c, line);
    if (l < 0) return PAN_NOTFOUND;
    if (in) *in = c->in[l];
    if (out) *out = c->out[l];
    return PAN_OK;
}

pan_status pan_analytics_zone_dwell(const pan_analytics *a, int camera, const char *zone, const double **dwell_s, int *n)
{
    pan__an_cam *c = cam_of(a, camera);
    int z = zone_index(c, zone);
    if (z < 0) return PAN_NOTFOUND;
    if (dwell_s) *dwell_s = c->dwell[z];
    if (n) *n = c->n_dwell[z];
    return PAN_OK;
}

pan_status pan_analytics_zone_occupancy(const pan_analytics *a, int camera, const char *zone, int *n)
{
    pan__an_cam *c = cam_of(a, camera);
    int z = zone_index(c, zone), cls[PAN_COCO_CLASSES + 16], cnt[PAN_COCO_CLASSES + 16];
    if (z < 0) return PAN_NOTFOUND;
    int k = occupancy((pan_analytics *)a, c, z, cls, cnt, (int)(sizeof cls / sizeof cls[0]));
    if (n) *n = 0;
    for (int i = 0; i < k && n; i++) *n += cnt[i];
    return PAN_OK;
}
