#include "args.h"
#include "channel.h"
#include "cli.h"
#include "err.h"
#include "redis_keys.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

void bf_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "belfryctl %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int bf_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "belfryctl %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see belfryctl %s --help)\n", cmd);
    return BF_CLI_USAGE;
}

int bf_cli_channel_arg(const char *cmd, const char *channel)
{
    char err[BF_ERR_LEN];
    if (!bf_channel_validate(channel, strlen(channel), err, sizeof(err))) return 0;
    return bf_cli_usage_error(cmd, "invalid channel '%s': %s", channel, err);
}

static const bf_cfg_opt *find(const bf_cfg_opt *t, const char *name, size_t len)
{
    for (; t->name; t++)
        if (strlen(t->name) == len && !strncmp(t->name, name, len)) return t;
    return NULL;
}

/* The placeholder shown after a flag that takes a value. */
static const char *metavar(const bf_cfg_opt *o)
{
    static const char *const names[][2] = {
        {"redis", "URL"},           {"http", "URL"},      {"gateway", "URL"},
        {"redis-prefix", "PREFIX"}, {"pattern", "GLOB"},  {"info", "JSON"},
        {"ttl", "DURATION"},        {"secret", "SECRET"}, {"user", "USER"},
        {"channel", "CHANNEL"},     {"token", "TOKEN"},   {"api-key", "KEY"},
        {"reason", "TEXT"},
    };
    if (o->type == BF_CFG_BOOL) return "";
    if (o->type == BF_CFG_INT) return "N";
    if (o->choices) return o->choices;
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
        if (!strcmp(o->name, names[i][0])) return names[i][1];
    return "VALUE";
}

void bf_cli_usage(const bf_cli_spec *s, FILE *f)
{
    fprintf(f, "Usage: belfryctl %s%s%s [FLAGS]\n\n%s\n\nFlags (flag > environment > default):\n",
            s->name, *s->synopsis ? " " : "", s->synopsis, s->summary);
    for (const bf_cfg_opt *o = s->table; o->name; o++) {
        if (!o->help) continue; /* hidden: an environment variable only */
        char flag[64];
        const char *mv = metavar(o);
        snprintf(flag, sizeof(flag), "--%s%s%s", o->name, *mv ? " " : "", mv);
        fprintf(f, "  %-24s %s", flag, o->help);
        if (o->type == BF_CFG_INT) fprintf(f, " [%lld..%lld]", o->min, o->max);
        bool def = o->def && !(o->type == BF_CFG_BOOL && !strcmp(o->def, "false"));
        if (o->env || def)
            fprintf(f, "\n  %-24s (%s%s%s%s%s)", "", o->env ? "env " : "", o->env ? o->env : "",
                    o->env && def ? "; " : "", def ? "default " : "", def ? o->def : "");
        fputc('\n', f);
    }
    fprintf(f, "  %-24s %s\n", "--help", "print this help and exit");
    if (s->details) fprintf(f, "\n%s", s->details);
}

/* Separates positionals from flags: flags (with their values) are copied to flags[], the rest to
 * cfg->pos / the spec's repeatable flag to cfg->multi. The flag rules are the ones
 * bf_config_parse applies, so a value that starts with "--" is still taken as a value. */
static int split(const bf_cli_spec *s, bf_cli_cfg *cfg, int argc, char **argv, char **flags,
                 int *nflags)
{
    bool only_pos = false;
    *nflags = 0;
    flags[(*nflags)++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || strncmp(a, "--", 2) || !a[2]) {
            if (!only_pos && !strcmp(a, "--")) {
                only_pos = true;
                continue;
            }
            if (!only_pos && !strcmp(a, "-h")) {
                flags[(*nflags)++] = argv[i];
                continue;
            }
            if (cfg->npos == s->max_pos)
                return bf_cli_usage_error(s->name, "unexpected argument '%s'", a);
            cfg->pos[cfg->npos++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const bf_cfg_opt *o = find(s->table, name, nl);
        /* said here, before its value could be taken for a positional argument */
        if (!o && strncmp(a, "--help", 6) && strcmp(a, "--version"))
            return bf_cli_usage_error(s->name, "unknown flag '--%.*s'", (int)nl, name);
        const char *value = eq ? eq + 1 : NULL;
        flags[(*nflags)++] = argv[i];
        if (o && o->type != BF_CFG_BOOL && !eq && i + 1 < argc) {
            value = argv[++i];
            flags[(*nflags)++] = argv[i];
        }
        if (o && s->repeatable && !strcmp(o->name, s->repeatable) && value) {
            if (cfg->nmulti == BF_CLI_MULTI_MAX)
                return bf_cli_usage_error(s->name, "--%s: at most %d", o->name, BF_CLI_MULTI_MAX);
            cfg->multi[cfg->nmulti++] = value;
        }
    }
    flags[*nflags] = NULL;
    return BF_CLI_CONTINUE;
}

int bf_cli_args_parse(const bf_cli_spec *s, bf_cli_cfg *cfg, int argc, char **argv)
{
    char err[BF_ERR_LEN];
    char *flags[argc + 1];
    int nflags;
    memset(cfg, 0, sizeof(*cfg));
    int rc = split(s, cfg, argc, argv, flags, &nflags);
    if (rc != BF_CLI_CONTINUE) return rc;
    rc = bf_config_parse(s->table, cfg, nflags, flags, err, sizeof(err));
    if (rc == BF_CFG_HELP) {
        bf_cli_usage(s, stdout);
        return BF_CLI_OK;
    }
    if (rc == BF_CFG_VERSION) {
        printf("belfryctl %s\n", BELFRY_VERSION);
        return BF_CLI_OK;
    }
    if (rc < 0) {
        char *hint = strstr(err, " (see --help)"); /* ours below names the command */
        if (hint) *hint = '\0';
        return bf_cli_usage_error(s->name, "%s", err);
    }
    if (cfg->npos < s->min_pos) {
        /* name the first missing argument from the synopsis ("CHANNEL EVENT [DATA]") */
        const char *p = s->synopsis;
        for (int i = 0; i < cfg->npos && p; i++) {
            p = strchr(p, ' ');
            if (p) p++;
        }
        size_t len = p ? strcspn(p, " [") : 0;
        return bf_cli_usage_error(s->name, "missing %.*s", (int)(len ? len : 8),
                                  len ? p : "argument");
    }
    if (cfg->redis) { /* every kind: single, sentinel:// and cluster:// (credis.h routes) */
        bf_redis_url u;
        if (bf_parse_redis_url(cfg->redis, &u, err, sizeof(err)))
            return bf_cli_usage_error(s->name, "--redis: %s", err);
    }
    if (cfg->redis_prefix && strlen(cfg->redis_prefix) > BF_PREFIX_MAX)
        return bf_cli_usage_error(s->name, "--redis-prefix: longer than %d bytes", BF_PREFIX_MAX);
    cfg->color = !cfg->json && !cfg->no_color && !(cfg->env_no_color && *cfg->env_no_color) &&
                 isatty(STDOUT_FILENO);
    return BF_CLI_CONTINUE;
}
