#include "route.h"
#include "slot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One argument of a formatted command: a view into its RESP. */
typedef struct arg {
    const char *p;
    size_t len;
} arg;

/* Splits "*N\r\n$L\r\n<L bytes>\r\n..." into its first max arguments; returns how many it read. */
static int split_args(const char *cmd, size_t len, arg *v, int max)
{
    const char *end = cmd + len, *p = cmd;
    if (len < 4 || *p != '*') return 0;
    long n = strtol(p + 1, NULL, 10);
    int i = 0;
    p = memchr(p, '\n', len);
    while (p && ++p < end && i < max && i < n && *p == '$') {
        size_t l = strtoul(p + 1, NULL, 10);
        const char *s = memchr(p, '\n', (size_t)(end - p));
        if (!s || (size_t)(end - s - 1) < l + 2) break;
        v[i].p = s + 1;
        v[i++].len = l;
        p = s + 1 + l + 1; /* at the '\n' of the argument's CRLF */
    }
    return i;
}

static bool arg_is(const arg *a, const char *word)
{
    return a->len == strlen(word) && !strncasecmp(a->p, word, a->len);
}

bool bf_cli_route_verb_is(const char *cmd, size_t len, const char *word)
{
    arg v[1];
    return split_args(cmd, len, v, 1) == 1 && arg_is(&v[0], word);
}

int bf_cli_route_slot(const char *cmd, size_t len)
{
    /* the commands whose first argument is not a key; belfryctl sends no others without a key */
    static const char *const keyless[] = {"PUBLISH", "TIME",   "PING", "MULTI", "EXEC",
                                          "DISCARD", "ASKING", "SCAN", "KEYS",  "CLUSTER",
                                          "INFO",    "AUTH",   "ROLE", "ECHO",  "DBSIZE"};
    arg v[4];
    int n = split_args(cmd, len, v, 4);
    if (n < 1) return BF_CLI_ROUTE_ANY;
    if (arg_is(&v[0], "EVAL") || arg_is(&v[0], "EVALSHA") || arg_is(&v[0], "EVAL_RO") ||
        arg_is(&v[0], "EVALSHA_RO")) {
        /* EVAL script numkeys key...: the first declared key; none declared, any node */
        if (n < 4 || v[2].len == 0 || v[2].len > 9 || v[2].p[0] == '0' || v[2].p[0] == '-')
            return BF_CLI_ROUTE_ANY;
        return (int)bf_slot_of_key(v[3].p, v[3].len);
    }
    for (size_t i = 0; i < sizeof(keyless) / sizeof(*keyless); i++)
        if (arg_is(&v[0], keyless[i])) return BF_CLI_ROUTE_ANY;
    if (n < 2) return BF_CLI_ROUTE_ANY;
    return (int)bf_slot_of_key(v[1].p, v[1].len);
}

int bf_cli_route_redirect(const char *err, bf_cli_redirect *out)
{
    memset(out, 0, sizeof(*out));
    const char *p;
    if (!strncmp(err, "MOVED ", 6))
        p = err + 6;
    else if (!strncmp(err, "ASK ", 4))
        p = err + 4, out->ask = true;
    else
        return -1;
    char *e;
    unsigned long slot = strtoul(p, &e, 10);
    if (e == p || *e != ' ' || slot >= BF_SLOT_COUNT) return -1;
    const char *addr = e + 1, *colon = strrchr(addr, ':'); /* the last one: IPv6 hosts have more */
    if (!colon || (size_t)(colon - addr) >= sizeof(out->host)) return -1;
    long port = strtol(colon + 1, &e, 10);
    if (e == colon + 1 || *e || port <= 0 || port > 65535) return -1;
    out->slot = (unsigned)slot;
    out->port = (int)port;
    memcpy(out->host, addr, (size_t)(colon - addr));
    out->host[colon - addr] = '\0';
    return 0;
}

int bf_cli_route_slots(const redisReply *rep, bf_cli_slot_range *out, size_t cap, size_t *n)
{
    *n = 0;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) return -1;
    for (size_t i = 0; i < rep->elements; i++) {
        /* [start, end, [host, port, id, ...], replicas...] */
        const redisReply *r = rep->element[i];
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
            r->element[0]->type != REDIS_REPLY_INTEGER ||
            r->element[1]->type != REDIS_REPLY_INTEGER ||
            r->element[2]->type != REDIS_REPLY_ARRAY || r->element[2]->elements < 2)
            return -1;
        const redisReply *h = r->element[2]->element[0], *p = r->element[2]->element[1];
        long long s = r->element[0]->integer, e = r->element[1]->integer;
        if (s < 0 || e < s || e >= BF_SLOT_COUNT || p->type != REDIS_REPLY_INTEGER ||
            p->integer <= 0 || p->integer > 65535 ||
            (h->type != REDIS_REPLY_STRING && h->type != REDIS_REPLY_NIL) || *n == cap)
            return -1;
        bf_cli_slot_range *o = &out[(*n)++];
        o->start = (unsigned)s;
        o->end = (unsigned)e;
        o->port = (int)p->integer;
        /* "" or "?" (Redis 7: endpoint unknown) or NIL: the node we asked */
        snprintf(o->host, sizeof(o->host), "%s",
                 h->type == REDIS_REPLY_STRING && strcmp(h->str, "?") ? h->str : "");
        if (h->type == REDIS_REPLY_STRING && h->len >= sizeof(o->host)) return -1;
    }
    return 0;
}
