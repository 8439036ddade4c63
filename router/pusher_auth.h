/* Authentication of Pusher HTTP API requests, exactly as the Pusher server SDKs sign them.
 *
 * A signed request carries in its query string auth_key, auth_timestamp, auth_version=1.0,
 * body_md5 (hex MD5 of the body, required when there is a body) and auth_signature: the hex
 * HMAC-SHA256, keyed with the app's secret, of
 *     METHOD "\n" PATH "\n" QUERY
 * where PATH is the request path as the SDK sent it (percent-decoded, with any prefix a
 * deployment mounts in front of /apps) and QUERY is every parameter except auth_signature, keys
 * lower-cased and sorted, "k=v" joined with "&", values percent-decoded (the SDKs sign values
 * unescaped). The signature is compared in constant time; the signed string is never built (the
 * HMAC runs over its parts).
 *
 * The module is pure: no I/O, the clock is an argument. */
#ifndef BF_PUSHER_AUTH_H
#define BF_PUSHER_AUTH_H

#include "apps.h"

#include <stddef.h>

#define BF_PAUTH_MAX_PARAMS 32    /* more query parameters: refused (400) */
#define BF_PAUTH_MAX_QUERY 8192   /* a longer query string: refused (400) */
#define BF_PAUTH_DEFAULT_SKEW 600 /* seconds, as Pusher */

/* Outcomes; bf_pusher_auth_status() maps each to its HTTP status. */
typedef enum {
    BF_PAUTH_OK = 0,
    BF_PAUTH_UNKNOWN_APP, /* 404: the path's app id is not configured */
    BF_PAUTH_BAD_QUERY,   /* 400: malformed, duplicated or too many parameters */
    BF_PAUTH_MISSING,     /* 401: an auth_* parameter is missing */
    BF_PAUTH_UNKNOWN_KEY, /* 401: auth_key names no app */
    BF_PAUTH_WRONG_APP,   /* 401: auth_key belongs to another app than the path's */
    BF_PAUTH_VERSION,     /* 401: auth_version is not 1.0 */
    BF_PAUTH_STALE,       /* 401: auth_timestamp not an integer or outside the allowed skew */
    BF_PAUTH_BODY_MD5,    /* 401: body_md5 missing for a body, or not the body's MD5 */
    BF_PAUTH_SIGNATURE,   /* 401: auth_signature does not match */
} bf_pauth_result;

typedef struct bf_pauth_request {
    const char *method; /* "GET", "POST" (borrowed) */
    const char *path;   /* decoded request path, NUL-terminated (borrowed) */
    const char *app_id; /* the {id} of /apps/{id}/..., app_id_len bytes (borrowed) */
    size_t app_id_len;
    const char *query; /* the raw query string without '?', or NULL (borrowed) */
    const void *body;  /* body_len bytes, may be NULL when body_len is 0 (borrowed) */
    size_t body_len;
    long long now_s;      /* the current Unix time */
    long long max_skew_s; /* allowed |now - auth_timestamp| */
} bf_pauth_request;

/* Checks req against apps. On BF_PAUTH_OK stores the authenticated app in *app (borrowed from
 * apps); otherwise fills err with a one-line message that names the failing part. */
bf_pauth_result bf_pusher_auth_check(const bf_apps *apps, const bf_pauth_request *req,
                                     const bf_app **app, char *err, size_t errlen);

/* The HTTP status for a result: 200, 400, 401 or 404. */
int bf_pusher_auth_status(bf_pauth_result r);

/* A short machine-readable code for a result ("unknown_key", "stale_timestamp", ...); static. */
const char *bf_pusher_auth_code(bf_pauth_result r);

/* Percent-decodes s[0..len) ('+' becomes a space) into out (capacity at least len + 1,
 * NUL-terminated). Returns the decoded length, or -1 for a malformed escape or a decoded NUL. */
long bf_pusher_urldecode(const char *s, size_t len, char *out);

#endif
