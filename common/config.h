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

typedef enum {
    BF_CFG_STRING,   /* const char * (borrowed from argv/environ/defaults: valid for the process) */
    BF_CFG_INT,      /* long long, within [min, max] */
    BF_CFG_BOOL,     /* bool; as a flag it takes no value; env accepts 1/0/true/false/yes/no */
    BF_CFG_HOSTPORT, /* bf_hostport, "HOST:PORT" */
    BF_CFG_REDIS,    /* bf_redis_url, redis:// or sentinel:// (see redis_url.h) */
} bf_cfg_type;

typedef struct bf_cfg_opt {
    const char *name; /* flag name without the leading "--" */
    bf_cfg_type type;
    const char *env;     /* environment variable, or NULL */
    const char *def;     /* default, as text; NULL means unset (STRING: NULL pointer) */
    long long min, max;  /* bounds for INT */
    const char *choices; /* for STRING: "a|b|c" to restrict values, or NULL */
    size_t offset;       /* offset of the field in the caller's config struct */
    const char *help;
} bf_cfg_opt;

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
