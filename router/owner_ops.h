/* The owner's operations: what a router does for the channels the ring assigns it — applying the
 * presence operations gateways put in Redis, kicks, and sweeping up after dead gateways.
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
 * out (a router that does not own the channel forwards once; hops counts this).
 *
 * The module gets what it needs at _new (the command link, the ring, the names) and is told the
 * router's view as it changes (bf_owner_ops_set_in_ring, bf_owner_ops_set_gateways); when an
 * answer shows that view is stale it calls on_stale up instead of reaching into the router. */
#ifndef BF_OWNER_OPS_H
#define BF_OWNER_OPS_H

#include "redis.h"
#include "ring.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bf_owner_ops bf_owner_ops;

typedef struct bf_owner_ops_stats {
    uint64_t joins, leaves;    /* presence:join / presence:leave emitted applying operations */
    uint64_t applies, applied; /* presence_apply.lua calls, operations applied */
    uint64_t pending_channels; /* ppending's size at the last sweep pass */
    uint64_t repended;         /* Redis Cluster: ppending entries put back after an emptied apply */
    uint64_t deferred; /* Redis Cluster: applies that waited for a newer view of the gateways */
    uint64_t forwards; /* kicks forwarded to the owner */
    uint64_t kicks;    /* kicks fanned out as owner (applied or from the inbox) */
    uint64_t inbox_malformed;      /* inbox envelopes and pending operations dropped as malformed */
    uint64_t sweeps, sweep_leaves; /* channels swept, presence:leave they emitted */
    uint64_t sweep_passes, owned_channels; /* passes; active channels owned (every 5th pass) */
} bf_owner_ops_stats;

/* The ring may be stale (a sweep was fenced off, a kick found no owner): refresh it. */
typedef void (*bf_owner_ops_stale_fn)(void *arg);

typedef struct bf_owner_ops_opts {
    bf_redis *cmd;       /* the command link; borrowed */
    const bf_ring *ring; /* the router's ring, updated in place by it; borrowed */
    const char *prefix;  /* the Redis key prefix; borrowed */
    const char *node_id; /* this router's id; borrowed */
    long long history_size, history_ttl_ms;
    bf_owner_ops_stale_fn on_stale;
    void *arg; /* on_stale's argument */
} bf_owner_ops_opts;

/* Everything in opts that is borrowed must outlive the object. Caller frees with
 * bf_owner_ops_free (which also frees the operations waiting for a retry). */
bf_owner_ops *bf_owner_ops_new(const bf_owner_ops_opts *opts);
void bf_owner_ops_free(bf_owner_ops *o);

/* Whether this router is in the last membership snapshot (false while Redis is away). */
void bf_owner_ops_set_in_ring(bf_owner_ops *o, bool in_ring);
/* The live gateways of the last snapshot (copied): the others are swept. */
void bf_owner_ops_set_gateways(bf_owner_ops *o, const char *const *ids, size_t n);
/* The sum of the counts in a flat {gateway id, count, ...} array (channel_info.lua's first
 * element: HGETALL conns:{channel}) of the gateways live in the last snapshot; -1 if counts is not
 * such an array. Meaningful once the router is ready (before its first heartbeat the view is
 * empty); up to one heartbeat stale, like the view. */
long long bf_owner_ops_live_connections(const bf_owner_ops *o, const redisReply *counts);
/* The router is stopping: no more batches are chained. */
void bf_owner_ops_stop(bf_owner_ops *o);

/* Handles one inbox envelope received on inbox:{self} (copied). */
void bf_owner_ops_on_inbox(bf_owner_ops *o, const char *payload, size_t len);
/* Re-runs inbox operations waiting for a fresher ring or for Redis; call from the tick. */
void bf_owner_ops_tick(bf_owner_ops *o, uint64_t now_ms);
/* One sweep pass: applies the pending operations of the channels this router owns, and removes
 * what dead gateways left behind in them (presence entries, with exactly one presence:leave per
 * user left without a connection, and connection counts). A gateway is dead when its membership
 * expired (--heartbeat-ttl-ms on the gateway); the sweep script re-checks that in Redis, so a
 * stale local view can never sweep a live gateway. */
void bf_owner_ops_sweep(bf_owner_ops *o);

const bf_owner_ops_stats *bf_owner_ops_stats_get(const bf_owner_ops *o);

#endif
