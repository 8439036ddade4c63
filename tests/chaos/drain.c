/* Chaos: graceful drains. SIGTERM on a gateway closes its clients with 1012, removes their
 * presence cleanly and exits within --drain-timeout; SIGTERM on a router hands its channels over.
 */
#include "../integration/common.h"

#include <signal.h>

TestSuite(chaos_drain, .timeout = 90);

Test(chaos_drain, gateway_sigterm_closes_1012_and_leaves_presence_cleanly)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 2, .jwt_secret = IT_SECRET};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    char *t = it_token("obs", "[\"presence-d\"]", 600),
         *u = it_token("dan", "[\"presence-d\"]", 600);
    char p1[4096], p2[4096];
    snprintf(p1, sizeof(p1), "/ws/presence-d?token=%s", t);
    snprintf(p2, sizeof(p2), "/ws/presence-d?token=%s", u);
    free(t);
    free(u);
    bf_ws *obs = it_connect(c, 1, p1, NULL);
    json_decref(it_recv_event(obs, "presence:here", 5000, "obs"));
    bf_ws *dan = it_connect(c, 0, p2, NULL);
    json_decref(it_recv_event(dan, "presence:here", 5000, "dan"));
    json_decref(it_recv_event(obs, "presence:join", 5000, "obs"));
    long long t0 = bf_ms();
    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGTERM), 0);
    bf_ws_msg m;
    int code = 0;
    while (!code && bf_ws_recv(dan, &m, 3000) == 0) {
        if (m.opcode == 8) code = m.close_code;
        bf_ws_msg_free(&m);
    }
    cr_expect_eq(code, 1012, "drained client got close code %d", code);
    json_t *lv = it_recv_event(obs, "presence:leave", 3000, "obs");
    json_decref(lv);
    int st = bf_cluster_wait_gateway(c, 0, 5000);
    cr_expect_eq(st, 0, "gateway exit status %d", st);
    cr_expect(bf_ms() - t0 < 4000, "drain took %lld ms", bf_ms() - t0);
    bf_ws_abort(dan);
    bf_ws_close(obs);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(chaos_drain, router_sigterm_hands_channels_over)
{
    bf_cluster_opts o = {.routers = 2, .gateways = 1};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    enum { N = 20 };
    bf_ws *w[N];
    char names[N][16];
    for (int i = 0; i < N; i++) {
        char path[64];
        snprintf(names[i], sizeof(names[i]), "h-%d", i);
        snprintf(path, sizeof(path), "/ws/%s", names[i]);
        w[i] = it_connect(c, 0, path, NULL);
    }
    for (int i = 0; i < N; i++) it_wait_subscribed(c, names[i], 1);
    cr_assert_eq(bf_cluster_signal_router(c, 0, SIGTERM), 0);
    cr_expect_eq(bf_cluster_wait_router(c, 0, 5000), 0, "router did not exit cleanly");
    /* the survivor learns of the departure on its next heartbeat (<= 1 s), then owns all */
    char *log = NULL;
    long long deadline = bf_ms() + 3000;
    while (bf_ms() < deadline) {
        free(log);
        log = bf_read_file(c->routers[1].log);
        if (log && strstr(log, "1 router(s) [rt-1]")) break;
        usleep(50000);
    }
    cr_expect(log && strstr(log, "1 router(s) [rt-1]"), "survivor never saw the ring shrink");
    free(log);
    /* Redis ingress on every channel now goes through the survivor, once each */
    for (int i = 0; i < N; i++)
        free(bf_redis_query(c, "PUBLISH belfry:publish:%s %s", names[i],
                            "{\"event\":\"Moved\",\"data\":{}}"));
    for (int i = 0; i < N; i++) {
        json_t *j = it_recv_event(w[i], "Moved", 3000, names[i]);
        json_decref(j);
        it_expect_silence(w[i], i ? 0 : 200, names[i]);
    }
    for (int i = 0; i < N; i++) bf_ws_close(w[i]);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
