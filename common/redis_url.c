#include "redis_url.h"
#include "err.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes src[0..len) into dst (capacity cap, NUL-terminated); -1 if malformed, holding
 * a NUL, or too long. */
static int decode(const char *src, size_t len, char *dst, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int ch = (unsigned char)src[i];
        if (ch == '%') {
            if (i + 2 >= len) return -1;
            int hi = hexval((unsigned char)src[i + 1]), lo = hexval((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch == 0 || n + 1 >= cap) return -1;
        dst[n++] = (char)ch;
    }
    dst[n] = '\0';
    return 0;
}

/* One HOST[:PORT] in s[0..len): name, IPv4 or [IPv6]. */
static int parse_addr(const char *s, size_t len, int defport, bf_redis_addr *a, char *err,
                      size_t errlen)
{
    const char *end = s + len, *h = s, *hend, *colon = NULL;
    if (len && *s == '[') {
        hend = memchr(s, ']', len);
        if (!hend) {
            snprintf(err, errlen, "unterminated [IPv6] host in redis URL");
            return BF_EINVAL;
        }
        h = s + 1;
        if (hend + 1 < end) {
            if (hend[1] != ':') {
                snprintf(err, errlen, "junk after the [IPv6] host in redis URL");
                return BF_EINVAL;
            }
            colon = hend + 1;
        }
    } else {
        colon = memchr(s, ':', len);
        hend = colon ? colon : end;
    }
    size_t hl = (size_t)(hend - h);
    if (hl == 0 || hl >= sizeof(a->host)) {
        snprintf(err, errlen, "missing or too long host in redis URL");
        return BF_EINVAL;
    }
    memcpy(a->host, h, hl);
    a->host[hl] = '\0';
    a->port = defport;
    if (colon) {
        char port[8];
        size_t pl = (size_t)(end - colon - 1);
        if (pl == 0 || pl >= sizeof(port) || strspn(colon + 1, "0123456789") < pl) {
            snprintf(err, errlen, "invalid port '%.*s' in redis URL (expected 1-65535)",
                     (int)(pl < 16 ? pl : 16), colon + 1);
            return BF_EINVAL;
        }
        memcpy(port, colon + 1, pl);
        port[pl] = '\0';
        long v = strtol(port, NULL, 10);
        if (v < 1 || v > 65535) {
            snprintf(err, errlen, "invalid port '%s' in redis URL (expected 1-65535)", port);
            return BF_EINVAL;
        }
        a->port = (int)v;
    }
    return 0;
}

static int parse_db(const char *s, int *db, char *err, size_t errlen)
{
    if (!*s) return 0;
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (errno || *e || !isdigit((unsigned char)*s) || v > 65535) {
        snprintf(err, errlen, "invalid database number '%.32s' in redis URL", s);
        return BF_EINVAL;
    }
    *db = (int)v;
    return 0;
}

/* A comma-separated HOST[:PORT] list in [p, end) into a[0..max), counted in *n; what names the
 * list in errors ("sentinel", "cluster seed"). */
static int parse_list(const char *p, const char *end, int defport, bf_redis_addr *a, int max,
                      int *n, const char *what, char *err, size_t errlen)
{
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *aend = comma ? comma : end;
        if (*n == max) {
            snprintf(err, errlen, "more than %d %ss in redis URL", max, what);
            return BF_EINVAL;
        }
        if (parse_addr(p, (size_t)(aend - p), defport, &a[*n], err, errlen)) return BF_EINVAL;
        (*n)++;
        p = comma ? comma + 1 : end;
        if (comma && p == end) {
            snprintf(err, errlen, "empty %s address in redis URL", what);
            return BF_EINVAL;
        }
    }
    if (!*n) {
        snprintf(err, errlen, "no %s address in redis URL", what);
        return BF_EINVAL;
    }
    return 0;
}

#define FORMS                                                                                      \
    "redis://[[user]:password@]host[:port][/db] or "                                               \
    "sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db] or "                    \
    "cluster://[[user]:password@]host[:port][,host[:port]...]"

int bf_parse_redis_url(const char *s, bf_redis_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const char *p;
    if (!strncasecmp(s, "redis://", 8)) {
        out->kind = BF_REDIS_URL_SINGLE;
        p = s + 8;
    } else if (!strncasecmp(s, "sentinel://", 11)) {
        out->kind = BF_REDIS_URL_SENTINEL;
        p = s + 11;
    } else if (!strncasecmp(s, "cluster://", 10)) {
        out->kind = BF_REDIS_URL_CLUSTER;
        p = s + 10;
    } else {
        /* no echo of s: it may carry a password */
        snprintf(err, errlen, "expected %s", FORMS);
        return BF_EINVAL;
    }
    const char *end = p + strcspn(p, "/");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@') at = q; /* the last '@' ends the credentials */
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = colon ? (size_t)(colon - p) : 0; /* "pw@host" alone is a password */
        const char *pw = colon ? colon + 1 : p;
        if (decode(p, ul, out->user, sizeof(out->user)) ||
            decode(pw, (size_t)(at - pw), out->password, sizeof(out->password))) {
            snprintf(err, errlen, "malformed or too long user or password in redis URL");
            return BF_EINVAL;
        }
        if (out->user[0] && !out->password[0]) {
            snprintf(err, errlen, "redis URL names user '%.64s' without a password", out->user);
            return BF_EINVAL;
        }
        p = at + 1;
    }
    if (out->kind == BF_REDIS_URL_SINGLE) {
        bf_redis_addr a;
        if (parse_addr(p, (size_t)(end - p), 6379, &a, err, errlen)) return BF_EINVAL;
        memcpy(out->host, a.host, sizeof(out->host));
        out->port = a.port;
        return *end == '/' ? parse_db(end + 1, &out->db, err, errlen) : 0;
    }
    if (out->kind == BF_REDIS_URL_CLUSTER) { /* a comma-separated list of seeds, nothing after */
        if (parse_list(p, end, 6379, out->seeds, BF_REDIS_SEEDS_MAX, &out->nseeds, "cluster seed",
                       err, errlen))
            return BF_EINVAL;
        if (*end == '/' && end[1]) {
            snprintf(err, errlen,
                     "a cluster:// URL takes no /db (Redis Cluster has database 0 only)");
            return BF_EINVAL;
        }
        memcpy(out->host, out->seeds[0].host, sizeof(out->host));
        out->port = out->seeds[0].port;
        return 0;
    }
    /* sentinel: a comma-separated list, then /MASTER[/DB] */
    if (parse_list(p, end, 26379, out->sentinels, BF_REDIS_SENTINELS_MAX, &out->nsentinels,
                   "sentinel", err, errlen))
        return BF_EINVAL;
    memcpy(out->host, out->sentinels[0].host, sizeof(out->host));
    out->port = out->sentinels[0].port;
    const char *m = *end == '/' ? end + 1 : end;
    size_t ml = strcspn(m, "/");
    if (ml == 0 || ml >= sizeof(out->master)) {
        snprintf(err, errlen, "sentinel:// URL needs the master's name: sentinel://host:port/NAME");
        return BF_EINVAL;
    }
    memcpy(out->master, m, ml);
    out->master[ml] = '\0';
    return m[ml] == '/' ? parse_db(m + ml + 1, &out->db, err, errlen) : 0;
}

static int put_addr(char *out, size_t cap, const char *host, int port)
{
    int v6 = strchr(host, ':') != NULL;
    return snprintf(out, cap, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

const char *bf_redis_url_describe(const bf_redis_url *u, char *out, size_t cap)
{
    if (!cap) return out;
    out[0] = '\0';
    size_t n;
    if (u->kind == BF_REDIS_URL_SINGLE) {
        n = (size_t)snprintf(out, cap, "redis ");
        if (n < cap) n += (size_t)put_addr(out + n, cap - n, u->host, u->port);
    } else {
        bool cl = u->kind == BF_REDIS_URL_CLUSTER;
        const bf_redis_addr *a = cl ? u->seeds : u->sentinels;
        int na = cl ? u->nseeds : u->nsentinels;
        if (cl)
            n = (size_t)snprintf(out, cap, "cluster via ");
        else
            n = (size_t)snprintf(out, cap, "sentinel %s via ", u->master);
        for (int i = 0; i < na && n < cap; i++) {
            int k = put_addr(out + n, cap - n, a[i].host, a[i].port);
            n += k > 0 ? (size_t)k : 0;
            if (i + 1 < na && n + 1 < cap) out[n++] = ',', out[n] = '\0';
        }
    }
    if (u->user[0] && n < cap) snprintf(out + n, cap - n, " as %s", u->user);
    return out;
}
