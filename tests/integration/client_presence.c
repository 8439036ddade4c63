/* libbelfry's client on private and presence channels: tokens from the URL factory (fresh on
 * every attempt), refused upgrades (401/403), whispers between two clients with the sender's id,
 * presence:here/join/leave sharing one gapless sequence with published events. */
#include "harness.h"

#include <belfry/client.h>
#include <belfry/publisher.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API_KEY "test-api-key-0123456789abcdef0123456789"
#define SECRET "client-presence-test-secret-0123456789"
#define MAX_MSGS 32

static bf_cluster *C;
static uv_loop_t loop;
static uv_timer_t tick;

/* One user's client and what it saw. */
typedef struct user {
    const char *id, *channel, *grants; /* grants: the token's "channels" JSON array */
    bool no_token;
    bf_client *c;
    int factory_calls, connects, disconnects, gaps, last_code;
    char last_reason[200];
    int n;
    char event[MAX_MSGS][48], data[MAX_MSGS][300], from[MAX_MSGS][32];
    unsigned long long seq[MAX_MSGS];
} user;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void setup(void)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .jwt_secret = SECRET};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
}

static void teardown(void)
{
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0, "handles left on the loop");
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly (leak or crash?)");
}

TestSuite(client_presence, .init = setup, .fini = teardown, .timeout = 60);

static bool run_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
    long long deadline = bf_ms() + timeout_ms;
    while (!cond(arg)) {
        if (bf_ms() >= deadline) return false;
        uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
}

/* ---- callbacks --------------------------------------------------------------------------- */

/* A fresh token for every attempt: what a factory is for. */
static int factory(char *buf, size_t len, void *arg)
{
    user *u = arg;
    u->factory_calls++;
    if (u->no_token) {
        snprintf(buf, len, "ws://127.0.0.1:%d/ws/%s", C->gateways[0].port, u->channel);
        return 0;
    }
    char claims[512];
    snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"exp\":%lld,\"channels\":%s}", u->id,
             (long long)time(NULL) + 600, u->grants);
    char *token = bf_mint_token(SECRET, "HS256", claims);
    if (!token) return -1;
    snprintf(buf, len, "ws://127.0.0.1:%d/ws/%s?token=%s", C->gateways[0].port, u->channel, token);
    free(token);
    return 0;
}

static void on_connect(bf_client *c, void *arg)
{
    (void)c;
    ((user *)arg)->connects++;
}

static void on_disconnect(bf_client *c, int code, const char *reason, void *arg)
{
    (void)c;
    user *u = arg;
    u->disconnects++;
    u->last_code = code;
    snprintf(u->last_reason, sizeof(u->last_reason), "%s", reason);
}

static void on_gap(bf_client *c, uint64_t expected, uint64_t got, void *arg)
{
    (void)c;
    (void)expected;
    (void)got;
    ((user *)arg)->gaps++;
}

static void on_msg(bf_client *c, const bf_client_msg *m, void *arg)
{
    (void)c;
    user *u = arg;
    cr_assert_lt(u->n, MAX_MSGS);
    snprintf(u->event[u->n], sizeof(u->event[0]), "%s", m->event);
    snprintf(u->data[u->n], sizeof(u->data[0]), "%s", m->data);
    snprintf(u->from[u->n], sizeof(u->from[0]), "%s", m->user_id ? m->user_id : "");
    u->seq[u->n] = m->seq;
    u->n++;
}

static void start(user *u)
{
    char err[BF_ERR_LEN];
    bf_client_opts o = {.url_factory = factory,
                        .initial_delay_ms = 100,
                        .on_connect = on_connect,
                        .on_disconnect = on_disconnect,
                        .on_gap = on_gap,
                        .arg = u};
    u->c = bf_client_new(&loop, &o, err);
    cr_assert_not_null(u->c, "%s", err);
    cr_assert_neq(bf_client_subscribe(u->c, u->channel, on_msg, u), 0);
}

static bool is_connected(void *arg)
{
    return ((user *)arg)->connects > 0;
}

static bool has_disconnected(void *arg)
{
    return ((user *)arg)->disconnects > 0;
}

typedef struct want_n {
    user *u;
    int n;
} want_n;

static bool has_n(void *arg)
{
    want_n *w = arg;
    return w->u->n >= w->n;
}

static void wait_n(user *u, int n)
{
    want_n w = {u, n};
    cr_assert(run_until(has_n, &w, 5000), "%s got %d messages, wanted %d", u->id, u->n, n);
}

/* ---- tests ------------------------------------------------------------------------------- */

Test(client_presence, refused_without_or_with_a_wrong_token)
{
    user nobody = {.id = "nobody", .channel = "private-vault", .no_token = true};
    start(&nobody);
    cr_assert(run_until(has_disconnected, &nobody, 5000));
    cr_expect_eq(nobody.last_code, 401, "%d %s", nobody.last_code, nobody.last_reason);
    user other = {.id = "eve", .channel = "private-vault", .grants = "[\"private-other\"]"};
    start(&other);
    cr_assert(run_until(has_disconnected, &other, 5000));
    cr_expect_eq(other.last_code, 403, "%d %s", other.last_code, other.last_reason);
    cr_expect_eq(other.connects, 0);
    bf_client_free(nobody.c);
    bf_client_free(other.c);
}

Test(client_presence, whispers_and_presence_events_on_one_gapless_sequence)
{
    user alice = {.id = "alice", .channel = "presence-room", .grants = "[\"presence-room\"]"};
    user bob = {.id = "bob", .channel = "presence-room", .grants = "[\"presence-*\"]"};
    start(&alice);
    cr_assert(run_until(is_connected, &alice, 5000), "alice: %d %s", alice.last_code,
              alice.last_reason);
    wait_n(&alice, 1);
    cr_expect_str_eq(alice.event[0], "presence:here");
    cr_expect(strstr(alice.data[0], "\"id\":\"alice\"") != NULL, "%s", alice.data[0]);
    unsigned long long base = alice.seq[0];
    cr_expect_gt(base, 0, "presence:here carries the seq it is current as of");

    start(&bob);
    cr_assert(run_until(is_connected, &bob, 5000), "bob: %d %s", bob.last_code, bob.last_reason);
    wait_n(&bob, 1);
    cr_expect_str_eq(bob.event[0], "presence:here");
    wait_n(&alice, 2);
    cr_expect_str_eq(alice.event[1], "presence:join");
    cr_expect(strstr(alice.data[1], "\"id\":\"bob\"") != NULL, "%s", alice.data[1]);
    cr_expect_eq(alice.seq[1], base + 1);
    cr_expect_eq(bob.seq[0], base + 1, "bob's snapshot is as of his own join");

    /* a whisper reaches the other member with the sender's verified id, without a seq */
    cr_assert_eq(bf_client_whisper(bob.c, NULL, "typing", "{\"on\":true}"), 0);
    wait_n(&alice, 3);
    cr_expect_str_eq(alice.event[2], "whisper");
    cr_expect_str_eq(alice.data[2], "{\"event\":\"typing\",\"data\":{\"on\":true}}");
    cr_expect_str_eq(alice.from[2], "bob");
    cr_expect_eq(alice.seq[2], 0);

    /* a published event continues the same sequence */
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", C->routers[0].port);
    bf_publisher_opts po = {.url = url, .api_key = API_KEY};
    bf_publisher *p = bf_publisher_new(&po, NULL);
    cr_assert_not_null(p);
    bf_channel_result res;
    cr_assert_eq(bf_publisher_publish(p, "presence-room", "Note", "{\"t\":1}", &res), 0, "%s",
                 res.message);
    bf_publisher_free(p);
    wait_n(&alice, 4);
    wait_n(&bob, 2);
    cr_expect_str_eq(alice.event[3], "Note");
    cr_expect_eq(alice.seq[3], base + 2);
    cr_expect_eq(bob.seq[1], base + 2);

    /* bob leaves: alice sees it, still without a gap */
    bf_client_close(bob.c);
    cr_assert(run_until(has_disconnected, &bob, 5000));
    cr_expect_eq(bob.last_code, 1000);
    wait_n(&alice, 5);
    cr_expect_str_eq(alice.event[4], "presence:leave");
    cr_expect_eq(alice.seq[4], base + 3);
    cr_expect_eq(alice.gaps, 0);
    cr_expect_eq(bob.gaps, 0);
    cr_expect_eq(alice.factory_calls, 1);
    bf_client_free(alice.c);
    bf_client_free(bob.c);
}
