/* A fake model for the detector-family tests: outputs (names, shapes) and metadata behind a
 * pan__family_probe, without an engine. */
#ifndef PANOPTES_TESTS_FAMILY_FAKE_H
#define PANOPTES_TESTS_FAMILY_FAKE_H

#include <stdarg.h>
#include <string.h>

#include "vision/family.h"

typedef struct fake {
    pan_engine_tensor_info out[8];
    int n_out;
    const char *keys[8], *values[8];
    int n_meta;
    pan__family_probe probe;
} fake;

static inline const char *fake_meta(const void *ctx, const char *key)
{
    const fake *f = ctx;
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->keys[i], key)) return f->values[i];
    return NULL;
}

static inline void fake_init(fake *f, int w, int h)
{
    memset(f, 0, sizeof *f);
    f->probe = (pan__family_probe){"fake.onnx", w, h, 0, f->out, fake_meta, f};
}

static inline void fake_out(fake *f, const char *name, int rank, ...)
{
    va_list ap;
    va_start(ap, rank);
    pan_engine_tensor_info *t = &f->out[f->n_out++];
    t->name = name;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = va_arg(ap, int);
    va_end(ap);
    f->probe.n_outputs = f->n_out;
}

static inline void fake_meta_set(fake *f, const char *k, const char *v)
{
    f->keys[f->n_meta] = k;
    f->values[f->n_meta++] = v;
}

#endif
