/* The Lua scripts (the .lua files in common/lua), embedded at build time and called by SHA.
 *
 * Each script's header comment lists its KEYS, ARGV and reply. bf_scripts_load() sends SCRIPT LOAD
 * for all of them; call it first thing in a link's on_ready, so that on the same connection every
 * later EVALSHA is ordered after it (this also covers a Redis restart, which empties the script
 * cache). SHAs are computed locally so no round trip is needed before the first call. */
#ifndef BF_SCRIPTS_H
#define BF_SCRIPTS_H

#include "redis.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    BF_SCRIPT_PUBLISH,
    BF_SCRIPT_HEARTBEAT,
    BF_SCRIPT_LEAVE,
    BF_SCRIPT_PRESENCE_JOIN,
    BF_SCRIPT_PRESENCE_LEAVE,
    BF_SCRIPT_CONNS,
    BF_SCRIPT_CHANNEL_INFO,
    BF_SCRIPT_SWEEP,
    BF_SCRIPT_HISTORY,
    BF_SCRIPT__COUNT
} bf_script_id;

/* Sends SCRIPT LOAD for every script. Returns 0 or BF_EDISCONNECTED. */
int bf_scripts_load(bf_redis *r);

/* EVALSHA script id with nkeys keys followed by the other arguments (argv holds keys then args;
 * argc counts both). Values are sent as separate arguments. Returns 0 or BF_EDISCONNECTED. */
int bf_script_call(bf_redis *r, bf_script_id id, redisCallbackFn *cb, void *priv, int nkeys,
                   int argc, const char **argv, const size_t *lens);

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
} bf_heartbeat;

/* Renews hb's node in its kind's zset and info hash; cb gets the script's reply (the 4th
 * element lists the other kind's live members). Returns 0 or BF_EDISCONNECTED. */
int bf_heartbeat_send(bf_redis *r, const bf_heartbeat *hb, redisCallbackFn *cb, void *priv);

/* The script's SHA1 as 40 hex digits (static storage). */
const char *bf_script_sha(bf_script_id id);

#endif
