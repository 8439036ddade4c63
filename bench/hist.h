/* Log-linear latency histogram, in the style of HdrHistogram.
 *
 * Values (nanoseconds) below 128 have a bucket each; above that every power of two is split into
 * 64 linear sub-buckets, so any recorded value is reported within 1/64 (1.6 %) of itself while the
 * whole range 0 .. 2^42 ns (73 minutes) fits in a fixed 19 KiB array. Recording is a count-leading-
 * zeros and an increment, cheap enough to do for every delivered message. Percentiles report the
 * highest value of the bucket they fall in (HdrHistogram's "highest equivalent value"), capped at
 * the largest value actually recorded. */
#ifndef BB_HIST_H
#define BB_HIST_H

#include <stdint.h>

#define BB_HIST_LEN 2368 /* (35 + 2) * 64: indexes of values up to 2^42 - 1 */

typedef struct bb_hist {
    uint64_t counts[BB_HIST_LEN];
    uint64_t n, min, max;
    double sum;
} bb_hist;

void bb_hist_init(bb_hist *h);
void bb_hist_record(bb_hist *h, uint64_t v);
/* Adds every count of src into dst. */
void bb_hist_merge(bb_hist *dst, const bb_hist *src);
/* The value at percentile p (0 < p <= 100); 0 for an empty histogram. */
uint64_t bb_hist_percentile(const bb_hist *h, double p);
double bb_hist_mean(const bb_hist *h);

#endif
