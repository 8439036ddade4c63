#include "config.h"

#include "alloc.h"
#include "apps.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_port(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 65535) return BF_EINVAL;
    *out = (int)v;
    return 0;
}

int bf_parse_hostport(const char *s, bf_hostport *out, char *err, size_t errlen)
{
    const char *colon = strrchr(s, ':');
    if (!colon) {
        snprintf(err, errlen, "expected HOST:PORT, got '%s'", s);
        return BF_EINVAL;
    }
    size_t hl = (size_t)(colon - s);
    const char *h = s;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [::1]:8080 */
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(out->host)) {
        snprintf(err, errlen, "missing or too long host in '%s'", s);
        return BF_EINVAL;
    }
    if (parse_port(colon + 1, &out->port)) {
        snprintf(err, errlen, "invalid port '%s' (expected 0-65535)", colon + 1);
        return BF_EINVAL;
    }
    memcpy(out->host, h, hl);
    out->host[hl] = '\0';
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
        !strcasecmp(s, "on")) {
        *out = true;
        return 0;
    }
    if (!strcasecmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") ||
        !strcasecmp(s, "off") || !*s) {
        *out = false;
        return 0;
    }
    return BF_EINVAL;
}

static bool in_choices(const char *choices, const char *v)
{
    size_t vl = strlen(v);
    const char *p = choices;
    while (*p) {
        size_t l = strcspn(p, "|");
        if (l == vl && strncmp(p, v, l) == 0) return true;
        p += l;
        if (*p == '|') p++;
    }
    return false;
}

/* The rows whose field is a const char *. */
static bool is_string(const bf_cfg_opt *o)
{
    return o->type == BF_CFG_STRING || o->type == BF_CFG_NAME || o->type == BF_CFG_PREFIX;
}

/* Stores text value v for opt; `from` names where it came from, for the error line. */
static int set_value(const bf_cfg_opt *o, void *cfg, const char *v, const char *from, char *err,
                     size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    char sub[BF_ERR_LEN];
    switch (o->type) {
    case BF_CFG_STRING:
    case BF_CFG_PREFIX:
    case BF_CFG_NAME: {
        size_t len = strlen(v);
        if (!len && !o->def) {
            *(const char **)field = NULL; /* empty means not given */
            return 0;
        }
        if (o->choices && !in_choices(o->choices, v)) {
            snprintf(err, errlen, "%s: invalid value '%s' (expected one of %s)", from, v,
                     o->choices);
            return BF_EINVAL;
        }
        if (o->max > 0 && (len < (size_t)o->min || len > (size_t)o->max)) {
            snprintf(err, errlen, "%s: must be %lld-%lld bytes (got %zu)", from, o->min, o->max,
                     len);
            return BF_ERANGE;
        }
        if (o->type == BF_CFG_PREFIX && strpbrk(v, "{}")) {
            /* a brace would move every key's hash tag (redis_keys.h): all of a cluster's keys in
             * one slot, or tags that no longer name the channel */
            snprintf(err, errlen, "%s: '%s' may not contain '{' or '}' (Redis hash tags)", from, v);
            return BF_EINVAL;
        }
        if (o->type == BF_CFG_NAME) {
            for (const char *c = v; *c; c++) {
                if (*c == '/' || (unsigned char)*c <= ' ' || *c == 0x7f) {
                    snprintf(err, errlen, "%s: '%s' may not contain '/', spaces or control bytes",
                             from, v);
                    return BF_EINVAL;
                }
            }
        }
        *(const char **)field = v;
        return 0;
    }
    case BF_CFG_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end) {
            snprintf(err, errlen, "%s: '%s' is not an integer", from, v);
            return BF_EINVAL;
        }
        if (n < o->min || n > o->max) {
            snprintf(err, errlen, "%s: %lld is out of range [%lld, %lld]", from, n, o->min, o->max);
            return BF_ERANGE;
        }
        *(long long *)field = n;
        return 0;
    }
    case BF_CFG_BOOL:
        if (parse_bool(v, (bool *)field)) {
            snprintf(err, errlen, "%s: '%s' is not a boolean (use true or false)", from, v);
            return BF_EINVAL;
        }
        return 0;
    case BF_CFG_HOSTPORT: {
        bf_hostport *hp = (bf_hostport *)field;
        if (bf_parse_hostport(v, hp, sub, sizeof(sub))) {
            snprintf(err, errlen, "%s: %s", from, sub);
            return BF_EINVAL;
        }
        if (o->max > 0 && (hp->port < o->min || hp->port > o->max)) {
            snprintf(err, errlen, "%s: port %d is out of range [%lld, %lld]", from, hp->port,
                     o->min, o->max);
            return BF_ERANGE;
        }
        return 0;
    }
    case BF_CFG_REDIS:
        if (bf_parse_redis_url(v, (bf_redis_url *)field, sub, sizeof(sub))) {
            snprintf(err, errlen, "%s: %s", from, sub);
            return BF_EINVAL;
        }
        return 0;
    case BF_CFG_LIST: {
        bf_strlist *l = (bf_strlist *)field;
        for (const char *p = v;;) {
            size_t n = strcspn(p, ",");
            if (n) {
                l->v = bf_realloc(l->v, (l->n + 1) * sizeof(*l->v));
                l->v[l->n] = bf_malloc(n + 1);
                memcpy(l->v[l->n], p, n);
                l->v[l->n++][n] = '\0';
            }
            if (!p[n]) break;
            p += n + 1;
        }
        return 0;
    }
    case BF_CFG_APPS:
        if (bf_apps_add(*(bf_apps **)field, v, sub, sizeof(sub))) {
            snprintf(err, errlen, "%s: %s", from, sub);
            return BF_EINVAL;
        }
        return 0;
    }
    return BF_EINVAL;
}

int bf_config_parse(const bf_cfg_opt *table, void *cfg, int argc, char **argv, char *err,
                    size_t errlen)
{
    char from[160];
    unsigned long long replaced = 0; /* BF_CFG_APPS rows already set from argv, by row index */
    for (const bf_cfg_opt *o = table; o->name; o++) {
        if (o->type == BF_CFG_APPS) {
            bf_apps **field = (bf_apps **)((char *)cfg + o->offset);
            *field = bf_apps_new();
        }
        if (o->def) {
            snprintf(from, sizeof(from), "default of --%s", o->name);
            int rc = set_value(o, cfg, o->def, from, err, errlen);
            if (rc) return rc;
        } else if (is_string(o)) {
            *(const char **)((char *)cfg + o->offset) = NULL;
        }
    }
    for (const bf_cfg_opt *o = table; o->name; o++) {
        const char *v = o->env ? getenv(o->env) : NULL;
        if (!v) continue;
        snprintf(from, sizeof(from), "%s (environment)", o->env);
        int rc = set_value(o, cfg, v, from, err, errlen);
        if (rc) return rc;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return BF_CFG_HELP;
        if (!strcmp(a, "--version")) return BF_CFG_VERSION;
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (flags start with --; see --help)", a);
            return BF_EINVAL;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const bf_cfg_opt *o;
        for (o = table; o->name; o++)
            if (strlen(o->name) == nl && !strncmp(o->name, name, nl)) break;
        if (!o->name) {
            snprintf(err, errlen, "unknown flag '--%.*s' (see --help)", (int)nl, name);
            return BF_EINVAL;
        }
        const char *v;
        if (eq) {
            v = eq + 1;
        } else if (o->type == BF_CFG_BOOL) {
            v = "true";
        } else {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--%s: missing value", o->name);
                return BF_EINVAL;
            }
            v = argv[++i];
        }
        snprintf(from, sizeof(from), "--%s", o->name);
        if ((o->type == BF_CFG_APPS || o->type == BF_CFG_LIST) &&
            !(replaced & (1ull << ((o - table) & 63)))) {
            /* the first occurrence of a repeatable flag replaces the environment's list */
            replaced |= 1ull << ((o - table) & 63);
            if (o->type == BF_CFG_APPS)
                bf_apps_clear(*(bf_apps **)((char *)cfg + o->offset));
            else
                bf_strlist_clear((bf_strlist *)((char *)cfg + o->offset));
        }
        int rc = set_value(o, cfg, v, from, err, errlen);
        if (rc) return rc;
    }
    return BF_CFG_OK;
}

void bf_config_usage(const bf_cfg_opt *table, FILE *out, const char *prog, const char *summary)
{
    fprintf(out, "Usage: %s [FLAGS]\n\n%s\n\nFlags (flag > environment > default):\n", prog,
            summary);
    for (const bf_cfg_opt *o = table; o->name; o++) {
        const char *meta = o->type == BF_CFG_BOOL       ? ""
                           : o->type == BF_CFG_INT      ? " N"
                           : o->type == BF_CFG_HOSTPORT ? " HOST:PORT"
                           : o->type == BF_CFG_REDIS    ? " URL"
                           : o->type == BF_CFG_APPS     ? " ID:KEY:SECRET"
                           : o->type == BF_CFG_LIST     ? " VALUE (repeatable)"
                                                        : " VALUE";
        char flag[96];
        snprintf(flag, sizeof(flag), "--%s%s", o->name, meta);
        fprintf(out, "  %-32s %s", flag, o->help);
        if ((is_string(o)) && o->choices) fprintf(out, " (%s)", o->choices);
        if ((is_string(o)) && o->max > 0) fprintf(out, " [%lld..%lld bytes]", o->min, o->max);
        if (o->type == BF_CFG_HOSTPORT && o->max > 0)
            fprintf(out, " [port %lld..%lld]", o->min, o->max);
        if (o->type == BF_CFG_INT) fprintf(out, " [%lld..%lld]", o->min, o->max);
        fprintf(out, "\n  %-32s", "");
        if (o->env) fprintf(out, " env %s", o->env);
        if (o->def) fprintf(out, "%s default: %s", o->env ? ";" : "", o->def);
        fprintf(out, "\n");
    }
    fprintf(out, "  %-32s %s\n  %-32s %s\n", "--help", "print this help and exit", "--version",
            "print the version and exit");
}

void bf_strlist_clear(bf_strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
