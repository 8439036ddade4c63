/* Unit tests for gateway/auth.h: every refusal of bf_auth_check has its own status and reason
 * (the metric label), the accepted tokens fill the user id and info, and the insecure mode. No
 * daemon: tokens are minted here with libjwt. */
#include "gateway/auth.h"

#include <criterion/criterion.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "unit-secret-0123456789abcdef0123456789abcdef"
#define NOW 1800000000LL

static char *mint(const char *secret, jwt_alg_t alg, const char *claims)
{
    jwt_t *j = NULL;
    cr_assert_eq(jwt_new(&j), 0);
    cr_assert_eq(jwt_add_grants_json(j, claims), 0, "claims %s", claims);
    cr_assert_eq(jwt_set_alg(j, alg, alg == JWT_ALG_NONE ? NULL : (const unsigned char *)secret,
                             alg == JWT_ALG_NONE ? 0 : (int)strlen(secret)),
                 0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    cr_assert_not_null(t);
    return t;
}

static const bf_auth_opts opts = {SECRET, false, 30};
static bf_auth_result res;
static char err[256];

static bf_auth_status check(const char *token, const char *channel, bf_channel_type type)
{
    err[0] = '\0';
    return bf_auth_check(&opts, token, channel, type, NULL, NOW, &res, err, sizeof(err));
}

/* Mints claims (printf format with NOW-relative times filled by the caller) and expects status
 * and reason. */
static void expect(jwt_alg_t alg, const char *secret, const char *claims, const char *channel,
                   bf_channel_type type, bf_auth_status st, const char *reason)
{
    char *t = mint(secret, alg, claims);
    cr_expect_eq(check(t, channel, type), st, "%s on %s: %d (%s)", claims, channel,
                 check(t, channel, type), err);
    if (reason) {
        cr_expect_str_eq(res.reason ? res.reason : "(null)", reason, "%s", claims);
        cr_expect_neq(err[0], '\0', "a message for the client");
        cr_expect(!strstr(err, t), "the message never contains the token");
    }
    free(t);
}

static const char *claims(const char *fmt, long long a, long long b)
{
    static char c[1024];
    snprintf(c, sizeof(c), fmt, a, b);
    return c;
}

Test(auth, a_valid_token_gives_the_user_and_info)
{
    char *t = mint(SECRET, JWT_ALG_HS256,
                   claims("{\"sub\":\"alice\",\"exp\":%lld,\"channels\":[\"presence-room\"],"
                          "\"info\":{\"name\":\"Alice\"}}",
                          NOW + 60, 0));
    cr_assert_eq(check(t, "presence-room", BF_CH_PRESENCE), BF_AUTH_OK, "%s", err);
    cr_expect_str_eq(res.user_id, "alice");
    cr_expect_str_eq(res.info, "{\"name\":\"Alice\"}");
    free(t);
    /* no info: "{}"; no sub on a private channel: no user */
    t = mint(SECRET, JWT_ALG_HS256,
             claims("{\"exp\":%lld,\"channels\":[\"private-*\"]}", NOW + 60, 0));
    cr_assert_eq(check(t, "private-x", BF_CH_PRIVATE), BF_AUTH_OK, "%s", err);
    cr_expect_str_eq(res.user_id, "");
    cr_expect_str_eq(res.info, "{}");
    free(t);
}

Test(auth, each_refusal_has_its_status_and_reason)
{
    const char *ok = "{\"sub\":\"u\",\"exp\":%lld,\"channels\":[\"private-a\"]}";
    expect(JWT_ALG_HS256, SECRET, claims(ok, NOW - 31, 0), "private-a", BF_CH_PRIVATE,
           BF_AUTH_INVALID, "expired");
    expect(JWT_ALG_HS256, SECRET, claims(ok, NOW - 29, 0), "private-a", BF_CH_PRIVATE, BF_AUTH_OK,
           NULL); /* within the leeway */
    expect(JWT_ALG_HS256, "another-secret-0123456789abcdef0123456789", claims(ok, NOW + 60, 0),
           "private-a", BF_CH_PRIVATE, BF_AUTH_INVALID, "signature");
    expect(JWT_ALG_NONE, SECRET, claims(ok, NOW + 60, 0), "private-a", BF_CH_PRIVATE,
           BF_AUTH_INVALID, "signature");
    expect(JWT_ALG_HS512, SECRET, claims(ok, NOW + 60, 0), "private-a", BF_CH_PRIVATE,
           BF_AUTH_INVALID, "algorithm");
    expect(JWT_ALG_HS256, SECRET, claims(ok, NOW + 60, 0), "private-b", BF_CH_PRIVATE,
           BF_AUTH_NOT_GRANTED, "not_granted");
    expect(JWT_ALG_HS256, SECRET,
           claims("{\"sub\":\"u\",\"exp\":%lld,\"nbf\":%lld,\"channels\":[\"private-a\"]}",
                  NOW + 600, NOW + 300),
           "private-a", BF_CH_PRIVATE, BF_AUTH_INVALID, "not_yet_valid");
    expect(JWT_ALG_HS256, SECRET, "{\"sub\":\"u\",\"channels\":[\"private-a\"]}", "private-a",
           BF_CH_PRIVATE, BF_AUTH_INVALID, "claims"); /* no exp */
    expect(JWT_ALG_HS256, SECRET, claims("{\"sub\":\"u\",\"exp\":%lld}", NOW + 60, 0), "private-a",
           BF_CH_PRIVATE, BF_AUTH_INVALID, "claims"); /* no channels */
    expect(JWT_ALG_HS256, SECRET,
           claims("{\"exp\":%lld,\"channels\":[\"presence-a\"]}", NOW + 60, 0), "presence-a",
           BF_CH_PRESENCE, BF_AUTH_INVALID, "claims"); /* presence without sub */
    expect(JWT_ALG_HS256, SECRET,
           claims("{\"sub\":\"a\\u0001b\",\"exp\":%lld,\"channels\":[\"private-a\"]}", NOW + 60, 0),
           "private-a", BF_CH_PRIVATE, BF_AUTH_INVALID, "claims"); /* control character */
    expect(JWT_ALG_HS256, SECRET,
           claims("{\"sub\":\"u\",\"exp\":%lld,\"channels\":[\"private-a\"],\"info\":[1]}",
                  NOW + 60, 0),
           "private-a", BF_CH_PRIVATE, BF_AUTH_INVALID, "claims"); /* info not an object */
}

Test(auth, missing_malformed_and_unconfigured)
{
    cr_expect_eq(check(NULL, "private-a", BF_CH_PRIVATE), BF_AUTH_MISSING);
    cr_expect_str_eq(res.reason, "missing");
    cr_expect_eq(check("", "private-a", BF_CH_PRIVATE), BF_AUTH_MISSING);
    cr_expect_eq(check("not.a.jwt", "private-a", BF_CH_PRIVATE), BF_AUTH_INVALID);
    cr_expect_str_eq(res.reason, "signature");
    char *huge = malloc(BF_TOKEN_MAX + 2);
    memset(huge, 'a', BF_TOKEN_MAX + 1);
    huge[BF_TOKEN_MAX + 1] = '\0';
    cr_expect_eq(check(huge, "private-a", BF_CH_PRIVATE), BF_AUTH_INVALID);
    cr_expect_str_eq(res.reason, "malformed");
    free(huge);
    bf_auth_opts none = {NULL, false, 30};
    cr_expect_eq(
        bf_auth_check(&none, "x", "private-a", BF_CH_PRIVATE, NULL, NOW, &res, err, sizeof(err)),
        BF_AUTH_UNCONFIGURED);
    cr_expect_str_eq(res.reason, "unconfigured");
}

Test(auth, insecure_any_token_takes_the_user_from_the_query)
{
    bf_auth_opts o = {NULL, true, 30};
    cr_expect_eq(bf_auth_check(&o, "anything", "presence-a", BF_CH_PRESENCE, "bob", NOW, &res, err,
                               sizeof(err)),
                 BF_AUTH_OK);
    cr_expect_str_eq(res.user_id, "bob");
    cr_expect_eq(bf_auth_check(&o, "anything", "presence-a", BF_CH_PRESENCE, NULL, NOW, &res, err,
                               sizeof(err)),
                 BF_AUTH_INVALID, "presence needs ?userId=");
    cr_expect_eq(bf_auth_check(&o, "anything", "private-a", BF_CH_PRIVATE, "a\nb", NOW, &res, err,
                               sizeof(err)),
                 BF_AUTH_INVALID, "control characters");
    cr_expect_eq(
        bf_auth_check(&o, NULL, "private-a", BF_CH_PRIVATE, "bob", NOW, &res, err, sizeof(err)),
        BF_AUTH_MISSING, "even insecure mode needs some token");
}

Test(auth, grants_are_exact_or_prefix)
{
    const char *g[] = {"private-a", "presence-room.*"};
    cr_expect(bf_auth_granted(g, 2, "private-a"));
    cr_expect(!bf_auth_granted(g, 2, "private-ab"));
    cr_expect(bf_auth_granted(g, 2, "presence-room.7"));
    cr_expect(bf_auth_granted(g, 2, "presence-room."));
    cr_expect(!bf_auth_granted(g, 2, "presence-room"));
    cr_expect(!bf_auth_granted(g, 0, "private-a"));
}
