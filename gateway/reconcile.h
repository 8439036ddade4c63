/* A gateway's periodic reconciliation of what Redis holds for it with what it really has.
 *
 * Every interval (--presence-reconcile-interval) one pass reads, per channel where this gateway
 * has connections or Redis says it may have state (gwchans:{gateway}, gwpres:{gateway}), the
 * presence entries of its connections, its connection count and its gwchans membership, each
 * channel in one atomic read (presence_audit.lua), and compares them with a snapshot of its own
 * state taken when the reads were sent (the reads queue behind every change sent before them on the
 * same link, so both describe the same moment):
 *   - an entry for a connection it does not have is removed through the normal leave path
 *     (presence:leave if it was the user's last): kind "presence_ghost";
 *   - a live presence connection missing from Redis is re-added through the join path (a rejoin:
 *     presence:join if the user had no other, no presence:here): kind "presence_missing";
 *   - a connection count, or gwchans membership, that differs from the real count is set to it
 *     (conns.lua): kind "conns".
 * Connections with an operation on its way (queued in owner.h, or pending in Redis) are left for
 * the next pass. On Redis Cluster the audit cannot read gwchans:{gateway} (another slot) and the
 * link no longer orders the count calls before the reads: the pass waits until no count call is
 * unanswered, reads its index itself, and leaves a channel whose count was sent since that read
 * to the next pass (reconcile.c, "the pass on Redis Cluster"). Every repair is counted and logged:
 * it means some other mechanism failed (an operation given up, state swept while the gateway was
 * only unreachable, Redis data lost). */
#ifndef BF_RECONCILE_H
#define BF_RECONCILE_H

#include "conncount.h"
#include "owner.h"
#include "redis.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    BF_REPAIR_PRESENCE_GHOST,
    BF_REPAIR_PRESENCE_MISSING,
    BF_REPAIR_CONNS,
    BF_REPAIR__COUNT
} bf_repair_kind;

/* The metric label of each kind ("presence_ghost", "presence_missing", "conns"). */
extern const char *const bf_reconcile_kind_names[BF_REPAIR__COUNT];

/* One local presence connection that has joined; every string is borrowed for the call.
 * awaiting_here: it still waits for its presence:here (a repair re-adds it with a join, which
 * sends one, rather than a rejoin). */
typedef void (*bf_reconcile_conn_fn)(const char *channel, const char *conn_id, const char *user_id,
                                     const char *member, bool awaiting_here, void *arg);
typedef void (*bf_reconcile_chan_fn)(const char *channel, size_t nconns, void *arg);

/* What a pass needs from the gateway. Everything is borrowed and must outlive the object. */
typedef struct bf_reconcile_deps {
    bf_redis *cmd;
    const char *prefix, *node_id;
    bf_owner *owner;      /* presence repairs are sent through it */
    bf_conncount *counts; /* count repairs are sent through it */
    void *src;            /* passed to the three functions below */
    /* Calls fn for every local presence connection whose join was sent. */
    void (*foreach_presence)(void *src, bf_reconcile_conn_fn fn, void *arg);
    /* Calls fn for every channel with local connections. */
    void (*foreach_channel)(void *src, bf_reconcile_chan_fn fn, void *arg);
    /* The number of local connections on channel now. */
    size_t (*channel_conns)(void *src, const char *channel);
} bf_reconcile_deps;

typedef struct bf_reconcile bf_reconcile;

/* d is copied (its pointers are borrowed). Caller frees with bf_reconcile_free. */
bf_reconcile *bf_reconcile_new(const bf_reconcile_deps *d, uint64_t interval_ms);
/* A pass still in flight finishes without effect. NULL is ok. */
void bf_reconcile_free(bf_reconcile *r);

/* Starts a pass when one is due, none is running and ready (the gateway's membership is
 * registered and its command link up); the first pass is due at once. Call from the tick. */
void bf_reconcile_tick(bf_reconcile *r, uint64_t now_ms, bool ready);

/* Repairs by kind (BF_REPAIR__COUNT counters, borrowed) and passes completed. */
const uint64_t *bf_reconcile_repairs(const bf_reconcile *r);
uint64_t bf_reconcile_passes(const bf_reconcile *r);

#endif
