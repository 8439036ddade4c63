/* Sentinel resolution with a sentinel that accepts connections but never answers (stopped):
 * each daemon gives it --redis-sentinel-timeout, then asks the next one and reaches the primary. */
#include "common.h"

#include <signal.h>

TestSuite(integration_redis_sentinel, .timeout = 120);

Test(integration_redis_sentinel, a_silent_sentinel_is_given_the_configured_timeout_then_skipped)
{
    const char *args[] = {"--redis-sentinel-timeout", "250", NULL};
    bf_cluster_opts o = {
        .routers = 1, .gateways = 1, .sentinel = true, .router_args = args, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    /* the kernel still completes its TCP handshakes, but nothing answers */
    cr_assert_eq(kill(c->sentinels[0].pid, SIGSTOP), 0);
    cr_assert_eq(bf_cluster_restart_gateway(c, 0), 0, "the gateway did not become ready");
    cr_assert_eq(bf_cluster_restart_router(c, 0), 0, "the router did not become ready");
    char want[128];
    snprintf(want, sizeof(want), "sentinel 127.0.0.1:%d did not answer within 250 ms",
             c->sentinels[0].port);
    for (int i = 0; i < 2; i++) {
        const char *log = i ? c->gateways[0].log : c->routers[0].log;
        char *text = bf_read_file(log);
        cr_expect(text && strstr(text, want), "%s: no '%s'", log, want);
        free(text);
    }
    /* and the daemons work through the primary the next sentinel named */
    bf_ws *sub = it_connect(c, 0, "/ws/news", NULL);
    it_wait_subscribed(c, "news", 1);
    it_publish(c, "news", "{\"event\":\"Via\",\"data\":{}}");
    json_decref(it_recv_event(sub, "Via", 5000, "subscriber"));
    bf_ws_close(sub);
    cr_assert_eq(kill(c->sentinels[0].pid, SIGCONT), 0);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
