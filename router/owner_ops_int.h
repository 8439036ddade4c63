/* Internal to router/owner_ops*.c: the owner's operations' state, shared by the inbox and
 * presence part (owner_ops.c) and the sweep pass (owner_sweep.c). */
#ifndef BF_OWNER_OPS_INT_H
#define BF_OWNER_OPS_INT_H

#include "owner_ops.h"

struct bf_pres_op;
struct deferral;

struct bf_owner_ops {
    bf_redis *cmd;       /* borrowed */
    const bf_ring *ring; /* borrowed */
    const char *prefix, *node_id;
    long long history_size, history_ttl_ms;
    bf_owner_ops_stale_fn on_stale;
    void *arg;
    bool in_ring, stopping;
    char **gateways; /* live gateway ids of the last snapshot, sorted; owned */
    size_t ngateways;
    uint64_t view_gen;             /* bumped by every snapshot of the gateways */
    struct deferral *deferrals;    /* Redis Cluster: channels waiting for a newer snapshot */
    struct bf_pres_op *retry_head; /* operations waiting for a fresher ring */
    bf_owner_ops_stats stats;
};

/* Asks the router for a fresher ring (on_stale). */
void bf__owner_ops_stale(bf_owner_ops *o);
/* True if the ring assigns channel to this router. */
bool bf__owner_ops_owns(const bf_owner_ops *o, const char *channel);
/* True if the last snapshot has gateway id. */
bool bf__owner_ops_gateway_alive(const bf_owner_ops *o, const char *id);
/* Applies channel's pending presence operations (presence_apply.lua). */
void bf__owner_ops_apply(bf_owner_ops *o, const char *channel);

#endif
