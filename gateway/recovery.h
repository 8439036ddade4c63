/* Recovery on connect: ?recover=1 and ?since=N&epoch=E.
 *
 * The connection holds its queue from the upgrade on. Once its channel's subscription is
 * confirmed (so every later message will arrive live), the channel's position and — for since —
 * the missed frames are read in one atomic script call (history.lua). The connection then gets
 *   {"event":"belfry:subscribed","data":{"epoch":E,"seq":M[,"recovered":B,"missed":K]}}
 * followed, when recovered, by every frame with seq in (N, M] exactly as first sent, and then
 * the held live frames with seq > M: no gap and no duplicate while publishes flow.
 *
 * The module knows the command link and the Redis prefix, not the gateway: what follows a
 * recovery (the presence join, which must come after the recovered frames) is the caller's,
 * through the done callback. */
#ifndef BF_RECOVERY_H
#define BF_RECOVERY_H

#include "conn.h"
#include "redis.h"

#include <stdint.h>

typedef struct bf_recovery bf_recovery;

typedef struct bf_recovery_stats {
    uint64_t recovered;      /* resumed (or asked for the position only) */
    uint64_t failed;         /* could not be served: epoch changed, history too short */
    uint64_t slow_consumers; /* more missed frames than the connection's queue may hold */
} bf_recovery_stats;

/* c's recovered frames are queued behind its belfry:subscribed and its held live frames are
 * released; c is open. Not called when the recovery failed (c is then closing with 1011). */
typedef void (*bf_recovery_done_fn)(bf_conn *c, void *arg);

typedef struct bf_recovery_deps {
    bf_redis *cmd;         /* the command link (borrowed; must outlive the object) */
    const char *prefix;    /* Redis prefix (borrowed; must outlive the object) */
    bf_conn_limits limits; /* the connections' send queue limits */
    bf_recovery_done_fn done;
    void *arg; /* for done */
} bf_recovery_deps;

/* Never NULL; caller frees with bf_recovery_free, after the command link is freed (a request in
 * flight is answered, with no reply, when the link goes) and after every connection was
 * cancelled. */
bf_recovery *bf_recovery_new(const bf_recovery_deps *d);
void bf_recovery_free(bf_recovery *rc);

/* Starts recovery for c (c->subs, its one subscription, is confirmed). On a synchronous failure
 * (no command link) c is closed with 1011 before this returns. */
void bf_recovery_start(bf_recovery *rc, bf_conn *c);
/* c is closing: a recovery in flight must not touch it. */
void bf_recovery_cancel(bf_conn *c);

const bf_recovery_stats *bf_recovery_stats_get(const bf_recovery *rc);

#endif
