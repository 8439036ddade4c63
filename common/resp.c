#include "resp.h"
#include "slot.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int bf_resp_args(const char *cmd, size_t len, bf_resp_arg *v, int max)
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
    if (n < 0 || n > 1024 * 1024) return i;
    return i < max && i < n ? i : (int)n;
}

bool bf_resp_is(const bf_resp_arg *a, const char *word)
{
    return a->len == strlen(word) && !strncasecmp(a->p, word, a->len);
}

/* Commands whose first argument is not a key (or that have none). */
static bool keyless(const bf_resp_arg *verb)
{
    static const char *const words[] = {
        "PING",    "INFO",     "CLUSTER", "CONFIG",    "CLIENT", "COMMAND", "TIME",
        "DBSIZE",  "SCAN",     "PUBLISH", "ECHO",      "ROLE",   "MEMORY",  "LATENCY",
        "SLOWLOG", "FUNCTION", "WAIT",    "RANDOMKEY", "KEYS",   "MULTI",   "EXEC",
        "DISCARD", "ASKING",   "AUTH",    "SCRIPT",    "HELLO",  "SELECT"};
    for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
        if (bf_resp_is(verb, words[i])) return true;
    return false;
}

int bf_resp_slot_of(const bf_resp_arg *a, int argc)
{
    if (argc < 1) return BF_RESP_ANY;
    if (bf_resp_is(&a[0], "EVAL") || bf_resp_is(&a[0], "EVALSHA") || bf_resp_is(&a[0], "EVAL_RO") ||
        bf_resp_is(&a[0], "EVALSHA_RO") || bf_resp_is(&a[0], "FCALL") ||
        bf_resp_is(&a[0], "FCALL_RO")) {
        if (argc < 4 || a[2].len == 0 || a[2].len > 9 || a[2].p[0] == '0' || a[2].p[0] == '-')
            return BF_RESP_ANY; /* no key declared */
        return (int)bf_slot_of_key(a[3].p, a[3].len);
    }
    if (bf_resp_is(&a[0], "XREAD") || bf_resp_is(&a[0], "XREADGROUP")) {
        for (int i = 1; i + 1 < argc && i + 1 < 8; i++)
            if (bf_resp_is(&a[i], "STREAMS")) return (int)bf_slot_of_key(a[i + 1].p, a[i + 1].len);
        return BF_RESP_ANY;
    }
    if (argc < 2 || keyless(&a[0])) return BF_RESP_ANY;
    return (int)bf_slot_of_key(a[1].p, a[1].len);
}

int bf_resp_slot_of_cmd(const char *cmd, size_t len)
{
    bf_resp_arg v[8];
    int n = bf_resp_args(cmd, len, v, 8);
    return bf_resp_slot_of(v, n);
}

int bf_resp_redirect_parse(const char *err, bf_resp_redirect *out)
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
