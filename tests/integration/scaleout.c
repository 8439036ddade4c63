/* Issue: sharded ownership — 3 routers, 3 gateways, 300 channels: every channel has exactly one
 * owner, ownership is spread, and every publish reaches all its subscribers once and in order. */
#include "common.h"

#define NCH 300

TestSuite(scaleout, .timeout = 120);

static long long metric(int port, const char *name)
{
    bf_http_resp r;
    long long v = -1;
    if (bf_http(port, "GET", "/metrics", NULL, NULL, 0, &r, 2000) == 0) {
        char line[256];
        snprintf(line, sizeof(line), "\n%s", name); /* a sample line, not the HELP text */
        const char *p = strstr(r.body, line);
        if (p) v = atoll(p + strlen(line));
        bf_http_resp_free(&r);
    }
    return v;
}

Test(scaleout, three_routers_three_gateways_three_hundred_channels)
{
    static const char *const rargs[] = {"--sweep-interval-ms", "200", NULL};
    bf_cluster_opts o = {.routers = 3, .gateways = 3, .router_args = rargs};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    /* wait until every router sees the full ring */
    for (int i = 0; i < 3; i++) {
        long long deadline = bf_ms() + 5000;
        while (metric(c->routers[i].port, "belfry_router_ring_members ") != 3 && bf_ms() < deadline)
            usleep(50000);
        cr_assert_eq(metric(c->routers[i].port, "belfry_router_ring_members "), 3);
    }
    static bf_ws *w[NCH][2];
    char name[32];
    for (int i = 0; i < NCH; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/ws/so-%d", i);
        w[i][0] = it_connect(c, i % 3, path, NULL);
        w[i][1] = it_connect(c, (i + 1) % 3, path, NULL);
    }
    for (int i = 0; i < NCH; i++) {
        snprintf(name, sizeof(name), "so-%d", i);
        it_wait_subscribed(c, name, 2);
    }
    /* Redis ingress is consumed by the owner only: exactly-once delivery proves exactly one
     * owner per channel; the per-router counters show how ownership is spread */
    for (int k = 1; k <= 2; k++)
        for (int i = 0; i < NCH; i++)
            free(bf_redis_query(
                c, "PUBLISH belfry:publish:so-%d {\"event\":\"R\",\"data\":{\"k\":%d}}", i, k));
    /* and HTTP publishes through every router, once the owners have sequenced the ingress: a
     * PUBLISH returns before that, and an HTTP publish is sequenced by the router it reaches, so
     * without the wait it may overtake them (docs/protocol.md, Order) */
    long long until = bf_ms() + bf_slow(5000);
    for (int i = 0; i < NCH; i++) {
        char *seq = NULL;
        while ((seq = bf_redis_query(c, "GET belfry:seq:{so-%d}", i)) && strcmp(seq, "2") &&
               bf_ms() < until) {
            free(seq);
            usleep(20000);
        }
        cr_assert(seq && !strcmp(seq, "2"), "so-%d: seq %s before the HTTP publishes", i,
                  seq ? seq : "(none)");
        free(seq);
    }
    for (int i = 0; i < NCH; i++) {
        char path[64], body[64];
        snprintf(path, sizeof(path), "/broadcast/so-%d", i);
        snprintf(body, sizeof(body), "{\"event\":\"H\",\"data\":{\"k\":3}}");
        bf_http_resp r;
        cr_assert_eq(
            bf_http(c->routers[i % 3].port, "POST", path, IT_KEY_HDR, body, strlen(body), &r, 3000),
            0);
        cr_assert_eq(r.status, 204);
        bf_http_resp_free(&r);
    }
    for (int i = 0; i < NCH; i++) {
        for (int s = 0; s < 2; s++) {
            for (int k = 1; k <= 3; k++) {
                json_t *j = it_recv_json(w[i][s], 5000, "subscriber");
                cr_assert_eq(json_integer_value(json_object_get(j, "seq")), k, "channel %d", i);
                cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "data"), "k")),
                             k);
                json_decref(j);
            }
        }
    }
    for (int i = 0; i < NCH; i++) it_expect_silence(w[i][0], i ? 0 : 300, "no duplicates");
    long long total = 0, owned[3];
    for (int r = 0; r < 3; r++) {
        owned[r] = metric(c->routers[r].port, "belfry_router_publishes_total{source=\"redis\"} ");
        total += owned[r];
        cr_expect(owned[r] >= 2 * NCH / 3 / 2, "router %d owns too few: %lld of %d", r,
                  owned[r] / 2, NCH);
    }
    fprintf(stderr, "scaleout: channels owned per router: %lld %lld %lld\n", owned[0] / 2,
            owned[1] / 2, owned[2] / 2);
    cr_expect_eq(total, 2 * NCH, "ingress messages sequenced: %lld, want %d", total, 2 * NCH);
    /* the owned-channels gauges agree with the ingress counters */
    long long sum = 0, deadline = bf_ms() + 5000;
    while (bf_ms() < deadline) {
        sum = 0;
        for (int r = 0; r < 3; r++) {
            long long v = metric(c->routers[r].port, "belfry_router_owned_channels ");
            if (v * 2 != owned[r]) sum = -1;
            if (sum >= 0) sum += v;
        }
        if (sum == NCH) break;
        usleep(100000);
    }
    cr_expect_eq(sum, NCH, "owned-channel gauges do not add up to %d", NCH);
    for (int i = 0; i < NCH; i++) {
        bf_ws_close(w[i][0]);
        bf_ws_close(w[i][1]);
    }
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
