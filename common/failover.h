/* A new primary forgets every channel's epoch, so that no client can take the history of one
 * primary for the history of another.
 *
 * Redis replicates asynchronously: a publish the old primary acknowledged may be missing on the
 * replica that Sentinel promotes. The new primary then holds a channel's epoch with an older seq,
 * and the seqs that follow would repeat numbers clients already hold with other messages; a
 * client recovering with ?since= would be told "recovered" across that gap. Belfry cannot tell
 * which channels lost writes, so it treats every channel alike: a server whose replication id
 * (INFO replication master_replid, new on every promotion and every restart) differs from the one
 * recorded in redis:replid has every epoch:{channel} key removed (SCAN + UNLINK) before the link
 * that noticed becomes READY, and then the id is recorded. The next publish or recovery starts a
 * new epoch, and a recovering client gets recovered:false — never a silent gap. Every link that
 * reaches the new primary before the id is recorded does the same (idempotent). Sequences are
 * kept: they only restart when Redis itself lost them.
 *
 * On Redis Cluster each primary has its own replication id and its own channels, so the check is
 * per shard: the gate runs on each primary's node link (rcluster.h), reads the record of its
 * shard, "<prefix>{#<n>}:redis:replid" (bf_key_shard_replid), a key in the lowest slot the node
 * owns and is not migrating away (CLUSTER NODES, "myself"), and on a change SCANs and UNLINKs (one
 * key per command: they are in many slots) the epochs on that node only: a failover forgets the
 * epochs of that shard's channels and no other. Why that identity: the record must survive the
 * failover it is meant to detect and must not be shared by two primaries. A key in the shard's own
 * slots is replicated in the same stream as the epochs it vouches for, so the promoted replica
 * holds its predecessor's record (or an older one, which differs from its new id all the same); the
 * node id or run id would change with the failover (a replica has its own), leaving a record nobody
 * reads, and a record in the cluster-wide slot {#} would live on another shard, whose own
 * failover could roll it back, and is out of reach of the node link the gate runs on. The price:
 * a resharding that moves a node's lowest slot away moves the record with it, so that node's next
 * handshake finds none and forgets its epochs once (recovered:false, never a silent gap).
 *
 * Use: bf_redis_opts.gate = bf_failover_gate, .gate_arg = a bf_failover (the daemons' command
 * links). */
#ifndef BF_FAILOVER_H
#define BF_FAILOVER_H

#include "redis.h"

/* The gate's argument: the key prefix (borrowed; must outlive every link using it). */
typedef struct bf_failover {
    const char *prefix;
    uint64_t epochs_forgotten; /* counted for /metrics */
    uint64_t new_primaries;    /* replication ids seen that differed from the recorded one */
} bf_failover;

/* A bf_redis_gate_fn; arg is a bf_failover (borrowed). */
void bf_failover_gate(bf_redis *r, redisAsyncContext *ac, void *arg);

#endif
