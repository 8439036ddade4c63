/* Fuzzes bf_auth_check (gateway/auth.h) with arbitrary token strings: the ?token= or
 * Authorization: Bearer value of any upgrade to a private or presence channel.
 * Properties (besides fz_check_result): nothing is accepted unless it carries a valid HS256
 * signature by the configured secret, whatever its header says (alg none, HS512, junk); with no
 * secret configured nothing is accepted; insecure mode only passes well-formed user ids. */
#include "fuzz_auth_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *token = fz_strndup(data, size), err[512];
    bf_auth_result res;
    bf_auth_opts jwt = {FZ_SECRET, false, 5}, none = {NULL, false, 0}, insecure = {NULL, true, 0};
    for (size_t i = 0; i < sizeof(fz_channels) / sizeof(fz_channels[0]); i++) {
        const char *ch = fz_channels[i].channel;
        bf_channel_type type = fz_channels[i].type;
        err[0] = '\0';
        bf_auth_status st =
            bf_auth_check(&jwt, token, ch, type, "query-user", FZ_NOW, &res, err, sizeof(err));
        fz_check_result(st, &res, err, token, type);
        if (st == BF_AUTH_OK) FZ_CHECK(fz_signed_hs256(token), "accepted an unsigned token");

        err[0] = '\0';
        st = bf_auth_check(&none, token, ch, type, NULL, FZ_NOW, &res, err, sizeof(err));
        fz_check_result(st, &res, err, token, type);
        FZ_CHECK(st == (*token ? BF_AUTH_UNCONFIGURED : BF_AUTH_MISSING),
                 "no secret configured, yet status %d", (int)st);

        /* insecure mode: the input is also the ?userId= value */
        err[0] = '\0';
        st = bf_auth_check(&insecure, "any", ch, type, token, FZ_NOW, &res, err, sizeof(err));
        fz_check_result(st, &res, err, NULL, type);
        if (st == BF_AUTH_OK && *token)
            FZ_CHECK(!strcmp(res.user_id, token), "insecure mode changed the user id");
    }
    free(token);
    return 0;
}
