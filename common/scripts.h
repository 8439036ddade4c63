/* The Lua scripts (the .lua files in common/lua), embedded at build time and called by SHA.
 *
 * Each script's header comment lists its KEYS, ARGV and reply. bf_scripts_load() sends SCRIPT LOAD
 * for all of them; call it first thing in a link's on_ready, so that on the same connection every
 * later EVALSHA is ordered after it (this also covers a Redis restart, which empties the script
 * cache). SHAs are computed locally so no round trip is needed before the first call. */
#ifndef BF_SCRIPTS_H
#define BF_SCRIPTS_H

#include "redis.h"

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

/* The script's SHA1 as 40 hex digits (static storage). */
const char *bf_script_sha(bf_script_id id);

#endif
