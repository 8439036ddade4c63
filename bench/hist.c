#include "hist.h"

#include <string.h>

#define MAX_VALUE ((UINT64_C(1) << 42) - 1)

static unsigned index_of(uint64_t v)
{
    if (v < 128) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - 6u; /* v >> shift lies in [64, 128) */
    return shift * 64u + (unsigned)(v >> shift);
}

static uint64_t highest_of(unsigned idx)
{
    if (idx < 128) return idx;
    unsigned shift = (idx >> 6) - 1u;
    uint64_t sub = idx - (shift << 6);
    return ((sub + 1) << shift) - 1;
}

void bb_hist_init(bb_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

void bb_hist_record(bb_hist *h, uint64_t v)
{
    if (v > MAX_VALUE) v = MAX_VALUE;
    h->counts[index_of(v)]++;
    h->n++;
    h->sum += (double)v;
    if (v > h->max) h->max = v;
    if (v < h->min) h->min = v;
}

void bb_hist_merge(bb_hist *dst, const bb_hist *src)
{
    for (unsigned i = 0; i < BB_HIST_LEN; i++) dst->counts[i] += src->counts[i];
    dst->n += src->n;
    dst->sum += src->sum;
    if (src->max > dst->max) dst->max = src->max;
    if (src->min < dst->min) dst->min = src->min;
}

uint64_t bb_hist_percentile(const bb_hist *h, double p)
{
    if (!h->n) return 0;
    double want = p / 100.0 * (double)h->n;
    uint64_t target = (uint64_t)want;
    if ((double)target < want) target++;
    if (target < 1) target = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BB_HIST_LEN; i++) {
        seen += h->counts[i];
        if (seen >= target) {
            uint64_t v = highest_of(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

double bb_hist_mean(const bb_hist *h)
{
    return h->n ? h->sum / (double)h->n : 0.0;
}
