/* The gateway process: one libuv loop carrying libwebsockets and two Redis links.
 *
 *   clients --ws--> [lws on uv]  --join/leave--> hub --SUBSCRIBE fan:{ch}--> Redis (sub link)
 *                                 <--frames---- hub <--fan-out envelopes----
 *   heartbeat (cmd link): gateways zset + node:{id} info, every --heartbeat-ms
 *
 * ws.c holds the lws protocol callback (WebSocket and the plain HTTP routes on the same port);
 * gateway.c the lifecycle: start, tick, drain, stop; gw_conns.c the services ws.c and the
 * protocol modules use (connection ids, fan-out, presence operations). */
#ifndef BF_GATEWAY_H
#define BF_GATEWAY_H

#include "gw_config.h"
#include "hub.h"
#include "backlog.h"
#include "liveness.h"
#include "owner.h"
#include "failover.h"
#include "reconcile.h"
#include "recovery.h"
#include "redis.h"
#include "conncount.h"
#include "connlimits.h"
#include "wire.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <uv.h>

#define BF_GW_AUTH_REASONS(X)                                                                      \
    X(MISSING, "missing")                                                                          \
    X(EXPIRED, "expired")                                                                          \
    X(NOT_YET_VALID, "not_yet_valid")                                                              \
    X(SIGNATURE, "signature")                                                                      \
    X(ALGORITHM, "algorithm")                                                                      \
    X(CLAIMS, "claims")                                                                            \
    X(NOT_GRANTED, "not_granted")                                                                  \
    X(UNCONFIGURED, "unconfigured")                                                                \
    X(MALFORMED, "malformed")                                                                      \
    X(ORIGIN, "origin")

enum {
#define BF_GW_AUTH_ENUM(n, s) BF_GW_AUTH_##n,
    BF_GW_AUTH_REASONS(BF_GW_AUTH_ENUM)
#undef BF_GW_AUTH_ENUM
        BF_GW_AUTH__COUNT
};

/* Pusher limits counted per kind (belfry_gateway_pusher_limit_rejections_total{limit}). */
#define BF_PUSHER_LIMITS(X)                                                                        \
    X(CHANNELS, "channels")                                                                        \
    X(PRESENCE_MEMBERS, "presence_members")                                                        \
    X(CLIENT_EVENT_RATE, "client_event_rate")
enum {
#define BF_PUSHER_LIMIT_ENUM(n, s) BF_PUSHER_LIMIT_##n,
    BF_PUSHER_LIMITS(BF_PUSHER_LIMIT_ENUM)
#undef BF_PUSHER_LIMIT_ENUM
        BF_PUSHER_LIMIT__COUNT
};

typedef struct bf_gw_stats {
    uint64_t connections[3];     /* current native connections, by bf_channel_type */
    uint64_t pusher_connections; /* current Pusher connections */
    uint64_t pusher_subscription_errors;
    uint64_t pusher_limit_rejections[BF_PUSHER_LIMIT__COUNT];
    uint64_t auth_failures[BF_GW_AUTH__COUNT];
    uint64_t whispers_total, whispers_limited;
    uint64_t accepted_total, rejected_total, closed_total;
    uint64_t client_messages_total, client_errors_total;
    uint64_t slow_consumers; /* error replies; the hub and recovery count their own */
    uint64_t ping_timeouts;
} bf_gw_stats;

typedef struct bf_gateway {
    bf_gw_config cfg;
    char node_id[96];
    uv_loop_t *loop;
    struct lws_context *lws;
    struct bf_listener *listener;
    bf_redis *sub, *cmd;
    bf_failover failover; /* the command link's gate: a new primary forgets the epochs */
    bf_hub *hub;
    bf_owner *owner;
    bf_reconcile *reconcile;    /* presence and connection counts in Redis against ours */
    bf_recovery *recovery;      /* resumes with ?recover / ?since (native connections) */
    bf_liveness *liveness;      /* the subscriber link's probe and the membership heartbeat */
    bf_backlog *backlog;        /* the delivery backlog reported to the routers (backlog.h) */
    struct bf_fandone *fandone; /* big channels' messages reported once written (fandone.h) */
    uv_timer_t tick;
    uv_check_t flush;     /* writes the connections' batched frames once per loop iteration */
    uv_idle_t flush_more; /* active while connections wait for their turn to be written */
    bf_conn_batch batch;
    uv_signal_t sigint, sigterm;
    uint64_t next_conn_id, drain_deadline;
    bool draining, stopping;
    /* stop() on a cluster: the leave's steps (bf_leave_send) are under way, and the command link
     * closes once they are answered (each step has the link's command deadline) */
    bool leaving, cmd_closing;
    bf_gw_stats stats;
    struct lws_protocols protocols[2];
    bf_connlimits *connlimits; /* --max-connections and the per-IP and per-user limits */
    bf_conncount *conncount;   /* connection counts per channel on their way to Redis */
    uint64_t next_ping_sweep;
    bf_conn_pinger pinger;  /* pings due, spread over the ticks of a second */
    bf_conn *conns;         /* every open connection (bf_conn_list_*) */
    char socket_prefix[32]; /* "<random gateway number>.": Pusher socket ids are this + conn id */
} bf_gateway;

/* Builds everything and starts listening. Returns 0, or a negative code with err filled. */
int bf_gateway_start(bf_gateway *gw, uv_loop_t *loop, char *err, size_t errlen);
/* Tears everything down; call after the loop has returned from uv_run. */
void bf_gateway_deinit(bf_gateway *gw);
bool bf_gateway_ready(const bf_gateway *gw);
/* Open client connections of every protocol. */
uint64_t bf_gw_open_connections(const bf_gateway *gw);

/* ---- used by ws.c and the protocol modules (defined in gw_conns.c) ---- */

/* The channel of a native connection's subscription (borrowed), or NULL. */
const char *bf_gw_conn_channel(const bf_conn *c);
/* Calls fn for every open connection (fn may close it, not free it). */
void bf_gw_foreach_conn(bf_gateway *gw, void (*fn)(bf_conn *c, void *arg), void *arg);
/* Writes c's cluster-wide id "<node id>/<n>" into out. */
void bf_gw_conn_id(const bf_gateway *gw, const bf_conn *c, char *out, size_t cap);
/* PUBLISHes a fan-out envelope for m->channel. Returns 0 or BF_EDISCONNECTED. */
int bf_gw_fanout(bf_gateway *gw, const bf_fanout *m);
/* Sends a presence join/leave/rejoin for subscription s to its channel's owner. */
void bf_gw_presence_op(bf_gateway *gw, bf_sub *s, bf_inbox_op op);

/* Counts an authorization failure under its reason label. */
void bf_gw_count_auth_failure(bf_gateway *gw, const char *reason);
extern const char *const bf_gw_auth_reason_names[];

/* The lws protocol table (ws.c). */
extern const struct lws_protocols bf_gw_protocols[];

#endif
