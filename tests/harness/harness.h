/* The shared harness for integration and chaos tests.
 *
 * bf_cluster_start() starts a private redis-server on a free loopback port (no persistence),
 * N belfry-router and M belfry-gateway processes on free ports, and waits until every one answers
 * /readyz (never a bare sleep). Every child gets PR_SET_PDEATHSIG(SIGKILL), so nothing outlives a
 * crashed or timed-out test; bf_cluster_stop() kills and reaps them all. Each process logs to a
 * file in the cluster's temporary directory (bf_cluster_log_path), which tests may grep.
 *
 * Ports come from the kernel (bind to port 0), so suites run in parallel without collisions. */
#ifndef BF_HARNESS_H
#define BF_HARNESS_H

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define BF_MAX_NODES 8

typedef struct bf_cluster_opts {
    int routers;                     /* default 1 */
    int gateways;                    /* default 1 */
    const char *api_key;             /* default "test-api-key-0123456789abcdef0123456789" */
    const char *jwt_secret;          /* passed to gateways when set */
    const char *const *router_args;  /* extra args, NULL-terminated, or NULL */
    const char *const *gateway_args; /* extra args, NULL-terminated, or NULL; gateways start with
                                      * --backlog-limit-ms 0 (back-pressure off) unless these
                                      * say otherwise */
    const char *prefix;              /* --redis-prefix, default "belfry:" */
    int proxied_gateway;             /* 1 + index of a gateway whose Redis traffic goes through a
                                      * belfry-test-proxy (see bf_cluster_partition), or 0 */
    const char *redis_acl_user;      /* when set (with redis_acl_pass): Redis gets this ACL user
                                      * (all keys, channels, commands) and its `default` user is
                                      * disabled; redis_url names the user, and the harness' own
                                      * connections (bf_redis_query) authenticate as it */
    const char *redis_acl_pass;
    bool sentinel; /* Redis Sentinel topology: a primary (redis) and a replica (replica), watched
                    * by three sentinels (down-after 1 s, failover-timeout 3 s) on ephemeral
                    * ports; redis_url is the sentinel:// URL of master "mymaster" */
    bool redis_cluster; /* Redis Cluster topology (redis_cluster.h): three primaries with a replica
                         * each; redis_url is the cluster:// URL (every node a seed), rcl the
                         * cluster, redis.port its first node's port (no pid: a PUBLISH there
                         * reaches every node), and bf_redis_query follows MOVED */
} bf_cluster_opts;

/* The topology parameter: BELFRY_TEST_TOPOLOGY=single|sentinel|cluster makes bf_cluster_start
 * use that topology when the options ask for none of their own (no sentinel, redis_cluster, ACL
 * user or proxied gateway), so that one suite runs against all three (CTest registers the
 * variants as <suite>@sentinel, <suite>@cluster: tests/CMakeLists.txt). The topology a cluster
 * runs on, "single", "sentinel" or "cluster": */
struct bf_cluster;
const char *bf_cluster_topology(const struct bf_cluster *c);

typedef struct bf_proc {
    pid_t pid;
    int port;
    char id[64];
    char log[512];
} bf_proc;

/* A private redis-server alone (no Belfry daemons), for tests of the Lua scripts: an ephemeral
 * port, no persistence, its files in a temporary directory. */
typedef struct bf_lone_redis {
    pid_t pid;
    int port;
    char dir[64];
    struct redisContext *ctx; /* a connection to it, owned: bf_lone_redis_stop frees it */
} bf_lone_redis;

/* Starts it (another port if one is taken meanwhile) and waits until it answers PING. Returns 0,
 * or -1 when it did not start. */
int bf_lone_redis_start(bf_lone_redis *lr);
/* Kills it, frees the connection and removes its directory. */
void bf_lone_redis_stop(bf_lone_redis *lr);

typedef struct bf_cluster {
    bf_cluster_opts o;
    char dir[256];
    bf_proc redis;
    bf_proc routers[BF_MAX_NODES];
    bf_proc gateways[BF_MAX_NODES];
    int nrouters, ngateways;
    char redis_url[128];
    bool keep_logs; /* set when something went wrong: the log directory is kept */
    bf_proc proxy;  /* the Redis proxy of opts.proxied_gateway */
    bf_proc replica;
    bf_proc sentinels[3];
    int nsentinels;
    struct bf_rcl *rcl; /* opts.redis_cluster: the Redis Cluster (owned) */
} bf_cluster;

/* ---- Sentinel topology (opts.sentinel; tests/harness/sentinel.c) ---- */
/* The port of the current primary as the sentinels see it (the first that answers), or of the
 * single Redis without Sentinel; -1 if none answers. */
int bf_cluster_primary_port(bf_cluster *c);
/* The process (redis or replica) listening on port, or NULL. */
bf_proc *bf_cluster_redis_proc(bf_cluster *c, int port);
/* Runs a command on sentinel i; the reply as bf_redis_query gives it (caller frees) or NULL. */
char *bf_sentinel_query(bf_cluster *c, int i, const char *fmt, ...);
/* Internal to the harness: start and stop the replica and the sentinels. */
int bf__sentinel_start(bf_cluster *c);
void bf__sentinel_stop(bf_cluster *c);

/* Blackholes (on = 1) or restores (on = 0) the proxied gateway's traffic to Redis. */
int bf_cluster_partition(bf_cluster *c, int on);

/* Starts a cluster; returns NULL (with a message on stderr) on failure. Caller stops it. */
bf_cluster *bf_cluster_start(const bf_cluster_opts *o);
/* Stops every process (SIGTERM, then SIGKILL after 5 s), reaps them, removes the temporary
 * directory (kept, and named on stderr, when something went wrong or BELFRY_KEEP_LOGS is set) and
 * frees c. Returns the number of belfry processes that did not exit cleanly with status 0 (under
 * ASan a leak makes the exit status non-zero). NULL is ok. */
int bf_cluster_stop_checked(bf_cluster *c);
void bf_cluster_stop(bf_cluster *c);

/* Sends sig to gateway/router i (SIGKILL: also reaps it). Returns 0 or -1. */
int bf_cluster_signal_gateway(bf_cluster *c, int i, int sig);
int bf_cluster_signal_router(bf_cluster *c, int i, int sig);
/* Waits up to timeout_ms for a signalled process to exit; returns its exit status or -1. */
int bf_cluster_wait_gateway(bf_cluster *c, int i, int timeout_ms);
int bf_cluster_wait_router(bf_cluster *c, int i, int timeout_ms);
/* Restarts gateway/router i on the same port and id; waits for /readyz. Returns 0 or -1. */
int bf_cluster_restart_gateway(bf_cluster *c, int i);
int bf_cluster_restart_router(bf_cluster *c, int i);
/* Kills redis (SIGKILL): all data is lost. Returns 0 or -1. */
int bf_cluster_signal_redis_stop(bf_cluster *c);
/* Restarts redis on the same port with all data lost (killing it first if running).
 * Returns 0 or -1. */
int bf_cluster_restart_redis(bf_cluster *c);

/* Starts one binary (basename in build/bin) with argv (NULL-terminated, argv[0] excluded),
 * logging to log. Returns the pid or -1. */
pid_t bf_spawn(const char *bin, const char *const *argv, const char *log);
/* timeout_ms scaled for daemons running under BELFRY_TEST_DAEMON_WRAPPER (valgrind is ~10x
 * slower); timeout_ms itself otherwise. */
int bf_slow(int timeout_ms);
/* Whether gateways and routers run under BELFRY_TEST_DAEMON_WRAPPER (tests whose premise is a
 * timing skip then). */
bool bf_daemons_wrapped(void);

/* A free TCP port on 127.0.0.1 (bind to 0 and release). */
int bf_free_port(void);
/* Polls GET path on port until it answers 200 or timeout; returns 0 or -1. */
int bf_wait_http_ok(int port, const char *path, int timeout_ms);
/* Runs redis-cli-like command against the cluster's Redis (synchronous hiredis);
 * returns the reply as a malloc'd string (integers as decimal, arrays joined by '\n'), or NULL. */
char *bf_redis_query(bf_cluster *c, const char *fmt, ...);

/* Polls until want gateways have confirmed their subscription to channel's fan-out subject
 * (PUBSUB NUMSUB) — the moment from which they deliver its messages. Returns true, or false after
 * timeout_ms. */
bool bf_cluster_wait_subscribed(bf_cluster *c, const char *channel, int want, int timeout_ms);

/* Reads a whole file into a malloc'd NUL-terminated buffer (caller frees) or NULL. */
char *bf_read_file(const char *path);

/* Signs claims_json (a JSON object) with secret using alg "HS256" or "HS512" (libjwt), or
 * builds an unsigned token when alg is "none". Returns a malloc'd token (caller frees). */
char *bf_mint_token(const char *secret, const char *alg, const char *claims_json);

/* Monotonic milliseconds. */
long long bf_ms(void);
/* Polls cond(arg) every 20 ms until true or timeout; returns true if it became true. */
bool bf_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms);

/* One command on a new connection to 127.0.0.1:port, connect and reply each within timeout_s;
 * NULL if either fails. Caller frees the reply (freeReplyObject). */
redisReply *bf_redis_vcommand_at(int port, int timeout_s, const char *fmt, va_list ap);
/* Whether the redis-server answering on 127.0.0.1:port is the process pid (INFO server's
 * process_id). A server just spawned on a port that was free a moment ago may have lost the port
 * to another test's server: a PING would be answered by that one, and the test would go on with
 * a stranger's Redis. */
bool bf_redis_is_pid(int port, pid_t pid);
/* Waits (at most 5 s) until the redis-server or sentinel *pid, spawned on port, answers there as
 * itself. 0; or -1 when it exited (its port was taken meanwhile: start it again on another) or
 * did not answer, with the process killed, reaped and *pid set to 0. */
int bf_redis_await_own(pid_t *pid, int port);

#endif
