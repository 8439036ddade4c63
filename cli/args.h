/* Command-line parsing for belfryctl commands.
 *
 * As in the daemons, every flag of a command lives in one bf_cfg_opt table (common/config.h) that
 * drives parsing, the environment and --help, so the three cannot disagree and getenv() stays in
 * common/config.c. This module adds what a CLI needs on top of that table: positional arguments
 * (which may appear before, between or after flags; "--" ends the flags), one flag that may be
 * repeated (token --channel), a synopsis and examples in --help, the flags shared by every command
 * that reads Redis, and the colour decision (stdout is a terminal and NO_COLOR is unset). */
#ifndef BF_CLI_ARGS_H
#define BF_CLI_ARGS_H

#include "config.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define BF_CLI_CONTINUE (-1) /* bf_cli_args_parse: go on and run the command */
#define BF_CLI_POS_MAX 4
#define BF_CLI_MULTI_MAX 64

/* Every setting of every command; a command's table names the fields it uses. Strings are
 * borrowed from argv, the environment or the table's defaults: valid for the process. */
typedef struct bf_cli_cfg {
    /* shared by the Redis-reading commands */
    const char *redis, *redis_prefix;
    long long timeout_ms;
    bool json, no_color;
    const char *env_no_color; /* NO_COLOR, read through the table like every variable */
    /* per command */
    const char *type, *pattern, *http, *api_key, *reason, *token, *gateway;
    const char *app; /* --app: the app whose channel is addressed (NULL: the default app) */
    const char *secret, *user, *channel, *info, *ttl;
    long long count, since, limit;
    /* filled by bf_cli_args_parse */
    bool color;                      /* ANSI colour on stdout */
    const char *pos[BF_CLI_POS_MAX]; /* positional arguments */
    int npos;
    const char *multi[BF_CLI_MULTI_MAX]; /* every value of the spec's repeatable flag */
    int nmulti;
} bf_cli_cfg;

typedef struct bf_cli_spec {
    const char *name;     /* "presence" */
    const char *synopsis; /* "CHANNEL", printed after the name in the usage line */
    const char *summary;  /* what the command does, one paragraph */
    const char *details;  /* printed after the flags: output format, examples (or NULL) */
    const bf_cfg_opt *table;
    int min_pos, max_pos;   /* how many positional arguments are required / allowed */
    const char *repeatable; /* a flag of the table that may be given several times, or NULL */
} bf_cli_spec;

/* Fills cfg (zeroed first) from the table's defaults, the environment and argv (argv[0] is the
 * command name), then checks the positionals, the Redis URL and prefix (when the table has them).
 * Returns BF_CLI_CONTINUE, or an exit code once --help/--version was printed (0) or a usage error
 * was reported on stderr (2). */
int bf_cli_args_parse(const bf_cli_spec *s, bf_cli_cfg *cfg, int argc, char **argv);

/* Prints the command's help from its spec and table: usage line, summary, flags with their
 * environment variables and defaults (entries with a NULL help are hidden), details. */
void bf_cli_usage(const bf_cli_spec *s, FILE *f);

/* Writes "belfryctl CMD: MESSAGE\n" to stderr. */
void bf_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports a usage error ("...; see belfryctl CMD --help") and returns 2. */
int bf_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checks a CHANNEL argument (channel.h's rules): 0, or reports "invalid channel" as a usage
 * error and returns its exit code. */
int bf_cli_channel_arg(const char *cmd, const char *channel);

#define BF_CLI_F(x) offsetof(bf_cli_cfg, x)

/* Table entries shared by the commands that read Redis. */
#define BF_CLI_OPTS_REDIS                                                                          \
    {"redis",                                                                                      \
     BF_CFG_STRING,                                                                                \
     "BELFRY_REDIS_URL",                                                                           \
     "redis://127.0.0.1:6379",                                                                     \
     0,                                                                                            \
     0,                                                                                            \
     NULL,                                                                                         \
     BF_CLI_F(redis),                                                                              \
     "Redis URL, redis://[[user]:password@]host[:port][/db], "                                     \
     "sentinel://host[:port],.../master or cluster://host[:port],..."},                            \
        {"redis-prefix",                                                                           \
         BF_CFG_PREFIX,                                                                            \
         "BELFRY_REDIS_PREFIX",                                                                    \
         "belfry:",                                                                                \
         0,                                                                                        \
         0,                                                                                        \
         NULL,                                                                                     \
         BF_CLI_F(redis_prefix),                                                                   \
         "prefix of every Redis key (at most 64 bytes)"},                                          \
    {                                                                                              \
        "timeout-ms", BF_CFG_INT, "BELFRY_CLI_TIMEOUT_MS", "3000", 100, 600000, NULL,              \
            BF_CLI_F(timeout_ms), "connect and per-command timeout"                                \
    }

/* --json, --no-color and NO_COLOR (hidden: an environment variable only). */
#define BF_CLI_OPTS_OUTPUT                                                                         \
    {"json",                                                                                       \
     BF_CFG_BOOL,                                                                                  \
     NULL,                                                                                         \
     "false",                                                                                      \
     0,                                                                                            \
     0,                                                                                            \
     NULL,                                                                                         \
     BF_CLI_F(json),                                                                               \
     "print JSON for programs instead of a table (see Output below)"},                             \
        {"no-color",                                                                               \
         BF_CFG_BOOL,                                                                              \
         NULL,                                                                                     \
         "false",                                                                                  \
         0,                                                                                        \
         0,                                                                                        \
         NULL,                                                                                     \
         BF_CLI_F(no_color),                                                                       \
         "never colour the output (also: NO_COLOR set and non-empty)"},                            \
    {                                                                                              \
        "env-no-color", BF_CFG_STRING, "NO_COLOR", NULL, 0, 0, NULL, BF_CLI_F(env_no_color), NULL  \
    }

/* --app ID: the commands that address a channel address that app's (apps.h); see
 * bf_cli_scope_channel in credis.h. */
#define BF_CLI_OPTS_APP                                                                            \
    {                                                                                              \
        "app", BF_CFG_STRING, "BELFRY_APP", NULL, 1, 32, NULL, BF_CLI_F(app),                      \
            "the app (id) whose channel this is; default: the cluster's default app"               \
    }

#define BF_CLI_OPTS_END                                                                            \
    {                                                                                              \
        NULL, 0, NULL, NULL, 0, 0, NULL, 0, NULL                                                   \
    }

#endif
