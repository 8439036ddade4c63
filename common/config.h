/* Configuration tables.
 *
 * Each binary describes its settings in one table of bf_cfg_opt (name, type, default, bounds,
 * environment variable, help). The same table drives flag parsing, environment lookup and --help,
 * so the three can never disagree. Precedence is flag > environment > default. This module is the
 * only place in Belfry that calls getenv(). */
#ifndef BF_CONFIG_H
#define BF_CONFIG_H

#include "redis_url.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct bf_hostport {
    char host[256];
    int port;
} bf_hostport;

/* BF_CFG_LIST values: copies owned by the list (free with bf_strlist_clear). */
typedef struct bf_strlist {
    char **v;
    size_t n;
} bf_strlist;

/* Frees the values and empties the list. */
void bf_strlist_clear(bf_strlist *l);

/* Validation lives in the rows, so that a new flag cannot skip it (Redis' config.c does the same):
 *   STRING    when max > 0, a given value is min..max bytes long; with choices, one of them. A row
 *             without a default treats an empty value as not given (its field stays NULL).
 *   NAME      a STRING that is also an identifier: min..max bytes (max > 0 required), no '/' and
 *             no control characters or spaces (node ids: they appear in Redis keys and
 *             connection ids "<node>/<n>").
 *   PREFIX    a STRING that is also a Redis key prefix: no '{' or '}' (a brace would move the
 *             hash tag of every key, redis_keys.h).
 *   INT       within [min, max].
 *   HOSTPORT  when max > 0, the port is within [min, max] (1..65535 for a listening address).
 * Checks that relate two flags (e.g. --api-key unless --insecure-no-api-key) stay in main. */
typedef enum {
    BF_CFG_STRING,   /* const char * (borrowed from argv/environ/defaults: valid for the process) */
    BF_CFG_NAME,     /* const char *, as STRING, validated as an identifier (see above) */
    BF_CFG_PREFIX,   /* const char *, as STRING, validated as a Redis key prefix (see above) */
    BF_CFG_INT,      /* long long, within [min, max] */
    BF_CFG_BOOL,     /* bool; as a flag it takes no value; env accepts 1/0/true/false/yes/no */
    BF_CFG_HOSTPORT, /* bf_hostport, "HOST:PORT" */
    BF_CFG_REDIS,    /* bf_redis_url, redis:// or sentinel:// (see redis_url.h) */
    BF_CFG_APPS,     /* bf_apps * (apps.h), "ID:KEY:SECRET[,...]"; the flag is repeatable and its
                      * values replace the environment's list. bf_config_parse always creates the
                      * list (never NULL afterwards); the caller frees it with bf_apps_free. */
    BF_CFG_LIST,     /* bf_strlist, a repeatable flag; the environment gives a comma-separated
                      * list, which the flags replace. The caller frees it with bf_strlist_clear. */
} bf_cfg_type;

typedef struct bf_cfg_opt {
    const char *name; /* flag name without the leading "--" */
    bf_cfg_type type;
    const char *env;     /* environment variable, or NULL */
    const char *def;     /* default, as text; NULL means unset (STRING: NULL pointer) */
    long long min, max;  /* bounds: INT value, STRING/NAME length, HOSTPORT port (see above) */
    const char *choices; /* for STRING: "a|b|c" to restrict values, or NULL */
    size_t offset;       /* offset of the field in the caller's config struct */
    const char *help;
} bf_cfg_opt;

/* The rows every daemon has alike (Redis, identity, logging). F(field) is the table's offsetof
 * macro: the config structs name these fields alike (redis, node_id, redis_prefix,
 * redis_timeout_ms, redis_sentinel_timeout_ms, redis_cluster_refresh_ms,
 * redis_cluster_max_redirects, log_level, log_format). BF_PREFIX_MAX comes from redis_keys.h. */
#define BF_CFG_ROWS_NODE(F)                                                                        \
    {"redis",                                                                                      \
     BF_CFG_REDIS,                                                                                 \
     "BELFRY_REDIS_URL",                                                                           \
     "redis://127.0.0.1:6379",                                                                     \
     0,                                                                                            \
     0,                                                                                            \
     NULL,                                                                                         \
     F(redis),                                                                                     \
     "Redis URL: redis://[[user]:password@]host[:port][/db] or "                                   \
     "sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db] or "                   \
     "cluster://[[user]:password@]host[:port][,host[:port]...]"},                                  \
        {"node-id", BF_CFG_NAME, "BELFRY_NODE_ID",                                                 \
         NULL,      1,           64,                                                               \
         NULL,      F(node_id),  "unique node id (default: random, new on every start)"},          \
        {"redis-prefix",                                                                           \
         BF_CFG_PREFIX,                                                                            \
         "BELFRY_REDIS_PREFIX",                                                                    \
         "belfry:",                                                                                \
         0,                                                                                        \
         BF_PREFIX_MAX,                                                                            \
         NULL,                                                                                     \
         F(redis_prefix),                                                                          \
         "prefix of every Redis key and subject (at most 64 bytes)"},                              \
        {"redis-timeout",                                                                          \
         BF_CFG_INT,                                                                               \
         "BELFRY_REDIS_TIMEOUT",                                                                   \
         "2000",                                                                                   \
         100,                                                                                      \
         600000,                                                                                   \
         NULL,                                                                                     \
         F(redis_timeout_ms),                                                                      \
         "milliseconds a Redis command may wait for its reply; then the link is reset (503 "       \
         "meanwhile)"},                                                                            \
        {"redis-sentinel-timeout",                                                                 \
         BF_CFG_INT,                                                                               \
         "BELFRY_REDIS_SENTINEL_TIMEOUT",                                                          \
         "1000",                                                                                   \
         50,                                                                                       \
         60000,                                                                                    \
         NULL,                                                                                     \
         F(redis_sentinel_timeout_ms),                                                             \
         "sentinel:// only: milliseconds each sentinel has to connect and answer a query; "        \
         "then the next one is asked"},                                                            \
        {"redis-cluster-refresh",                                                                  \
         BF_CFG_INT,                                                                               \
         "BELFRY_REDIS_CLUSTER_REFRESH",                                                           \
         "5000",                                                                                   \
         100,                                                                                      \
         600000,                                                                                   \
         NULL,                                                                                     \
         F(redis_cluster_refresh_ms),                                                              \
         "cluster:// only: milliseconds between slot map reads (CLUSTER SLOTS) while the cluster " \
         "is healthy; a MOVED or a lost node reads it at once"},                                   \
        {"redis-cluster-max-redirects",                                                            \
         BF_CFG_INT,                                                                               \
         "BELFRY_REDIS_CLUSTER_MAX_REDIRECTS",                                                     \
         "5",                                                                                      \
         1,                                                                                        \
         16,                                                                                       \
         NULL,                                                                                     \
         F(redis_cluster_max_redirects),                                                           \
         "cluster:// only: MOVED/ASK/TRYAGAIN answers one command may follow before its caller "   \
         "gets the error"},                                                                        \
        {"log-level",                                                                              \
         BF_CFG_STRING,                                                                            \
         "BELFRY_LOG_LEVEL",                                                                       \
         "info",                                                                                   \
         0,                                                                                        \
         0,                                                                                        \
         "debug|info|warn|error",                                                                  \
         F(log_level),                                                                             \
         "minimum level logged"},                                                                  \
    {                                                                                              \
        "log-format", BF_CFG_STRING, "BELFRY_LOG_FORMAT", "text", 0, 0, "text|json",               \
            F(log_format), "log line format"                                                       \
    }

enum { BF_CFG_OK = 0, BF_CFG_HELP = 1, BF_CFG_VERSION = 2 };

/* Fills cfg from defaults, then the environment, then argv. Returns BF_CFG_OK, BF_CFG_HELP or
 * BF_CFG_VERSION when --help/--version was given, or a negative BF_E* code with one line naming
 * the flag and the problem written to err. A table ends with an entry whose name is NULL. */
int bf_config_parse(const bf_cfg_opt *table, void *cfg, int argc, char **argv, char *err,
                    size_t errlen);

/* Prints usage generated from the table. */
void bf_config_usage(const bf_cfg_opt *table, FILE *out, const char *prog, const char *summary);

/* Parsers used by the table; also usable on their own. Return 0 or BF_EINVAL with err filled. */
int bf_parse_hostport(const char *s, bf_hostport *out, char *err, size_t errlen);
/* bf_parse_redis_url (BF_CFG_REDIS) is in redis_url.h. */

#endif
