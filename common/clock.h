/* Wall-clock time for what leaves the process (joinedAt, started_ms): one definition. Intervals
 * and deadlines use the monotonic bf_now_ms() (common/redis.h) instead. */
#ifndef BF_CLOCK_H
#define BF_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t bf_wall_ms(void);

#endif
