/* The fan-out window (router --fanout-window, gateway --fanout-report-min-subs): an HTTP publish
 * to a channel is refused with 503 overloaded while a gateway that reports on the channel has not
 * finished writing the channel's earlier messages; what was refused is never delivered, what was
 * accepted always is, and a gateway that stops reporting is waited for only --fanout-stale-ms.
 * A stopped gateway (SIGSTOP) is the slow fan-out here: its last message stays unwritten for as
 * long as the test wants. The gateways' backlog reports are off (--overload-silence-ms 0), so every
 * refusal is the window's. */
#include "common.h"

#include <pthread.h>
#include <signal.h>

TestSuite(fanout_window, .timeout = 90);

#define STALE_MS 1500

/* hold_ms "0": a refused publish is answered 503 at once */
static bf_cluster *start_held(const char *min_subs, const char *stale_ms, const char *hold_ms)
{
    const char *rargs[] = {"--fanout-window",
                           "1",
                           "--fanout-stale-ms",
                           stale_ms,
                           "--overload-silence-ms",
                           "0",
                           "--fanout-retry-ms",
                           "7",
                           "--fanout-hold-ms",
                           hold_ms,
                           NULL};
    const char *gargs[] = {"--fanout-report-min-subs", min_subs, "--backlog-limit-ms", "0", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .router_args = rargs, .gateway_args = gargs};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    /* the gateway reports once its heartbeat has seen the router's window */
    long long end = bf_ms() + 10000;
    while (bf_metric(c->gateways[0].port, "belfry_gateway_fanout_reporting") != 1 && bf_ms() < end)
        usleep(20000);
    cr_assert_eq(bf_metric(c->gateways[0].port, "belfry_gateway_fanout_reporting"), 1,
                 "the gateway never learnt that a router runs the fan-out window");
    return c;
}

static bf_cluster *start(const char *min_subs, const char *stale_ms)
{
    return start_held(min_subs, stale_ms, "0");
}

static int publish_to(int port, int n);

/* POST /broadcast/news {"event":"N","data":{"n":n}} to the first router: the status; a 503
 * must be the window's overloaded with a retry delay. */
static int publish(bf_cluster *c, int n)
{
    return publish_to(c->routers[0].port, n);
}

static int publish_to(int port, int n)
{
    char body[96];
    snprintf(body, sizeof(body), "{\"event\":\"N\",\"data\":{\"n\":%d}}", n);
    bf_http_resp r;
    if (bf_http(port, "POST", "/broadcast/news", IT_KEY_HDR, body, strlen(body), &r, 5000))
        return 0;
    int st = r.status;
    if (st == 503) {
        cr_expect(strstr(r.body, "\"overloaded\""), "503 for another reason: %s", r.body);
        cr_expect(strstr(r.body, "--fanout-window") && strstr(r.body, "channel news"),
                  "the refusal does not say why: %s", r.body);
        /* what the gateway's last fan-out took, less what has passed (1-1000 ms), or
         * --fanout-retry-ms before the first one is known */
        const char *h = r.headers ? strstr(r.headers, "X-Belfry-Retry-After-Ms: ") : NULL;
        long ms = h ? strtol(h + 25, NULL, 10) : 0;
        cr_expect(ms >= 1 && ms <= 1000, "retry delay %ld: %s", ms, r.headers ? r.headers : "");
        cr_expect(r.headers && strstr(r.headers, "Retry-After: 1"), "no Retry-After");
    }
    bf_http_resp_free(&r);
    return st;
}

static int next_n(bf_ws *w)
{
    json_t *j = it_recv_event(w, "N", 5000, "subscriber");
    int n = (int)json_integer_value(json_object_get(json_object_get(j, "data"), "n"));
    json_decref(j);
    return n;
}

/* fdone:{news}'s entry for the gateway: its written seq, or -1 while there is none. */
static long long written(bf_cluster *c)
{
    char *v = bf_redis_query(c, "HVALS belfry:fdone:{news}");
    long long seq = v && *v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return seq;
}

static void wait_written(bf_cluster *c, long long seq)
{
    long long end = bf_ms() + 5000;
    while (written(c) < seq && bf_ms() < end) usleep(5000);
    cr_assert_geq(written(c), seq, "the gateway never reported seq %lld written", seq);
}

/* A subscriber of news on the gateway, and message 1 published, received and reported written:
 * the window's starting point in most tests. */
static bf_ws *subscribed_with_one_written(bf_cluster *c)
{
    bf_ws *w = it_connect(c, 0, "/ws/news", NULL);
    it_wait_subscribed(c, "news", 1);
    cr_assert_eq(publish(c, 1), 204);
    cr_assert_eq(next_n(w), 1);
    wait_written(c, 1);
    return w;
}

Test(fanout_window, a_message_being_written_holds_the_next_and_nothing_is_lost)
{
    bf_cluster *c = start("1", "5000");
    bf_ws *w = it_connect(c, 0, "/ws/news", NULL);
    it_wait_subscribed(c, "news", 1);

    /* one at a time, each waited for: never refused */
    for (int n = 1; n <= 3; n++) {
        cr_assert_eq(publish(c, n), 204);
        cr_assert_eq(next_n(w), n);
        wait_written(c, n);
    }
    /* the gateway stops with nothing in flight: the next message is taken, and then it is
     * being written (it is not, the gateway is stopped) and everything after it waits */
    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGSTOP), 0);
    cr_expect_eq(publish(c, 4), 204);
    int refused = 0;
    for (int n = 5; n <= 9; n++) {
        cr_expect_eq(publish(c, n), 503, "message %d taken while message 4 was unwritten", n);
        refused++;
    }
    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGCONT), 0);
    cr_expect_eq(next_n(w), 4);
    wait_written(c, 4);
    cr_expect_eq(publish(c, 10), 204, "refused after the gateway caught up");
    cr_expect_eq(next_n(w), 10, "a refused message was delivered");
    it_expect_silence(w, 300, "subscriber after the last accepted message");
    cr_expect_eq(bf_metric(c->routers[0].port, "belfry_router_publishes_fanout_busy_total"),
                 refused);
    cr_expect_eq(bf_metric(c->routers[0].port, "belfry_router_publishes_refused_total"), refused);
    cr_expect_eq(bf_metric(c->routers[0].port, "belfry_router_publish_failures_total"), 0);
    cr_expect_geq(bf_metric(c->gateways[0].port, "belfry_gateway_fanout_reports_total"), 5);
    bf_ws_close(w);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(fanout_window, a_gateway_that_stops_reporting_is_waited_for_only_the_stale_time)
{
    char stale[16];
    snprintf(stale, sizeof(stale), "%d", STALE_MS);
    bf_cluster *c = start("1", stale);
    bf_ws *w = subscribed_with_one_written(c);

    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGSTOP), 0);
    long long t0 = bf_ms();
    cr_expect_eq(publish(c, 2), 204);
    cr_expect_eq(publish(c, 3), 503);
    /* refused until the stale time has passed since message 2 started, then taken */
    int n = 4, st = 503;
    long long end = t0 + STALE_MS + 3000;
    while (st == 503 && bf_ms() < end) {
        usleep(50000);
        st = publish(c, n);
        if (st == 503) n++;
    }
    long long took = bf_ms() - t0;
    cr_expect_eq(st, 204, "still refused %lld ms after the gateway stopped", took);
    cr_expect_geq(took, STALE_MS - 100, "taken %lld ms after the stop: before the stale time",
                  took);
    cr_expect_eq(written(c), -1, "the stale entry was not removed");
    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGCONT), 0);
    cr_expect_eq(next_n(w), 2);
    cr_expect_eq(next_n(w), n, "the message taken after the stale time");
    it_expect_silence(w, 300, "subscriber");
    bf_ws_close(w);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(fanout_window, small_channels_are_not_reported_and_never_held)
{
    bf_cluster *c = start("2", "5000");
    bf_ws *w = it_connect(c, 0, "/ws/news", NULL);
    it_wait_subscribed(c, "news", 1);
    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGSTOP), 0);
    for (int n = 1; n <= 5; n++) cr_expect_eq(publish(c, n), 204);
    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGCONT), 0);
    for (int n = 1; n <= 5; n++) cr_expect_eq(next_n(w), n);
    usleep(200000);
    cr_expect_eq(written(c), -1, "a channel under --fanout-report-min-subs was reported");
    cr_expect_eq(bf_metric(c->gateways[0].port, "belfry_gateway_fanout_tracked_total"), 0);
    bf_ws_close(w);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

/* A publish on its own thread: the answer of a held one comes late. */
typedef struct bg_publish {
    pthread_t t;
    int port, n, status;
    long long answered_ms; /* 0 until answered */
} bg_publish;

static void *bg_run(void *arg)
{
    bg_publish *b = arg;
    int st = publish_to(b->port, b->n);
    b->status = st;
    __atomic_store_n(&b->answered_ms, bf_ms(), __ATOMIC_RELEASE);
    return NULL;
}

Test(fanout_window, a_held_publish_is_answered_once_the_gateway_has_written)
{
    bf_cluster *c = start_held("1", "5000", "4000");
    bf_ws *w = subscribed_with_one_written(c);

    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGSTOP), 0);
    cr_expect_eq(publish(c, 2), 204);
    bg_publish b = {.port = c->routers[0].port, .n = 3};
    cr_assert_eq(pthread_create(&b.t, NULL, bg_run, &b), 0);
    usleep(400000);
    cr_expect_eq(__atomic_load_n(&b.answered_ms, __ATOMIC_ACQUIRE), 0,
                 "message 3 was answered while message 2 was unwritten");
    cr_expect_eq(bf_metric(c->routers[0].port, "belfry_router_publishes_held_total"), 1);
    long long t_cont = bf_ms();
    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGCONT), 0);
    pthread_join(b.t, NULL);
    cr_expect_eq(b.status, 204, "the held publish was answered %d", b.status);
    cr_expect_lt(b.answered_ms - t_cont, 2000, "answered %lld ms after the gateway resumed",
                 b.answered_ms - t_cont);
    cr_expect_eq(next_n(w), 2);
    cr_expect_eq(next_n(w), 3);
    it_expect_silence(w, 300, "subscriber");
    cr_expect_eq(bf_metric(c->routers[0].port, "belfry_router_publishes_held_total"), 1);
    cr_expect_eq(bf_metric(c->routers[0].port, "belfry_router_publishes_refused_total"), 0);
    cr_expect_eq(bf_metric(c->routers[0].port, "belfry_router_publishes_held"), 0);
    bf_ws_close(w);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(fanout_window, a_publish_held_past_the_hold_time_is_refused_and_never_delivered)
{
    bf_cluster *c = start_held("1", "5000", "300");
    bf_ws *w = subscribed_with_one_written(c);

    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGSTOP), 0);
    cr_expect_eq(publish(c, 2), 204);
    long long t0 = bf_ms();
    cr_expect_eq(publish(c, 3), 503);
    long long took = bf_ms() - t0;
    cr_expect_geq(took, 290, "refused after %lld ms, before the hold time", took);
    cr_expect_eq(bf_metric(c->routers[0].port, "belfry_router_publishes_held_expired_total"), 1);
    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGCONT), 0);
    cr_expect_eq(next_n(w), 2);
    wait_written(c, 2);
    cr_expect_eq(publish(c, 4), 204);
    cr_expect_eq(next_n(w), 4, "the refused message was delivered");
    bf_ws_close(w);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(fanout_window, without_a_window_on_any_router_gateways_report_nothing)
{
    const char *gargs[] = {"--fanout-report-min-subs", "1", "--backlog-limit-ms", "0", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = gargs};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    bf_ws *w = it_connect(c, 0, "/ws/news", NULL);
    it_wait_subscribed(c, "news", 1);
    for (int n = 1; n <= 3; n++) {
        cr_assert_eq(publish(c, n), 204);
        cr_assert_eq(next_n(w), n);
    }
    usleep(300000);
    cr_expect_eq(bf_metric(c->gateways[0].port, "belfry_gateway_fanout_reporting"), 0);
    cr_expect_eq(bf_metric(c->gateways[0].port, "belfry_gateway_fanout_tracked_total"), 0);
    cr_expect_eq(written(c), -1, "a gateway reported with no window on any router");
    bf_ws_close(w);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
