/* Fuzzes the claim checks of bf_auth_check (gateway/auth.h): the input is the raw claims text,
 * placed in a token with a genuine HS256 signature by the gateway's secret, so libjwt's signature
 * check passes and every input reaches libjwt's body parser and Belfry's claim rules. The same
 * claims are also signed with HS512 under an HS512 header, which must always be refused (libjwt
 * 1.10 does not pin the algorithm; Belfry does).
 * Property: an accepted token's claims, read independently with jansson, have a numeric exp not
 * in the past (with the 5 s leeway), no nbf in the future, a channels array that grants the
 * channel, and a sub on presence channels. */
#include "fuzz_auth_common.h"

static const char *HS256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char *HS512 = "{\"alg\":\"HS512\",\"typ\":\"JWT\"}";

static int grants(json_t *chans, const char *channel)
{
    for (size_t i = 0; i < json_array_size(chans); i++) {
        const char *g = json_string_value(json_array_get(chans, i));
        size_t gl = g ? strlen(g) : 0;
        if (!g) continue;
        if (gl && g[gl - 1] == '*' ? !strncmp(g, channel, gl - 1) : !strcmp(g, channel)) return 1;
    }
    return 0;
}

/* Independent reading of the claims (only when they contain no NUL, which libjwt would cut). */
static void check_model(const uint8_t *data, size_t size, const char *channel, bf_channel_type type)
{
    if (memchr(data, 0, size)) return;
    json_t *c = json_loadb((const char *)data, size, 0, NULL);
    FZ_CHECK(json_is_object(c), "accepted claims that are not a JSON object");
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    FZ_CHECK(json_is_number(exp) && json_number_value(exp) + 5 >= (double)FZ_NOW,
             "accepted without a valid exp");
    FZ_CHECK(!nbf || (json_is_number(nbf) && json_number_value(nbf) <= (double)FZ_NOW + 5),
             "accepted before nbf");
    FZ_CHECK(grants(json_object_get(c, "channels"), channel), "accepted without a grant");
    FZ_CHECK(type != BF_CH_PRESENCE || json_is_string(json_object_get(c, "sub")),
             "presence accepted without sub");
    json_decref(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *t256 = fz_sign(EVP_sha256(), HS256, data, size);
    char *t512 = fz_sign(EVP_sha512(), HS512, data, size);
    bf_auth_opts o = {FZ_SECRET, false, 5};
    char err[512];
    bf_auth_result res;
    for (size_t i = 0; i < sizeof(fz_channels) / sizeof(fz_channels[0]); i++) {
        const char *ch = fz_channels[i].channel;
        bf_channel_type type = fz_channels[i].type;
        err[0] = '\0';
        bf_auth_status st = bf_auth_check(&o, t256, ch, type, NULL, FZ_NOW, &res, err, 512);
        fz_check_result(st, &res, err, t256, type);
        if (st == BF_AUTH_OK) check_model(data, size, ch, type);
        err[0] = '\0';
        st = bf_auth_check(&o, t512, ch, type, NULL, FZ_NOW, &res, err, 512);
        fz_check_result(st, &res, err, t512, type);
        FZ_CHECK(st != BF_AUTH_OK, "accepted an HS512 token");
    }
    free(t256);
    free(t512);
    return 0;
}
