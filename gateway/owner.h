/* The gateway's route to channel owners.
 *
 * Joins and leaves of presence connections must be executed by the channel's owner, the router
 * that the ring assigns the channel to. The gateway learns the live routers from its heartbeat,
 * computes the owner with the shared ring, and PUBLISHes an inbox envelope to inbox:{owner}. If
 * nobody receives it (the owner just died) or Redis is unreachable, the operation is retried with
 * a bounded exponential backoff (100 ms doubling to 2 s, for at most the give_up_ms passed to
 * bf_owner_new in total; the gateway passes 30 s, not configurable) against the freshest ring;
 * operations for one channel are sent in order. */
#ifndef BF_OWNER_H
#define BF_OWNER_H

#include "redis.h"
#include "wire.h"

#include <stdint.h>

typedef struct bf_owner bf_owner;

typedef struct bf_owner_stats {
    uint64_t sent, retries, failed;
} bf_owner_stats;

/* cmd and prefix are borrowed and must outlive the object. Caller frees with bf_owner_free. */
bf_owner *bf_owner_new(bf_redis *cmd, const char *prefix, uint64_t give_up_ms);
void bf_owner_free(bf_owner *o);

/* Replaces the set of live routers (ids copied). */
void bf_owner_set_routers(bf_owner *o, const char *const *ids, size_t n);
size_t bf_owner_routers(const bf_owner *o);

/* Queues op for the owner of m->channel (every field is copied). */
void bf_owner_send(bf_owner *o, const bf_inbox *m);

/* Sends what is due; call from the gateway tick. */
void bf_owner_tick(bf_owner *o, uint64_t now_ms);

const bf_owner_stats *bf_owner_stats_get(const bf_owner *o);
/* Operations queued or in flight. */
size_t bf_owner_pending(const bf_owner *o);

#endif
