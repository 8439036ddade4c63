#include "auth.h"
#include "err.h"

#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool bf_auth_granted(const char *const *grants, size_t n, const char *channel)
{
    for (size_t i = 0; i < n; i++) {
        size_t gl = strlen(grants[i]);
        if (gl && grants[i][gl - 1] == '*') {
            if (!strncmp(grants[i], channel, gl - 1)) return true;
        } else if (!strcmp(grants[i], channel)) {
            return true;
        }
    }
    return false;
}

static bf_auth_status fail(bf_auth_result *res, bf_auth_status st, const char *reason, char *err,
                           size_t errlen, const char *msg)
{
    res->reason = reason;
    snprintf(err, errlen, "%s", msg);
    return st;
}

static bool valid_user(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > BF_USER_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] < 0x20) return false;
    return true;
}

static bf_auth_status check_claims(json_t *claims, const char *channel, bf_channel_type type,
                                   long long now_s, long long leeway, bf_auth_result *res,
                                   char *err, size_t errlen)
{
    json_t *exp = json_object_get(claims, "exp");
    if (!json_is_number(exp))
        return fail(res, BF_AUTH_INVALID, "claims", err, errlen, "token has no numeric exp claim");
    if ((double)now_s > json_number_value(exp) + (double)leeway)
        return fail(res, BF_AUTH_INVALID, "expired", err, errlen, "token has expired");
    json_t *nbf = json_object_get(claims, "nbf");
    if (nbf && (!json_is_number(nbf) || (double)now_s + (double)leeway < json_number_value(nbf)))
        return fail(res, BF_AUTH_INVALID, "not_yet_valid", err, errlen,
                    "token is not valid yet (nbf)");
    json_t *sub = json_object_get(claims, "sub");
    if (sub) {
        if (!json_is_string(sub) || !valid_user(json_string_value(sub)))
            return fail(res, BF_AUTH_INVALID, "claims", err, errlen,
                        "sub must be a string of 1-128 bytes without control characters");
        snprintf(res->user_id, sizeof(res->user_id), "%s", json_string_value(sub));
    } else if (type == BF_CH_PRESENCE) {
        return fail(res, BF_AUTH_INVALID, "claims", err, errlen,
                    "presence channels need a token with a sub (user id) claim");
    }
    json_t *info = json_object_get(claims, "info");
    if (info) {
        char *s = json_is_object(info) ? json_dumps(info, JSON_COMPACT) : NULL;
        if (!s || strlen(s) > BF_AUTH_INFO_MAX) {
            free(s);
            return fail(res, BF_AUTH_INVALID, "claims", err, errlen,
                        "info must be a JSON object of at most 1024 bytes");
        }
        snprintf(res->info, sizeof(res->info), "%s", s);
        free(s);
    }
    json_t *chans = json_object_get(claims, "channels");
    if (!json_is_array(chans))
        return fail(res, BF_AUTH_INVALID, "claims", err, errlen,
                    "token has no channels claim (an array of channel names)");
    size_t n = json_array_size(chans);
    const char **grants = calloc(n ? n : 1, sizeof(char *));
    if (!grants) return fail(res, BF_AUTH_INVALID, "claims", err, errlen, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const char *g = json_string_value(json_array_get(chans, i));
        if (g) grants[m++] = g;
    }
    bool ok = bf_auth_granted(grants, m, channel);
    free(grants);
    if (!ok) {
        char msg[256];
        snprintf(msg, sizeof(msg), "token does not grant channel '%s'", channel);
        return fail(res, BF_AUTH_NOT_GRANTED, "not_granted", err, errlen, msg);
    }
    return BF_AUTH_OK;
}

bf_auth_status bf_auth_check(const bf_auth_opts *o, const char *token, const char *channel,
                             bf_channel_type type, const char *query_user, long long now_s,
                             bf_auth_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    snprintf(res->info, sizeof(res->info), "{}");
    if (!token || !*token)
        return fail(res, BF_AUTH_MISSING, "missing", err, errlen,
                    "this channel needs a token: Authorization: Bearer <token> or ?token=");
    if (o->insecure_any_token) {
        if (query_user && *query_user) {
            if (!valid_user(query_user))
                return fail(res, BF_AUTH_INVALID, "claims", err, errlen,
                            "userId must be 1-128 bytes without control characters");
            snprintf(res->user_id, sizeof(res->user_id), "%s", query_user);
        } else if (type == BF_CH_PRESENCE) {
            return fail(res, BF_AUTH_INVALID, "claims", err, errlen,
                        "presence channels need ?userId= (insecure any-token mode)");
        }
        return BF_AUTH_OK;
    }
    if (!o->jwt_secret)
        return fail(res, BF_AUTH_UNCONFIGURED, "unconfigured", err, errlen,
                    "private and presence channels are not configured on this gateway: start it "
                    "with --jwt-secret (or BELFRY_JWT_SECRET)");
    if (strlen(token) > BF_TOKEN_MAX)
        return fail(res, BF_AUTH_INVALID, "malformed", err, errlen, "token is too long");
    jwt_t *jwt = NULL;
    /* always a non-NULL key: with NULL, libjwt 1.10 would accept alg "none" */
    if (jwt_decode(&jwt, token, (const unsigned char *)o->jwt_secret, (int)strlen(o->jwt_secret)) !=
            0 ||
        !jwt) {
        if (jwt) jwt_free(jwt);
        return fail(res, BF_AUTH_INVALID, "signature", err, errlen,
                    "token is malformed or its signature does not verify");
    }
    if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
        jwt_free(jwt);
        return fail(res, BF_AUTH_INVALID, "algorithm", err, errlen,
                    "token must be signed with HS256");
    }
    char *all = jwt_get_grants_json(jwt, NULL);
    jwt_free(jwt);
    json_t *claims = all ? json_loads(all, 0, NULL) : NULL;
    free(all);
    if (!json_is_object(claims)) {
        json_decref(claims);
        return fail(res, BF_AUTH_INVALID, "claims", err, errlen, "token claims are not an object");
    }
    bf_auth_status st = check_claims(claims, channel, type, now_s, o->leeway_s, res, err, errlen);
    json_decref(claims);
    return st;
}
