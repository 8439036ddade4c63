/* Redis Cluster behind the bf_redis interface: what a cluster:// bf_redis delegates to.
 *
 * One single-node bf_redis link (redis.c, with its own reconnection, handshake and command
 * deadlines) per node that owns slots or was given as a seed; a slot map (16384 entries, each the
 * node owning the slot) read with CLUSTER SLOTS from any READY node link.
 *
 *   - A command goes to the primary owning the slot of its key (common/resp.c: the first
 *     argument; EVAL/EVALSHA/FCALL: the first declared key; XREAD(GROUP): the first stream;
 *     SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE: the channel). PUBLISH and keyless commands (PING, INFO,
 *     CLUSTER, ...) go to any READY primary; SCRIPT goes to every primary (a script must be
 *     loaded on each node an EVALSHA can reach) and its caller gets the first error or else the
 *     last reply.
 *   - MOVED: the slot map entry is updated, the same command is sent again to the named node and
 *     a full refresh is scheduled (a MOVED to a node not yet connected waits for its link). ASK:
 * ASKING then the command to the named node, the map is left alone. TRYAGAIN (a multi-key command
 * during a migration): sent again after BF_RCLUSTER_TRYAGAIN_MS (checked on the tick, so the tick's
 * period bounds it from below). At most max_redirects of these per command
 * (bf_redis_opts.cluster_max_redirects, default 5); past it the caller gets the last error reply as
 * it came, counted in redirect_limit_hits. A command waiting for a redirect target whose link is
 * not READY waits at most command_timeout_ms, then gets a NULL reply (as a command whose deadline
 * expired).
 *   - READY means: every slot has an owner and every owner's link is READY. on_ready runs each
 *     time the cluster becomes READY, on_down each time it stops being READY (a primary lost,
 *     a refresh that found slots without an owner); commands in flight to a lost node get a NULL
 *     reply, new commands fail with BF_EDISCONNECTED while not READY. A lost primary, a MOVED,
 *     an unsolicited sunsubscribe and a CLUSTERDOWN reply schedule a refresh, retried every
 *     BF_RCLUSTER_REFRESH_RETRY_MS until the map is complete again (a replica promoted in
 *     its place shows up there); a READY cluster refreshes every cluster_refresh_ms (default
 *     5000) to notice a resharding before any MOVED says so.
 *   - Sharded pub/sub: SSUBSCRIBE records each channel (callback, private data) in a registry
 *     and subscribes it on a separate subscriber link to the node owning its slot (created on
 *     first use, paired with that node's command link so that a command timeout tears both down).
 *     The registry is kept across slot moves and node losses: when a slot leaves a node (Redis 7
 *     sends an unsolicited `sunsubscribe`), when a subscriber link is lost, or when a refresh
 *     shows the slot elsewhere, the channel is subscribed again where the slot now lives. The
 *     callback gets the `ssubscribe` confirmation and every `smessage` push (reply arrays valid
 *     only during the call); after SUNSUBSCRIBE it is never called again. SUNSUBSCRIBE is taken
 *     (0) even while the cluster is not READY: the registry forgets the channels at once, a node
 *     whose subscriber link is up is told at once, and a link that is down comes back without
 *     the subscription. Why the subscriber
 *     links bypass hiredis' subscription handling: docs/architecture.md, "Redis Cluster".
 *   - SUBSCRIBE/PSUBSCRIBE go to one primary's command link (PUBLISH reaches every node of a
 *     cluster); that link is then a subscriber and takes no other command, as in single mode.
 *
 * Limits: BF_RCLUSTER_NODES_MAX nodes known at once (a refresh naming more is refused and logged),
 * max_redirects per command, the redirect wait bounded by command_timeout_ms, at most 63 channels
 * in one SSUBSCRIBE or SUNSUBSCRIBE (more: BF_EINVAL, nothing sent).
 *   - Gates (bf_redis_opts.gate, e.g. bf_failover_gate): each node's command link asks ROLE at the
 *     end of its handshake and runs the gate, with itself as r (bf_redis_is_cluster_node), only
 *     when the node is a primary. A node serves commands only once its link passed the gate as a
 *     primary: a replica whose link is already up when a map shows it promoted (or a primary a
 *     map lists as a replica, then promoted again) has its link reset by the next tick, so that
 *     the gate sees its new history before any command does.
 * Not supported: multi-key commands across slots (Redis answers CROSSSLOT), bf_redis_pair (a no-op
 * on a cluster link), MULTI/EXEC, and SCAN/KEYS over the whole cluster (they run on one node). */
#ifndef BF_RCLUSTER_H
#define BF_RCLUSTER_H

#include "redis.h"

#define BF_RCLUSTER_NODES_MAX 64
#define BF_RCLUSTER_TRYAGAIN_MS 50
#define BF_RCLUSTER_REFRESH_RETRY_MS 100

typedef struct bf_rcluster bf_rcluster;

/* o->url must be a cluster:// URL (copied); owner is the bf_redis handed to on_ready/on_down
 * (borrowed: it owns the cluster). Caller frees with bf_rcluster_free, never from inside one of
 * its callbacks; the callbacks of commands still in flight then run with a NULL reply. */
bf_rcluster *bf_rcluster_new(bf_redis *owner, const bf_redis_opts *o);
void bf_rcluster_free(bf_rcluster *c);

void bf_rcluster_tick(bf_rcluster *c, uint64_t now_ms);
bool bf_rcluster_ready(const bf_rcluster *c);
/* cmd[0..len) in RESP (borrowed; copied). Same contract as bf_redis_cmd_formatted. */
int bf_rcluster_send(bf_rcluster *c, redisCallbackFn *cb, void *priv, const char *cmd, size_t len);
/* Graceful close of every node link (bf_redis_close); closed once all of them are. */
void bf_rcluster_close(bf_rcluster *c);
bool bf_rcluster_closed(const bf_rcluster *c);
/* Tears every node link down (they reconnect on later ticks). why is copied. */
void bf_rcluster_reset(bf_rcluster *c, const char *why);
void bf_rcluster_stats(const bf_rcluster *c, bf_redis_cluster_stats *out);
/* bf_redis_timeouts summed over the node links open now. */
uint64_t bf__rcluster_timeouts(const bf_rcluster *c);
/* bf_redis_reconnects: times the cluster became READY again after having been READY. */
uint64_t bf__rcluster_reconnects(const bf_rcluster *c);

#endif
