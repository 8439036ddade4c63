/* See series.h. */
#include "series.h"

#include <stdlib.h>
#include <unistd.h>

typedef struct slot {
    uint64_t n, max;
} slot;

struct bb_series {
    uint64_t interval_ns, t0;
    size_t used; /* 1 + the highest interval index recorded */
    slot slots[BB_SERIES_MAX];
};

bb_series *bb_series_new(uint64_t interval_ms)
{
    if (!interval_ms) return NULL;
    bb_series *s = calloc(1, sizeof(*s));
    if (s) s->interval_ns = interval_ms * 1000000ull;
    return s;
}

void bb_series_free(bb_series *s)
{
    free(s);
}

void bb_series_start(bb_series *s, uint64_t t0)
{
    if (s) s->t0 = t0;
}

void bb_series_record(bb_series *s, uint64_t now, uint64_t lat)
{
    if (!s || !s->t0 || now < s->t0) return;
    size_t i = (size_t)((now - s->t0) / s->interval_ns);
    if (i >= BB_SERIES_MAX) i = BB_SERIES_MAX - 1;
    if (i + 1 > s->used) s->used = i + 1;
    s->slots[i].n++;
    if (lat > s->slots[i].max) s->slots[i].max = lat;
}

void bb_series_print(const bb_series *s, FILE *f)
{
    if (!s) return;
    fprintf(f, "series-start %d %llu\n", (int)getpid(), (unsigned long long)s->t0);
    for (size_t i = 0; i < s->used; i++)
        fprintf(f, "series %d %llu %llu %llu\n", (int)getpid(),
                (unsigned long long)(i * s->interval_ns / 1000000ull),
                (unsigned long long)s->slots[i].n, (unsigned long long)(s->slots[i].max / 1000));
}
