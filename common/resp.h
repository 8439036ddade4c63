/* Reading formatted Redis commands and Redis Cluster's redirects: the pure half of cluster
 * routing, shared by the daemons' transport (rcluster_route.c) and belfryctl (cli/route.c).
 *
 * Nothing here opens a socket or allocates: each function reads the bytes it is given.
 *   - the arguments of a command as hiredis formats it (RESP "*N\r\n$L\r\n<L bytes>\r\n..."),
 *     as views into it;
 *   - the slot a command goes to (common/slot.h): its first argument for a keyed command, the
 *     first declared key for EVAL/EVALSHA/FCALL (and their _RO forms), the first stream for
 *     XREAD/XREADGROUP, none (BF_RESP_ANY) for keyless commands (PUBLISH, which a cluster forwards
 *     to every node, PING, INFO, CLUSTER, SCAN and KEYS, which see one node only, ...);
 *   - the target of a "MOVED slot host:port" or "ASK slot host:port" error reply. */
#ifndef BF_RESP_H
#define BF_RESP_H

#include <stdbool.h>
#include <stddef.h>

#define BF_RESP_ANY (-1) /* a command that may go to any node */

/* One argument: a view into the formatted command (borrowed from it). */
typedef struct bf_resp_arg {
    const char *p;
    size_t len;
} bf_resp_arg;

/* Reads the first max arguments of cmd[0..len) into v. Returns the command's argument count
 * (which may exceed max: only the first max are in v), the number read when the command is cut
 * short, or 0 when cmd is not a RESP array. */
int bf_resp_args(const char *cmd, size_t len, bf_resp_arg *v, int max);

/* Whether a is word, case-insensitively (word is a NUL-terminated literal). */
bool bf_resp_is(const bf_resp_arg *a, const char *word);

/* The slot of the command made of a[0..argc) (argc as bf_resp_args returns it; a holds at least
 * min(argc, 8) arguments), or BF_RESP_ANY. */
int bf_resp_slot_of(const bf_resp_arg *a, int argc);

/* The same for a formatted command; a malformed one is BF_RESP_ANY (Redis refuses it anywhere). */
int bf_resp_slot_of_cmd(const char *cmd, size_t len);

typedef struct bf_resp_redirect {
    bool ask; /* ASK (this command only, after ASKING) rather than MOVED (the slot moved) */
    unsigned slot;
    char host[256]; /* empty: the node that sent the redirect (Redis 7's unknown endpoint) */
    int port;
} bf_resp_redirect;

/* Fills out and returns 0 when err (an error reply's text) is a well-formed MOVED or ASK redirect
 * (slot < 16384, a port 1-65535, the host before the last ':' since IPv6 hosts hold more), else
 * returns -1. */
int bf_resp_redirect_parse(const char *err, bf_resp_redirect *out);

#endif
