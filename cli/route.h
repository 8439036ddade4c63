/* Where belfryctl sends a command on Redis Cluster: the pure half of credis.c's cluster mode.
 *
 * Nothing here opens a socket, so tests/unit/cli_route.c checks it on its own. The reading of
 * commands and redirects is common/resp.h's, the same as the daemons' transport:
 *   - the slot a command goes to, read from the command as hiredis formatted it (RESP): the
 *     slot of its first argument for a keyed command, of the first declared key for EVAL/EVALSHA,
 *     none (BF_CLI_ROUTE_ANY: any node) for keyless ones: PUBLISH (a cluster forwards it to every
 *     node), TIME, PING, MULTI/EXEC, CLUSTER, ASKING, and SCAN/KEYS, which see only the node they
 *     run on (credis.h: bf_cli_redis_cmd_on runs them on every primary);
 *   - the target of a `MOVED slot host:port` / `ASK slot host:port` error reply;
 *   - the slot ranges of a CLUSTER SLOTS reply (the primary of each range).
 * Slots are common/slot.h's (CRC16 with hash tags), the ones Redis computes. */
#ifndef BF_CLI_ROUTE_H
#define BF_CLI_ROUTE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "resp.h"

#define BF_CLI_ROUTE_ANY BF_RESP_ANY

/* The slot cmd[0..len) goes to, or BF_CLI_ROUTE_ANY. A malformed command is BF_CLI_ROUTE_ANY
 * (Redis will refuse it wherever it goes). */
int bf_cli_route_slot(const char *cmd, size_t len);

/* Whether the command's verb (its first argument) is word, case-insensitively. */
bool bf_cli_route_verb_is(const char *cmd, size_t len, const char *word);

/* common/resp.h's (the daemons' transport reads redirects with the same code) */
typedef bf_resp_redirect bf_cli_redirect;

/* Fills out and returns 0 when err (an error reply's text) is a MOVED or ASK redirect, else -1. */
int bf_cli_route_redirect(const char *err, bf_cli_redirect *out);

typedef struct bf_cli_slot_range {
    unsigned start, end; /* inclusive */
    char host[256];      /* the primary; empty when Redis does not know its endpoint */
    int port;
} bf_cli_slot_range;

/* Reads a CLUSTER SLOTS reply (borrowed) into out[0..cap); *n gets the number of ranges. Returns 0,
 * or -1 when the reply is not the documented shape or holds more than cap ranges. */
int bf_cli_route_slots(const redisReply *rep, bf_cli_slot_range *out, size_t cap, size_t *n);

#endif
