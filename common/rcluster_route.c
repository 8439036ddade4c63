/* Which slot a command goes to, read from the command as hiredis formatted it (rcluster.h lists
 * the rules). */
#include "rcluster_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Splits a formatted command ("*N\r\n$L\r\n...\r\n") into its first max arguments; returns N. */
int bf__rcluster_args(const char *cmd, size_t len, rcl_arg *v, int max)
{
    const char *end = cmd + len, *p = cmd;
    if (len < 4 || *p != '*') return 0;
    int n = atoi(p + 1), i = 0;
    p = memchr(p, '\n', len);
    while (p && ++p < end && i < max && i < n && *p == '$') {
        size_t l = strtoul(p + 1, NULL, 10);
        const char *s = memchr(p, '\n', (size_t)(end - p));
        if (!s || (size_t)(end - s - 1) < l + 2) break;
        v[i].p = s + 1;
        v[i++].len = l;
        p = s + 1 + l + 1; /* at the '\n' of the argument's CRLF */
    }
    return i < max && i < n ? i : n;
}

bool bf__rcluster_is(const rcl_arg *v, const char *word)
{
    return v->len == strlen(word) && !strncasecmp(v->p, word, v->len);
}

/* Keyless commands whose first argument is not a key. */
static bool keyless(const rcl_arg *verb)
{
    static const char *const words[] = {"PING",     "INFO", "CLUSTER",   "CONFIG",  "CLIENT",
                                        "COMMAND",  "TIME", "DBSIZE",    "SCAN",    "PUBLISH",
                                        "ECHO",     "ROLE", "MEMORY",    "LATENCY", "SLOWLOG",
                                        "FUNCTION", "WAIT", "RANDOMKEY", "KEYS"};
    for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
        if (bf__rcluster_is(verb, words[i])) return true;
    return false;
}

/* The slot a command goes to, -1 for any node. */
int bf__rcluster_slot_of(const rcl_arg *a, int argc)
{
    if (argc < 1) return -1;
    if (bf__rcluster_is(&a[0], "EVAL") || bf__rcluster_is(&a[0], "EVALSHA") ||
        bf__rcluster_is(&a[0], "EVAL_RO") || bf__rcluster_is(&a[0], "EVALSHA_RO") ||
        bf__rcluster_is(&a[0], "FCALL") || bf__rcluster_is(&a[0], "FCALL_RO")) {
        if (argc < 4 || a[2].len == 0 || a[2].len > 9 || a[2].p[0] == '0' || a[2].p[0] == '-')
            return -1; /* no key declared */
        return (int)bf_slot_of_key(a[3].p, a[3].len);
    }
    if (bf__rcluster_is(&a[0], "XREAD") || bf__rcluster_is(&a[0], "XREADGROUP")) {
        for (int i = 1; i + 1 < argc && i + 1 < 8; i++)
            if (bf__rcluster_is(&a[i], "STREAMS"))
                return (int)bf_slot_of_key(a[i + 1].p, a[i + 1].len);
        return -1;
    }
    if (argc < 2 || keyless(&a[0])) return -1;
    return (int)bf_slot_of_key(a[1].p, a[1].len);
}
