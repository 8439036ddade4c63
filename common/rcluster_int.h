/* Internal to common/rcluster*.c (and their unit test): the cluster's state, shared by the core
 * (rcluster.c: nodes, slot map, commands and redirects), the routing of a command to its slot
 * (rcluster_route.c) and the sharded subscriptions (rcluster_sub.c). Not for other modules:
 * they use rcluster.h through bf_redis. */
#ifndef BF_RCLUSTER_INT_H
#define BF_RCLUSTER_INT_H

#include "dict.h"
#include "rcluster.h"
#include "resp.h"
#include "slot.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- types ----------------------------------------------------------------------------------- */

typedef struct rcl_node {
    bf_rcluster *c;
    char host[256];
    int port;
    bf_redis *link;  /* commands, CLUSTER SLOTS, plain (P)SUBSCRIBE */
    bf_redis *slink; /* shard subscriptions; created on first need */
    bool seed;       /* from the URL: kept even when it owns no slot */
    bool owner;      /* owns slots in the current map */
    bool psub;       /* its command link carries plain subscriptions: no other command */
    bool gone;       /* to be freed by the next tick (never inside one of its callbacks) */
    /* The owner's gate (bf_redis_opts.gate, e.g. bf_failover_gate) runs on a command link only
     * when ROLE says the node is a primary. checked: this link passed it as a primary (or there is
     * no gate); a node serves commands only when checked, so a replica promoted under a link that
     * stayed up is gated again (regate: reset by the next tick) before it serves. */
    bool primary;
    bool checked;
    bool regate;
} rcl_node;

/* A command on its way through the cluster; freed once its caller's callback ran. */
typedef struct rcl_req {
    struct rcl_req *next; /* parked list */
    bf_rcluster *c;
    redisCallbackFn *cb;
    void *priv;
    char *cmd;
    size_t len;
    int slot;        /* -1: keyless */
    bool broadcast;  /* SCRIPT: to every primary */
    unsigned fanout; /* broadcast: replies still expected */
    unsigned redirects;
    rcl_node *ask;       /* ASK target, used once */
    uint64_t not_before; /* TRYAGAIN */
    uint64_t deadline;   /* while parked */
} rcl_req;

/* A shard channel subscribed through the cluster. */
typedef struct rcl_sub {
    struct rcl_sub *next;
    char *ch;
    size_t len;
    unsigned slot;
    redisCallbackFn *cb;
    void *priv;
    rcl_node *on; /* the node it is subscribed on (or being subscribed); NULL: to subscribe */
    bool stale;   /* its slot left the node: wait for the next slot map before subscribing again */
    bool once;    /* subscribed by this layer before: the next time is a resubscription */
} rcl_sub;

struct bf_rcluster {
    bf_redis *owner;
    bf_redis_opts o;
    bf_redis_url url;
    char *name;
    rcl_node *nodes[BF_RCLUSTER_NODES_MAX];
    int nnodes;
    rcl_node *slots[BF_SLOT_COUNT];
    bool ready, closing, freeing;
    bool refreshing; /* a CLUSTER SLOTS is in flight */
    bool was_ready;
    uint64_t reconnects; /* times READY again after having been READY */
    uint64_t refresh_at, now;
    rcl_node *psub;  /* the node plain subscriptions went to */
    rcl_req *parked; /* waiting for a redirect target, a TRYAGAIN delay or a READY link */
    rcl_sub *subs;
    bf_dict *subidx; /* the same, by channel name: a push finds its channel in O(1) */
    bf_redis_cluster_stats st;
};

/* The most arguments of a command read back (SSUBSCRIBE channels, the key search of XREAD). */
#define SUB_ARGS_MAX 64

/* rcluster.c, for the subscriptions: a refresh within BF_RCLUSTER_REFRESH_RETRY_MS; the node a
 * "MOVED/ASK slot host:port" error names (created if new; NULL if malformed or past the node
 * limit) and its slot; a new single-node link to n (its subscriber link when sub). */
void bf__rcluster_schedule_refresh(bf_rcluster *c);
rcl_node *bf__rcluster_redirect_target(bf_rcluster *c, const char *s, int *slot);
bf_redis *bf__rcluster_node_link(bf_rcluster *c, rcl_node *n, bool sub);

/* rcluster_sub.c: subscribe every registered shard channel that is not where its slot lives
 * (when READY); SSUBSCRIBE and SUNSUBSCRIBE as the caller sent them (a[0] is the verb). */
void bf__rcluster_sync_subs(bf_rcluster *c);
int bf__rcluster_ssubscribe(bf_rcluster *c, redisCallbackFn *cb, void *priv, const bf_resp_arg *a,
                            int argc);
void bf__rcluster_sunsubscribe(bf_rcluster *c, const bf_resp_arg *a, int argc);

#endif
