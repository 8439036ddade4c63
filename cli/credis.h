/* A blocking Redis connection for belfryctl.
 *
 * The daemons talk to Redis through common/redis.c, an asynchronous link that owns reconnection on
 * an event loop. A CLI runs a few commands once and exits, so this module uses hiredis'
 * synchronous API with a timeout instead, and turns every failure into belfryctl's exit codes:
 *   BF_CLI_UNREACHABLE (3)  connection refused, timeout, I/O error, AUTH or SELECT refused
 *   BF_CLI_FAILED (1)       Redis answered with an error, or with a reply of an unexpected shape
 * Each failure is reported on stderr as one line naming the command; callers just return the
 * code. Values always go as separate arguments (%s, %b), never spliced into command text. */
#ifndef BF_CLI_CREDIS_H
#define BF_CLI_CREDIS_H

#include "args.h"

#include <hiredis/hiredis.h>

typedef struct bf_cli_redis bf_cli_redis;

/* Connects to cfg->redis (AUTH and SELECT as the URL says; a sentinel:// URL is resolved to its
 * primary first) with cfg->timeout_ms. Returns the
 * connection (caller frees with bf_cli_redis_free), or NULL with *rc set and the error reported.
 * cmd (borrowed, must outlive the connection) names the command in error lines. */
bf_cli_redis *bf_cli_redis_open(const bf_cli_cfg *cfg, const char *cmd, int *rc);
void bf_cli_redis_free(bf_cli_redis *r);

/* The key prefix (borrowed). */
const char *bf_cli_redis_prefix(const bf_cli_redis *r);

/* Runs one command. Returns 0 with the reply in *out (caller frees with freeReplyObject; never an
 * error reply), or an exit code (reported). */
int bf_cli_redis_cmd(bf_cli_redis *r, redisReply **out, const char *fmt, ...);

/* Pipelining: queue commands with _append, then read their replies in order with _next (same
 * contract as bf_cli_redis_cmd). Queuing only fails for lack of memory (aborts). */
void bf_cli_redis_append(bf_cli_redis *r, const char *fmt, ...);
int bf_cli_redis_next(bf_cli_redis *r, redisReply **out);

/* Reports "unexpected reply to WHAT from Redis" and returns BF_CLI_FAILED; frees reply (may be
 * NULL). For replies whose type or shape is not what the schema promises. */
int bf_cli_redis_bad(bf_cli_redis *r, redisReply *reply, const char *what);

/* The name the cluster knows app's channel `name` by (apps.h): `name` itself for the default app
 * (or when app is NULL), "APPID/name" for another. Which app is the default comes from the
 * routers (apps:default). Writes out (capacity cap); returns 0 or an exit code (reported). */
int bf_cli_scope_channel(bf_cli_redis *r, const char *app, const char *name, char *out, size_t cap);

#endif
