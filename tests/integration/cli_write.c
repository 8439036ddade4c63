/* Issue: admin CLI belfryctl — the commands that act (publish, kick) against a live cluster of 2
 * routers and 2 gateways, observed through independent WebSocket clients (the harness' ws_client).
 */
#include "cli_common.h"

static bf_cluster *C;
static char router_url[64];

static void setup(void)
{
    bf_cluster_opts o = {.routers = 2, .gateways = 2, .jwt_secret = IT_SECRET};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
    snprintf(router_url, sizeof(router_url), "http://127.0.0.1:%d", C->routers[1].port);
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly");
}

TestSuite(cli_write, .init = setup, .fini = teardown, .timeout = 90);

static void expect_message(bf_ws *w, const char *event, const char *data_json, long long seq)
{
    json_t *j = it_recv_event(w, event, 5000, event);
    json_t *want = json_loads(data_json, JSON_DECODE_ANY, NULL);
    char *got = json_dumps(json_object_get(j, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
    cr_expect(json_equal(json_object_get(j, "data"), want), "%s: data %s, want %s", event, got,
              data_json);
    cr_expect_eq(json_integer_value(json_object_get(j, "seq")), seq, "%s", event);
    free(got);
    json_decref(want);
    json_decref(j);
}

/* Redis ingress is at-most-once: right after the cluster starts, a router that has not yet seen
 * the other join may drop a message (its epoch is stale). Publishes Warmup through the CLI until
 * one arrives, and returns its seq. Only one is ever in flight, so none can arrive later. */
static long long settle_ingress(bf_ws *w, const char *channel)
{
    long long deadline = bf_ms() + 10000;
    while (bf_ms() < deadline) {
        cli_res r = cli_run("publish", channel, "Warmup", "--redis", C->redis_url);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cli_res_free(&r);
        bf_ws_msg m;
        if (bf_ws_recv(w, &m, 500) == 0) {
            json_t *j = json_loads(m.data, 0, NULL);
            cr_assert_str_eq(json_string_value(json_object_get(j, "event")), "Warmup", "%s",
                             m.data);
            long long seq = json_integer_value(json_object_get(j, "seq"));
            json_decref(j);
            bf_ws_msg_free(&m);
            return seq;
        }
    }
    cr_assert_fail("Redis ingress never delivered on %s", channel);
    return 0;
}

Test(cli_write, publish_via_redis_ingress_reaches_websocket_clients)
{
    bf_ws *w = it_connect(C, 1, "/ws/news", NULL);
    it_wait_subscribed(C, "news", 1);
    long long seq = settle_ingress(w, "news");
    cli_res r = cli_run("publish", "news", "Hello", "{\"n\":1}", "--redis", C->redis_url);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "published Hello to news via redis"), "%s", r.out);
    cli_res_free(&r);
    expect_message(w, "Hello", "{\"n\":1}", seq + 1);

    /* DATA_JSON from stdin, the Redis URL and prefix from the environment, --json output */
    char env[160];
    snprintf(env, sizeof(env), "BELFRY_REDIS_URL=%s", C->redis_url);
    const char *args[] = {"publish", "news", "Note", "-", "--json", NULL};
    r = cli_runv(ENV(env, "BELFRY_REDIS_PREFIX=belfry:"), "[\"from\", \"stdin\"]\n", args);
    json_t *j = cli_json(&r, "publish --json");
    cr_expect_str_eq(json_string_value(json_object_get(j, "via")), "redis");
    cr_expect_str_eq(json_string_value(json_object_get(j, "event")), "Note");
    json_decref(j);
    cli_res_free(&r);
    expect_message(w, "Note", "[\"from\",\"stdin\"]", seq + 2);

    /* no DATA_JSON: null */
    r = cli_run("publish", "news", "Ping", "--redis", C->redis_url);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_res_free(&r);
    expect_message(w, "Ping", "null", seq + 3);
    bf_ws_close(w);
}

Test(cli_write, publish_via_http_reaches_websocket_clients_on_every_gateway)
{
    bf_ws *w0 = it_connect(C, 0, "/ws/orders", NULL), *w1 = it_connect(C, 1, "/ws/orders", NULL);
    it_wait_subscribed(C, "orders", 2);
    cli_res r = cli_run("publish", "orders", "OrderShipped", "{\"id\":42}", "--http", router_url,
                        "--api-key", IT_API_KEY);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "via http"), "%s", r.out);
    cli_res_free(&r);
    expect_message(w0, "OrderShipped", "{\"id\":42}", 1);
    expect_message(w1, "OrderShipped", "{\"id\":42}", 1);

    /* the API key from the environment; --json reports the HTTP status */
    const char *args[] = {"publish", "orders",   "OrderPaid", "7",
                          "--http",  router_url, "--json",    NULL};
    r = cli_runv(ENV("BELFRY_API_KEY=" IT_API_KEY), NULL, args);
    json_t *j = cli_json(&r, "publish --http --json");
    cr_expect_eq(json_integer_value(json_object_get(j, "status")), 204);
    cr_expect_str_eq(json_string_value(json_object_get(j, "via")), "http");
    json_decref(j);
    cli_res_free(&r);
    expect_message(w0, "OrderPaid", "7", 2);
    expect_message(w1, "OrderPaid", "7", 2);
    bf_ws_close(w0);
    bf_ws_close(w1);
}

Test(cli_write, publish_failures_have_distinct_exit_codes)
{
    bf_ws *w = it_connect(C, 0, "/ws/news", NULL);
    it_wait_subscribed(C, "news", 1);
    struct {
        int status;
        const char *err;
        const char *args[12];
    } cases[] = {
        {1, "unauthorized", {"publish", "news", "E", "--http", router_url, "--api-key", "wrong"}},
        {1, "no router", {"publish", "news", "E", "--redis", C->redis_url, "--redis-prefix", "x:"}},
        {2, "--api-key", {"publish", "news", "E", "--http", router_url}},
        {2, "reserved", {"publish", "news", "presence:join", "--redis", C->redis_url}},
        {2, "not JSON", {"publish", "news", "E", "{oops", "--redis", C->redis_url}},
        {2, "invalid channel", {"publish", "no spaces", "E", "--redis", C->redis_url}},
        {2, "missing EVENT", {"publish", "news"}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        cli_res r = cli_runv(NULL, NULL, cases[i].args);
        cr_expect_eq(r.status, cases[i].status, "case %zu: exit %d, stderr %s", i, r.status, r.err);
        cr_expect(strstr(r.err, cases[i].err), "case %zu: stderr %s", i, r.err);
        cr_expect_eq(cli_lines(r.err), 1, "case %zu: one error line, got %s", i, r.err);
        cr_expect_str_empty(r.out, "case %zu", i);
        cli_res_free(&r);
    }
    char closed[64];
    snprintf(closed, sizeof(closed), "http://127.0.0.1:%d", bf_free_port());
    cli_res r = cli_run("publish", "news", "E", "--http", closed, "--api-key", IT_API_KEY);
    cr_expect_eq(r.status, 3, "unreachable router: exit %d, %s", r.status, r.err);
    cli_res_free(&r);
    it_expect_silence(w, 300, "nothing refused may have been delivered");
    bf_ws_close(w);
}

static bf_ws *join(int gw, const char *channel, const char *user)
{
    char claims[512], path[2048];
    snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"exp\":%lld,\"channels\":[\"%s\"]}", user,
             (long long)time(NULL) + 600, channel);
    char *t = bf_mint_token(IT_SECRET, "HS256", claims);
    snprintf(path, sizeof(path), "/ws/%s?token=%s", channel, t);
    free(t);
    bf_ws *w = it_connect(C, gw, path, NULL);
    json_decref(it_recv_event(w, "presence:here", 5000, user));
    return w;
}

/* Waits for the close frame of a kicked connection and checks its code. The reason is not checked:
 * the gateway closes with its own text whatever the kick carries (see the CLI's report). */
static void expect_kicked(bf_ws *w, const char *who)
{
    long long deadline = bf_ms() + 5000;
    for (;;) {
        bf_ws_msg m;
        int rc = bf_ws_recv(w, &m, (int)(deadline - bf_ms()));
        cr_assert_eq(rc, 0, "%s: no close frame after the kick", who);
        if (m.opcode == 8) {
            cr_expect_eq(m.close_code, 4010, "%s: close code %d", who, m.close_code);
            bf_ws_msg_free(&m);
            return;
        }
        bf_ws_msg_free(&m);
    }
}

Test(cli_write, kick_closes_every_connection_of_the_user_on_both_gateways)
{
    const char *ch = "presence-room.9";
    bf_ws *alice = join(0, ch, "alice");
    bf_ws *m0 = join(0, ch, "mallory"), *m1 = join(1, ch, "mallory");
    json_decref(it_recv_event(alice, "presence:join", 5000, "alice"));
    cli_res r =
        cli_run("kick", ch, "mallory", "--reason", "spamming", "--redis", C->redis_url, "--json");
    json_t *j = cli_json(&r, "kick");
    bf_ring *ring = cli_ring(C, "belfry:");
    cr_expect_str_eq(json_string_value(json_object_get(j, "owner")),
                     bf_ring_owner(ring, ch, strlen(ch)));
    cr_expect_eq(json_integer_value(json_object_get(j, "receivers")), 1);
    bf_ring_free(ring);
    json_decref(j);
    cli_res_free(&r);
    expect_kicked(m0, "mallory on gw-0");
    expect_kicked(m1, "mallory on gw-1");
    json_t *leave = it_recv_event(alice, "presence:leave", 5000, "alice");
    cr_expect_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(leave, "data"), "member"), "id")),
                     "mallory");
    json_decref(leave);
    /* alice is still connected and still receives */
    it_publish(C, ch, "{\"event\":\"After\",\"data\":1}");
    json_decref(it_recv_event(alice, "After", 5000, "alice"));
    r = cli_run("kick", ch, "alice", "--redis", C->redis_url);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "kick of alice"), "%s", r.out);
    cli_res_free(&r);
    expect_kicked(alice, "alice");
    bf_ws_abort(alice);
    bf_ws_abort(m0);
    bf_ws_abort(m1);
}

Test(cli_write, kick_fails_when_nobody_receives_it)
{
    char *t = bf_redis_query(C, "TIME");
    long long now = atoll(t) * 1000 + atoll(strchr(t, '\n') + 1) / 1000;
    free(t);
    /* a "live" owner that is not listening on its inbox */
    free(bf_redis_query(C, "ZADD ghost:{#}:routers %lld rt-ghost", now + 60000));
    cli_res r =
        cli_run("kick", "presence-x", "bob", "--redis", C->redis_url, "--redis-prefix", "ghost:");
    cr_expect_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, "rt-ghost did not receive"), "%s", r.err);
    cr_expect_eq(cli_lines(r.err), 1, "%s", r.err);
    cli_res_free(&r);
    r = cli_run("kick", "presence-x", "bob", "--redis", C->redis_url, "--redis-prefix", "none:");
    cr_expect_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, "no live router"), "%s", r.err);
    cli_res_free(&r);
    r = cli_run("kick", "presence-x", "", "--redis", C->redis_url);
    cr_expect_eq(r.status, 2, "empty user: exit %d", r.status);
    cli_res_free(&r);
}
