/* Issue: benchmarks/performance — belfry-gateway --workers N shares one port among N processes. */
#include "common.h"

TestSuite(workers, .timeout = 60);

typedef struct zc {
    bf_cluster *c;
    int want;
} zc;

static bool gateways_registered(void *arg)
{
    zc *z = arg;
    char *r = bf_redis_query(z->c, "ZCARD belfry:{#}:gateways");
    bool ok = r && atoi(r) == z->want;
    free(r);
    return ok;
}

Test(workers, two_workers_share_the_port_and_stop_together)
{
    static const char *const args[] = {"--workers", "2", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    zc z = {c, 2};
    cr_assert(bf_wait_for(gateways_registered, &z, 5000), "two worker instances did not register");
    enum { N = 40 };
    bf_ws *w[N];
    for (int i = 0; i < N; i++) w[i] = it_connect(c, 0, "/ws/shared", NULL);
    /* the kernel spreads connections over both workers: both subscribe */
    long long deadline = bf_ms() + 5000;
    while (!bf_cluster_wait_subscribed(c, "shared", 2, 100) && bf_ms() < deadline) {
    }
    cr_expect(bf_cluster_wait_subscribed(c, "shared", 2, 10),
              "connections did not reach both workers");
    it_publish(c, "shared", "{\"event\":\"Both\",\"data\":{}}");
    for (int i = 0; i < N; i++) json_decref(it_recv_event(w[i], "Both", 3000, "client"));
    for (int i = 0; i < N; i++) bf_ws_close(w[i]);
    /* SIGTERM to the supervisor drains both workers; all exit cleanly */
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
