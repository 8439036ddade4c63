/* A blocking Redis connection for belfryctl.
 *
 * The daemons talk to Redis through common/redis.c, an asynchronous link that owns reconnection on
 * an event loop. A CLI runs a few commands once and exits, so this module uses hiredis'
 * synchronous API with a timeout instead, and turns every failure into belfryctl's exit codes:
 *   BF_CLI_UNREACHABLE (3)  connection refused, timeout, I/O error, AUTH or SELECT refused
 *   BF_CLI_FAILED (1)       Redis answered with an error, or with a reply of an unexpected shape
 * Each failure is reported on stderr as one line naming the command; callers just return the
 * code. Values always go as separate arguments (%s, %b), never spliced into command text.
 *
 * Redis Cluster (a cluster:// URL). hiredis 0.14 has no cluster support, and common/rcluster.c
 * lives on an event loop, so this module routes by itself, as small as a CLI needs:
 *   - open: the seeds in the URL's order until one connects (AUTH as the URL says) and answers
 *     CLUSTER SLOTS; that slot map is read once. No seed answering is exit 3.
 *   - each command goes to the primary serving its key's slot (route.h: the first key; EVAL's
 *     first declared key); keyless ones (PUBLISH, which a cluster forwards to every node, TIME)
 *     to the seed that answered. A MULTI...EXEC goes wholly to the node of its first key.
 *   - MOVED: the slot map entry is updated and the command sent again to the node named; ASK:
 *     ASKING then the command, to the node named, map unchanged. A pipelined command so answered
 *     is sent again on its own (a transaction: all of it, since Redis aborts its EXEC); the
 *     replies of the others are kept and handed out in order. At most BF_CLI_REDIS_REDIRECTS_MAX
 *     redirects per command, then exit 1 naming the last redirect.
 *   - one connection per node, opened on first use and kept until bf_cli_redis_free.
 *   - SCAN and KEYS see one node's keys only: run them on every primary with
 *     bf_cli_redis_cmd_on (on one Redis there is one primary, the server).
 * Replies from a cluster name the node in error lines ("redis node HOST:PORT answered: ..."). */
#ifndef BF_CLI_CREDIS_H
#define BF_CLI_CREDIS_H

#include "args.h"

#include <hiredis/hiredis.h>

typedef struct bf_cli_redis bf_cli_redis;

#include <stdbool.h>

#define BF_CLI_REDIS_REDIRECTS_MAX 5 /* MOVED/ASK followed per command */
#define BF_CLI_REDIS_NODES_MAX 64    /* cluster nodes known at once (seeds, primaries, targets) */

/* Connects to cfg->redis (AUTH and SELECT as the URL says; a sentinel:// URL is resolved to its
 * primary first; a cluster:// URL to its slot map, see above) with cfg->timeout_ms. Returns the
 * connection (caller frees with bf_cli_redis_free), or NULL with *rc set and the error reported.
 * cmd (borrowed, must outlive the connection) names the command in error lines. */
bf_cli_redis *bf_cli_redis_open(const bf_cli_cfg *cfg, const char *cmd, int *rc);
void bf_cli_redis_free(bf_cli_redis *r);

/* The key prefix (borrowed). */
const char *bf_cli_redis_prefix(const bf_cli_redis *r);

/* Whether the connection is to a Redis Cluster (a cluster:// URL). */
bool bf_cli_redis_is_cluster(const bf_cli_redis *r);

/* MOVED and ASK redirects followed so far (tests look at it). */
unsigned long long bf_cli_redis_redirects(const bf_cli_redis *r);

/* Runs one command (not while a pipeline is being read). Returns 0 with the reply in *out (caller
 * frees with freeReplyObject; never an error reply), or an exit code (reported). */
int bf_cli_redis_cmd(bf_cli_redis *r, redisReply **out, const char *fmt, ...);

/* The same with the command as argc arguments (argv[i], lens[i] bytes; all borrowed). */
int bf_cli_redis_cmdargv(bf_cli_redis *r, redisReply **out, int argc, const char **argv,
                         const size_t *lens);

/* Pipelining: queue commands with _append, then read their replies in order with _next (same
 * contract as bf_cli_redis_cmd). Queuing only fails for lack of memory (aborts). A failure other
 * than an error reply (unreachable node, redirect limit) drops the rest of the pipeline: the next
 * command starts a new one. */
void bf_cli_redis_append(bf_cli_redis *r, const char *fmt, ...);
int bf_cli_redis_next(bf_cli_redis *r, redisReply **out);

/* For commands that see one node's keys only (SCAN): the primaries to run them on, 0..n-1 (1 on
 * one Redis), and one command on primary i, never redirected. Same contract as bf_cli_redis_cmd. */
int bf_cli_redis_nprimaries(const bf_cli_redis *r);
int bf_cli_redis_cmd_on(bf_cli_redis *r, int primary, redisReply **out, const char *fmt, ...);

/* Reports "unexpected reply to WHAT from Redis" and returns BF_CLI_FAILED; frees reply (may be
 * NULL). For replies whose type or shape is not what the schema promises. */
int bf_cli_redis_bad(bf_cli_redis *r, redisReply *reply, const char *what);

/* The name the cluster knows app's channel `name` by (apps.h): `name` itself for the default app
 * (or when app is NULL), "APPID/name" for another. Which app is the default comes from the
 * routers (apps:default). Writes out (capacity cap); returns 0 or an exit code (reported). */
int bf_cli_scope_channel(bf_cli_redis *r, const char *app, const char *name, char *out, size_t cap);

/* bf_cli_redis_open, then bf_cli_scope_channel(cfg->app, channel) into scoped (capacity cap):
 * the connection (the caller frees it), or NULL with *rc set (reported). */
bf_cli_redis *bf_cli_redis_open_channel(const bf_cli_cfg *cfg, const char *cmd, const char *channel,
                                        char *scoped, size_t cap, int *rc);

#endif
