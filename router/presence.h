/* The owner's side of presence: executing join/leave/kick operations from router inboxes.
 *
 * Gateways PUBLISH inbox envelopes (wire.h) to inbox:{owner}. The owner runs the presence Lua
 * scripts with its ring epoch as a fence: if the epoch is stale the script refuses, the router
 * refreshes its ring (an immediate heartbeat) and the operation is retried, forwarded to the new
 * owner if ownership moved. A router that receives an operation for a channel it does not own
 * forwards it once to the owner it believes in (hops counts this). */
#ifndef BF_PRESENCE_H
#define BF_PRESENCE_H

#include "router.h"

/* Handles one inbox envelope received on inbox:{self}. */
void bf_presence_on_inbox(bf_router *rt, const char *payload, size_t len);
/* Re-runs operations waiting for a fresher ring; call from the tick. */
void bf_presence_tick(bf_router *rt, uint64_t now_ms);
/* Removes what dead gateways left behind in the channels this router owns (presence entries,
 * with exactly one presence:leave per user left without a connection, and connection counts).
 * A gateway is dead when its membership expired (--heartbeat-ttl-ms on the gateway); the sweep
 * script re-checks that in Redis, so a stale local view can never sweep a live gateway. */
void bf_presence_sweep(bf_router *rt);

/* Frees queued operations (shutdown). */
void bf_presence_deinit(bf_router *rt);

#endif
