/* What belfryctl knows about a cluster: one consistent snapshot of its membership, and the list of
 * channels that have state in Redis.
 *
 * The snapshot is read in one MULTI/EXEC (TIME, both membership zsets, the ring epoch), so
 * liveness is judged on the Redis clock at the instant the sets were read, exactly as the nodes
 * judge it: a member is live iff its score (expiry, ms) is above that time. The ring is built
 * from the live routers with common/ring.c, so the owner printed here is the one every router and
 * gateway computes from the same membership. */
#ifndef BF_CLI_CLUSTER_H
#define BF_CLI_CLUSTER_H

#include "credis.h"
#include "ring.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum { BF_CLI_NODE_LIVE, BF_CLI_NODE_STALE, BF_CLI_NODE_EXPIRED } bf_cli_node_status;

typedef struct bf_cli_node {
    char *id;
    bool router; /* else a gateway */
    long long expiry_ms;
    bool live; /* expiry_ms > the snapshot's time */
    /* from node:{id}; absent fields are NULL / -1 (the hash expires with the node) */
    bool has_info;
    char *address, *version;
    long long pid, started_ms, last_seen_ms, connections;
} bf_cli_node;

typedef struct bf_cli_cluster {
    long long now_ms;    /* Redis TIME at the snapshot */
    long long epoch;     /* ring:epoch, or -1 when missing */
    char epoch_text[24]; /* the same for people: the number, or "-" */
    bf_cli_node *nodes;  /* routers, then gateways, each sorted by id; owned */
    size_t n, nrouters;
    size_t live_routers, live_gateways;
    bf_ring *ring; /* the live routers; owned */
} bf_cli_cluster;

/* Reads the snapshot into c (and every node:{id} hash when with_info). Returns 0 or an exit code
 * (reported). Always call bf_cli_cluster_deinit afterwards. */
int bf_cli_cluster_load(bf_cli_redis *r, bf_cli_cluster *c, bool with_info);
void bf_cli_cluster_deinit(bf_cli_cluster *c);

/* The owning router of channel, or NULL when no router is live. Borrowed from c. */
const char *bf_cli_cluster_owner(const bf_cli_cluster *c, const char *channel);
/* The node with this id, or NULL. Borrowed from c. */
const bf_cli_node *bf_cli_cluster_find(const bf_cli_cluster *c, const char *id, bool router);

/* live / stale (live, but its last heartbeat is older than half its TTL: it missed heartbeats, or
 * its info hash is gone) / expired (listed, but past its expiry: dead, not yet removed). */
bf_cli_node_status bf_cli_node_status_of(const bf_cli_cluster *c, const bf_cli_node *n);
const char *bf_cli_node_status_name(bf_cli_node_status s);

/* The channels with state in Redis (a conns:{channel} or presence:{channel} key), sorted, without
 * duplicates; names that are not valid channel names are skipped. */
typedef struct bf_cli_chanlist {
    char **names; /* owned */
    size_t n;
} bf_cli_chanlist;

/* Scans with SCAN (never KEYS), on every primary of a Redis Cluster. Returns 0 or an exit code
 * (reported). Always deinit afterwards. */
int bf_cli_chanlist_scan(bf_cli_redis *r, bf_cli_chanlist *out);
void bf_cli_chanlist_deinit(bf_cli_chanlist *l);

#endif
