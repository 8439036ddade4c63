/* The gateway's channel table and its Redis fan-out subscriptions.
 *
 * The hub keeps one entry per channel with at least one local connection and one Redis pub/sub
 * subscription (fan:{channel}) for it: SUBSCRIBE with the first connection, UNSUBSCRIBE after the
 * last. Each channel's subscription is a small state machine so that a channel emptied and
 * re-joined while a command is in flight never ends up unsubscribed:
 *
 *   NONE --join--> SUBSCRIBING --ack--> SUBSCRIBED --empty--> UNSUBSCRIBING --ack--> (freed)
 *                       |  (empty at ack: unsubscribe)           |  (joined meanwhile: SUBSCRIBING)
 *
 * A fan-out envelope is decoded once, its frame copied once into a refcounted bf_frame, and that
 * frame queued on every local connection of the channel. When the subscriber link is lost, every
 * channel falls back to NONE and is subscribed again when the link is back. */
#ifndef BF_HUB_H
#define BF_HUB_H

#include "conn.h"
#include "redis.h"

#include <stdint.h>

typedef struct bf_hub bf_hub;

typedef struct bf_hub_stats {
    uint64_t fanout_in;      /* envelopes received from Redis */
    uint64_t fanout_bad;     /* envelopes that failed to decode */
    uint64_t messages_out;   /* frames queued to sockets */
    uint64_t slow_consumers; /* connections closed with 4008 */
    uint64_t kicks;          /* connections closed by a kick */
    uint64_t channels;       /* current channels with local connections */
} bf_hub_stats;

/* Called once per connection when its channel's subscription is confirmed (at once if it
 * already was): from then on the connection receives everything published on the channel. */
typedef void (*bf_hub_ready_fn)(bf_conn *c, void *arg);

/* sub: the subscriber link (borrowed; must outlive the hub). prefix: borrowed. node_id: borrowed,
 * used to recognise this gateway's own connection ids in envelopes. */
bf_hub *bf_hub_new(bf_redis *sub, const char *prefix, const char *node_id,
                   const bf_conn_limits *limits, bf_hub_ready_fn ready, void *ready_arg);
void bf_hub_free(bf_hub *h);

/* Adds c to channel (subscribing if it is the first local connection). */
void bf_hub_join(bf_hub *h, bf_conn *c, const char *channel);
/* Removes c from its channel, if any. */
void bf_hub_leave(bf_hub *h, bf_conn *c);

/* Subscriber link events (wire them to the bf_redis on_ready/on_down callbacks). */
void bf_hub_on_ready(bf_hub *h);
void bf_hub_on_down(bf_hub *h);

/* Calls fn for every local connection (fn must not join or leave). */
void bf_hub_foreach_conn(bf_hub *h, void (*fn)(bf_conn *c, void *arg), void *arg);

/* The name of the channel c is joined to (borrowed, valid while c is joined), or NULL. */
const char *bf_hub_conn_channel(const bf_conn *c);
/* Calls fn for every channel with its local connection count. */
void bf_hub_foreach_channel(bf_hub *h, void (*fn)(const char *name, size_t nconns, void *arg),
                            void *arg);

const bf_hub_stats *bf_hub_stats_get(const bf_hub *h);
/* Number of connections on channel (0 if unknown). */
size_t bf_hub_channel_conns(const bf_hub *h, const char *channel);

#endif
