/* The gateway's presence operations on their way into Redis.
 *
 * A join, rejoin or leave of a presence connection counts as done when Redis has it: the gateway
 * records it in its channel's queue of pending operations (presence_enqueue.lua) and Redis' reply
 * is the acknowledgement. From then on no process has to survive for it to take effect: the
 * channel's owner (the router the ring assigns the channel to) is nudged in the same step and
 * applies it, and if that owner dies first, the next one does (router/owner_ops.h). Applying is
 * idempotent, so an operation whose acknowledgement was lost is simply recorded again.
 *
 * Until acknowledged, an operation is retried with a bounded exponential backoff (100 ms doubling
 * to 2 s, for up to give_up_ms in total; a connection whose operation is given up is repaired by
 * the gateway's reconciliation, reconcile.h). A connection's operations reach Redis in the order
 * they were sent: the next one goes only after the previous one is acknowledged. The ring of live
 * routers (from the gateway's heartbeat) only picks which router to nudge. */
#ifndef BF_OWNER_H
#define BF_OWNER_H

#include "redis.h"
#include "wire.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct bf_owner bf_owner;

typedef struct bf_owner_stats {
    uint64_t sent, retries, failed; /* acknowledged by Redis, attempts retried, given up */
} bf_owner_stats;

/* cmd, prefix and node_id (this gateway's id, the part of its connection ids before the '/') are
 * borrowed and must outlive the object. Caller frees with bf_owner_free. */
bf_owner *bf_owner_new(bf_redis *cmd, const char *prefix, const char *node_id, uint64_t give_up_ms);
void bf_owner_free(bf_owner *o);

/* Replaces the set of live routers (ids copied). */
void bf_owner_set_routers(bf_owner *o, const char *const *ids, size_t n);
size_t bf_owner_routers(const bf_owner *o);

/* Queues op m (join, rejoin or leave) of one of this gateway's connections; every field is
 * copied. A leave of a connection whose join never left the gateway cancels both. */
void bf_owner_send(bf_owner *o, const bf_inbox *m);

/* Sends what is due; call from the gateway tick. */
void bf_owner_tick(bf_owner *o, uint64_t now_ms);

const bf_owner_stats *bf_owner_stats_get(const bf_owner *o);
/* Operations queued or in flight (not yet acknowledged). */
size_t bf_owner_pending(const bf_owner *o);
/* Whether an operation of connection conn_id is queued or in flight. */
bool bf_owner_conn_pending(const bf_owner *o, const char *conn_id);

#endif
