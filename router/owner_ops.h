/* The routers' side of presence: applying the operations gateways put in Redis, kicks, sweeps.
 *
 * A gateway records each presence operation in its channel's queue (pops:{channel}, with
 * presence_enqueue.lua: Redis' reply is its acknowledgement) and nudges the channel's owner with
 * an "apply" envelope (op 5) on inbox:{owner}. The router that receives the nudge runs
 * presence_apply.lua, which takes each operation off the queue in the same atomic step that applies
 * it: exactly once, whoever runs it, so no fence is needed. A nudge lost with a dying router costs
 * latency only: every sweep pass applies what is pending in the channels this router owns.
 * Join/leave envelopes sent straight to the inbox (gateways before this scheme) are enqueued and
 * applied the same way. belfryctl records kicks the same way too (applied as a fan-out kick); a
 * kick envelope sent straight to the inbox (an older belfryctl) goes to the owner, which fans it
 * out (a router that does not own the channel forwards once; hops counts this). */
#ifndef BF_PRESENCE_H
#define BF_PRESENCE_H

#include "router.h"

/* Handles one inbox envelope received on inbox:{self}. */
void bf_presence_on_inbox(bf_router *rt, const char *payload, size_t len);
/* Re-runs inbox operations waiting for a fresher ring or for Redis; call from the tick. */
void bf_presence_tick(bf_router *rt, uint64_t now_ms);
/* Removes what dead gateways left behind in the channels this router owns (presence entries,
 * with exactly one presence:leave per user left without a connection, and connection counts).
 * A gateway is dead when its membership expired (--heartbeat-ttl-ms on the gateway); the sweep
 * script re-checks that in Redis, so a stale local view can never sweep a live gateway. */
void bf_presence_sweep(bf_router *rt);
/* (bf_presence_sweep also applies the pending operations of the channels this router owns.) */

/* Frees queued operations (shutdown). */
void bf_presence_deinit(bf_router *rt);

#endif
