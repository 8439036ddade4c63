#include "pusher_sig.h"
#include "hmac.h"

#include <string.h>

/* Splits "key:signature" and checks the key; *sig points at the signature. */
static bf_psig_status split(const bf_app *app, const char *auth, const char **sig, const char **why)
{
    if (!auth || !*auth) {
        *why = "this channel needs an auth signature (\"key:signature\")";
        return BF_PSIG_MISSING;
    }
    const char *colon = strchr(auth, ':');
    if (!colon || strlen(colon + 1) != BF_SHA256_HEX_LEN) {
        *why = "auth must be \"key:signature\" with a 64-character hex HMAC-SHA256";
        return BF_PSIG_MALFORMED;
    }
    size_t klen = (size_t)(colon - auth);
    if (!app->key[0] || klen != strlen(app->key) || memcmp(auth, app->key, klen)) {
        *why = "auth was signed for another app key";
        return BF_PSIG_WRONG_KEY;
    }
    *sig = colon + 1;
    return BF_PSIG_OK;
}

static bf_psig_status verify(const bf_app *app, const void *const *parts, const size_t *lens,
                             size_t n, const char *sig, const char **why)
{
    char want[BF_SHA256_HEX_LEN + 1];
    bf_hmac_sha256_hexv(app->secret, app->secret_len, parts, lens, n, want);
    if (!app->secret_len || !bf_ct_equal(want, BF_SHA256_HEX_LEN, sig, strlen(sig))) {
        *why = "invalid signature";
        return BF_PSIG_SIGNATURE;
    }
    return BF_PSIG_OK;
}

bf_psig_status bf_pusher_sig_channel(const bf_app *app, const char *socket_id, const char *channel,
                                     const char *channel_data, const char *auth, const char **why)
{
    const char *sig;
    bf_psig_status st = split(app, auth, &sig, why);
    if (st) return st;
    const void *parts[] = {socket_id, ":", channel, ":", channel_data};
    size_t lens[] = {strlen(socket_id), 1, strlen(channel), 1,
                     channel_data ? strlen(channel_data) : 0};
    return verify(app, parts, lens, channel_data ? 5 : 3, sig, why);
}

bf_psig_status bf_pusher_sig_user(const bf_app *app, const char *socket_id, const char *user_data,
                                  const char *auth, const char **why)
{
    const char *sig;
    bf_psig_status st = split(app, auth, &sig, why);
    if (st) return st;
    const void *parts[] = {socket_id, "::user::", user_data};
    size_t lens[] = {strlen(socket_id), 8, strlen(user_data)};
    return verify(app, parts, lens, 3, sig, why);
}

int bf_pusher_sig_http_status(bf_psig_status st)
{
    return st == BF_PSIG_SIGNATURE ? 403 : 401;
}
