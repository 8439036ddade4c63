/* backoff — the one retry-delay rule of Belfry: exponential, capped, optionally spread.
 *
 * The delay before retry n (n = 0 for the first) is min(max_ms, initial_ms * 2^n), spread
 * uniformly over +-jitter_pct percent of itself and never above max_ms. The Redis links
 * (common/redis.c), the gateway's owner operations (gateway/owner.c), the router's parked
 * presence operations (router/owner_ops.c) and the C client's reconnection (client/src/client.c)
 * all take their delays from here, each with its own policy. Pure: the caller supplies the
 * randomness (the daemons rand(), libbelfry RAND_bytes), so libbelfry can compile it in and the
 * unit tests can pin it (tests/unit/backoff.c). */
#ifndef BF_BACKOFF_H
#define BF_BACKOFF_H

#include <stdint.h>

typedef struct bf_backoff {
    uint64_t initial_ms; /* the first delay */
    uint64_t max_ms;     /* the cap, jitter included */
    unsigned jitter_pct; /* 0..100; 0: exact delays */
} bf_backoff;

/* The delay before retry `attempt` (0-based); rnd is a uniform random 32-bit value (ignored
 * without jitter). */
uint64_t bf_backoff_delay(const bf_backoff *b, unsigned attempt, uint32_t rnd);

#endif
