/* A private Redis Cluster for tests: three primaries with one replica each, started from Debian's
 * redis-server on ephemeral ports (each with its cluster bus port, port + 10000, free too),
 * created with `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`, no
 * persistence, cluster-node-timeout 1000 ms so that a primary killed with SIGKILL is replaced by
 * its replica within a few seconds. Readiness is polled, never slept: every node says
 * cluster_state:ok and every replica's link to its primary is up. */
#ifndef BF_HARNESS_REDIS_CLUSTER_H
#define BF_HARNESS_REDIS_CLUSTER_H

#include "harness.h"

#include <hiredis/hiredis.h>

#define BF_RCL_NODES 6

typedef struct bf_rcl {
    char dir[64];
    bf_proc nodes[BF_RCL_NODES];
    char url[512]; /* cluster://127.0.0.1:P0,...: every node as a seed */
    bool keep_logs;
} bf_rcl;

/* Starts and creates the cluster and waits until it is ok. Returns 0, or -1 (everything started is
 * stopped again). */
int bf_rcl_start(bf_rcl *t);
/* Kills every node and removes the directory (kept, and named on stderr, when keep_logs). */
void bf_rcl_stop(bf_rcl *t);
/* A command on node i (synchronous, 2 s timeout); caller frees with freeReplyObject; NULL when the
 * node does not answer. */
redisReply *bf_rcl_cmd(bf_rcl *t, int i, const char *fmt, ...);
/* The index of the node that owns slot now, as the first live node's CLUSTER SLOTS says; -1. */
int bf_rcl_owner(bf_rcl *t, unsigned slot);
/* The index of a primary other than i (live, owning slots); -1. */
int bf_rcl_other_primary(bf_rcl *t, int i);
/* Node i's cluster id into id (41 bytes); 0 or -1. */
int bf_rcl_id(bf_rcl *t, int i, char *id);
/* Moves slot from node src to node dst as redis-cli --cluster reshard does: IMPORTING on dst,
 * MIGRATING on src, MIGRATE of every key, SETSLOT NODE on every primary. Returns 0 or -1. */
int bf_rcl_move_slot(bf_rcl *t, unsigned slot, int src, int dst);
/* Polls until every live node says cluster_state:ok and every live replica's link is up. Returns 0
 * or -1 after timeout_ms. */
int bf_rcl_wait_ok(bf_rcl *t, int timeout_ms);
/* Polls until every replica of primary i has acknowledged its replication offset as it is now
 * (INFO replication: each slaveN's offset >= master_repl_offset), i.e. has every write made
 * before the call on any connection — which `WAIT` on a new connection does not say: it counts
 * only that connection's writes. Returns 0, or -1 after timeout_ms (or when i has no replica). */
int bf_rcl_wait_replicated(bf_rcl *t, int i, int timeout_ms);
/* SIGKILLs node i. */
void bf_rcl_kill(bf_rcl *t, int i);

#endif
