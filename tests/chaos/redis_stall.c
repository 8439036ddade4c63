/* Chaos: Redis stalls (SIGSTOP) under publishing. The TCP connections stay open and the kernel
 * keeps accepting bytes, so only a command deadline (--redis-timeout) can notice: publishes must
 * get 503 redis_unavailable within the deadline, both daemons must turn not-ready, the timeout
 * must be counted, and after SIGCONT everything must flow again. */
#include "../integration/common.h"

#include <signal.h>

TestSuite(chaos_redis_stall, .timeout = 120);

#define DEADLINE_MS 1000
/* the daemons check deadlines on their 100 ms tick; the rest is scheduling slack */
#define SLACK_MS 700

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

/* One POST /broadcast/news; returns the status (0: no answer within timeout_ms) and the time it
 * took, and checks the error code of a 503. */
static int publish_timed(bf_cluster *c, int n, long long *took_ms, int timeout_ms)
{
    char body[96];
    int len = snprintf(body, sizeof(body), "{\"event\":\"Stall\",\"data\":{\"n\":%d}}", n);
    bf_http_resp r;
    long long t0 = bf_ms();
    int rc = bf_http(c->routers[0].port, "POST", "/broadcast/news", IT_KEY_HDR, body, (size_t)len,
                     &r, timeout_ms);
    *took_ms = bf_ms() - t0;
    if (rc) return 0;
    int st = r.status;
    if (st == 503)
        cr_expect(strstr(r.body, "\"redis_unavailable\"") != NULL,
                  "a publish cut off by the stall answered %s", r.body);
    bf_http_resp_free(&r);
    return st;
}

Test(chaos_redis_stall, sigstop_gives_503_within_the_deadline_and_recovers_after_sigcont)
{
    if (bf_daemons_wrapped()) cr_skip("timing test: daemons run under a wrapper");
    const char *args[] = {"--redis-timeout", "1000", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .router_args = args, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    bf_ws *sub = it_connect(c, 0, "/ws/news", NULL);
    it_wait_subscribed(c, "news", 1);
    it_publish(c, "news", "{\"event\":\"Before\",\"data\":{}}");
    json_decref(it_recv_event(sub, "Before", 3000, "subscriber"));

    cr_assert_eq(kill(c->redis.pid, SIGSTOP), 0);
    long long stopped = bf_ms();
    /* publishing goes on: every publish is answered, none later than the deadline */
    int n503 = 0;
    for (int i = 0; i < 8; i++) {
        long long took;
        int st = publish_timed(c, i, &took, 10000);
        cr_expect_neq(st, 0, "publish %d got no answer during the stall (%lld ms)", i, took);
        cr_expect_eq(st, 503, "publish %d during the stall answered %d", i, st);
        cr_expect_leq(took, DEADLINE_MS + SLACK_MS, "publish %d took %lld ms (deadline %d ms)", i,
                      took, DEADLINE_MS);
        if (st == 503) n503++;
        usleep(100000);
    }
    cr_expect_eq(n503, 8);
    port_status gw = {c->gateways[0].port, 503}, rt = {c->routers[0].port, 503};
    cr_expect(bf_wait_for(readyz_is, &rt, DEADLINE_MS + SLACK_MS),
              "router /readyz still 200 %lld ms into the stall", bf_ms() - stopped);
    cr_expect(bf_wait_for(readyz_is, &gw, DEADLINE_MS + SLACK_MS),
              "gateway /readyz still 200 %lld ms into the stall", bf_ms() - stopped);
    /* not-ready for as long as it lasts: reconnects reach a stopped server and time out too */
    usleep(3 * DEADLINE_MS * 1000);
    cr_expect(readyz_is(&rt), "router /readyz turned 200 while Redis is still stopped");
    cr_expect(readyz_is(&gw), "gateway /readyz turned 200 while Redis is still stopped");
    cr_expect_geq(bf_metric(c->routers[0].port, "belfry_router_redis_timeouts_total"), 1);
    cr_expect_geq(bf_metric(c->gateways[0].port, "belfry_gateway_redis_timeouts_total"), 1);

    cr_assert_eq(kill(c->redis.pid, SIGCONT), 0);
    gw.want = rt.want = 200;
    cr_assert(bf_wait_for(readyz_is, &rt, 15000), "router did not become ready after SIGCONT");
    cr_assert(bf_wait_for(readyz_is, &gw, 15000), "gateway did not become ready after SIGCONT");
    it_wait_subscribed(c, "news", 1);
    it_publish(c, "news", "{\"event\":\"After\",\"data\":{}}");
    /* Redis ran what was already in its sockets when it resumed: publishes the router had
     * answered 503 (their outcome unknown, as redis_unavailable says) may have been sequenced
     * after all, while the gateway's subscription had lapsed. The subscriber then gets every one
     * of them by recovering; or, if none was, After at once. */
    char key[BF_KEY_MAX];
    bf_key(key, c->o.prefix, BF_KEY_SEQ, "news");
    char *seqs = bf_redis_query(c, "GET %s", key);
    long long now = seqs ? atoll(seqs) : 0;
    free(seqs);
    if (now > 2) {
        long long last;
        sub = it_closed_then_recovered(c, sub, 0, "news", 1, (int)(now - 1), &last);
        cr_expect_eq(last, now);
    } else {
        json_decref(it_recv_event(sub, "After", 5000, "subscriber"));
    }
    /* and a new client too */
    bf_ws *late = it_connect(c, 0, "/ws/news", NULL);
    it_wait_subscribed(c, "news", 1);
    it_publish(c, "news", "{\"event\":\"Later\",\"data\":{}}");
    json_decref(it_recv_event(sub, "Later", 5000, "subscriber"));
    json_decref(it_recv_event(late, "Later", 5000, "new subscriber"));
    bf_ws_close(late);
    bf_ws_close(sub);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
