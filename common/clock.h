/* Wall-clock time for what leaves the process (joinedAt, started_ms): one definition. Intervals
 * and deadlines use the monotonic bf_now_ms() (common/redis.h) instead, or bf_mono_us() where a
 * millisecond is too coarse. */
#ifndef BF_CLOCK_H
#define BF_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t bf_wall_ms(void);

/* Monotonic microseconds (CLOCK_MONOTONIC; a vDSO call, no system call). */
uint64_t bf_mono_us(void);

#endif
