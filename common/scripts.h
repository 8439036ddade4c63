/* The Lua scripts (the .lua files in common/lua), embedded at build time and called by SHA.
 *
 * Each script's header comment lists its KEYS, ARGV and reply, and declares their numbers on a
 * "-- keys: K  argv: A" line (N, N+ or N-M), which tests/unit/scripts.c checks against the body and
 * against the typed builders below: call a script through its builder, never an array by index.
 * The envelope constants of wire.h are wire.lib.lua's for the scripts. bf_scripts_load() sends
 * SCRIPT LOAD for all of them; call it first thing in a link's on_ready, so that on the same
 * connection every later EVALSHA is ordered after it (this also covers a Redis restart, which
 * empties the script cache). SHAs are computed locally so no round trip is needed before the first
 * call. Every script starts with "local BF_SHARDED = true|false": true on a cluster:// link, where
 * a channel's fan-out is SPUBLISHed on its shard channel (sequence.lib.lua). */
#ifndef BF_SCRIPTS_H
#define BF_SCRIPTS_H

#include "redis.h"
#include "redis_keys.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    BF_SCRIPT_PUBLISH,
    BF_SCRIPT_HEARTBEAT,
    BF_SCRIPT_LEAVE,
    BF_SCRIPT_PRESENCE_ENQUEUE,
    BF_SCRIPT_PRESENCE_APPLY,
    BF_SCRIPT_PRESENCE_AUDIT,
    BF_SCRIPT_CONNS,
    BF_SCRIPT_CHANNEL_INFO,
    BF_SCRIPT_SWEEP,
    BF_SCRIPT_HISTORY,
    BF_SCRIPT_PUBLISH_BATCH,
    BF_SCRIPT_CHANNELS,
    BF_SCRIPT_WEBHOOK_DUE,
    BF_SCRIPT_PRESENCE_MEMBERS,
    BF_SCRIPT_WEBHOOK_EVENT,
    BF_SCRIPT_WEBHOOK_TRANSITIONS,
    BF_SCRIPT_SWEEP_INDEX,
    BF_SCRIPT_FANDONE,
    BF_SCRIPT__COUNT
} bf_script_id;

/* Sends SCRIPT LOAD for every script; a reply that is not the script's SHA1 is logged and counted
 * in bf_scripts_load_failures. Returns 0 or BF_EDISCONNECTED. */
int bf_scripts_load(bf_redis *r);

/* Process-wide counters for the daemons' metrics: SCRIPT LOADs that failed, and calls that found
 * their script missing (NOSCRIPT) and were loaded and sent again. */
extern uint64_t bf_scripts_load_failures;
extern uint64_t bf_scripts_reloads;
/* On Redis Cluster: channel-script replies whose webhook events were sent on to the cluster-wide
 * slot (webhook_transitions.lua), and those whose events were lost (the link went down between
 * the two calls, or the second failed). See "Webhook events on a cluster" below. */
extern uint64_t bf_scripts_webhooks_deferred;
extern uint64_t bf_scripts_webhooks_lost;

/* EVALSHA script id with nkeys keys followed by the other arguments (argv holds keys then args;
 * argc counts both). Values are sent as separate arguments. A NOSCRIPT answer (Redis' script
 * cache emptied under the link) loads the script and sends the call again, once; cb sees only the
 * final answer. Returns 0 or BF_EDISCONNECTED (cb is then never called).
 *
 * Webhook events on a cluster: conns.lua, presence_apply.lua and sweep.lua queue webhook events in
 * the cluster-wide slot on one Redis, atomically with their transition. Their cluster variant
 * cannot reach that slot, so it replies {reply, P, events...} (webhooks.lib.lua); on a cluster
 * link this function passes cb the element reply (cb sees the same reply as on one Redis) and
 * sends the events on to webhook_transitions.lua first. Such events are at-most-once. */
int bf_script_call(bf_redis *r, bf_script_id id, redisCallbackFn *cb, void *priv, int nkeys,
                   int argc, const char *const *argv, const size_t *lens);

/* A node's membership heartbeat (heartbeat.lua), the same for routers and gateways. */
typedef struct bf_heartbeat {
    const char *prefix, *node_id; /* borrowed */
    bool router;                  /* a router (bumps the ring epoch) or a gateway */
    long long ttl_ms;
    uint64_t started_wall_ms;
    const char *host; /* the listen address shown in node:{id} */
    int port;
    const char *connections; /* gateways: the open connections as text; NULL: not reported */
    const char *version;     /* the binary's version (BELFRY_VERSION) */
    bool fanout_window;      /* routers: --fanout-window is on (gateways then report, fandone.h) */
} bf_heartbeat;

/* Renews hb's node in its kind's zset and info hash; cb gets the script's reply (the 4th
 * element lists the other kind's live members, the 5th is 1 while a router runs the fan-out
 * window). Returns 0 or BF_EDISCONNECTED. */
int bf_heartbeat_send(bf_redis *r, const bf_heartbeat *hb, redisCallbackFn *cb, void *priv);

/* A batched publish (publish_batch.lua): M messages to N targets, one atomic call. */
typedef struct bf_pub_msg {
    const char *prefix; /* frame prefix ending in "seq": (see message.h); borrowed */
    size_t prefix_len;
    const char *data_raw; /* the Pusher data string as the publisher sent it; borrowed */
    size_t data_raw_len;
    const char *exclude_socket; /* a Pusher socket_id whose connection is skipped, or "" */
} bf_pub_msg;

typedef struct bf_pub_target {
    const char *channel; /* the scoped channel name (apps.h); borrowed */
    size_t msg;          /* index into the batch's msgs */
} bf_pub_target;

/* The fan-out window of a publish (publish.lua, publish_batch.lua; bf_admit in
 * sequence.lib.lua): refused with "FANOUT_BUSY ..." while a gateway that reports on the channel
 * has window or more of its messages not yet written (0: no window), unless that gateway's
 * oldest has been in flight for stale_ms. */
typedef struct bf_fanout_window {
    long long window, stale_ms;
} bf_fanout_window;

typedef struct bf_publish_batch {
    const char *prefix; /* the Redis key prefix; borrowed */
    long long history_size, history_ttl_ms;
    bf_fanout_window fw;
    const bf_pub_msg *msgs; /* nmsgs >= 1; borrowed */
    size_t nmsgs;
    const bf_pub_target *targets; /* ntargets >= 1; borrowed */
    size_t ntargets;
} bf_publish_batch;

/* Sends the batch; cb gets an array reply with every target's seq, in order, or an error. Every
 * pointer is only read during the call (the command is copied). Returns 0, BF_EINVAL (empty, or a
 * msg index out of range: nothing sent), BF_ERANGE (a key too long) or BF_EDISCONNECTED (cb not
 * called). On a cluster:// link (a script runs on one slot's keys only) the targets are grouped
 * by slot and sent as one call per slot, in parallel on the slots' nodes: cb gets, once all have
 * answered, the same array as from one call (a reply that lives only during cb), or the first
 * error, or NULL if a call lost its link; the calls that succeeded stay published (no atomicity
 * across slots, as with a connection lost mid-answer). */
int bf_publish_batch_send(bf_redis *r, const bf_publish_batch *b, redisCallbackFn *cb, void *priv);

/* conns.lua: one gateway's connection-count changes for n channels in one call. */
typedef struct bf_conns_change {
    const char *channel; /* borrowed */
    long long value;     /* added to the count, or (absolute) the count itself */
    bool absolute;
} bf_conns_change;

/* Sends the n changes (n >= 1) of gateway node_id; cb gets the new counts (one array, in order).
 * Returns 0, BF_EINVAL (n == 0), BF_ERANGE (a key too long) or BF_EDISCONNECTED (cb not called).
 * On one Redis (and Sentinel) that is one atomic conns.lua call. On a cluster:// link it takes
 * three steps, each sent from the previous one's replies (scripts_split.c): the index (SADD of
 * the channels gaining connections to gwchans:<node_id>, and of node_id to gwknown; the
 * cluster-wide slot), one conns.lua call per slot with that slot's channels, then SREM from
 * gwchans of the channels whose count reached 0; cb runs once, after the last step, with the
 * counts or the first error (NULL: a link lost). A crash between the steps leaves an index entry
 * without a count, which the sweep and the reconciliation tolerate. The steps of two calls are
 * not ordered against each other: on a cluster, send a channel's next change only once the call
 * carrying its previous one has answered (bf_conncount does). */
int bf_conns_send(bf_redis *r, const char *prefix, const char *node_id,
                  const bf_conns_change *changes, size_t n, redisCallbackFn *cb, void *priv);

/* A webhook event made outside Redis' transitions (webhook_event.lua): queued only while some
 * router delivers webhooks. */
typedef struct bf_webhook_event {
    const char *prefix;  /* the Redis key prefix; borrowed */
    const char *name;    /* "client_event" or "cache_miss"; borrowed */
    const char *channel; /* the scoped channel; borrowed */
    const char *event;   /* client_event: the client event's name, else NULL */
    const char *data;    /* client_event: its data as JSON text (data_len bytes), else NULL */
    size_t data_len;
    const char *socket_id; /* client_event: the sender's Pusher socket_id, else NULL */
    const char *user_id;   /* client_event on a presence channel: the sender's user, else NULL */
} bf_webhook_event;

/* Sends the event (fire and forget: a lost one is a lost client event, as with Pusher). Every
 * pointer is only read during the call. Returns 0 or BF_EDISCONNECTED. */
int bf_webhook_event_send(bf_redis *r, const bf_webhook_event *e);

/* The script's SHA1 as 40 hex digits (static storage). */
const char *bf_script_sha(bf_script_id id);
/* The script's full source, with the libraries it uses prepended (static storage). */
const char *bf_script_source(bf_script_id id, size_t *len);
/* The same for one variant: sharded is the Redis Cluster one, whose fan-out is SPUBLISH
 * (BF_SHARDED in the scripts; bf_scripts_load and bf_script_call pick it for a cluster:// link,
 * bf_redis_is_cluster). The two functions above give the other. */
const char *bf_script_sha_for(bf_script_id id, bool sharded);
const char *bf_script_source_for(bf_script_id id, bool sharded, size_t *len);

/* ---- presence (presence_enqueue.lua, presence_apply.lua, presence_audit.lua, sweep.lua) ----
 *
 * A presence operation is enqueued by the gateway (its reply is the acknowledgement: the
 * operation is in Redis) and applied by whichever router runs presence_apply.lua for the channel
 * next, normally its owner, nudged by the enqueue. See docs/architecture.md, "Presence". */

/* How long a connection that left is remembered (pgone:{channel}), so that a join of it that
 * arrives late changes nothing. Longer than any retry of an operation takes (a gateway gives up
 * after 30 s; an inbox envelope is retried for at most a few seconds). */
#define BF_PRESENCE_GONE_MS 600000
/* Operations one presence_apply.lua call applies at most (the router calls again while more are
 * pending): bounds the time one call holds Redis. */
#define BF_PRESENCE_APPLY_BATCH 256

/* One script call's keys and arguments, with the storage they point into. The typed builders
 * below fill it; bf_script_args_send sends it (tests run it through a synchronous client). */
typedef struct bf_script_args {
    bf_script_id id;
    int nkeys, argc; /* argv holds the keys, then the other arguments */
    const char *argv[24];
    size_t lens[24];
    char keys[16][BF_KEY_MAX];
    char nums[6][24];
    char spare[2][BF_KEY_MAX]; /* arguments that are key prefixes, or an address */
    bool cluster;              /* built in its Redis Cluster form (one slot) */
} bf_script_args;

int bf_script_args_send(bf_redis *r, const bf_script_args *a, redisCallbackFn *cb, void *priv);

typedef struct bf_presence_enqueue {
    const char *prefix, *channel; /* borrowed */
    const char *gateway;          /* the connection's gateway id (borrowed) */
    const char *envelope;         /* the operation: an inbox envelope, op 1-4 (borrowed) */
    size_t envelope_len;
    bool join;         /* a join or rejoin (indexes the gateway in gwpres:{gateway}, gwknown) */
    const char *owner; /* the router to nudge (inbox:{owner}), or NULL (borrowed) */
    bool cluster;      /* the Redis Cluster form: the channel's slot only (see below) */
} bf_presence_enqueue;

/* presence_enqueue.lua; the reply is {the channel's pending operations, subscribers that received
 * the nudge}. Returns 0, or BF_ERANGE when a key would be too long. With e->cluster, only the
 * operation's step (RPUSH pops:{channel} and the nudge, the channel's slot): the index and
 * ppending steps are bf_presence_enqueue_send's. */
int bf_presence_enqueue_args(bf_script_args *out, const bf_presence_enqueue *e);

/* Records the operation (e->cluster is ignored: the link decides) and calls cb once with the
 * acknowledgement, the reply above, or with the first error (NULL: a link lost); every string is
 * copied. One atomic call on one Redis. On a cluster:// link three steps, each sent from the
 * previous one's reply: a join's index (SADD gwpres:<gateway>, gwknown: the sweep must be able to
 * find an entry before it can exist), the operation (presence_enqueue.lua in the channel's slot),
 * then SADD ppending; cb's reply is the last step's, so a caller that retries until it gets one
 * records the three (every step is idempotent). Returns 0, BF_ERANGE or BF_EDISCONNECTED (cb then
 * not called). */
int bf_presence_enqueue_send(bf_redis *r, const bf_presence_enqueue *e, redisCallbackFn *cb,
                             void *priv);

typedef struct bf_presence_apply {
    const char *prefix, *channel; /* borrowed */
    long long history_size, history_ttl_ms;
    /* A cluster:// link (bf_redis_is_cluster): the call names only the channel's slot. A join's
     * gateway is then alive when gateways (the caller's view: ids separated by spaces, one
     * argument whatever their number; borrowed) names it, and the call does not leave
     * {#}:ppending: when the reply's pending is 0 the caller sends SREM ppending, then from its
     * reply LLEN pops:{channel}, and SADD ppending back if an operation arrived meanwhile. */
    bool cluster;
    const char *gateways;
    /* cluster: gateways is newer than a call that deferred: a join whose gateway it does not name
     * is refused (dead) instead of deferred (a gateway the view does not know yet); the reply has
     * a 7th element then, 1 if the call deferred (presence_apply.lua) */
    bool strict;
} bf_presence_apply;

/* presence_apply.lua (at most BF_PRESENCE_APPLY_BATCH operations); reply {applied, pending,
 * joins, leaves, dropped, kicks}. Returns 0 or BF_ERANGE. */
int bf_presence_apply_args(bf_script_args *out, const bf_presence_apply *a);

/* presence_audit.lua: {pending, count, in gwchans, conn ids...} of gateway in channel. Returns 0
 * or BF_ERANGE. All strings borrowed. cluster: without the gwchans key (another slot), "in
 * gwchans" is then -1 and the caller reads gwchans itself (gateway/reconcile.c). */
int bf_presence_audit_args(bf_script_args *out, const char *prefix, const char *gateway,
                           const char *channel, bool cluster);

/* presence_members.lua: the channel's members, one per user, ordered (the index's rule, see
 * presence.lib.lua); reply {member JSON, connections, ...}. Returns 0 or BF_ERANGE. All strings
 * borrowed. */
int bf_presence_members_args(bf_script_args *out, const char *prefix, const char *channel);

typedef struct bf_sweep {
    const char *prefix, *channel, *gateway; /* borrowed; gateway: the dead gateway's id */
    uint64_t ring_epoch;                    /* the caller's (the script is fenced by it) */
    long long history_size, history_ttl_ms;
    /* A cluster:// link (bf_redis_is_cluster): only the channel's part, in its slot, fenced by
     * owner:{channel} as a fenced publish; the caller checks the gateway's liveness just before
     * (bf_sweep_index_args with channel NULL) and sends the index part from the reply. */
    bool cluster;
} bf_sweep;

/* sweep.lua; reply: presence:leave events emitted, -1 if the gateway is alive, or an error
 * "STALE ..."; in the cluster form {leaves, 1 if the channel's pops list was empty else 0} or
 * "STALE ...". Returns 0 or BF_ERANGE. */
int bf_sweep_args(bf_script_args *out, const bf_sweep *s);

/* sweep_index.lua, the cluster-wide half of a sweep on Redis Cluster (one slot: {#}). channel
 * NULL: only whether gateway is alive; else removes channel from the gateway's gwchans (and gwpres
 * when pops_empty, sweep.lua's reply) and forgets the gateway (gwknown) once both are empty.
 * Reply -1 (alive), 1 (forgotten) or 0. Returns 0 or BF_ERANGE. Strings borrowed. */
int bf_sweep_index_args(bf_script_args *out, const char *prefix, const char *gateway,
                        const char *channel, bool pops_empty);

/* ---- the other scripts: one typed builder each --------------------------------------------
 *
 * Each fills out with the script's keys (built here from prefix) and arguments, in the order its
 * header comment lists them; send it with bf_script_args_send. Strings are borrowed: out points
 * into them, so they must outlive the send. Returns 0, or BF_ERANGE when a key would be too long
 * (nothing to send). */

/* publish.lua: sequence one message. */
typedef struct bf_publish {
    const char *prefix, *channel; /* borrowed */
    const char *frame_prefix;     /* ends in "seq": (message.h); borrowed */
    size_t frame_prefix_len;
    bool fenced;         /* only the channel's owner may publish (Redis ingress) */
    uint64_t ring_epoch; /* the caller's, when fenced */
    long long history_size, history_ttl_ms;
    bool cluster; /* a cluster:// link (bf_redis_is_cluster): fenced by the channel's owner:{ch},
                     raised to ring_epoch, instead of the ring epoch key (publish.lua) */
    bf_fanout_window fw;
} bf_publish;
int bf_publish_args(bf_script_args *out, const bf_publish *p);

/* fandone.lua: gateway node_id has written channel's messages up to seq to all its local
 * subscribers; the report lives ttl_ms unless renewed, and the channel's name is published to
 * the routers (<prefix>fdone). */
int bf_fandone_args(bf_script_args *out, const char *prefix, const char *node_id,
                    const char *channel, uint64_t seq, long long ttl_ms);

/* leave.lua: a node leaves its membership set (graceful stop). A router bumps the ring epoch; a
 * gateway takes its connection counts along, and its sweep indexes when it drained cleanly. */
typedef struct bf_leave {
    const char *prefix, *node_id; /* borrowed */
    bool router;
    bool clean;   /* gateways: no connection left and every presence leave acknowledged */
    bool cluster; /* gateways: the Redis Cluster form, without the counts (see below) */
} bf_leave;
int bf_leave_args(bf_script_args *out, const bf_leave *l);
/* Sends the leave (l->cluster is ignored: the link decides); cb gets leave.lua's reply or the
 * first error (NULL: a link lost). On a cluster:// link a gateway's leave takes the steps of
 * docs/architecture.md's plan, each from the previous one's replies: SMEMBERS gwchans:<node>,
 * its counts set to 0 (bf_conns_send, one call per slot), then leave.lua without them (the
 * cluster-wide slot; unclean if a count could not be removed, so that the sweep still finds it).
 * A crash between them leaves counts of a gateway still in the index: swept when it expires.
 * Strings are copied. Returns 0, BF_ERANGE or BF_EDISCONNECTED (cb then not called). */
int bf_leave_send(bf_redis *r, const bf_leave *l, redisCallbackFn *cb, void *priv);

/* history.lua: a channel's position and the frames since one (see the script for since/epoch). */
typedef struct bf_history {
    const char *prefix, *channel; /* borrowed */
    const char *since;            /* "", "*" or a decimal seq; borrowed */
    const char *epoch;            /* the client's epoch, "*" or ""; borrowed */
    long long limit;              /* the most frames to return */
    bool start_epoch;             /* start the channel's epoch if it has none */
} bf_history;
int bf_history_args(bf_script_args *out, const bf_history *h);

/* channel_info.lua: {connections on live gateways, presence users} of channel, read on one Redis
 * with the liveness zset. cluster (a cluster:// link): the channel's slot only, and the first
 * element is {gateway id, connections, ...}, which the caller sums over the gateways alive in its
 * view (the router: bf_router_live_connections). */
int bf_channel_info_args(bf_script_args *out, const char *prefix, const char *channel,
                         bool cluster);

/* channels.lua: the occupied channels whose scoped name starts with match (default_app: the
 * names without a '/'); a user count is the caller's HLEN of the channel's pusers key. */
int bf_channels_args(bf_script_args *out, const char *prefix, const char *match, bool default_app);

/* webhook_due.lua: queue at most per_call due channel_vacated events. */
int bf_webhook_due_args(bf_script_args *out, const char *prefix, long long per_call);

/* heartbeat.lua (what bf_heartbeat_send sends). */
int bf_heartbeat_args(bf_script_args *out, const bf_heartbeat *hb);

/* webhook_event.lua (what bf_webhook_event_send sends). */
int bf_webhook_event_args(bf_script_args *out, const bf_webhook_event *e);

#endif
