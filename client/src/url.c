#include "url.h"

#include "err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int bf__url_decode(const char *src, size_t len, char *dst, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int ch = (unsigned char)src[i];
        if (ch == '%') {
            if (i + 2 >= len) return BF_EINVAL;
            int hi = hexval((unsigned char)src[i + 1]), lo = hexval((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0) return BF_EINVAL;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch == 0 || n + 1 >= cap) return BF_EINVAL;
        dst[n++] = (char)ch;
    }
    if (n >= cap) return BF_EINVAL;
    dst[n] = '\0';
    return (int)n;
}

static int scheme_allowed(const char *scheme, const char *schemes)
{
    size_t n = strlen(scheme);
    for (const char *p = schemes; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, scheme, n)) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

int bf__url_parse(const char *s, const char *schemes, bf__url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    if (!s) {
        snprintf(err, errlen, "URL is NULL");
        return BF_EINVAL;
    }
    const char *sep = strstr(s, "://");
    if (!sep || sep == s || (size_t)(sep - s) >= sizeof(u->scheme)) {
        snprintf(err, errlen, "URL '%.200s' has no scheme (expected %s://...)", s, schemes);
        return BF_EINVAL;
    }
    for (size_t i = 0; s + i < sep; i++) u->scheme[i] = (char)tolower((unsigned char)s[i]);
    if (!scheme_allowed(u->scheme, schemes)) {
        snprintf(err, errlen, "URL scheme '%s' is not supported here (expected %s)", u->scheme,
                 schemes);
        return BF_EINVAL;
    }
    const char *auth = sep + 3;
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    /* the last '@' ends the userinfo: passwords may contain unencoded '@' */
    for (const char *p = auth; p < end; p++)
        if (*p == '@') at = p;
    const char *host = auth;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        size_t ulen = colon ? (size_t)(colon - auth) : (size_t)(at - auth);
        if (bf__url_decode(auth, ulen, u->user, sizeof(u->user)) < 0 ||
            (colon && bf__url_decode(colon + 1, (size_t)(at - colon - 1), u->password,
                                     sizeof(u->password)) < 0)) {
            snprintf(err, errlen, "URL has a malformed or overlong user or password");
            return BF_EINVAL;
        }
        host = at + 1;
    }
    const char *hend, *pstart = NULL;
    if (*host == '[') {
        hend = memchr(host, ']', (size_t)(end - host));
        if (!hend) {
            snprintf(err, errlen, "URL has an unterminated [IPv6] host");
            return BF_EINVAL;
        }
        host++;
        if (hend + 1 < end) {
            if (hend[1] != ':') {
                snprintf(err, errlen, "URL has junk after the [IPv6] host");
                return BF_EINVAL;
            }
            pstart = hend + 2;
        }
    } else {
        hend = memchr(host, ':', (size_t)(end - host));
        if (hend)
            pstart = hend + 1;
        else
            hend = end;
    }
    size_t hlen = (size_t)(hend - host);
    if (hlen == 0 || hlen >= sizeof(u->host)) {
        snprintf(err, errlen, "URL '%.200s' has an empty or overlong host", s);
        return BF_EINVAL;
    }
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    if (pstart) {
        char *pend;
        long port = strtol(pstart, &pend, 10);
        if (pend != end || pstart == end || port < 1 || port > 65535) {
            snprintf(err, errlen, "URL '%.200s' has a bad port (must be 1-65535)", s);
            return BF_EINVAL;
        }
        u->port = (int)port;
    } else {
        u->port = 80;
    }
    const char *path = end;
    const char *frag = strchr(path, '#');
    size_t plen = frag ? (size_t)(frag - path) : strlen(path);
    if (plen + 2 > sizeof(u->path)) {
        snprintf(err, errlen, "URL path is longer than %d bytes", BF__URL_PATH_MAX - 2);
        return BF_EINVAL;
    }
    for (size_t i = 0; i < plen; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (ch <= 0x20 || ch >= 0x7f) {
            snprintf(err, errlen, "URL has a byte 0x%02x that must be percent-encoded", ch);
            return BF_EINVAL;
        }
    }
    snprintf(u->path, sizeof(u->path), "%s%.*s", *path == '/' ? "" : "/", (int)plen, path);
    return 0;
}

int bf__url_hostport(const bf__url *u, char *out, size_t cap)
{
    int v6 = strchr(u->host, ':') != NULL;
    int n = snprintf(out, cap, "%s%s%s:%d", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
    return n < 0 || (size_t)n >= cap ? BF_ERANGE : 0;
}
