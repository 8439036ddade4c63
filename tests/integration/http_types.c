/* The HTTP API names channels the way WebSocket clients do: an unprefixed name plus a type (the
 * body's "type", or ?type=) is the prefixed channel, exactly as /ws/{name}?type= maps it. This is
 * the shape @roostjs/broadcast's BroadcastManager uses for a PrivateChannel('orders.1'):
 *   POST /broadcast/orders.1  {"event":"OrderShipped","data":{...},"type":"private"}
 * while its clients connect with /ws/orders.1?type=private. */
#include "common.h"

static bf_cluster *C;

static void setup(void)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .jwt_secret = IT_SECRET};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly");
}

TestSuite(http_types, .init = setup, .fini = teardown, .timeout = 60);

/* Connects to /ws/{name}?type={type} as user, with a token for the canonical channel. */
static bf_ws *connect_typed(const char *name, const char *type, const char *canonical,
                            const char *user)
{
    char chans[256], path[2048];
    snprintf(chans, sizeof(chans), "[\"%s\"]", canonical);
    char *t = it_token(user, chans, 600);
    snprintf(path, sizeof(path), "/ws/%s?type=%s&token=%s", name, type, t);
    free(t);
    bf_ws *w = it_connect(C, 0, path, NULL);
    it_wait_subscribed(C, canonical, 1);
    return w;
}

static int post(const char *path, const char *body, bf_http_resp *r)
{
    return bf_http(C->routers[0].port, "POST", path, IT_KEY_HDR, body, strlen(body), r, 5000);
}

static void expect_status(const char *method, const char *path, const char *body, int status,
                          const char *code)
{
    bf_http_resp r;
    cr_assert_eq(bf_http(C->routers[0].port, method, path, IT_KEY_HDR, body,
                         body ? strlen(body) : 0, &r, 5000),
                 0, "%s %s: no response", method, path);
    cr_expect_eq(r.status, status, "%s %s: %d %s", method, path, r.status, r.body);
    if (code) {
        json_t *j = json_loads(r.body, 0, NULL);
        const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
        cr_expect(c && !strcmp(c, code), "%s %s: want %s, got %s", method, path, code, r.body);
        json_decref(j);
    }
    bf_http_resp_free(&r);
}

Test(http_types, roost_private_broadcast_reaches_a_type_private_client)
{
    bf_ws *w = connect_typed("orders.1", "private", "private-orders.1", "u1");
    bf_ws *pub = it_connect(C, 0, "/ws/orders.1", NULL); /* the public channel of the same name */
    it_wait_subscribed(C, "orders.1", 1);
    bf_http_resp r;
    cr_assert_eq(post("/broadcast/orders.1",
                      "{\"event\":\"OrderShipped\",\"data\":{\"orderId\":1,\"carrier\":\"ups\"},"
                      "\"type\":\"private\"}",
                      &r),
                 0);
    cr_assert_eq(r.status, 204, "roost's publish answered %d: %s", r.status, r.body);
    bf_http_resp_free(&r);
    json_t *j = it_recv_event(w, "OrderShipped", 5000, "private client");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "data"), "orderId")), 1);
    cr_expect_eq(json_integer_value(json_object_get(j, "seq")), 1);
    json_decref(j);
    it_expect_silence(pub, 300, "the public channel orders.1");
    /* history and occupancy under the same unprefixed name */
    int status;
    char *b = it_http_get(C, "/history/orders.1?type=private", &status);
    cr_expect_eq(status, 200, "%s", b);
    cr_expect(b && strstr(b, "OrderShipped"), "history: %s", b);
    free(b);
    b = it_http_get(C, "/channels/orders.1?type=private", &status);
    cr_expect_eq(status, 200, "%s", b);
    cr_expect(b && strstr(b, "\"subscription_count\":1"), "channels: %s", b);
    free(b);
    bf_ws_close(w);
    bf_ws_close(pub);
}

Test(http_types, query_type_maps_publish_presence_and_channels)
{
    bf_ws *w = connect_typed("room.7", "presence", "presence-room.7", "alice");
    json_t *here = it_recv_event(w, "presence:here", 5000, "alice");
    json_decref(here);
    bf_http_resp r;
    cr_assert_eq(
        post("/broadcast/room.7?type=presence", "{\"event\":\"Hi\",\"data\":{\"i\":2}}", &r), 0);
    cr_assert_eq(r.status, 204, "%d %s", r.status, r.body);
    bf_http_resp_free(&r);
    json_t *j = it_recv_event(w, "Hi", 5000, "alice");
    json_decref(j);
    /* body type and ?type= agreeing is fine too */
    cr_assert_eq(post("/broadcast/room.7?type=presence",
                      "{\"event\":\"Hi2\",\"data\":null,\"type\":\"presence\"}", &r),
                 0);
    cr_expect_eq(r.status, 204, "%d %s", r.status, r.body);
    bf_http_resp_free(&r);
    j = it_recv_event(w, "Hi2", 5000, "alice");
    json_decref(j);
    int status;
    char *b = it_http_get(C, "/presence/room.7?type=presence", &status);
    cr_expect_eq(status, 200, "%s", b);
    cr_expect(b && strstr(b, "\"id\":\"alice\""), "presence: %s", b);
    free(b);
    b = it_http_get(C, "/channels/room.7?type=presence", &status);
    cr_expect_eq(status, 200, "%s", b);
    cr_expect(b && strstr(b, "\"user_count\":1"), "channels: %s", b);
    free(b);
    bf_ws_close(w);
}

Test(http_types, a_type_contradicting_a_prefix_stays_400)
{
    const char *ev = "{\"event\":\"E\"}";
    expect_status("POST", "/broadcast/private-x", "{\"event\":\"E\",\"type\":\"public\"}", 400,
                  "bad_type");
    expect_status("POST", "/broadcast/presence-x", "{\"event\":\"E\",\"type\":\"private\"}", 400,
                  "bad_type");
    expect_status("POST", "/broadcast/private-x?type=presence", ev, 400, "bad_type");
    expect_status("POST", "/broadcast/x?type=private", "{\"event\":\"E\",\"type\":\"presence\"}",
                  400, "bad_type");
    expect_status("POST", "/broadcast/x?type=bogus", ev, 400, "bad_type");
    expect_status("POST", "/broadcast/x", "{\"event\":\"E\",\"type\":\"bogus\"}", 400, "bad_type");
    expect_status("GET", "/presence/private-x?type=presence", NULL, 400, "bad_type");
    expect_status("GET", "/channels/presence-x?type=public", NULL, 400, "bad_type");
    expect_status("GET", "/history/x?type=secret", NULL, 400, "bad_type");
    /* a name that is valid alone but too long once the type's prefix is added */
    char path[512], name[200];
    memset(name, 'a', 160);
    name[160] = '\0';
    snprintf(path, sizeof(path), "/broadcast/%s", name);
    expect_status("POST", path, "{\"event\":\"E\",\"type\":\"presence\"}", 400, "bad_channel");
    snprintf(path, sizeof(path), "/channels/%s?type=private", name);
    expect_status("GET", path, NULL, 400, "bad_channel");
    /* the matching forms still work */
    expect_status("POST", "/broadcast/private-x?type=private",
                  "{\"event\":\"E\",\"type\":\"private\"}", 204, NULL);
    expect_status("POST", "/broadcast/x?type=public", ev, 204, NULL);
}
