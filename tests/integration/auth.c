/* Issue: private and presence channels — authorization rules, one test each. */
#include "common.h"

static bf_cluster *C;

static void setup(void)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 2, .jwt_secret = IT_SECRET};
    static const char *const gw_args[] = {"--allowed-origins",
                                          "https://app.example, https://admin.example", NULL};
    o.gateway_args = gw_args;
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly");
}

TestSuite(auth, .init = setup, .fini = teardown, .timeout = 60);

static char *path_with_token(const char *channel, const char *token)
{
    static char p[4096];
    snprintf(p, sizeof(p), "/ws/%s?token=%s", channel, token);
    return p;
}

/* The gateway's count of refusals for reason (belfry_gateway_auth_failures_total{reason=...}). */
static long long refusals(const char *reason)
{
    char name[128];
    snprintf(name, sizeof(name), "belfry_gateway_auth_failures_total{reason=\"%s\"}", reason);
    long long v = bf_metric(C->gateways[0].port, name);
    cr_assert_geq(v, 0, "no %s in /metrics", name);
    return v;
}

/* Refused with status and the JSON code for it, and counted under exactly this reason: an expired
 * token and a bad signature are both 403 forbidden, but not the same refusal. */
static void expect_refused_token(const char *channel, const char *alg, const char *claims,
                                 const char *secret, int status, const char *reason)
{
    char *t = bf_mint_token(secret, alg, claims);
    cr_assert_not_null(t);
    long long before = refusals(reason);
    it_refused(C, 0, path_with_token(channel, t), NULL, status, "forbidden");
    cr_expect_eq(refusals(reason), before + 1, "%s: not refused for reason %s", claims, reason);
    free(t);
}

static char *claims(const char *sub, long long exp_delta, const char *channels)
{
    static char c[1024];
    snprintf(c, sizeof(c), "{\"sub\":\"%s\",\"exp\":%lld,\"channels\":%s}", sub,
             (long long)time(NULL) + exp_delta, channels);
    return c;
}

Test(auth, no_token_is_401)
{
    long long before = refusals("missing");
    it_refused(C, 0, "/ws/private-a", NULL, 401, "unauthorized");
    cr_expect_eq(refusals("missing"), before + 1);
    it_refused(C, 1, "/ws/presence-a", NULL, 401, "unauthorized");
}

Test(auth, expired_token_is_403)
{
    /* beyond the default 30 s leeway */
    expect_refused_token("private-a", "HS256", claims("u1", -120, "[\"private-a\"]"), IT_SECRET,
                         403, "expired");
}

Test(auth, token_within_leeway_is_accepted)
{
    char *t = bf_mint_token(IT_SECRET, "HS256", claims("u1", -5, "[\"private-a\"]"));
    bf_ws *w = it_connect(C, 0, path_with_token("private-a", t), NULL);
    bf_ws_close(w);
    free(t);
}

Test(auth, wrong_signature_is_403)
{
    expect_refused_token("private-a", "HS256", claims("u1", 600, "[\"private-a\"]"),
                         "another-secret-0123456789abcdef0123456789", 403, "signature");
}

Test(auth, alg_none_is_403)
{
    expect_refused_token("private-a", "none", claims("u1", 600, "[\"private-a\"]"), IT_SECRET, 403,
                         "signature");
}

Test(auth, hs512_with_the_same_key_is_403)
{
    expect_refused_token("private-a", "HS512", claims("u1", 600, "[\"private-a\"]"), IT_SECRET, 403,
                         "algorithm");
}

Test(auth, channel_not_granted_is_403)
{
    expect_refused_token("private-b", "HS256", claims("u1", 600, "[\"private-a\"]"), IT_SECRET, 403,
                         "not_granted");
}

Test(auth, missing_claims_are_403)
{
    char c[256];
    /* no exp */
    expect_refused_token("private-a", "HS256", "{\"sub\":\"u1\",\"channels\":[\"private-a\"]}",
                         IT_SECRET, 403, "claims");
    /* no channels */
    snprintf(c, sizeof(c), "{\"sub\":\"u1\",\"exp\":%lld}", (long long)time(NULL) + 600);
    expect_refused_token("private-a", "HS256", c, IT_SECRET, 403, "claims");
    /* presence without sub */
    snprintf(c, sizeof(c), "{\"exp\":%lld,\"channels\":[\"presence-a\"]}",
             (long long)time(NULL) + 600);
    expect_refused_token("presence-a", "HS256", c, IT_SECRET, 403, "claims");
    /* not valid before a time far in the future */
    snprintf(c, sizeof(c),
             "{\"sub\":\"u1\",\"exp\":%lld,\"nbf\":%lld,\"channels\":[\"private-a\"]}",
             (long long)time(NULL) + 6000, (long long)time(NULL) + 3000);
    expect_refused_token("private-a", "HS256", c, IT_SECRET, 403, "not_yet_valid");
}

Test(auth, prefix_grant_allows_matching_channels_only)
{
    char *t = bf_mint_token(IT_SECRET, "HS256", claims("u1", 600, "[\"private-orders.*\"]"));
    bf_ws *w = it_connect(C, 0, path_with_token("private-orders.17", t), NULL);
    bf_ws_close(w);
    it_refused(C, 0, path_with_token("private-order", t), NULL, 403, "forbidden");
    it_refused(C, 0, path_with_token("private-invoices.1", t), NULL, 403, "forbidden");
    free(t);
}

Test(auth, token_in_header_or_query)
{
    char *t = bf_mint_token(IT_SECRET, "HS256", claims("u1", 600, "[\"private-a\"]"));
    char hdr[2048];
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", t);
    bf_ws *a = it_connect(C, 0, "/ws/private-a", hdr);
    bf_ws *b = it_connect(C, 1, path_with_token("private-a", t), NULL);
    it_wait_subscribed(C, "private-a", 2);
    it_publish(C, "private-a", "{\"event\":\"Secret\",\"data\":{\"x\":1}}");
    json_t *ja = it_recv_event(a, "Secret", 3000, "header client");
    json_t *jb = it_recv_event(b, "Secret", 3000, "query client");
    json_decref(ja);
    json_decref(jb);
    bf_ws_close(a);
    bf_ws_close(b);
    free(t);
}

Test(auth, type_query_selects_the_prefixed_channel_and_cannot_downgrade)
{
    char *t = bf_mint_token(IT_SECRET, "HS256", claims("u1", 600, "[\"private-orders.1\"]"));
    /* ?type=private on an unprefixed name is the private channel: a token is needed */
    it_refused(C, 0, "/ws/orders.1?type=private", NULL, 401, "unauthorized");
    char p[2048];
    snprintf(p, sizeof(p), "/ws/orders.1?type=private&token=%s", t);
    bf_ws *w = it_connect(C, 0, p, NULL);
    it_wait_subscribed(C, "private-orders.1", 1);
    /* a public client on "orders.1" must not see the private channel's messages */
    bf_ws *pub = it_connect(C, 1, "/ws/orders.1?type=public", NULL);
    it_publish(C, "private-orders.1", "{\"event\":\"Paid\",\"data\":{}}");
    json_t *j = it_recv_event(w, "Paid", 3000, "private client");
    json_decref(j);
    it_expect_silence(pub, 300, "public client");
    /* and claiming type=public on a private name is refused outright */
    it_refused(C, 0, "/ws/private-orders.1?type=public", NULL, 400, "bad_channel");
    bf_ws_close(w);
    bf_ws_close(pub);
    free(t);
}

Test(auth, origin_not_allowed_is_403)
{
    char *t = bf_mint_token(IT_SECRET, "HS256", claims("u1", 600, "[\"private-a\"]"));
    it_refused(C, 0, "/ws/public-room", "Origin: https://evil.example\r\n", 403,
               "origin_forbidden");
    bf_ws *ok =
        it_connect(C, 0, path_with_token("private-a", t), "Origin: https://admin.example\r\n");
    bf_ws_close(ok);
    bf_ws *none = it_connect(C, 0, "/ws/public-room", NULL); /* non-browser: no Origin */
    bf_ws_close(none);
    free(t);
}

Test(auth, tokens_never_reach_the_logs)
{
    char *t = bf_mint_token(IT_SECRET, "HS256", claims("u1", 600, "[\"private-a\"]"));
    char *bad = bf_mint_token(IT_SECRET, "HS256", claims("u1", 600, "[\"private-zzz\"]"));
    bf_ws *w = it_connect(C, 0, path_with_token("private-a", t), NULL);
    it_refused(C, 0, path_with_token("private-a", bad), NULL, 403, "forbidden");
    bf_ws_close(w);
    /* the signature part is what makes a token usable: it must appear nowhere */
    const char *sig = strrchr(t, '.') + 1, *badsig = strrchr(bad, '.') + 1;
    for (int i = 0; i < C->ngateways; i++) {
        char *log = bf_read_file(C->gateways[i].log);
        cr_assert_not_null(log);
        cr_expect(strstr(log, "debug") || strstr(log, "DEBUG"),
                  "gateway log is not at debug level");
        cr_expect_null(strstr(log, sig), "token found in %s", C->gateways[i].log);
        cr_expect_null(strstr(log, badsig), "refused token found in %s", C->gateways[i].log);
        free(log);
    }
    free(t);
    free(bad);
}

/* ---- gateways without a secret ---------------------------------------------------------- */

TestSuite(auth_modes, .timeout = 60);

Test(auth_modes, no_secret_means_503_for_private_and_presence)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    it_refused(c, 0, "/ws/private-a?token=x", NULL, 503, "auth_unconfigured");
    it_refused(c, 0, "/ws/presence-a?token=x&userId=u", NULL, 503, "auth_unconfigured");
    bf_ws *w = it_connect(c, 0, "/ws/public-a", NULL); /* public channels still work */
    bf_ws_close(w);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(auth_modes, insecure_any_token_accepts_any_token_and_userid, .timeout = 60)
{
    static const char *const args[] = {"--insecure-any-token", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    char *log = bf_read_file(c->gateways[0].log);
    cr_expect(log && strstr(log, "INSECURE"), "no loud warning in the log");
    free(log);
    it_refused(c, 0, "/ws/private-a", NULL, 401, "unauthorized");
    it_refused(c, 0, "/ws/presence-a?token=anything", NULL, 403, "forbidden"); /* no userId */
    bf_ws *w = it_connect(c, 0, "/ws/presence-a?token=anything&userId=bob", NULL);
    json_t *here = it_recv_event(w, "presence:here", 5000, "bob");
    json_t *m0 = json_array_get(json_object_get(json_object_get(here, "data"), "members"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(m0, "id")), "bob");
    json_decref(here);
    bf_ws_close(w);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(auth, a_long_query_argument_cannot_hide_type_or_token)
{
    /* lws stops scanning the query at an argument longer than its lookup buffer: a long first
     * argument must not make the gateway miss ?type=private (which would open the public
     * channel) nor a token that follows it */
    char filler[300], path[4096];
    memset(filler, 'x', sizeof(filler) - 1);
    filler[sizeof(filler) - 1] = '\0';
    snprintf(path, sizeof(path), "/ws/orders.9?x=%s&type=private", filler);
    it_refused(C, 0, path, NULL, 401, "unauthorized");
    char *t = bf_mint_token(IT_SECRET, "HS256", claims("u1", 600, "[\"private-orders.9\"]"));
    snprintf(path, sizeof(path), "/ws/orders.9?x=%s&type=private&token=%s", filler, t);
    bf_ws *w = it_connect(C, 0, path, NULL);
    it_wait_subscribed(C, "private-orders.9", 1);
    it_publish(C, "private-orders.9", "{\"event\":\"Long\",\"data\":{}}");
    json_decref(it_recv_event(w, "Long", 3000, "private client"));
    bf_ws_close(w);
    free(t);
}
