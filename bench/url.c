#include "url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bb_url_parse(const char *s, bb_url *u, char *err, size_t errlen)
{
    static const struct {
        const char *prefix;
        bb_url_scheme scheme;
        int port;
    } schemes[] = {
        {"ws://", BB_URL_WS, 80}, {"http://", BB_URL_HTTP, 80}, {"redis://", BB_URL_REDIS, 6379}};
    memset(u, 0, sizeof(*u));
    const char *p = NULL;
    int port = 0;
    for (size_t k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++) {
        size_t pl = strlen(schemes[k].prefix);
        if (!strncmp(s, schemes[k].prefix, pl)) {
            p = s + pl;
            u->scheme = schemes[k].scheme;
            port = schemes[k].port;
        }
    }
    if (!p) {
        snprintf(err, errlen, "'%s': expected ws://, http:// or redis://", s);
        return -1;
    }
    size_t hl = strcspn(p, ":/?");
    char host[64];
    if (hl == 0 || hl >= sizeof(host)) {
        snprintf(err, errlen, "'%s': missing or too long host", s);
        return -1;
    }
    memcpy(host, p, hl);
    host[hl] = '\0';
    p += hl;
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 1 || v > 65535) {
            snprintf(err, errlen, "'%s': invalid port", s);
            return -1;
        }
        port = (int)v;
        p = end;
    }
    if (!strcmp(host, "localhost")) strcpy(host, "127.0.0.1");
    u->addr.sin_family = AF_INET;
    u->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &u->addr.sin_addr) != 1) {
        snprintf(err, errlen, "'%s': the host must be an IPv4 literal or localhost", s);
        return -1;
    }
    if ((ntohl(u->addr.sin_addr.s_addr) >> 24) != 127) {
        snprintf(err, errlen, "'%s': only loopback (127.0.0.0/8) targets are allowed", s);
        return -1;
    }
    snprintf(u->host_hdr, sizeof(u->host_hdr), "%s:%d", host, port);
    if (u->scheme == BB_URL_REDIS) {
        if (*p == '/') p++;
        if (!*p) {
            snprintf(err, errlen, "'%s': a redis URL needs the channel template as its path", s);
            return -1;
        }
    } else if (*p != '/') {
        if (*p && *p != '?') {
            snprintf(err, errlen, "'%s': unexpected '%c' after the host", s, *p);
            return -1;
        }
        snprintf(u->path, sizeof(u->path), "/%s", p);
        return 0;
    }
    if (strlen(p) >= sizeof(u->path)) {
        snprintf(err, errlen, "'%s': path too long", s);
        return -1;
    }
    strcpy(u->path, p);
    return 0;
}

bb_url *bb_url_parse_list(const char *list, size_t *n, char *err, size_t errlen)
{
    size_t cap = 1;
    for (const char *q = list; *q; q++) cap += *q == ',';
    bb_url *out = calloc(cap, sizeof(*out));
    char *copy = strdup(list);
    if (!out || !copy) {
        snprintf(err, errlen, "out of memory");
        free(out);
        free(copy);
        return NULL;
    }
    size_t k = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (bb_url_parse(tok, &out[k], err, errlen)) {
            free(out);
            free(copy);
            return NULL;
        }
        k++;
    }
    free(copy);
    if (!k) {
        snprintf(err, errlen, "empty URL list");
        free(out);
        return NULL;
    }
    *n = k;
    return out;
}

int bb_tmpl_expand(const char *tmpl, char *out, size_t cap, const char *channel, const char *user,
                   const char *i)
{
    const struct {
        const char *key;
        const char *val;
    } vars[] = {{"{channel}", channel}, {"{user}", user}, {"{i}", i}};
    size_t o = 0;
    for (const char *p = tmpl; *p;) {
        const char *val = NULL;
        size_t kl = 0;
        if (*p == '{') {
            for (size_t k = 0; k < sizeof(vars) / sizeof(vars[0]); k++) {
                size_t l = strlen(vars[k].key);
                if (vars[k].val && !strncmp(p, vars[k].key, l)) {
                    val = vars[k].val;
                    kl = l;
                    break;
                }
            }
        }
        if (val) {
            size_t vl = strlen(val);
            if (o + vl >= cap) return -1;
            memcpy(out + o, val, vl);
            o += vl;
            p += kl;
        } else {
            if (o + 1 >= cap) return -1;
            out[o++] = *p++;
        }
    }
    if (o >= cap) return -1;
    out[o] = '\0';
    return (int)o;
}
