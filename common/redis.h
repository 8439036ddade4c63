/* One Redis connection that owns its own reconnection.
 *
 * bf_redis wraps a hiredis async context on whatever event loop the caller uses (the gateway
 * attaches it to libuv, the router to libevent) through an attach function. States:
 *
 *   DOWN --tick--> [RESOLVING] --> CONNECTING --> HANDSHAKE (AUTH, SELECT, [ROLE], PING,
 *     ^                  |               |           [gate]) --ok--> READY
 *     |                  |               |                |             |
 *     +---- error, timeout or disconnect (retry after exponential backoff) +
 *
 * With a sentinel:// URL every (re)connection starts in RESOLVING: the sentinels are asked for
 * the primary (sentinel.h; one that is down is skipped), the handshake checks that the server's
 * ROLE is master, and a +switch-master (watched on one sentinel) or a READONLY reply tears the
 * link down so that it reconnects to the new primary.
 *
 *   READY --bf_redis_close--> CLOSING (queued commands flushed) --closed or timeout--> CLOSED
 *   any other state --bf_redis_close--> CLOSED  (CLOSED is final: no reconnection)
 *
 * Every transition is logged. Reconnection needs no timer of its own: the owner calls
 * bf_redis_tick() periodically (both daemons already run a 1 s-or-faster tick). on_ready runs
 * each time the link becomes READY (resubscribe and reload scripts there); on_down each time a
 * READY link is lost. Commands sent while not READY fail at once with BF_EDISCONNECTED; commands
 * in flight when the link drops get their callback with a NULL reply.
 *
 * Every command has a deadline (command_timeout_ms, --redis-timeout): when the oldest unanswered
 * command is past it, the link is torn down exactly as if the connection had been lost (waiting
 * callbacks get NULL replies at once, on_down runs, reconnection follows), and so is its peer
 * (bf_redis_pair). A link with nothing in flight sends a PING after half a deadline of quiet, so
 * a server that stopped answering is noticed even by an idle daemon. Subscription commands
 * ((P|S)(UN)SUBSCRIBE) are answered by pushes and carry no deadline; a subscribed link is
 * watched through its peer.
 *
 * With a cluster:// URL the same interface drives a Redis Cluster (rcluster.h): one such link per
 * node underneath, each command routed to the primary owning its key's slot, MOVED/ASK/TRYAGAIN
 * followed, sharded subscriptions kept on the node that owns each channel. READY then means the
 * whole slot map is served; the reply callbacks' ac is the node's context (for identification
 * only). */
#ifndef BF_REDIS_H
#define BF_REDIS_H

#include "config.h"

#include <hiredis/async.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct bf_redis bf_redis;
typedef int (*bf_redis_attach_fn)(redisAsyncContext *ac, void *loop);
typedef void (*bf_redis_event_fn)(bf_redis *r, void *arg);
/* A gate runs at the end of the handshake, before READY: it may send commands on ac (raw hiredis,
 * borrowed; a callback that finds ac->data NULL must give up: the link was reset) and must end
 * with bf_redis_gate_done. */
typedef void (*bf_redis_gate_fn)(bf_redis *r, redisAsyncContext *ac, void *arg);

typedef struct bf_redis_opts {
    const bf_redis_url *url; /* copied */
    const char *name;        /* for logs ("sub", "cmd"); copied */
    bf_redis_attach_fn attach;
    void *loop;
    bf_redis_event_fn on_ready; /* may be NULL */
    bf_redis_event_fn on_down;  /* may be NULL */
    void *arg;
    int connect_timeout_ms;    /* 0: 3000 */
    int sentinel_timeout_ms;   /* sentinel:// only: per sentinel query; 0: 1000 (capped at
                                * connect_timeout_ms) */
    int command_timeout_ms;    /* 0: 2000 */
    bf_redis_gate_fn gate;     /* may be NULL. On a cluster:// link it runs on each node's command
                                * link whose ROLE is master (rcluster.h), with that node link as r */
    void *gate_arg;            /* passed to gate (not arg) */
    bool cluster_node;         /* set by rcluster.c on its node links (bf_redis_is_cluster_node) */
    int cluster_max_redirects; /* cluster:// only: MOVED/ASK/TRYAGAIN per command; 0: 5 */
    int cluster_refresh_ms;    /* cluster:// only: slot map refresh period when READY; 0: 5000 */
} bf_redis_opts;

/* What a cluster:// link has followed (bf_redis_cluster_stats), for logs and /metrics. */
typedef struct bf_redis_cluster_stats {
    uint64_t moved;               /* MOVED redirects followed */
    uint64_t asks;                /* ASK redirects followed */
    uint64_t tryagains;           /* TRYAGAIN retries */
    uint64_t redirect_limit_hits; /* commands answered with an error past cluster_max_redirects */
    uint64_t refreshes;           /* slot maps read (CLUSTER SLOTS answered) */
    uint64_t resubscribes;        /* shard channels subscribed again on another node or link */
    uint64_t nodes;               /* node links open now */
} bf_redis_cluster_stats;

/* Creates a link in state DOWN; nothing happens until bf_redis_tick. Caller frees with
 * bf_redis_free, which must not be called from inside one of this link's callbacks. */
bf_redis *bf_redis_new(const bf_redis_opts *o);
void bf_redis_free(bf_redis *r);

/* Drives reconnection (the first retry at once, then 100 ms doubling to 5 s, +-25%:
 * common/backoff.h) and connect timeouts. */
void bf_redis_tick(bf_redis *r, uint64_t now_ms);

bool bf_redis_ready(const bf_redis *r);
/* True for a cluster:// link (its fan-out is sharded pub/sub: scripts.h, gateway/hub.h). */
bool bf_redis_is_cluster(const bf_redis *r);
/* True for one node link of a cluster:// link (e.g. the r a gate is given on a cluster): its keys
 * are only those of the slots that node owns. */
bool bf_redis_is_cluster_node(const bf_redis *r);
/* Number of times the link has become READY after having been READY before. */
uint64_t bf_redis_reconnects(const bf_redis *r);

/* Sends a command; values must be passed as %s / %b arguments, never spliced. cb may be NULL.
 * Returns 0, or BF_EDISCONNECTED (cb is then never called). */
int bf_redis_cmd(bf_redis *r, redisCallbackFn *cb, void *priv, const char *fmt, ...);
int bf_redis_cmdargv(bf_redis *r, redisCallbackFn *cb, void *priv, int argc, const char **argv,
                     const size_t *argvlen);
/* Sends a command already in RESP (cmd[0..len), e.g. from redisFormatCommandArgv; borrowed: copied
 * into hiredis' output buffer before this returns). Same contract as bf_redis_cmd. */
int bf_redis_cmd_formatted(bf_redis *r, redisCallbackFn *cb, void *priv, const char *cmd,
                           size_t len);

/* Closes the link gracefully (a daemon stopping): unlike bf_redis_free, which drops what is
 * queued (hiredis' redisAsyncFree), the commands already sent are written and answered, their
 * callbacks run as usual, and then the socket closes (redisAsyncDisconnect). No command is
 * accepted meanwhile, and the link never reconnects; on_down is not called. If the replies do
 * not come within connect_timeout_ms (checked by bf_redis_tick, which the owner keeps calling),
 * the link is closed hard. Free it afterwards with bf_redis_free as usual. */
void bf_redis_close(bf_redis *r);
/* True once a closed link's socket is gone (the loop then holds nothing of it). */
bool bf_redis_closed(const bf_redis *r);

/* Makes a and b (two links to the same server, e.g. a command link and a subscriber link) peers:
 * a command timeout on either tears both down. Both stay owned by the caller; freeing one
 * unpairs it. A no-op when either is a cluster:// link (its node links are paired inside). */
void bf_redis_pair(bf_redis *a, bf_redis *b);

/* Number of times a command deadline expired and tore the link down (cluster: summed over the
 * node links open now). */
uint64_t bf_redis_timeouts(const bf_redis *r);

/* Fills *out for a cluster:// link and returns 0; BF_EINVAL for any other link. */
int bf_redis_cluster_stats_get(const bf_redis *r, bf_redis_cluster_stats *out);

/* Ends the gate: ok makes the link READY, otherwise it is reset with why (copied). */
void bf_redis_gate_done(bf_redis *r, bool ok, const char *why);

/* Forces the link down now (e.g. a liveness probe timed out); it reconnects on a later tick. */
void bf_redis_reset(bf_redis *r, const char *why);

/* The payload of a pub/sub "message" push (SUBSCRIBE's deliveries: {"message", subject,
 * payload}), borrowed from reply; NULL for anything else (a subscribe confirmation, a NULL reply
 * when the link went down). */
const redisReply *bf_redis_message(const void *reply);

/* Monotonic milliseconds, shared by the daemons' ticks. */
uint64_t bf_now_ms(void);

#endif
