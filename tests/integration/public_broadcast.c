/* Issue: core slice. 1 router + 2 gateways, real Redis, real WebSockets. */
#include "harness.h"
#include "http_client.h"
#include "ws_client.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_HDR "Authorization: Bearer test-api-key-0123456789abcdef0123456789\r\n"

static bf_cluster *C;

static void setup(void)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 2};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly (leak or crash?)");
    C = NULL;
}

TestSuite(public_broadcast, .init = setup, .fini = teardown, .timeout = 90);

static bf_ws *connect_ok(int gw, const char *channel)
{
    char path[256];
    snprintf(path, sizeof(path), "/ws/%s", channel);
    int status = 0;
    bf_ws *w = bf_ws_connect(C->gateways[gw].port, path, NULL, &status, NULL, 5000);
    cr_assert_not_null(w, "upgrade to %s on gateway %d failed with status %d", path, gw, status);
    return w;
}

/* Waits until want gateways have confirmed their subscription to channel's fan-out. */
static void wait_subscribed(const char *channel, int want)
{
    cr_assert(bf_cluster_wait_subscribed(C, channel, want, 5000),
              "gateways did not subscribe to %s", channel);
}

static int publish(const char *channel, const char *body, const char *headers, bf_http_resp *r)
{
    char path[256];
    snprintf(path, sizeof(path), "/broadcast/%s", channel);
    return bf_http(C->routers[0].port, "POST", path, headers, body, strlen(body), r, 5000);
}

static void publish_ok(const char *channel, const char *body)
{
    bf_http_resp r;
    cr_assert_eq(publish(channel, body, KEY_HDR, &r), 0);
    cr_assert_eq(r.status, 204, "publish answered %d: %s", r.status, r.body);
    bf_http_resp_free(&r);
}

/* Receives one text frame and checks event, data.i and seq. */
static void expect_msg(bf_ws *w, const char *event, long long i, long long seq, const char *who)
{
    bf_ws_msg m;
    cr_assert_eq(bf_ws_recv(w, &m, 5000), 0, "%s: no message (wanted seq %lld)", who, seq);
    cr_assert_eq(m.opcode, 1, "%s: opcode %d", who, m.opcode);
    json_t *j = json_loads(m.data, 0, NULL);
    cr_assert_not_null(j, "%s: not JSON: %s", who, m.data);
    cr_assert_str_eq(json_string_value(json_object_get(j, "event")), event, "%s: %s", who, m.data);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "data"), "i")), i, "%s: %s",
                 who, m.data);
    cr_assert_eq(json_integer_value(json_object_get(j, "seq")), seq, "%s: %s", who, m.data);
    json_decref(j);
    bf_ws_msg_free(&m);
}

static void expect_silence(bf_ws *w, int ms, const char *who)
{
    bf_ws_msg m;
    int rc = bf_ws_recv(w, &m, ms);
    if (rc == 0) {
        cr_assert_fail("%s: unexpected message: %s", who, m.data);
        bf_ws_msg_free(&m);
    }
}

Test(public_broadcast, http_and_redis_publish_reach_exactly_the_subscribers_in_order)
{
    enum { NA = 50, NB = 10, MSGS = 20 };
    bf_ws *a[NA], *b[NB];
    for (int i = 0; i < NA; i++) a[i] = connect_ok(i % 2, "room-a");
    for (int i = 0; i < NB; i++) b[i] = connect_ok(i % 2, "room-b");
    wait_subscribed("room-a", 2);
    wait_subscribed("room-b", 2);

    char body[256];
    for (int k = 1; k <= MSGS; k++) {
        snprintf(body, sizeof(body), "{\"event\":\"Tick\",\"data\":{\"i\":%d}}", k);
        publish_ok("room-a", body);
    }
    /* an application publishing through Redis itself, with the real redis-cli */
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "redis-cli -p %d PUBLISH belfry:publish:room-a '{\"event\":\"FromRedis\",\"data\":"
             "{\"i\":99}}' >/dev/null",
             C->redis.port);
    cr_assert_eq(system(cmd), 0, "redis-cli failed");

    char who[64];
    for (int i = 0; i < NA; i++) {
        snprintf(who, sizeof(who), "client %d (gateway %d)", i, i % 2);
        for (int k = 1; k <= MSGS; k++) expect_msg(a[i], "Tick", k, k, who);
        expect_msg(a[i], "FromRedis", 99, MSGS + 1, who);
    }
    /* exactly once: nothing further arrives on room-a, and nothing at all on room-b */
    expect_silence(a[0], 300, "room-a client 0");
    expect_silence(a[1], 50, "room-a client 1");
    for (int i = 0; i < NB; i++) expect_silence(b[i], i ? 20 : 300, "room-b client");

    char *seq = bf_redis_query(C, "GET belfry:seq:{room-a}");
    cr_assert_str_eq(seq, "21");
    free(seq);
    for (int i = 0; i < NA; i++) bf_ws_close(a[i]);
    for (int i = 0; i < NB; i++) bf_ws_close(b[i]);
}

typedef struct err_case {
    const char *name, *method, *path, *headers, *body;
    int status;
    const char *code;
} err_case;

Test(public_broadcast, http_errors_have_status_and_json_body)
{
    static char big[70000];
    memset(big, ' ', sizeof(big) - 1);
    memcpy(big, "{\"event\":\"Big\",\"data\":\"", 23);
    big[sizeof(big) - 3] = '"';
    big[sizeof(big) - 2] = '}';
    const err_case cases[] = {
        {"no key", "POST", "/broadcast/room", NULL, "{\"event\":\"E\"}", 401, "unauthorized"},
        {"wrong key", "POST", "/broadcast/room", "Authorization: Bearer nope\r\n",
         "{\"event\":\"E\"}", 401, "unauthorized"},
        {"bad channel", "POST", "/broadcast/bad%20name", KEY_HDR, "{\"event\":\"E\"}", 400,
         "bad_channel"},
        {"long channel", "POST",
         "/broadcast/"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         KEY_HDR, "{\"event\":\"E\"}", 400, "bad_channel"},
        {"malformed json", "POST", "/broadcast/room", KEY_HDR, "{\"event\":", 400, "bad_json"},
        {"not an object", "POST", "/broadcast/room", KEY_HDR, "[1,2]", 400, "bad_json"},
        {"missing event", "POST", "/broadcast/room", KEY_HDR, "{\"data\":{}}", 400, "bad_event"},
        {"reserved event", "POST", "/broadcast/room", KEY_HDR,
         "{\"event\":\"presence:join\",\"data\":{}}", 400, "bad_event"},
        {"type contradicts prefix", "POST", "/broadcast/private-room", KEY_HDR,
         "{\"event\":\"E\",\"type\":\"public\"}", 400, "bad_type"},
        {"too large", "POST", "/broadcast/room", KEY_HDR, big, 413, "too_large"},
        {"wrong method", "GET", "/broadcast/room", KEY_HDR, "", 405, "method_not_allowed"},
        {"unknown route", "GET", "/nope", NULL, "", 404, "not_found"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const err_case *e = &cases[i];
        bf_http_resp r;
        cr_assert_eq(bf_http(C->routers[0].port, e->method, e->path, e->headers, e->body,
                             strlen(e->body), &r, 5000),
                     0, "%s: no response", e->name);
        cr_expect_eq(r.status, e->status, "%s: status %d, body %s", e->name, r.status, r.body);
        json_t *j = json_loads(r.body, 0, NULL);
        cr_assert_not_null(j, "%s: body is not JSON: %s", e->name, r.body);
        json_t *err = json_object_get(j, "error");
        cr_expect_str_eq(json_string_value(json_object_get(err, "code")), e->code, "%s: %s",
                         e->name, r.body);
        const char *msg = json_string_value(json_object_get(err, "message"));
        cr_expect(msg && strlen(msg) > 5, "%s: message missing: %s", e->name, r.body);
        json_decref(j);
        bf_http_resp_free(&r);
    }
    /* the right key with a valid body still works after all that */
    publish_ok("room", "{\"event\":\"E\",\"data\":{\"i\":1},\"type\":\"public\"}");
}

Test(public_broadcast, invalid_channel_gets_400_and_no_upgrade)
{
    const char *paths[] = {"/ws/bad%20name", "/ws/", "/ws/a/b", "/ws/x?type=bogus",
                           "/ws/private-x?type=public"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
        int status = 0;
        char *body = NULL;
        bf_ws *w = bf_ws_connect(C->gateways[0].port, paths[i], NULL, &status, &body, 5000);
        cr_expect_null(w, "%s was upgraded", paths[i]);
        cr_expect_eq(status, 400, "%s: status %d body %s", paths[i], status, body);
        json_t *j = body ? json_loads(body, 0, NULL) : NULL;
        cr_expect_not_null(j, "%s: body is not JSON: %s", paths[i], body);
        cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                         "bad_channel", "%s", paths[i]);
        json_decref(j);
        free(body);
        bf_ws_abort(w);
    }
    int status = 0;
    bf_ws *w = bf_ws_connect(C->gateways[0].port, "/elsewhere", NULL, &status, NULL, 5000);
    cr_expect_null(w);
    cr_expect_eq(status, 404);
}

Test(public_broadcast, type_public_query_selects_the_same_channel)
{
    int status;
    bf_ws *w =
        bf_ws_connect(C->gateways[0].port, "/ws/news?type=public", NULL, &status, NULL, 5000);
    cr_assert_not_null(w, "status %d", status);
    wait_subscribed("news", 1);
    publish_ok("news", "{\"event\":\"N\",\"data\":{\"i\":7}}");
    expect_msg(w, "N", 7, 1, "type=public client");
    bf_ws_close(w);
}

Test(public_broadcast, abrupt_client_deaths_leave_the_gateway_serving)
{
    enum { N = 20 };
    bf_ws *w[N];
    for (int i = 0; i < N; i++) w[i] = connect_ok(0, "room-k");
    wait_subscribed("room-k", 1);
    for (int i = 0; i < N; i += 2) {
        bf_ws_abort(w[i]); /* TCP reset, no close frame */
        w[i] = NULL;
    }
    publish_ok("room-k", "{\"event\":\"After\",\"data\":{\"i\":1}}");
    for (int i = 1; i < N; i += 2) expect_msg(w[i], "After", 1, 1, "survivor");
    /* new clients can still connect and receive */
    bf_ws *late = connect_ok(0, "room-k");
    publish_ok("room-k", "{\"event\":\"After\",\"data\":{\"i\":2}}");
    expect_msg(late, "After", 2, 2, "late client");
    bf_http_resp r;
    cr_assert_eq(bf_http(C->gateways[0].port, "GET", "/healthz", NULL, NULL, 0, &r, 2000), 0);
    cr_expect_eq(r.status, 200);
    bf_http_resp_free(&r);
    for (int i = 1; i < N; i += 2) bf_ws_close(w[i]);
    bf_ws_close(late);
}

Test(public_broadcast, malformed_redis_ingress_is_dropped_and_counted)
{
    bf_ws *w = connect_ok(1, "room-m");
    wait_subscribed("room-m", 1);
    const char *bad[] = {"not json", "[]", "{\"data\":1}", "{\"event\":\"\"}",
                         "{\"event\":\"whisper\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char *r = bf_redis_query(C, "PUBLISH belfry:publish:room-m %s", bad[i]);
        free(r);
    }
    /* garbage on the fan-out subject itself must not crash a gateway */
    free(bf_redis_query(C, "PUBLISH belfry:fan:{room-m} %b", "\x93\x01\xff", (size_t)3));
    free(bf_redis_query(C, "PUBLISH belfry:publish:room-m %s",
                        "{\"event\":\"Good\",\"data\":{\"i\":5}}"));
    expect_msg(w, "Good", 5, 1, "client");
    bf_http_resp r;
    cr_assert_eq(bf_http(C->routers[0].port, "GET", "/metrics", NULL, NULL, 0, &r, 2000), 0);
    cr_expect(strstr(r.body, "belfry_router_ingress_malformed_total 5") != NULL, "%s", r.body);
    bf_http_resp_free(&r);
    cr_assert_eq(bf_http(C->gateways[1].port, "GET", "/metrics", NULL, NULL, 0, &r, 2000), 0);
    cr_expect(strstr(r.body, "belfry_gateway_fanout_malformed_total 1") != NULL, "%s", r.body);
    bf_http_resp_free(&r);
    bf_ws_close(w);
}
