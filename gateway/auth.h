/* Authorization of private and presence connections.
 *
 * Default mode: an HS256 JWT verified with libjwt against the configured secret. libjwt 1.10
 * verifies the signature but pins no algorithm and checks no times, so after a successful decode
 * (always with a non-NULL key) this module requires alg == HS256, checks exp (required) and nbf
 * (optional) against the clock with a leeway, requires a "channels" array that grants the channel
 * (an entry ending in '*' is a prefix grant), requires "sub" for presence channels and accepts an
 * optional "info" object of at most BF_AUTH_INFO_MAX bytes. Nothing from an unverified token is
 * ever used.
 *
 * --insecure-any-token mode (development only) reproduces @roostjs/broadcast's default: any
 * non-empty token is accepted and the user id comes from the ?userId= query parameter. */
#ifndef BF_AUTH_H
#define BF_AUTH_H

#include "channel.h"

#include <stdbool.h>
#include <stddef.h>

#define BF_AUTH_INFO_MAX 1024
#define BF_USER_MAX 128
#define BF_TOKEN_MAX 8192

typedef enum {
    BF_AUTH_OK = 0,
    BF_AUTH_MISSING,      /* no token: HTTP 401 */
    BF_AUTH_INVALID,      /* bad token (signature, algorithm, expiry, claims): HTTP 403 */
    BF_AUTH_NOT_GRANTED,  /* valid token that does not grant this channel: HTTP 403 */
    BF_AUTH_UNCONFIGURED, /* no secret and not insecure: HTTP 503 */
} bf_auth_status;

typedef struct bf_auth_opts {
    const char *jwt_secret; /* NULL: no JWT verification configured */
    bool insecure_any_token;
    long long leeway_s;
} bf_auth_opts;

typedef struct bf_auth_result {
    char user_id[BF_USER_MAX + 1];   /* "" when the token has no subject */
    char info[BF_AUTH_INFO_MAX + 1]; /* compact JSON object, "{}" when absent */
    const char *reason; /* short metric label on failure: missing, expired, signature, ... */
} bf_auth_result;

/* Checks token (may be NULL or empty) for channel of the given type at time now_s (Unix seconds).
 * query_user: the ?userId= value or NULL (used only in insecure mode). Fills *res; on failure err
 * gets a message for the client that never contains the token. */
bf_auth_status bf_auth_check(const bf_auth_opts *o, const char *token, const char *channel,
                             bf_channel_type type, const char *query_user, long long now_s,
                             bf_auth_result *res, char *err, size_t errlen);

/* True if one entry of the grants list matches channel (exact, or prefix for "xxx*"). */
bool bf_auth_granted(const char *const *grants, size_t n, const char *channel);

#endif
