/* libbelfry's client against failing gateways: reconnection with backoff after SIGKILL and
 * restart, the URL factory, close codes, close(), whisper only while open, unsubscribe handles,
 * gap reports (with recovery turned off), and freeing the client from inside its own callbacks. */
#include "harness.h"

#include <belfry/client.h>
#include <belfry/publisher.h>

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_KEY "test-api-key-0123456789abcdef0123456789"
#define MAX_EVENTS 64

static bf_cluster *C;
static uv_loop_t loop;
static uv_timer_t tick; /* bounds every uv_run(ONCE) so that run_until can check its deadline */
static bf_publisher *pub;

/* What the callbacks saw, in order. */
static struct {
    int connects, disconnects, factory_calls, gaps, msgs;
    int codes[MAX_EVENTS];
    char reasons[MAX_EVENTS][160];
    long long factory_ms[MAX_EVENTS], connect_ms[MAX_EVENTS];
    unsigned long long gap_expected, gap_got, last_seq_seen;
    int gateway;      /* the factory's target */
    int per_sub[4];   /* messages per subscription handler */
    bool free_in_cb;  /* free the client from the next message handler */
    bool no_recovery; /* start_client: opt out of recovery */
} seen;
static bf_client *client;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void setup_n(int gateways)
{
    bf_cluster_opts o = {.routers = 1, .gateways = gateways};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
    memset(&seen, 0, sizeof(seen));
    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    char url[128], err[BF_ERR_LEN];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", C->routers[0].port);
    bf_publisher_opts po = {.url = url, .api_key = API_KEY};
    pub = bf_publisher_new(&po, err);
    cr_assert_not_null(pub, "%s", err);
    client = NULL;
}

static void setup(void)
{
    setup_n(1);
}

static void setup2(void)
{
    setup_n(2);
}

static void teardown(void)
{
    bf_client_free(client);
    client = NULL;
    bf_publisher_free(pub);
    pub = NULL;
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0, "handles left on the loop");
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly (leak or crash?)");
    C = NULL;
}

TestSuite(client_reconnect, .init = setup, .fini = teardown, .timeout = 60);

static bool run_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
    long long deadline = bf_ms() + timeout_ms;
    while (!cond(arg)) {
        if (bf_ms() >= deadline) return false;
        uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
}

/* Runs the loop for ms, for checking that something does not happen. */
static void run_for(int ms)
{
    long long deadline = bf_ms() + ms;
    while (bf_ms() < deadline) uv_run(&loop, UV_RUN_ONCE);
}

#define COND(name, expr)                                                                           \
    static bool name(void *arg)                                                                    \
    {                                                                                              \
        int n = *(int *)arg;                                                                       \
        return (expr);                                                                             \
    }
COND(connects_reach, seen.connects >= n)
COND(disconnects_reach, seen.disconnects >= n)
COND(factory_calls_reach, seen.factory_calls >= n)
COND(msgs_reach, seen.msgs >= n)

static void wait_connects(int n)
{
    cr_assert(run_until(connects_reach, &n, 8000), "%d connects, wanted %d (last: %d %s)",
              seen.connects, n, seen.disconnects ? seen.codes[seen.disconnects - 1] : 0,
              seen.disconnects ? seen.reasons[seen.disconnects - 1] : "");
}

static void wait_disconnects(int n)
{
    cr_assert(run_until(disconnects_reach, &n, 8000), "%d disconnects, wanted %d", seen.disconnects,
              n);
}

static void wait_msgs(int n)
{
    cr_assert(run_until(msgs_reach, &n, 5000), "%d messages, wanted %d", seen.msgs, n);
}

/* ---- callbacks --------------------------------------------------------------------------- */

static int factory(char *buf, size_t len, void *arg)
{
    (void)arg;
    if (seen.factory_calls < MAX_EVENTS) seen.factory_ms[seen.factory_calls] = bf_ms();
    seen.factory_calls++;
    snprintf(buf, len, "ws://127.0.0.1:%d/ws/room?attempt=%d", C->gateways[seen.gateway].port,
             seen.factory_calls);
    return 0;
}

static void on_connect(bf_client *c, void *arg)
{
    (void)c;
    (void)arg;
    if (seen.connects < MAX_EVENTS) seen.connect_ms[seen.connects] = bf_ms();
    seen.connects++;
}

static void on_disconnect(bf_client *c, int code, const char *reason, void *arg)
{
    (void)c;
    (void)arg;
    if (seen.disconnects < MAX_EVENTS) {
        seen.codes[seen.disconnects] = code;
        snprintf(seen.reasons[seen.disconnects], sizeof(seen.reasons[0]), "%s", reason);
    }
    seen.disconnects++;
    /* 1012: this gateway is going away; the next attempt goes to the other one */
    if (code == 1012) seen.gateway = 1 - seen.gateway;
}

static void on_gap(bf_client *c, uint64_t expected, uint64_t got, void *arg)
{
    (void)arg;
    seen.gaps++;
    seen.gap_expected = expected;
    seen.gap_got = got;
    cr_expect_eq(bf_client_last_seq(c), got);
}

static void on_msg(bf_client *c, const bf_client_msg *m, void *arg)
{
    seen.msgs++;
    seen.last_seq_seen = m->seq;
    if (arg) ((int *)arg)[0]++;
    if (seen.free_in_cb) {
        bf_client_free(c); /* inside its own callback: must be safe */
        client = NULL;
        seen.free_in_cb = false;
    }
}

static bf_client *start_client(unsigned initial_delay_ms, unsigned max_delay_ms)
{
    char err[BF_ERR_LEN];
    bf_client_opts o = {.url_factory = factory,
                        .initial_delay_ms = initial_delay_ms,
                        .max_delay_ms = max_delay_ms,
                        .on_connect = on_connect,
                        .on_disconnect = on_disconnect,
                        .on_gap = on_gap,
                        .no_recovery = seen.no_recovery};
    client = bf_client_new(&loop, &o, err);
    cr_assert_not_null(client, "%s", err);
    cr_assert_neq(bf_client_subscribe(client, "room", on_msg, NULL), 0);
    return client;
}

static void wait_subscribed(void)
{
    cr_assert(bf_cluster_wait_subscribed(C, "room", 1, 5000), "no gateway subscribed to room");
}

static void publish(int i)
{
    char data[32];
    snprintf(data, sizeof(data), "{\"i\":%d}", i);
    bf_channel_result res;
    cr_assert_eq(bf_publisher_publish(pub, "room", "Tick", data, &res), 0, "%s", res.message);
}

/* ---- tests ------------------------------------------------------------------------------- */

Test(client_reconnect, sigkill_then_restart_reconnects_with_exponential_backoff)
{
    start_client(200, 5000);
    wait_connects(1);
    cr_expect_eq(seen.factory_calls, 1);
    cr_expect_eq(bf_client_get_state(client), BF_CLIENT_OPEN);

    cr_assert_eq(bf_cluster_signal_gateway(C, 0, SIGKILL), 0);
    wait_disconnects(1);
    long long lost = bf_ms();
    cr_expect_eq(seen.codes[0], 1006, "code %d (%s)", seen.codes[0], seen.reasons[0]);
    cr_expect_eq(bf_client_get_state(client), BF_CLIENT_WAITING);
    cr_expect_eq(bf_client_whisper(client, NULL, "typing", "{}"), BF_EDISCONNECTED);

    /* attempts 2, 3, 4 are refused: spaced 200, 400, 800 ms (+-20% jitter, plus slack) */
    int four = 4;
    cr_assert(run_until(factory_calls_reach, &four, 4000), "only %d attempts", seen.factory_calls);
    long long prev = lost;
    for (int i = 1; i < 4; i++) {
        long long gap = seen.factory_ms[i] - prev, want = 200LL << (i - 1);
        cr_expect(gap >= want * 8 / 10 - 10 && gap <= want * 12 / 10 + 150,
                  "attempt %d came %lld ms after the previous one, expected %lld +- 20%%", i + 1,
                  gap, want);
        prev = seen.factory_ms[i];
    }
    for (int i = 1; i < 3; i++) {
        cr_expect_eq(seen.codes[i], 1006);
        cr_expect(strstr(seen.reasons[i], "connection refused") != NULL, "%s", seen.reasons[i]);
    }

    cr_assert_eq(bf_cluster_restart_gateway(C, 0), 0);
    wait_connects(2);
    int calls = seen.factory_calls;
    cr_expect_geq(calls, 5, "the factory is called for every attempt");

    /* a successful connection resets the backoff: the first retry is again ~200 ms */
    cr_assert_eq(bf_cluster_signal_gateway(C, 0, SIGKILL), 0);
    int more = calls + 1;
    cr_assert(run_until(factory_calls_reach, &more, 3000));
    long long gap = seen.factory_ms[calls] - seen.connect_ms[1];
    cr_expect(gap <= 200 * 12 / 10 + 150, "first retry after a good connection took %lld ms", gap);
    cr_assert_eq(bf_cluster_restart_gateway(C, 0), 0);
    wait_connects(3);
}

/* Two gateways: Criterion runs a suite's .init before a test's own, so this needs its own suite. */
TestSuite(client_reconnect_two, .init = setup2, .fini = teardown, .timeout = 60);

Test(client_reconnect_two, a_draining_gateway_closes_with_1012_and_the_factory_moves_on)
{
    start_client(100, 1000);
    wait_connects(1);
    cr_assert_eq(bf_cluster_signal_gateway(C, 0, SIGTERM), 0); /* drain */
    wait_disconnects(1);
    cr_expect_eq(seen.codes[0], 1012, "code %d (%s)", seen.codes[0], seen.reasons[0]);
    wait_connects(2); /* to gateway 1, chosen by the factory because of the 1012 */
    cr_expect_eq(seen.gateway, 1);
    cr_expect_eq(seen.factory_calls, 2);
    cr_expect_eq(bf_cluster_wait_gateway(C, 0, 5000), 0, "the drained gateway did not exit 0");
    cr_assert_eq(bf_cluster_restart_gateway(C, 0), 0); /* for the teardown's clean stop */
}

Test(client_reconnect, close_stops_reconnecting)
{
    start_client(100, 1000);
    wait_connects(1);
    bf_client_close(client);
    cr_expect_eq(bf_client_get_state(client), BF_CLIENT_CLOSING);
    wait_disconnects(1);
    cr_expect_eq(seen.codes[0], 1000, "code %d (%s)", seen.codes[0], seen.reasons[0]);
    cr_expect_eq(bf_client_get_state(client), BF_CLIENT_CLOSED);
    run_for(300);
    cr_expect_eq(seen.factory_calls, 1);
    cr_expect_eq(seen.connects, 1);

    /* closing while waiting for the next attempt stops at once, with no further callback */
    bf_client_free(client);
    start_client(100, 1000);
    wait_connects(2);
    cr_assert_eq(bf_cluster_signal_gateway(C, 0, SIGKILL), 0);
    wait_disconnects(2);
    cr_expect_eq(bf_client_get_state(client), BF_CLIENT_WAITING);
    int calls = seen.factory_calls;
    bf_client_close(client);
    cr_expect_eq(bf_client_get_state(client), BF_CLIENT_CLOSED);
    run_for(300);
    cr_expect_eq(seen.factory_calls, calls);
    cr_expect_eq(seen.disconnects, 2);
    cr_assert_eq(bf_cluster_restart_gateway(C, 0), 0);
}

Test(client_reconnect, whisper_is_sent_only_while_open)
{
    start_client(100, 1000);
    cr_expect_eq(bf_client_get_state(client), BF_CLIENT_WAITING, "the first attempt is queued");
    cr_expect_eq(bf_client_whisper(client, NULL, "typing", "{}"), BF_EDISCONNECTED,
                 "not connected yet");
    wait_connects(1);
    cr_expect_eq(bf_client_whisper(client, "room", "typing", "{\"a\":1}"), 0);
    wait_msgs(1); /* the public channel answers with an error frame */
    cr_expect_eq(seen.last_seq_seen, 0);
    bf_client_close(client);
    cr_expect_eq(bf_client_whisper(client, NULL, "typing", "{}"), BF_EDISCONNECTED, "closing");
    wait_disconnects(1);
    cr_expect_eq(bf_client_whisper(client, NULL, "typing", "{}"), BF_EDISCONNECTED, "closed");
}

static void counted(bf_client *c, const bf_client_msg *m, void *arg)
{
    (void)c;
    (void)m;
    ((int *)arg)[0]++;
    seen.msgs++;
}

static bf_client_sub self_sub;
static void cancels_itself(bf_client *c, const bf_client_msg *m, void *arg)
{
    (void)m;
    ((int *)arg)[0]++;
    seen.msgs++;
    cr_expect_eq(bf_client_cancel(c, self_sub), 0);
}

Test(client_reconnect, unsubscribe_handles_and_keys)
{
    char err[BF_ERR_LEN], url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/room", C->gateways[0].port);
    bf_client_opts o = {.url = url, .on_connect = on_connect};
    client = bf_client_new(&loop, &o, err);
    cr_assert_not_null(client, "%s", err);
    bf_client_sub a = bf_client_subscribe(client, "room", counted, &seen.per_sub[0]);
    bf_client_sub b = bf_client_subscribe(client, "*", counted, &seen.per_sub[1]);
    bf_client_sub c = bf_client_subscribe(client, "room", counted, &seen.per_sub[2]);
    self_sub = bf_client_subscribe(client, "room", cancels_itself, &seen.per_sub[3]);
    cr_assert(a && b && c && self_sub && a != b && b != c);
    cr_expect_eq(bf_client_subscribe(client, "", counted, NULL), 0);
    wait_connects(1);
    wait_subscribed();

    publish(1);
    wait_msgs(4);
    cr_expect_eq(seen.per_sub[3], 1);
    cr_expect_eq(bf_client_cancel(client, a), 0);
    cr_expect_eq(bf_client_cancel(client, a), BF_ENOTFOUND);
    publish(2);
    wait_msgs(6);                                           /* b and c */
    cr_expect_eq(bf_client_unsubscribe(client, "room"), 1); /* c; a and self_sub are gone */
    publish(3);
    wait_msgs(7); /* b */
    publish(4);
    wait_msgs(8);
    cr_expect_eq(seen.per_sub[0], 1);
    cr_expect_eq(seen.per_sub[1], 4);
    cr_expect_eq(seen.per_sub[2], 2);
    cr_expect_eq(seen.per_sub[3], 1);
    cr_expect_eq(bf_client_unsubscribe(client, "*"), 1);
    cr_expect_eq(bf_client_unsubscribe(client, "*"), 0);
}

/* Recovery (on by default) replays them instead: see client_recovery.c. */
Test(client_reconnect, without_recovery_messages_published_while_down_are_a_gap)
{
    seen.no_recovery = true;
    start_client(100, 1000);
    wait_connects(1);
    wait_subscribed();
    publish(1);
    wait_msgs(1);
    cr_expect_eq(seen.last_seq_seen, 1);
    cr_expect_eq(seen.gaps, 0);

    cr_assert_eq(bf_cluster_signal_gateway(C, 0, SIGKILL), 0);
    wait_disconnects(1);
    for (int i = 2; i <= 4; i++) publish(i); /* seq 2..4: nobody is listening */
    cr_assert_eq(bf_cluster_restart_gateway(C, 0), 0);
    wait_connects(2);
    wait_subscribed();
    publish(5);
    wait_msgs(2);
    cr_expect_eq(seen.gaps, 1);
    cr_expect_eq(seen.gap_expected, 2);
    cr_expect_eq(seen.gap_got, 5);
    cr_expect_eq(seen.last_seq_seen, 5, "the message after the gap is still delivered");
    publish(6);
    wait_msgs(3);
    cr_expect_eq(seen.gaps, 1, "consecutive again: no new gap");
    cr_expect_eq(bf_client_last_seq(client), 6);
}

Test(client_reconnect, free_inside_a_handler_is_safe)
{
    start_client(100, 1000);
    wait_connects(1);
    wait_subscribed();
    seen.free_in_cb = true;
    publish(1);
    publish(2); /* may arrive in the same read: must not be dispatched to a freed client */
    wait_msgs(1);
    cr_expect_null(client);
    run_for(100);
    cr_expect_eq(seen.msgs, 1);
    cr_expect_eq(seen.disconnects, 0, "no callback after bf_client_free");
}
