#include "pace.h"

void bf_pace_flushed(bf_pace *p, uint64_t now_us, size_t written, size_t listed)
{
    if (p->last_us && written && now_us > p->last_us) {
        double sample = (double)(now_us - p->last_us) / (double)written;
        double w = written >= BF_PACE_WEIGHT ? 1.0 : (double)written / BF_PACE_WEIGHT;
        p->us_per_conn += (sample - p->us_per_conn) * (p->us_per_conn > 0 ? w : 1.0);
    }
    p->last_us = listed ? now_us : 0;
}

uint64_t bf_pace_ahead_ms(const bf_pace *p, size_t listed)
{
    return (uint64_t)(p->us_per_conn * (double)listed / 1000.0);
}
