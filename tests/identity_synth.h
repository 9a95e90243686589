/* A synthetic multi-camera stream for the identity manager (test-identity.c, test-gpu-gallery.c):
 * SYN_PEOPLE people with random unit SYN_DIM-d appearance vectors; at step s (25 steps/s), camera
 * c shows people (s / 40 * 7 + c * 31 + j * 53) % SYN_PEOPLE for j < SYN_PER, each as a track whose
 * id changes with the 40-step window (a person leaves and comes back as a new track), with an
 * embedding = person + uniform noise (±0.08 per dimension: cosine ~0.9 to the person), confirmed.
 * syn_run returns the global id of every report in order (and the person behind each in
 * *persons), or NULL on failure. */
#ifndef PANOPTES_TESTS_IDENTITY_SYNTH_H
#define PANOPTES_TESTS_IDENTITY_SYNTH_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "panoptes/track.h"

enum { SYN_PEOPLE = 600, SYN_CAMS = 8, SYN_DIM = 128, SYN_STEPS = 400, SYN_PER = 12 };

static unsigned syn_rng;
static float syn_frand(void)
{
    syn_rng = syn_rng * 1664525u + 1013904223u;
    return (float)((syn_rng >> 8) & 0xffffff) / 16777216.0f * 2.f - 1.f;
}

static void syn_normalise(float *v, int d)
{
    double n = 0;
    for (int i = 0; i < d; i++) n += (double)v[i] * v[i];
    for (int i = 0; i < d; i++) v[i] = (float)(v[i] / sqrt(n));
}

static int64_t *syn_run(const pan_identity_params *ip, int *n_out, int **persons)
{
    static float base[SYN_PEOPLE][SYN_DIM];
    syn_rng = 4242u;
    for (int p = 0; p < SYN_PEOPLE; p++) {
        for (int k = 0; k < SYN_DIM; k++) base[p][k] = syn_frand();
        syn_normalise(base[p], SYN_DIM);
    }
    pan_identity *im = NULL;
    if (pan_identity_create(&im, ip)) return NULL;
    int64_t *ids = malloc((size_t)SYN_STEPS * SYN_CAMS * SYN_PER * sizeof *ids);
    int *who = malloc((size_t)SYN_STEPS * SYN_CAMS * SYN_PER * sizeof *who);
    int n = 0;
    for (int s = 0; s < SYN_STEPS; s++) {
        for (int c = 0; c < SYN_CAMS; c++) {
            pan_track_report r[SYN_PER];
            float e[SYN_PER][SYN_DIM];
            const float *ep[SYN_PER];
            for (int j = 0; j < SYN_PER; j++) {
                int person = (s / 40 * 7 + c * 31 + j * 53) % SYN_PEOPLE;
                r[j] = (pan_track_report){(int64_t)(s / 40) * 1000 + j + 1, 0, 0, 0.9f,
                                          {(float)j * 100, 10, (float)j * 100 + 40, 110}, PAN_TRACK_CONFIRMED};
                for (int k = 0; k < SYN_DIM; k++) e[j][k] = base[person][k] + 0.08f * syn_frand();
                syn_normalise(e[j], SYN_DIM);
                ep[j] = e[j];
                who[n + j] = person;
            }
            if (pan_identity_assign(im, c, s * 0.04, r, SYN_PER, ep, SYN_DIM)) {
                pan_identity_destroy(&im);
                free(ids);
                free(who);
                return NULL;
            }
            for (int j = 0; j < SYN_PER; j++) ids[n++] = r[j].global_id;
        }
    }
    pan_identity_destroy(&im);
    *n_out = n;
    if (persons) *persons = who;
    else free(who);
    return ids;
}

#endif
