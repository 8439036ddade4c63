/* Latency as a time series: the highest publish-to-receive latency and the number of deliveries
 * in each interval of --series-ms, so a periodic stall shows as the intervals where it happened
 * rather than only as a percentile. Bounded: at most BB_SERIES_MAX intervals are kept; later
 * deliveries count in the last one. Each worker prints its own series to stderr at the end, one
 * line per interval: "series <pid> <ms since measuring began> <deliveries> <max latency us>",
 * after one "series-start <pid> <CLOCK_MONOTONIC ns of interval 0>" line that lets the series be
 * lined up with other samples of the same clock. */
#ifndef BB_SERIES_H
#define BB_SERIES_H

#include <stdint.h>
#include <stdio.h>

#define BB_SERIES_MAX 36000

typedef struct bb_series bb_series;

/* NULL when interval_ms is 0 (off) or memory is short; caller frees with bb_series_free. */
bb_series *bb_series_new(uint64_t interval_ms);
void bb_series_free(bb_series *s);
/* Sets the start of interval 0 (CLOCK_MONOTONIC ns). */
void bb_series_start(bb_series *s, uint64_t t0);
/* One delivery received at `now` with latency `lat` (ns); no-op on NULL or before the start. */
void bb_series_record(bb_series *s, uint64_t now, uint64_t lat);
/* Prints every interval up to the last one that saw a delivery. */
void bb_series_print(const bb_series *s, FILE *f);

#endif
