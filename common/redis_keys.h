/* The Redis key schema: every key and pub/sub subject name Belfry uses is built here and nowhere
 * else. The configurable prefix (default "belfry:") starts every name.
 *
 * Hash tags (Redis Cluster). A Lua script runs on a cluster only when every key it touches is in
 * one slot, and a slot is chosen by the key's hash tag: the bytes between its first '{' and the
 * first '}' after it (common/slot.h). So the names come in three shapes:
 *   a channel's keys     "<prefix><kind>:{<channel>}"   the channel name is the tag: a channel's
 *                        sequencing, history, fan-out, presence and count keys share one slot
 *   cluster-wide keys    "<prefix>{#}:<kind>[<arg>]"    one fixed tag, "#": the membership, ring,
 *                        node and index keys and the webhook queue share one slot. '#' is no
 *                        channel name byte, so no channel's keys share it by accident
 *   subjects             "<prefix><kind>[<arg>]"        pub/sub names that are not keys (ingress,
 *                        inboxes, probes): PUBLISH reaches every node of a cluster, so they need
 *                        no tag, and applications keep publishing to "<prefix>publish:<channel>"
 * A channel name can never contain a brace: bf_channel_validate (common/channel.c) allows only
 * [A-Za-z0-9_-=@,.;:] in both protocols, and a scoped name adds an app id ([A-Za-z0-9_-],
 * common/apps.c) and '/'. The prefix may not contain one either (the config tables' PREFIX rows,
 * common/config.h, for the daemons and belfryctl), so every key's first tag is the one named here.
 *
 *   seq:{channel}      string  the channel's last sequence number (INCR)
 *   epoch:{channel}    string  the channel's epoch: new whenever its sequence (re)starts
 *   hist:{channel}     stream  the channel's last --history-size frames (ids "<seq>-1")
 *   fan:{channel}      pubsub  fan-out envelopes to gateways (msgpack, see wire.h); tagged like
 *                              a key, so that a cluster's shard channel is the channel's slot
 *   publish:channel    pubsub  application ingress: JSON {"event","data"} (at-most-once)
 *   {#}:routers        zset    live routers: member = node id, score = expiry (ms, Redis clock)
 *   {#}:gateways       zset    live gateways, same shape
 *   {#}:ring:epoch     string  bumped atomically with every router membership change
 *   {#}:node:id        hash    node info: kind, address, started_ms, pid, version
 *   inbox:id           pubsub  operations addressed to one router (msgpack, see wire.h)
 *   presence:{channel} hash    one field per presence connection: "<gateway id>/<n>" -> member
 *                              JSON {"id":USER,"joinedAt":MS,"info":{...}}
 *   pusers:{channel}   hash    user id -> number of that user's connections in the channel
 *   conns:{channel}    hash    gateway id -> number of that gateway's connections in the channel
 *   phere:{channel}    zset    presence index: user -> representative's joinedAt
 *   prep:{channel}     hash    presence index: user -> representative's member JSON
 *   {#}:gwchans:gw     set     channels where the gateway has connections (swept if it dies)
 *   {#}:gwknown        set     gateways that may have state in Redis (swept if they die)
 *   probe:gw           pubsub  a gateway's end-to-end liveness probe of its subscriber link
 *   pops:{channel}     list    presence operations acknowledged to a gateway, not yet applied
 *                              (inbox envelopes, oldest first; see presence_apply.lua)
 *   {#}:ppending       set     channels whose pops:{channel} is not empty
 *   pgone:{channel}    zset    connection ids that left, score = when (ms, Redis clock): a late
 *                              join of one of them changes nothing
 *   {#}:gwpres:gw      set     channels where the gateway may hold presence entries (swept if it
 *                              dies, checked by its own reconciliation)
 *   {#}:apps:default   string  the default app's id (routers set it when they connect): tells
 *                              belfryctl --app whether an app's channels are scoped (apps.h)
 *   {#}:redis:replid   string  the primary's replication id the channel epochs belong to
 *                              (common/failover.c: a new primary forgets every epoch)
 *   {#}:webhooks       stream  webhook events queued by the scripts that make the transitions
 *                              (n=name c=channel t=ms u=user); consumer group "routers"
 *   {#}:webhooks:on    string  set (with a TTL) by routers that deliver webhooks: the vacate
 *                              delay in ms; absent, no event is queued
 *   {#}:webhooks:vacating zset channels whose channel_vacated is pending, score = due ms
 *   backlog            pubsub  gateways' delivery backlog reports to the routers:
 *                              "<gateway id> <backlog ms> <1 behind | 0>" (gateway/backlog.h)
 *   bprobe:gw          pubsub  a gateway's backlog probe: published on its command link, read
 *                              back on its subscriber link behind the fan-out queued for it
 *   gwsub:gw           name    not a key: the CLIENT SETNAME of a gateway's subscriber link
 *   owner:{channel}    string  Redis Cluster only: the highest ring epoch of a router that
 *                              sequenced a fenced call on the channel (Redis ingress publish,
 *                              sweep); a call with a lower epoch is refused (STALE). The ring
 *                              epoch key is in the cluster-wide slot, out of a channel script's
 *                              reach there (docs/architecture.md, "the port")
 * The Lua scripts find the three webhook keys from the name of a cluster-wide key they are given
 * (webhooks.lib.lua, bf_wh_prefix: "<prefix>{#}:"), and name a channel's keys from a stem
 * (bf_key_stem: "<prefix>conns:") as stem .. '{' .. channel .. '}': keep the two in step.
 */
#ifndef BF_REDIS_KEYS_H
#define BF_REDIS_KEYS_H

#include <stddef.h>

#define BF_PREFIX_MAX 64
#define BF_KEY_MAX 320 /* prefix + longest kind + channel name, with room to spare */

typedef enum {
    BF_KEY_SEQ,
    BF_KEY_FAN,
    BF_KEY_PUBLISH,
    BF_KEY_ROUTERS,
    BF_KEY_GATEWAYS,
    BF_KEY_RING_EPOCH,
    BF_KEY_NODE,
    BF_KEY_INBOX,
    BF_KEY_PRESENCE,
    BF_KEY_PUSERS,
    BF_KEY_CONNS,
    BF_KEY_GWCHANS,
    BF_KEY_GWKNOWN,
    BF_KEY_PROBE,
    BF_KEY_EPOCH,
    BF_KEY_HIST,
    BF_KEY_PHERE, /* presence index: user -> representative's joinedAt (zset) */
    BF_KEY_PREP,  /* presence index: user -> representative's member JSON (hash) */
    BF_KEY_POPS,
    BF_KEY_PPENDING,
    BF_KEY_PGONE,
    BF_KEY_GWPRES,
    BF_KEY_REDIS_REPLID, /* the primary's replication id when the epochs were last checked */
    BF_KEY_APPS_DEFAULT, /* the default app's id, as the routers are configured (belfryctl --app) */
    BF_KEY_WEBHOOKS,     /* webhook events (stream; webhooks.lib.lua) */
    BF_KEY_WEBHOOKS_ON,  /* webhooks enabled: the vacate delay in ms (string, TTL) */
    BF_KEY_WEBHOOKS_VACATING, /* channels whose channel_vacated is pending (zset, due ms) */
    BF_KEY_BACKLOG,           /* gateways' backlog reports (pubsub; gateway/backlog.h) */
    BF_KEY_BPROBE,            /* a gateway's backlog probe subject (pubsub) */
    BF_KEY_GWSUB,             /* a gateway's subscriber link's CLIENT SETNAME (not a key) */
    BF_KEY_OWNER, /* a channel's ownership fence on Redis Cluster: the highest ring epoch seen */
    BF_KEY_FDONE, /* a channel's fan-out written, per gateway (hash; gateway/fandone.h) */
    BF_KEY_FDONE_NOTICE,  /* fan-out written: the channel's name, to the routers (pubsub;
                             fandone.lua derives it from its fdone:{channel} key's prefix) */
    BF_KEY_FANOUT_WANTED, /* a router runs --fanout-window: gateways report (string, TTL) */
} bf_key_kind;

/* The four sequencing keys of a channel, in the order the Lua scripts take them
 * (common/lua/sequence.lib.lua): seq, fan, epoch, hist. */
typedef struct bf_seq_keys {
    char seq[BF_KEY_MAX], fan[BF_KEY_MAX], epoch[BF_KEY_MAX], hist[BF_KEY_MAX];
} bf_seq_keys;

/* Fills k for channel. Returns 0 or BF_ERANGE. */
int bf_key_seq_keys(bf_seq_keys *k, const char *prefix, const char *channel);

/* Writes the key for kind (with arg for kinds that take one; NULL otherwise) into out, which must
 * hold BF_KEY_MAX bytes, in the kind's shape (see above: a channel kind wraps arg in braces).
 * Returns the length, or BF_ERANGE if it would not fit. */
int bf_key(char *out, const char *prefix, bf_key_kind kind, const char *arg);

/* The name of kind's keys without their argument, for a script that names keys itself: a channel
 * kind's "<prefix><kind>:" (the script appends '{' .. channel .. '}'), a cluster-wide kind's
 * "<prefix>{#}:<kind>" (the script appends the id). Same contract as bf_key. */
int bf_key_stem(char *out, const char *prefix, bf_key_kind kind);

/* True for the kinds whose keys carry the channel as hash tag (seq, fan, epoch, hist, presence,
 * pusers, conns, phere, prep, pops, pgone, owner). */
int bf_key_is_channel_kind(bf_key_kind kind);

/* Redis Cluster: the key in which the primary owning slot records its replication id
 * (common/failover.c), "<prefix>{#<n>}:redis:replid" with the smallest n for which the tag "#<n>"
 * hashes to slot — a key in the shard's own slots, replicated with the epochs it vouches for, and
 * never a channel's ('#' is no channel-name byte). slot < 16384. Same contract as bf_key. */
int bf_key_shard_replid(char *out, const char *prefix, unsigned slot);

/* The psubscribe pattern matching every ingress subject: "<prefix>publish:*". Same contract. */
int bf_key_publish_pattern(char *out, const char *prefix);

/* If subject is kind's name for some x (bf_key(prefix, kind, x)), returns a pointer to x inside
 * subject (borrowed) and its length in *len, else NULL. For a channel kind x is the name inside
 * the braces, so it is not NUL-terminated: use *len. */
const char *bf_key_strip(const char *subject, const char *prefix, bf_key_kind kind, size_t *len);

#endif
