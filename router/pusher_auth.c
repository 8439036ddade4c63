#include "pusher_auth.h"
#include "hmac.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct param {
    const char *k, *v; /* decoded, NUL-terminated, inside the decode buffer */
    size_t klen, vlen;
} param;

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long bf_pusher_urldecode(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= len) return -1;
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0) return -1;
            c = h * 16 + l;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c == 0) return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}

static int cmp_param(const void *a, const void *b)
{
    return strcmp(((const param *)a)->k, ((const param *)b)->k);
}

static const param *find(const param *p, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p[i].k, k)) return &p[i];
    return NULL;
}

/* Splits and decodes query into p (keys lower-cased), using buf (capacity 2 * qlen + 2). */
static bf_pauth_result parse_query(const char *q, size_t qlen, char *buf, param *p, size_t *np,
                                   char *err, size_t errlen)
{
    size_t n = 0, o = 0;
    const char *s = q, *end = q + qlen;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        if (e > s) {
            if (n == BF_PAUTH_MAX_PARAMS) {
                snprintf(err, errlen, "more than %d query parameters", BF_PAUTH_MAX_PARAMS);
                return BF_PAUTH_BAD_QUERY;
            }
            const char *eq = memchr(s, '=', (size_t)(e - s));
            const char *ke = eq ? eq : e, *vs = eq ? eq + 1 : e;
            long kl = bf_pusher_urldecode(s, (size_t)(ke - s), buf + o);
            if (kl <= 0) {
                snprintf(err, errlen, "malformed query parameter name");
                return BF_PAUTH_BAD_QUERY;
            }
            p[n].k = buf + o;
            p[n].klen = (size_t)kl;
            for (long i = 0; i < kl; i++) buf[o + i] = (char)tolower((unsigned char)buf[o + i]);
            o += (size_t)kl + 1;
            long vl = bf_pusher_urldecode(vs, (size_t)(e - vs), buf + o);
            if (vl < 0) {
                snprintf(err, errlen, "malformed value of query parameter '%.40s'", p[n].k);
                return BF_PAUTH_BAD_QUERY;
            }
            p[n].v = buf + o;
            p[n].vlen = (size_t)vl;
            o += (size_t)vl + 1;
            if (find(p, n, p[n].k)) {
                snprintf(err, errlen, "query parameter '%.40s' is given twice", p[n].k);
                return BF_PAUTH_BAD_QUERY;
            }
            n++;
        }
        s = e + 1;
    }
    *np = n;
    return BF_PAUTH_OK;
}

/* auth_timestamp: decimal digits only (an optional leading '-' is not something SDKs send). */
static bool parse_ts(const char *s, long long *out)
{
    if (!*s || strlen(s) > 15 || strspn(s, "0123456789") != strlen(s)) return false;
    *out = strtoll(s, NULL, 10);
    return true;
}

bf_pauth_result bf_pusher_auth_check(const bf_apps *apps, const bf_pauth_request *req,
                                     const bf_app **app, char *err, size_t errlen)
{
    const bf_app *byid = bf_apps_by_id(apps, req->app_id, req->app_id_len);
    if (!byid || byid->implicit) {
        snprintf(err, errlen, "unknown app id '%.*s'",
                 (int)(req->app_id_len > 40 ? 40 : req->app_id_len), req->app_id);
        return BF_PAUTH_UNKNOWN_APP;
    }
    size_t qlen = req->query ? strlen(req->query) : 0;
    if (qlen > BF_PAUTH_MAX_QUERY) {
        snprintf(err, errlen, "query string longer than %d bytes", BF_PAUTH_MAX_QUERY);
        return BF_PAUTH_BAD_QUERY;
    }
    char *buf = malloc(2 * qlen + 2);
    param p[BF_PAUTH_MAX_PARAMS];
    size_t n = 0;
    bf_pauth_result r =
        buf ? parse_query(req->query ? req->query : "", qlen, buf, p, &n, err, errlen)
            : BF_PAUTH_BAD_QUERY;
    if (!buf) snprintf(err, errlen, "out of memory");
    if (r) goto out;

    static const char *const required[] = {"auth_key", "auth_timestamp", "auth_version",
                                           "auth_signature"};
    for (size_t i = 0; i < sizeof(required) / sizeof(*required); i++) {
        if (!find(p, n, required[i])) {
            snprintf(err, errlen, "missing query parameter %s", required[i]);
            r = BF_PAUTH_MISSING;
            goto out;
        }
    }
    const param *key = find(p, n, "auth_key");
    const bf_app *a = bf_apps_by_key(apps, key->v, key->vlen);
    if (!a) {
        snprintf(err, errlen, "unknown auth_key '%.64s'", key->v);
        r = BF_PAUTH_UNKNOWN_KEY;
        goto out;
    }
    if (a != byid) {
        snprintf(err, errlen, "auth_key '%.64s' does not belong to app '%s'", key->v, byid->id);
        r = BF_PAUTH_WRONG_APP;
        goto out;
    }
    if (strcmp(find(p, n, "auth_version")->v, "1.0")) {
        snprintf(err, errlen, "auth_version must be 1.0");
        r = BF_PAUTH_VERSION;
        goto out;
    }
    long long ts;
    if (!parse_ts(find(p, n, "auth_timestamp")->v, &ts)) {
        snprintf(err, errlen, "auth_timestamp must be Unix seconds");
        r = BF_PAUTH_STALE;
        goto out;
    }
    if (ts < req->now_s - req->max_skew_s || ts > req->now_s + req->max_skew_s) {
        snprintf(err, errlen,
                 "auth_timestamp %lld is %lld s from the server's time; at most %lld s allowed "
                 "(check the clock)",
                 ts, ts > req->now_s ? ts - req->now_s : req->now_s - ts, req->max_skew_s);
        r = BF_PAUTH_STALE;
        goto out;
    }
    const param *md5 = find(p, n, "body_md5");
    if (req->body_len && !md5) {
        snprintf(err, errlen, "missing query parameter body_md5 (the request has a body)");
        r = BF_PAUTH_BODY_MD5;
        goto out;
    }
    if (md5) {
        char hex[BF_MD5_HEX_LEN + 1];
        bf_md5_hex(req->body ? req->body : "", req->body_len, hex);
        if (!bf_ct_equal(hex, BF_MD5_HEX_LEN, md5->v, md5->vlen)) {
            snprintf(err, errlen, "body_md5 does not match the body");
            r = BF_PAUTH_BODY_MD5;
            goto out;
        }
    }

    /* METHOD \n PATH \n k=v&k=v... over parts: 4 fixed parts plus up to 4 per parameter */
    qsort(p, n, sizeof(*p), cmp_param);
    const void *parts[4 + 4 * BF_PAUTH_MAX_PARAMS];
    size_t lens[4 + 4 * BF_PAUTH_MAX_PARAMS], np = 0;
#define PART(ptr, len)                                                                             \
    do {                                                                                           \
        parts[np] = (ptr);                                                                         \
        lens[np++] = (len);                                                                        \
    } while (0)
    PART(req->method, strlen(req->method));
    PART("\n", 1);
    PART(req->path, strlen(req->path));
    PART("\n", 1);
    bool first = true;
    const param *sig = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(p[i].k, "auth_signature")) {
            sig = &p[i];
            continue;
        }
        if (!first) PART("&", 1);
        first = false;
        PART(p[i].k, p[i].klen);
        PART("=", 1);
        PART(p[i].v, p[i].vlen);
    }
#undef PART
    char want[BF_SHA256_HEX_LEN + 1];
    bf_hmac_sha256_hexv(a->secret, a->secret_len, parts, lens, np, want);
    if (!bf_ct_equal(want, BF_SHA256_HEX_LEN, sig->v, sig->vlen)) {
        snprintf(err, errlen,
                 "auth_signature does not match (HMAC-SHA256 with the app secret of "
                 "METHOD\\nPATH\\nsorted query, path '%.100s')",
                 req->path);
        r = BF_PAUTH_SIGNATURE;
        goto out;
    }
    *app = a;
out:
    free(buf);
    return r;
}

int bf_pusher_auth_status(bf_pauth_result r)
{
    switch (r) {
    case BF_PAUTH_OK:
        return 200;
    case BF_PAUTH_UNKNOWN_APP:
        return 404;
    case BF_PAUTH_BAD_QUERY:
        return 400;
    default:
        return 401;
    }
}

const char *bf_pusher_auth_code(bf_pauth_result r)
{
    static const char *const codes[] = {
        [BF_PAUTH_OK] = "ok",
        [BF_PAUTH_UNKNOWN_APP] = "unknown_app",
        [BF_PAUTH_BAD_QUERY] = "bad_query",
        [BF_PAUTH_MISSING] = "missing_auth_parameter",
        [BF_PAUTH_UNKNOWN_KEY] = "unknown_key",
        [BF_PAUTH_WRONG_APP] = "key_of_another_app",
        [BF_PAUTH_VERSION] = "bad_auth_version",
        [BF_PAUTH_STALE] = "stale_timestamp",
        [BF_PAUTH_BODY_MD5] = "body_md5_mismatch",
        [BF_PAUTH_SIGNATURE] = "bad_signature",
    };
    return (unsigned)r < sizeof(codes) / sizeof(*codes) ? codes[r] : "unauthorized";
}
