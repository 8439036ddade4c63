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

/* 1 if `key` exists in Redis. */
static int exists(bf_cluster *c, const char *key)
{
    char *v = bf_redis_query(c, "EXISTS %s", key);
    int n = v ? atoi(v) : -1;
    free(v);
    return n;
}

/* The registry entry and the connection counts of a SIGTERM'd gateway are gone from Redis as soon
 * as it has exited: its leave.lua is flushed before the socket closes (not dropped by
 * redisAsyncFree), so nothing waits for the routers' sweep after its heartbeat expires. */
Test(chaos_drain, gateway_sigterm_removes_its_registry_entry_and_counts_at_once)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 2};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    bf_ws *a0 = it_connect(c, 0, "/ws/cnt-a", NULL), *a1 = it_connect(c, 0, "/ws/cnt-a", NULL);
    bf_ws *b0 = it_connect(c, 0, "/ws/cnt-b", NULL), *other = it_connect(c, 1, "/ws/cnt-a", NULL);
    long long deadline = bf_ms() + 5000;
    while (bf_ms() < deadline &&
           (it_conns_in_redis(c, "cnt-a") != 3 || it_conns_in_redis(c, "cnt-b") != 1))
        usleep(20000);
    cr_assert_eq(it_conns_in_redis(c, "cnt-a"), 3, "counts never reached Redis");
    char *id = bf_redis_query(c, "HKEYS belfry:conns:{cnt-b}"); /* gateway 0's node id */
    cr_assert(id && *id, "no count for cnt-b");
    id[strcspn(id, "\n")] = '\0';
    char key[256];
    snprintf(key, sizeof(key), "belfry:{#}:node:%s", id);
    cr_assert_eq(exists(c, key), 1, "%s missing before the stop", key);
    snprintf(key, sizeof(key), "belfry:{#}:gwchans:%s", id);
    cr_assert_eq(exists(c, key), 1, "%s missing before the stop", key);

    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGTERM), 0);
    bf_ws *mine[] = {a0, a1, b0};
    for (int i = 0; i < 3; i++) {
        bf_ws_msg m;
        int code = 0;
        while (!code && bf_ws_recv(mine[i], &m, 3000) == 0) {
            if (m.opcode == 8) code = m.close_code;
            bf_ws_msg_free(&m);
        }
        cr_expect_eq(code, 1012, "client %d: close code %d", i, code);
        bf_ws_abort(mine[i]);
    }
    int st = bf_cluster_wait_gateway(c, 0, 5000);
    cr_assert_eq(st, 0, "gateway exit status %d", st);

    /* at once, before any heartbeat expires or sweep runs */
    char *v = bf_redis_query(c, "ZSCORE belfry:{#}:gateways %s", id);
    cr_expect(!v || !*v, "still in the gateways registry (score %s)", v);
    free(v);
    snprintf(key, sizeof(key), "belfry:{#}:node:%s", id);
    cr_expect_eq(exists(c, key), 0, "%s left behind", key);
    v = bf_redis_query(c, "HGET belfry:conns:{cnt-a} %s", id);
    cr_expect(!v || !*v, "its count on cnt-a is still %s", v);
    free(v);
    cr_expect_eq(exists(c, "belfry:conns:{cnt-b}"), 0, "conns:cnt-b left behind");
    cr_expect_eq(it_conns_in_redis(c, "cnt-a"), 1, "the other gateway's count is kept");
    snprintf(key, sizeof(key), "belfry:{#}:gwchans:%s", id);
    cr_expect_eq(exists(c, key), 0, "%s left behind", key);
    v = bf_redis_query(c, "SISMEMBER belfry:{#}:gwknown %s", id);
    cr_expect(v && atoi(v) == 0, "still in gwknown");
    free(v);
    free(id);
    bf_ws_close(other);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

/* leave.lua removes every count the gateway has in Redis, not only those its drain brought to zero
 * (a count whose update was lost, e.g. sent while Redis was away, must not outlive the gateway). */
Test(chaos_drain, leave_removes_every_count_of_the_gateway)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    bf_ws *w = it_connect(c, 0, "/ws/cnt-c", NULL);
    long long deadline = bf_ms() + 5000;
    while (bf_ms() < deadline && it_conns_in_redis(c, "cnt-c") != 1) usleep(20000);
    cr_assert_eq(it_conns_in_redis(c, "cnt-c"), 1, "the count never reached Redis");
    char *id = bf_redis_query(c, "HKEYS belfry:conns:{cnt-c}");
    cr_assert(id && *id);
    id[strcspn(id, "\n")] = '\0';
    free(bf_redis_query(c, "HSET belfry:conns:{cnt-stale} %s 2", id));
    free(bf_redis_query(c, "SADD belfry:{#}:gwchans:%s cnt-stale", id));
    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGTERM), 0);
    bf_ws_msg m;
    while (bf_ws_recv(w, &m, 3000) == 0) {
        int op = m.opcode;
        bf_ws_msg_free(&m);
        if (op == 8) break;
    }
    int st = bf_cluster_wait_gateway(c, 0, 5000);
    cr_assert_eq(st, 0, "gateway exit status %d", st);
    cr_expect_eq(exists(c, "belfry:conns:{cnt-stale}"), 0, "the stale count outlived the gateway");
    cr_expect_eq(exists(c, "belfry:conns:{cnt-c}"), 0, "conns:cnt-c left behind");
    char key[256];
    snprintf(key, sizeof(key), "belfry:{#}:gwchans:%s", id);
    cr_expect_eq(exists(c, key), 0, "%s left behind", key);
    free(id);
    bf_ws_abort(w);
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
