/* libbelfry's client resuming with recovery against real daemons: after a gateway is killed
 * (SIGKILL) and restarted, or killed for good with the URL factory moving to another gateway, the
 * client receives exactly the messages published meanwhile, once each and in order, with no gap
 * reported; when the router's history no longer reaches back (--history-size) or Redis lost the
 * channel (a new epoch), on_recovery_failed (or on_gap without it) reports the numbers; on a
 * presence channel presence:here arrives in order behind the replayed messages and is no gap. */
#include "harness.h"

#include <belfry/client.h>
#include <belfry/publisher.h>

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API_KEY "test-api-key-0123456789abcdef0123456789"
#define SECRET "client-recovery-test-secret-0123456789"
#define MAX_MSGS 256

static bf_cluster *C;
static uv_loop_t loop;
static uv_timer_t tick; /* bounds every uv_run(ONCE) so that run_until can check its deadline */
static bf_publisher *pub;
static bf_client *clients[8]; /* every client a test started: freed by the teardown, so that a
                                 failed assertion cannot leave one reconnecting forever */
static int nclients;

/* One subscriber and what it saw. */
typedef struct sub {
    const char *channel;
    const char *user;  /* presence/private: the token's subject; NULL: public */
    const char *extra; /* appended to the factory's query */
    int gw;            /* the factory's target */
    bool failover;     /* after a disconnect the factory moves to the next gateway */
    bool plain_gap;    /* no on_recovery_failed: failures arrive as gaps */
    bool hold;         /* the factory fails: the client stays away */
    bf_client *c;
    int factory_calls, connects, disconnects, gaps, failures;
    unsigned long long gap_expected, gap_got;
    bf_client_recovery rec;
    char rec_epoch[40];
    int n;
    char event[MAX_MSGS][24];
    unsigned long long seq[MAX_MSGS];
    int val[MAX_MSGS]; /* data.i of published messages, else -1 */
} sub;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void setup(void)
{
    C = NULL;
    pub = NULL;
    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
}

static void teardown(void)
{
    for (int i = 0; i < nclients; i++) bf_client_free(clients[i]);
    nclients = 0;
    bf_publisher_free(pub);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0, "handles left on the loop");
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly (leak or crash?)");
}

TestSuite(client_recovery, .init = setup, .fini = teardown, .timeout = 60);

static void start_cluster(bf_cluster_opts o)
{
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
    char url[128], err[BF_ERR_LEN];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", C->routers[0].port);
    bf_publisher_opts po = {.url = url, .api_key = API_KEY};
    pub = bf_publisher_new(&po, err);
    cr_assert_not_null(pub, "%s", err);
}

static bool run_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
    long long deadline = bf_ms() + timeout_ms;
    while (!cond(arg)) {
        if (bf_ms() >= deadline) return false;
        uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
}

static void run_for(int ms)
{
    long long deadline = bf_ms() + ms;
    while (bf_ms() < deadline) uv_run(&loop, UV_RUN_ONCE);
}

/* ---- callbacks --------------------------------------------------------------------------- */

static int factory(char *buf, size_t len, void *arg)
{
    sub *s = arg;
    if (s->hold) return -1;
    s->factory_calls++;
    char token[1024] = "";
    if (s->user) {
        char claims[512];
        snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"exp\":%lld,\"channels\":[\"%s\"]}",
                 s->user, (long long)time(NULL) + 600, s->channel);
        char *t = bf_mint_token(SECRET, "HS256", claims);
        if (!t) return -1;
        snprintf(token, sizeof(token), "&token=%s", t);
        free(t);
    }
    snprintf(buf, len, "ws://127.0.0.1:%d/ws/%s?attempt=%d%s%s", C->gateways[s->gw].port,
             s->channel, s->factory_calls, token, s->extra ? s->extra : "");
    return 0;
}

static void on_connect(bf_client *c, void *arg)
{
    (void)c;
    ((sub *)arg)->connects++;
}

static void on_disconnect(bf_client *c, int code, const char *reason, void *arg)
{
    (void)c;
    sub *s = arg;
    if (getenv("CLIENT_LOG"))
        fprintf(stderr, "[%s] disconnected: %d %s\n", s->channel, code, reason);
    s->disconnects++;
    if (s->failover) s->gw = (s->gw + 1) % C->ngateways;
}

static void on_gap(bf_client *c, uint64_t expected, uint64_t got, void *arg)
{
    (void)c;
    sub *s = arg;
    s->gaps++;
    s->gap_expected = expected;
    s->gap_got = got;
}

static void on_recovery_failed(bf_client *c, const bf_client_recovery *r, void *arg)
{
    sub *s = arg;
    s->failures++;
    s->rec = *r;
    snprintf(s->rec_epoch, sizeof(s->rec_epoch), "%s", r->epoch);
    s->rec.epoch = NULL;
    cr_expect_eq(bf_client_last_seq(c), r->seq);
}

static void on_msg(bf_client *c, const bf_client_msg *m, void *arg)
{
    (void)c;
    sub *s = arg;
    cr_assert_lt(s->n, MAX_MSGS);
    snprintf(s->event[s->n], sizeof(s->event[0]), "%s", m->event);
    s->seq[s->n] = m->seq;
    const char *i = strstr(m->data, "\"i\":");
    s->val[s->n] = i ? atoi(i + 4) : -1;
    s->n++;
}

static void print_log(bf_client *c, const char *line, void *arg)
{
    (void)c;
    fprintf(stderr, "[%s %s] %s\n", ((sub *)arg)->channel,
            ((sub *)arg)->user ? ((sub *)arg)->user : "", line);
}

static void start(sub *s)
{
    char err[BF_ERR_LEN];
    bf_client_opts o = {.url_factory = factory,
                        .initial_delay_ms = 100,
                        .max_delay_ms = 400,
                        .on_connect = on_connect,
                        .on_disconnect = on_disconnect,
                        .on_gap = on_gap,
                        .on_recovery_failed = s->plain_gap ? NULL : on_recovery_failed,
                        .on_log = getenv("CLIENT_LOG") ? print_log : NULL,
                        .arg = s};
    cr_assert_lt(nclients, 8);
    s->c = bf_client_new(&loop, &o, err);
    cr_assert_not_null(s->c, "%s", err);
    clients[nclients++] = s->c;
    cr_assert_neq(bf_client_subscribe(s->c, "*", on_msg, s), 0);
}

/* belfry:subscribed arrived: from here on every publish reaches the client. */
static bool positioned(void *arg)
{
    return bf_client_epoch(((sub *)arg)->c)[0] != '\0';
}

typedef struct want_n {
    sub *s;
    int n;
} want_n;

static bool has_n(void *arg)
{
    want_n *w = arg;
    return w->s->n >= w->n;
}

static void wait_n(sub *s, int n, int timeout_ms)
{
    want_n w = {s, n};
    cr_assert(run_until(has_n, &w, timeout_ms), "%s got %d messages, wanted %d", s->channel, s->n,
              n);
}

static bool has_failure(void *arg)
{
    return ((sub *)arg)->failures > 0;
}

static bool disconnected(void *arg)
{
    return ((sub *)arg)->disconnects > 0;
}

static void wait_positioned(sub *s)
{
    cr_assert(run_until(positioned, s, 5000), "no belfry:subscribed on %s", s->channel);
}

static void publish(const char *channel, int i)
{
    char data[32];
    snprintf(data, sizeof(data), "{\"i\":%d}", i);
    bf_channel_result res;
    cr_assert_eq(bf_publisher_publish(pub, channel, "N", data, &res), 0, "%s", res.message);
}

/* ---- tests ------------------------------------------------------------------------------- */

Test(client_recovery, kill9_and_restart_replays_exactly_what_was_published_while_down)
{
    start_cluster((bf_cluster_opts){.routers = 1, .gateways = 1});
    /* the client owns since/epoch: these would be refused (400) if it sent them on */
    sub a = {.channel = "room", .extra = "&since=999&epoch=nothex"};
    start(&a);
    wait_positioned(&a);
    for (int i = 1; i <= 3; i++) publish("room", i);
    wait_n(&a, 3, 5000);

    cr_assert_eq(bf_cluster_signal_gateway(C, 0, SIGKILL), 0);
    cr_assert(run_until(disconnected, &a, 5000));
    for (int i = 4; i <= 20; i++) publish("room", i); /* nobody is listening */
    cr_assert_eq(bf_cluster_restart_gateway(C, 0), 0);
    wait_n(&a, 17 + 3, 8000);
    publish("room", 21);
    wait_n(&a, 21, 5000);
    run_for(200); /* no duplicate follows */

    cr_expect_eq(a.n, 21);
    for (int k = 0; k < a.n; k++) {
        cr_expect_str_eq(a.event[k], "N");
        cr_expect_eq(a.seq[k], (unsigned long long)k + 1, "message %d", k);
        cr_expect_eq(a.val[k], k + 1, "message %d", k);
    }
    cr_expect_eq(a.gaps, 0);
    cr_expect_eq(a.failures, 0);
    cr_expect_eq(a.connects, 2);
    char *e = bf_redis_query(C, "GET belfry:epoch:{room}");
    cr_expect_str_eq(bf_client_epoch(a.c), e ? e : "(none)");
    free(e);
    cr_expect_eq(bf_client_last_seq(a.c), 21);
}

static bool resumed_both(void *arg)
{
    sub **s = arg;
    return s[0]->failures > 0 && s[1]->gaps > 0;
}

Test(client_recovery, history_too_short_reports_a_failed_recovery_with_the_numbers)
{
    static const char *const rargs[] = {"--history-size", "5", NULL};
    start_cluster((bf_cluster_opts){.routers = 1, .gateways = 1, .router_args = rargs});
    sub a = {.channel = "short"};
    sub b = {.channel = "short", .plain_gap = true}; /* only on_gap */
    start(&a);
    start(&b);
    wait_positioned(&a);
    wait_positioned(&b);
    publish("short", 1);
    publish("short", 2);
    wait_n(&a, 2, 5000);
    wait_n(&b, 2, 5000);

    cr_assert_eq(bf_cluster_signal_gateway(C, 0, SIGKILL), 0);
    cr_assert(run_until(disconnected, &a, 5000));
    for (int i = 3; i <= 22; i++) publish("short", i); /* 20: more than the 5 retained */
    cr_assert_eq(bf_cluster_restart_gateway(C, 0), 0);
    cr_assert(run_until(resumed_both, (sub *[]){&a, &b}, 8000), "failures %d, gaps %d", a.failures,
              b.gaps);

    cr_expect_eq(a.rec.since, 2);
    cr_expect_eq(a.rec.seq, 22);
    cr_expect_eq(a.rec.missed, 20);
    cr_expect(!a.rec.epoch_changed);
    cr_expect_str_eq(a.rec_epoch, bf_client_epoch(a.c));
    cr_expect_eq(b.failures, 0);
    cr_expect_eq(b.gap_expected, 3, "without on_recovery_failed, on_gap(since + 1, seq + 1)");
    cr_expect_eq(b.gap_got, 23);
    publish("short", 23);
    wait_n(&a, 3, 5000);
    wait_n(&b, 3, 5000);
    cr_expect_eq(a.seq[2], 23, "live messages continue after the position");
    cr_expect_eq(b.seq[2], 23);
    cr_expect_eq(a.gaps, 0, "a failed recovery is reported once, not also as a gap");
    cr_expect_eq(b.gaps, 1);
    cr_expect_eq(a.failures, 1);
}

Test(client_recovery, a_new_epoch_after_redis_lost_its_data_is_a_failed_recovery)
{
    start_cluster((bf_cluster_opts){.routers = 1, .gateways = 1});
    sub a = {.channel = "lost"};
    start(&a);
    wait_positioned(&a);
    for (int i = 1; i <= 3; i++) publish("lost", i);
    wait_n(&a, 3, 5000);
    char old[40];
    snprintf(old, sizeof(old), "%s", bf_client_epoch(a.c));

    cr_assert_eq(bf_cluster_signal_gateway(C, 0, SIGKILL), 0);
    cr_assert(run_until(disconnected, &a, 5000));
    cr_assert_eq(bf_cluster_restart_redis(C), 0);
    cr_assert_eq(bf_wait_http_ok(C->routers[0].port, "/readyz", 15000), 0);
    publish("lost", 100); /* seq 1 of a new epoch */
    cr_assert_eq(bf_cluster_restart_gateway(C, 0), 0);
    cr_assert(run_until(has_failure, &a, 8000), "no failed recovery");
    cr_expect_eq(a.rec.since, 3);
    cr_expect_eq(a.rec.seq, 1);
    cr_expect_eq(a.rec.missed, 1);
    cr_expect(a.rec.epoch_changed);
    cr_expect_str_neq(a.rec_epoch, old);
    char *e = bf_redis_query(C, "GET belfry:epoch:{lost}");
    cr_expect_str_eq(a.rec_epoch, e ? e : "(none)");
    free(e);
    publish("lost", 101);
    wait_n(&a, 4, 5000);
    cr_expect_eq(a.seq[3], 2);
    cr_expect_eq(a.val[3], 101);
    cr_expect_eq(a.gaps, 0);
}

/* Every sequenced frame follows the one before; presence:here as of the last seq seen or the
 * next one (its own join, which it stands for). */
static void expect_contiguous(const sub *s, const char *who)
{
    unsigned long long last = 0;
    for (int k = 0; k < s->n; k++) {
        if (!s->seq[k]) continue;
        bool here = !strcmp(s->event[k], "presence:here");
        bool ok = !last || s->seq[k] == last + 1 || (here && s->seq[k] == last);
        cr_expect(ok, "%s: frame %d (%s) has seq %llu after %llu", who, k, s->event[k], s->seq[k],
                  last);
        last = s->seq[k];
    }
}

static int count(const sub *s, const char *event)
{
    int n = 0;
    for (int k = 0; k < s->n; k++) n += !strcmp(s->event[k], event);
    return n;
}

typedef struct want_ev {
    sub *s;
    const char *event;
    int n;
} want_ev;

static bool has_events(void *arg)
{
    want_ev *w = arg;
    return count(w->s, w->event) >= w->n;
}

static void dump(const sub *s)
{
    for (int k = 0; k < s->n; k++)
        fprintf(stderr, "%s: %s seq=%llu i=%d\n", s->user, s->event[k], s->seq[k], s->val[k]);
}

static void wait_events_for(sub *s, const char *event, int n, int timeout_ms)
{
    want_ev w = {s, event, n};
    if (!run_until(has_events, &w, timeout_ms)) dump(s);
    cr_assert(count(s, event) >= n, "%s has %d %s, wanted %d", s->user, count(s, event), event, n);
}

static void wait_events(sub *s, const char *event, int n)
{
    wait_events_for(s, event, n, 8000);
}

Test(client_recovery, presence_here_follows_the_replay_without_false_gaps, .timeout = 90)
{
    start_cluster((bf_cluster_opts){.routers = 1, .gateways = 2, .jwt_secret = SECRET});
    const char *ch = "presence-rec";
    sub obs = {.channel = ch, .user = "obs", .gw = 1};
    sub alice = {.channel = ch, .user = "alice", .gw = 0, .failover = true};
    start(&obs);
    wait_events(&obs, "presence:here", 1);
    start(&alice);
    wait_events(&alice, "presence:here", 1);
    wait_events(&obs, "presence:join", 1);
    for (int i = 1; i <= 3; i++) publish(ch, i);
    wait_events(&alice, "N", 3);

    /* alice's gateway dies; her factory moves on to the other one */
    cr_assert_eq(bf_cluster_signal_gateway(C, 0, SIGKILL), 0);
    for (int i = 4; i <= 10; i++) publish(ch, i);
    wait_events(&alice, "presence:here", 2);
    wait_events(&alice, "N", 10);
    cr_expect_eq(alice.connects, 2);
    cr_expect_eq(alice.gw, 1);

    /* more presence traffic after the resume: bob comes and goes */
    sub bob = {.channel = ch, .user = "bob", .gw = 1};
    start(&bob);
    wait_events(&bob, "presence:here", 1);
    wait_events(&alice, "presence:join", 1);
    bf_client_close(bob.c);
    wait_events(&alice, "presence:leave", 1);
    publish(ch, 11);
    wait_events(&alice, "N", 11);
    wait_events(&obs, "N", 11);

    int ok_n = 0;
    for (int k = 0; k < alice.n; k++)
        if (!strcmp(alice.event[k], "N")) cr_expect_eq(alice.val[k], ++ok_n, "N %d", ok_n);
    /* now alice stays away until her first connection is swept: the replay then holds her own
     * presence:leave, and presence:here (as of her new join, which it stands for) follows it */
    cr_assert_eq(bf_cluster_restart_gateway(C, 0), 0);
    alice.hold = true;
    obs.failover = true;
    cr_assert_eq(bf_cluster_signal_gateway(C, 1, SIGKILL), 0);
    for (int i = 12; i <= 14; i++) publish(ch, i);
    wait_events_for(&obs, "presence:leave", 2, 15000); /* bob's, then alice's (the sweep) */
    wait_events(&obs, "N", 14);
    alice.hold = false;
    wait_events(&alice, "presence:here", 3);
    publish(ch, 15);
    wait_events(&alice, "N", 15);
    wait_events(&obs, "N", 15);
    cr_expect_eq(alice.gw, 0);
    cr_expect_eq(obs.gw, 0);
    cr_expect_eq(count(&alice, "presence:leave"), 2, "bob's and her own, replayed");

    if (getenv("CLIENT_LOG")) dump(&alice);
    expect_contiguous(&alice, "alice");
    expect_contiguous(&obs, "obs");
    cr_expect_eq(alice.gaps, 0);
    cr_expect_eq(alice.failures, 0);
    cr_expect_eq(obs.gaps, 0);
    cr_expect_eq(obs.failures, 0);
}
