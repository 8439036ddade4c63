#include "backoff.h"

uint64_t bf_backoff_delay(const bf_backoff *b, unsigned attempt, uint32_t rnd)
{
    uint64_t d = b->initial_ms;
    for (unsigned i = 0; i < attempt && d < b->max_ms; i++) d *= 2;
    if (d > b->max_ms) d = b->max_ms;
    if (b->jitter_pct) {
        double u = (double)rnd / (double)UINT32_MAX * 2.0 - 1.0; /* [-1, 1] */
        long long v = (long long)d + (long long)((double)d * b->jitter_pct / 100.0 * u);
        d = v < 0 ? 0 : (uint64_t)v;
        if (d > b->max_ms) d = b->max_ms;
    }
    return d;
}
