/* The router process: one libevent base carrying evhttp and two Redis links.
 *
 *   HTTP POST /broadcast/{ch} --> publish script (seq + fan-out, atomic) --> gateways
 *   Redis PUBLISH publish:{ch} --> (owner only) same publish script
 *   heartbeat (cmd link): routers zset + ring epoch -> the ring of live routers
 *
 * The ring decides which router owns a channel; the owner is the channel's single actor for
 * everything that must happen exactly once (consuming Redis ingress here; presence, sweeps and
 * kicks later). HTTP publishes are sequenced by whichever router receives them: the Lua script
 * makes that safe, and it means a publish never waits for an owner. */
#ifndef BF_ROUTER_H
#define BF_ROUTER_H

#include "failover.h"
#include "redis.h"
#include "ring.h"
#include "rt_config.h"

#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>

typedef struct bf_rt_stats {
    uint64_t publishes_http, publishes_redis;
    uint64_t publish_failures;
    uint64_t ingress_malformed, ingress_not_owner, ingress_no_ring, ingress_stale;
    uint64_t http_requests, http_errors;
    uint64_t presence_stale; /* always 0 (kept for dashboards) */
    uint64_t kicks; /* terminate_connections (pusher_query.c); the owner's are bf_owner_ops' */
    /* the Pusher HTTP API (pusher_api.c) */
    uint64_t pusher_requests, pusher_channel_publishes, pusher_auth_failures, pusher_rejected,
        pusher_too_large;
    uint64_t publishes_refused;     /* 503 overloaded (overload.h), the fan-out window's included */
    uint64_t publishes_fanout_busy; /* 503 overloaded by the fan-out window (--fanout-window) */
} bf_rt_stats;

struct bf_owner_ops;
struct bf_overload;
struct bf_webhooks;
struct bf_http_api;

typedef struct bf_router {
    bf_rt_config cfg;
    char node_id[96];
    struct event_base *base;
    struct evhttp *http;
    bf_redis *sub, *cmd;
    bf_failover failover; /* the command link's gate: a new primary forgets the epochs */
    bf_ring *ring;
    bool in_ring;                   /* the last membership snapshot included us */
    struct bf_owner_ops *owner_ops; /* presence, kicks, sweeps of dead gateways (owner_ops.h) */
    struct bf_http_api *http_api;   /* the native HTTP API on http (http_api.h) */
    struct bf_webhooks *webhooks;   /* NULL without --webhook */
    struct bf_overload *overload;   /* gateways' delivery backlog (overload.h) */
    struct bf_fhold *fhold; /* publishes held by the fan-out window (fanout_hold.h); NULL: off */
    struct event *tick, *sigint, *sigterm;
    uint64_t next_heartbeat, next_sweep, started_wall_ms;
    bool heartbeat_in_flight;
    bool stopping;
    bf_rt_stats stats;
} bf_router;

int bf_router_start(bf_router *rt, struct event_base *base, char *err, size_t errlen);
void bf_router_deinit(bf_router *rt);
bool bf_router_ready(const bf_router *rt);

/* The connections on live gateways from channel_info.lua's first element (borrowed): on one Redis
 * the count itself; on Redis Cluster the per-gateway counts, summed over the gateways alive in
 * the router's heartbeat view (ask only when bf_router_ready). -1 for a malformed reply. */
long long bf_router_live_connections(const bf_router *rt, const redisReply *counts);

/* True if the ring assigns channel to this router. */
bool bf_router_owns(const bf_router *rt, const char *channel);

/* The error text a publish callback gets when the link was lost (or torn down by
 * --redis-timeout) before Redis answered; the HTTP API answers it with 503 redis_unavailable. */
#define BF_ROUTER_REDIS_LOST "lost the Redis connection before it answered; retry later"

typedef void (*bf_publish_cb)(long long seq, const char *err, void *arg);
/* Sequences and fans out one message with the publish script: prefix is the rendered frame
 * prefix (see message.h; borrowed, copied into the command). fenced: only valid while this
 * router's ring epoch is current (owner-only Redis ingress); unfenced for HTTP publishes, which
 * any router may sequence. cb gets seq > 0, or seq 0 and an error string ("STALE ..." when the
 * fence refused); it may be NULL. Returns 0, or BF_EDISCONNECTED (cb not called). */
int bf_router_publish(bf_router *rt, const char *channel, const char *prefix, size_t prefix_len,
                      bool fenced, bf_publish_cb cb, void *arg);

/* NULL while publishes may go; otherwise why they are refused (a gateway is behind on delivery:
 * overload.h; valid until the next call) and a retry delay in *retry_ms. Counts nothing. */
const char *bf_router_overloaded(bf_router *rt, uint64_t *retry_ms);

/* Asks for an immediate heartbeat (the ring may be stale). */
void bf_router_refresh_ring(bf_router *rt);

#endif
