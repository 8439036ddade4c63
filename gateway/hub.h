/* The gateway's channel table and its Redis fan-out subscriptions.
 *
 * The hub keeps one entry per channel with at least one local connection and one Redis pub/sub
 * subscription (fan:{channel}) for it: SUBSCRIBE with the first connection, UNSUBSCRIBE after the
 * last. On a cluster:// subscriber link the fan-out is sharded (the scripts SPUBLISH it): the hub
 * SSUBSCRIBEs through the transport's shard registry, and an emptied channel is freed at once
 * with SUNSUBSCRIBE (the registry takes it without a confirmation, so there is no UNSUBSCRIBING
 * step). Each channel's subscription is a small state machine so that a channel emptied and
 * re-joined while a command is in flight never ends up unsubscribed:
 *
 *   NONE --join--> SUBSCRIBING --ack--> SUBSCRIBED --empty--> UNSUBSCRIBING --ack--> (freed)
 *                       |  (empty at ack: unsubscribe)           |  (joined meanwhile: SUBSCRIBING)
 *
 * The hub knows channels and subscriptions (bf_sub, conn.h), not protocols: a connection may hold
 * any number of subscriptions, each on one channel's list. A fan-out envelope is decoded once and
 * rendered into a refcounted bf_frame at most once per protocol (the render callback, called the
 * first time a subscription of that protocol needs it), and that frame is queued on every local
 * subscription of that protocol. When the subscriber link is lost, every channel falls back to
 * NONE and is subscribed again when the link is back. On Redis Cluster, a channel subscribed
 * again (moved, or after the cluster was down) closes its connections that were receiving with
 * 1012 so that they reconnect and recover what the new node ran meanwhile (hub.c). */
#ifndef BF_HUB_H
#define BF_HUB_H

#include "conn.h"
#include "redis.h"
#include "wire.h"

#include <stdint.h>

typedef struct bf_hub bf_hub;

typedef struct bf_hub_stats {
    uint64_t fanout_in;                /* envelopes received from Redis */
    uint64_t fanout_bad;               /* envelopes that failed to decode */
    uint64_t messages_out;             /* frames queued to sockets */
    uint64_t slow_consumers;           /* connections closed with 4008 */
    uint64_t kicks;                    /* connections closed by a kick */
    uint64_t resubscribe_closes;       /* connections closed (1012) so that they recover: Redis
                                        * Cluster, their channel's shard subscription made again;
                                        * one Redis, the link was lost and the channel's stream
                                        * resumed past a gap */
    uint64_t channels;                 /* current channels with local connections */
    uint64_t renders[BF_PROTO__COUNT]; /* fan-out messages rendered, per protocol */
} bf_hub_stats;

/* Called once per subscription when its channel's Redis subscription is confirmed (at once if it
 * already was): from then on the subscription receives everything published on the channel. */
typedef void (*bf_hub_ready_fn)(bf_sub *s, void *arg);

/* Renders message m of channel (the scoped name) for protocol proto. Returns a frame with one
 * reference for the caller, or NULL when that protocol has nothing to deliver for it. Called at
 * most once per message and protocol. */
typedef bf_frame *(*bf_hub_render_fn)(int proto, const bf_fanout *m, const char *channel,
                                      void *arg);

typedef struct bf_hub_opts {
    bf_redis *sub; /* the subscriber link (borrowed; must outlive the hub) */
    bf_redis *cmd; /* the command link, to ask a channel's seq when its subscription is confirmed
                    * (borrowed, may be NULL; freed before the hub: its callbacks run first) */
    const char *prefix;        /* Redis prefix (borrowed) */
    const char *node_id;       /* recognises this gateway's connection ids "<node>/<n>" (copied) */
    const char *socket_prefix; /* and its Pusher socket ids "<socket prefix><n>" (copied) */
    bf_conn_limits limits;
    struct bf_fandone *fandone; /* completion reports of big channels' messages (fandone.h;
                                   borrowed, may be NULL; must outlive the hub) */
    bf_hub_ready_fn ready;
    bf_hub_render_fn render;
    void *arg; /* for ready and render */
} bf_hub_opts;

bf_hub *bf_hub_new(const bf_hub_opts *o);
void bf_hub_free(bf_hub *h);

/* Adds s to channel (subscribing if it is the channel's first local subscription). */
void bf_hub_join(bf_hub *h, bf_sub *s, const char *channel);
/* Removes s from its channel, if any. */
void bf_hub_leave(bf_hub *h, bf_sub *s);

/* Subscriber link events (wire them to the bf_redis on_ready/on_down callbacks). */
void bf_hub_on_ready(bf_hub *h);
void bf_hub_on_down(bf_hub *h);
/* Call periodically (every ~100 ms): closes, to recover, the connections of a channel whose
 * subscription lapsed with a lost link and which missed messages that will not come (hub.c). */
void bf_hub_tick(bf_hub *h, uint64_t now_ms);

/* Calls fn for every local subscription (fn must not join or leave). */
void bf_hub_foreach_sub(bf_hub *h, void (*fn)(bf_sub *s, void *arg), void *arg);

/* The (scoped) name of the channel s is joined to (borrowed, valid while s is joined), or NULL. */
const char *bf_hub_sub_channel(const bf_sub *s);
/* Calls fn for every channel with its local connection count. */
void bf_hub_foreach_channel(bf_hub *h, void (*fn)(const char *name, size_t nconns, void *arg),
                            void *arg);

const bf_hub_stats *bf_hub_stats_get(const bf_hub *h);
/* Number of subscriptions on channel (0 if unknown). */
size_t bf_hub_channel_conns(const bf_hub *h, const char *channel);

#endif
