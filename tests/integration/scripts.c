/* The C <-> Lua contract at run time: Redis' script cache emptied under live links (SCRIPT FLUSH,
 * as an operator or a managed Redis may do) costs no publish and no presence operation: the first
 * call of each script answers NOSCRIPT, the daemon loads the script and sends the call again, and
 * counts it (belfry_{router,gateway}_redis_script_reloads_total). */
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
    static const char *const gw_args[] = {"--insecure-any-token", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = gw_args};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly (leak or crash?)");
    C = NULL;
}

TestSuite(scripts, .init = setup, .fini = teardown, .timeout = 60);

Test(scripts, a_flushed_script_cache_is_reloaded_and_the_call_sent_again)
{
    int status = 0;
    bf_ws *w = bf_ws_connect(C->gateways[0].port, "/ws/presence-room?token=t&userId=alice", NULL,
                             &status, NULL, 5000);
    cr_assert_not_null(w, "upgrade failed: %d", status);
    bf_ws_msg m;
    cr_assert_eq(bf_ws_recv_event(w, "presence:here", &m, 5000), 0, "no presence:here");
    bf_ws_msg_free(&m);
    cr_assert_eq(bf_metric(C->routers[0].port, "belfry_router_redis_script_reloads_total"), 0);

    char *ok = bf_redis_query(C, "SCRIPT FLUSH");
    cr_assert(ok && !strcmp(ok, "OK"), "SCRIPT FLUSH: %s", ok ? ok : "(none)");
    free(ok);

    /* a publish: publish.lua is gone from the cache; the router loads it and calls it again */
    bf_http_resp r;
    cr_assert_eq(bf_http(C->routers[0].port, "POST", "/broadcast/presence-room", KEY_HDR,
                         "{\"event\":\"AfterFlush\",\"data\":{\"i\":1}}", 37, &r, 5000),
                 0);
    cr_expect_eq(r.status, 204, "publish after SCRIPT FLUSH: %d %s", r.status, r.body);
    bf_http_resp_free(&r);
    cr_assert_eq(bf_ws_recv_event(w, "AfterFlush", &m, 5000), 0, "the publish never arrived");
    bf_ws_msg_free(&m);
    cr_expect_geq(bf_metric(C->routers[0].port, "belfry_router_redis_script_reloads_total"), 1,
                  "the reload was not counted");
    cr_expect_eq(bf_metric(C->routers[0].port, "belfry_router_redis_script_load_failures_total"),
                 0);

    /* a presence operation from the gateway: a second user joins and the first one hears it */
    bf_ws *b = bf_ws_connect(C->gateways[0].port, "/ws/presence-room?token=t&userId=bob", NULL,
                             &status, NULL, 5000);
    cr_assert_not_null(b, "upgrade failed: %d", status);
    cr_assert_eq(bf_ws_recv_event(w, "presence:join", &m, 5000), 0,
                 "bob's join never reached alice after SCRIPT FLUSH");
    cr_expect(strstr(m.data, "bob"), "%s", m.data);
    bf_ws_msg_free(&m);
    cr_expect_geq(bf_metric(C->gateways[0].port, "belfry_gateway_redis_script_reloads_total"), 1,
                  "the gateway's reload was not counted");
    bf_ws_close(b);
    bf_ws_close(w);
}
