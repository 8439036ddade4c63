/* Chaos: Redis restarted with all data lost. Daemons report not-ready while it is down,
 * reconnect with backoff, resubscribe their channels, and gateways re-announce their presence
 * members so that presence is rebuilt; sequencing resumes. */
#include "../integration/common.h"

TestSuite(chaos_redis, .timeout = 90);

typedef struct port_status {
    int port, want;
} port_status;

static bool readyz_is(void *arg)
{
    port_status *p = arg;
    bf_http_resp r;
    if (bf_http(p->port, "GET", "/readyz", NULL, NULL, 0, &r, 500)) return false;
    bool ok = r.status == p->want;
    bf_http_resp_free(&r);
    return ok;
}

Test(chaos_redis, restart_with_data_loss_recovers_subscriptions_and_presence)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .jwt_secret = IT_SECRET};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    bf_ws *pub = it_connect(c, 0, "/ws/news", NULL);
    char *t = it_token("rita", "[\"presence-r\"]", 600);
    char path[4096];
    snprintf(path, sizeof(path), "/ws/presence-r?token=%s", t);
    free(t);
    bf_ws *pres = it_connect(c, 0, path, NULL);
    json_decref(it_recv_event(pres, "presence:here", 5000, "rita"));
    it_wait_subscribed(c, "news", 1);
    it_publish(c, "news", "{\"event\":\"Before\",\"data\":{}}");
    json_decref(it_recv_event(pub, "Before", 3000, "subscriber"));

    /* down: both daemons say not ready */
    cr_assert_eq(bf_cluster_signal_redis_stop(c), 0);
    port_status gw = {c->gateways[0].port, 503}, rt = {c->routers[0].port, 503};
    cr_expect(bf_wait_for(readyz_is, &gw, 5000), "gateway stayed ready without Redis");
    cr_expect(bf_wait_for(readyz_is, &rt, 5000), "router stayed ready without Redis");
    bf_http_resp r;
    cr_assert_eq(bf_http(c->routers[0].port, "POST", "/broadcast/news", IT_KEY_HDR,
                         "{\"event\":\"X\"}", 13, &r, 3000),
                 0);
    cr_expect_eq(r.status, 503, "publish without Redis answered %d", r.status);
    bf_http_resp_free(&r);

    /* back, empty */
    cr_assert_eq(bf_cluster_restart_redis(c), 0);
    gw.want = rt.want = 200;
    cr_assert(bf_wait_for(readyz_is, &gw, 15000), "gateway did not become ready again");
    cr_assert(bf_wait_for(readyz_is, &rt, 15000), "router did not become ready again");
    it_wait_subscribed(c, "news", 1);
    it_publish(c, "news", "{\"event\":\"After\",\"data\":{}}");
    json_t *j = it_recv_event(pub, "After", 5000, "subscriber");
    cr_expect_eq(json_integer_value(json_object_get(j, "seq")), 1, "sequence restarts at 1");
    json_decref(j);
    /* presence rebuilt from the gateway's own connections */
    long long deadline = bf_ms() + 5000;
    char *body = NULL;
    int st = 0;
    while (bf_ms() < deadline) {
        free(body);
        body = it_http_get(c, "/presence/presence-r", &st);
        if (strstr(body, "\"rita\"")) break;
        usleep(100000);
    }
    cr_expect(body && strstr(body, "\"rita\""), "presence not rebuilt: %s", body);
    free(body);
    bf_ws_close(pub);
    bf_ws_close(pres);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
