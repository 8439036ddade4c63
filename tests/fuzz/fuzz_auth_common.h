/* Checks shared by the two auth harnesses: what bf_auth_check promises about any result. */
#ifndef BF_FUZZ_AUTH_COMMON_H
#define BF_FUZZ_AUTH_COMMON_H

#include "auth.h"
#include "fuzz_util.h"

#include <jansson.h>

static const struct {
    const char *channel;
    bf_channel_type type;
} fz_channels[] = {{"private-room", BF_CH_PRIVATE}, {"presence-room", BF_CH_PRESENCE}};

/* Properties of every result: a known status, a reason on failure, a message that never
 * contains the token, and on success a user id and info the rest of the gateway can trust. */
static inline void fz_check_result(bf_auth_status st, const bf_auth_result *res, const char *err,
                                   const char *token, bf_channel_type type)
{
    FZ_CHECK(st >= BF_AUTH_OK && st <= BF_AUTH_UNCONFIGURED, "status %d", (int)st);
    if (token && strlen(token) >= 12) FZ_CHECK(!strstr(err, token), "the message leaks the token");
    if (st != BF_AUTH_OK) {
        FZ_CHECK(res->reason != NULL, "refused without a reason (metric label)");
        FZ_CHECK(err[0] != '\0', "refused without a message");
        return;
    }
    size_t ul = strnlen(res->user_id, sizeof(res->user_id));
    FZ_CHECK(ul < sizeof(res->user_id), "user id unterminated");
    for (size_t i = 0; i < ul; i++)
        FZ_CHECK((unsigned char)res->user_id[i] >= 0x20, "control byte in the user id");
    FZ_CHECK(type != BF_CH_PRESENCE || ul > 0, "presence accepted without a user id");
    FZ_CHECK(strnlen(res->info, sizeof(res->info)) <= BF_AUTH_INFO_MAX, "info too long");
    json_t *info = json_loads(res->info, 0, NULL);
    FZ_CHECK(json_is_object(info), "info is not a JSON object: %s", res->info);
    json_decref(info);
}

/* True if token is header.payload.signature with the canonical HS256 signature by FZ_SECRET of
 * header.payload: the only tokens bf_auth_check may ever accept. */
static inline int fz_signed_hs256(const char *token)
{
    const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2) return 0;
    char *want = fz_hmac_sig(EVP_sha256(), token, (size_t)(d2 - token));
    int ok = !strcmp(want, d2 + 1);
    free(want);
    return ok;
}

#endif
