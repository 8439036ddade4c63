/* libbelfry end to end: publish with bf_publisher over HTTP and over Redis to a live cluster and
 * receive with bf_client on a libuv loop driven by the test. */
#include "harness.h"

#include <belfry/client.h>
#include <belfry/publisher.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_KEY "test-api-key-0123456789abcdef0123456789"
#define MAX_MSGS 32

static bf_cluster *C;
static uv_loop_t loop;
static uv_timer_t tick; /* bounds every uv_run(ONCE) so that run_until can check its deadline */

typedef struct rec_msg {
    char event[64], data[256];
    unsigned long long seq;
    char user_id[32];
} rec_msg;

/* What the callbacks saw. */
static struct {
    int connects, disconnects, last_code;
    char last_reason[256];
    rec_msg msgs[MAX_MSGS];
    int nmsgs;
    int gaps;
} seen;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void setup(void)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
    memset(&seen, 0, sizeof(seen));
    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
}

static void teardown(void)
{
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT); /* every client was freed: the loop must drain */
    cr_expect_eq(uv_loop_close(&loop), 0, "handles left on the loop");
    bf_publisher_restore();
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly (leak or crash?)");
    C = NULL;
}

TestSuite(client_publish, .init = setup, .fini = teardown, .timeout = 60);

static bool run_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
    long long deadline = bf_ms() + timeout_ms;
    while (!cond(arg)) {
        if (bf_ms() >= deadline) return false;
        uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
}

static bool have_msgs(void *arg)
{
    return seen.nmsgs >= *(int *)arg;
}

static bool connected(void *arg)
{
    return seen.connects >= *(int *)arg;
}

static bool disconnected(void *arg)
{
    return seen.disconnects >= *(int *)arg;
}

static void wait_msgs(int n)
{
    cr_assert(run_until(have_msgs, &n, 5000), "got %d messages, wanted %d", seen.nmsgs, n);
}

static void on_connect(bf_client *c, void *arg)
{
    (void)c;
    (void)arg;
    seen.connects++;
}

static void on_disconnect(bf_client *c, int code, const char *reason, void *arg)
{
    (void)c;
    (void)arg;
    seen.disconnects++;
    seen.last_code = code;
    snprintf(seen.last_reason, sizeof(seen.last_reason), "%s", reason);
}

static void on_gap(bf_client *c, uint64_t expected, uint64_t got, void *arg)
{
    (void)c;
    (void)arg;
    (void)expected;
    (void)got;
    seen.gaps++;
}

static void record(bf_client *c, const bf_client_msg *m, void *arg)
{
    (void)c;
    (void)arg;
    cr_assert_lt(seen.nmsgs, MAX_MSGS);
    rec_msg *r = &seen.msgs[seen.nmsgs++];
    snprintf(r->event, sizeof(r->event), "%s", m->event);
    snprintf(r->data, sizeof(r->data), "%s", m->data);
    snprintf(r->user_id, sizeof(r->user_id), "%s", m->user_id ? m->user_id : "");
    r->seq = m->seq;
}

/* A client on the gateway's channel, opened and subscribed to by the gateway. */
static bf_client *open_client(const char *channel)
{
    char url[256], err[BF_ERR_LEN];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/%s", C->gateways[0].port, channel);
    bf_client_opts o = {.url = url,
                        .initial_delay_ms = 100,
                        .on_connect = on_connect,
                        .on_disconnect = on_disconnect,
                        .on_gap = on_gap};
    bf_client *c = bf_client_new(&loop, &o, err);
    cr_assert_not_null(c, "%s", err);
    cr_assert_neq(bf_client_subscribe(c, channel, record, NULL), 0);
    int one = seen.connects + 1;
    cr_assert(run_until(connected, &one, 5000), "client did not connect to %s (last: %d %s)", url,
              seen.last_code, seen.last_reason);
    cr_assert_eq(bf_client_get_state(c), BF_CLIENT_OPEN);
    cr_assert_str_eq(bf_client_channel(c), channel);
    return c;
}

static void wait_subscribed(const char *channel)
{
    cr_assert(bf_cluster_wait_subscribed(C, channel, 1, 5000),
              "the gateway did not subscribe to %s", channel);
}

static bf_publisher *http_publisher(const char *key)
{
    char url[128], err[BF_ERR_LEN];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", C->routers[0].port);
    bf_publisher_opts o = {.url = url, .api_key = key};
    bf_publisher *p = bf_publisher_new(&o, err);
    cr_assert_not_null(p, "%s", err);
    return p;
}

static void close_client(bf_client *c)
{
    bf_client_free(c);
}

/* ---- an event class, as an application would write it ------------------------------------- */

typedef struct order_shipped {
    bf_event base;
    long id;
} order_shipped;

static int order_on(const bf_event *e, bf_channel *out, size_t cap)
{
    (void)cap;
    const order_shipped *o = (const order_shipped *)e;
    out[0] = bf_channel_public("orders");
    out[1] = bf_channel_fmt(BF_CHANNEL_PRIVATE, "orders.%ld", o->id);
    return 2;
}

static json_t *order_with(const bf_event *e)
{
    return json_pack("{s:I}", "id", (json_int_t)((const order_shipped *)e)->id);
}

static const bf_event_class ORDER_SHIPPED = {
    .type_name = "OrderShipped", .broadcast_on = order_on, .broadcast_with = order_with};

/* ---- tests ------------------------------------------------------------------------------- */

Test(client_publish, http_broadcast_reaches_the_client_with_event_data_and_seq)
{
    bf_client *c = open_client("orders");
    wait_subscribed("orders");
    bf_publisher *p = http_publisher(API_KEY);

    order_shipped ev = {{&ORDER_SHIPPED}, 7};
    bf_broadcast_report rep;
    int rc = bf_publisher_broadcast(p, &ev.base, &rep);
    cr_assert_eq(rc, 0, "broadcast failed: %s %s", rep.error, rep.n ? rep.results[0].message : "");
    cr_assert_eq(rep.n, 2);
    cr_expect_eq(rep.failed, 0);
    cr_expect_str_eq(rep.results[0].channel, "orders");
    cr_expect_str_eq(rep.results[1].channel, "private-orders.7");
    cr_expect_eq(rep.results[0].status, 204);
    cr_expect_eq(rep.results[1].status, 204);
    bf_broadcast_report_deinit(&rep);

    /* two more through the same kept-alive publisher */
    cr_assert_eq(bf_publisher_publish(p, "orders", "Tick", "{\"i\":2}", NULL), 0);
    bf_channel_result res;
    cr_assert_eq(bf_publisher_publish(p, "orders", "Tick", "[1,\"two\",null]", &res), 0, "%s",
                 res.message);
    cr_expect_eq(res.status, 204);

    wait_msgs(3);
    cr_expect_str_eq(seen.msgs[0].event, "OrderShipped");
    cr_expect_str_eq(seen.msgs[0].data, "{\"id\":7}");
    cr_expect_eq(seen.msgs[0].seq, 1);
    cr_expect_str_eq(seen.msgs[1].event, "Tick");
    cr_expect_str_eq(seen.msgs[1].data, "{\"i\":2}");
    cr_expect_eq(seen.msgs[1].seq, 2);
    cr_expect_str_eq(seen.msgs[2].data, "[1,\"two\",null]");
    cr_expect_eq(seen.msgs[2].seq, 3);
    cr_expect_eq(seen.gaps, 0);
    cr_expect_eq(bf_client_last_seq(c), 3);
    bf_publisher_free(p);
    close_client(c);
}

Test(client_publish, redis_broadcast_reaches_the_client)
{
    bf_client *c = open_client("news");
    wait_subscribed("news");
    char url[160], err[BF_ERR_LEN];
    snprintf(url, sizeof(url), "%s/3", C->redis_url); /* SELECT 3: pub/sub ignores databases */
    bf_publisher_opts o = {.url = url};
    bf_publisher *p = bf_publisher_new(&o, err);
    cr_assert_not_null(p, "%s", err);
    for (int i = 1; i <= 3; i++) {
        char data[32];
        snprintf(data, sizeof(data), "{\"i\":%d}", i);
        bf_channel_result res;
        cr_assert_eq(bf_publisher_publish(p, "news", "Headline", data, &res), 0, "%s: %s", res.code,
                     res.message);
        cr_expect_eq(res.status, 0);
    }
    wait_msgs(3);
    for (int i = 0; i < 3; i++) {
        char data[32];
        snprintf(data, sizeof(data), "{\"i\":%d}", i + 1);
        cr_expect_str_eq(seen.msgs[i].event, "Headline");
        cr_expect_str_eq(seen.msgs[i].data, data);
        cr_expect_eq(seen.msgs[i].seq, (unsigned long long)i + 1);
    }
    bf_publisher_free(p);
    close_client(c);
}

Test(client_publish, the_default_publisher_comes_from_the_environment)
{
    bf_client *c = open_client("env");
    wait_subscribed("env");
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", C->routers[0].port);
    setenv("APP_BROADCAST_URL", url, 1);
    setenv("APP_BROADCAST_KEY", API_KEY, 1);
    bf_publisher_env env = {.url_var = "APP_BROADCAST_URL", .api_key_var = "APP_BROADCAST_KEY"};
    char err[BF_ERR_LEN];
    cr_assert_eq(bf_publisher_register(&env, err), 0, "%s", err);
    cr_assert_eq(bf_publisher_publish(bf_publisher_get(NULL), "env", "FromEnv", NULL, NULL), 0);
    wait_msgs(1);
    cr_expect_str_eq(seen.msgs[0].event, "FromEnv");
    cr_expect_str_eq(seen.msgs[0].data, "null");
    close_client(c);
}

Test(client_publish, http_failures_are_reported_per_channel)
{
    bf_publisher *bad = http_publisher("wrong-key");
    order_shipped ev = {{&ORDER_SHIPPED}, 9};
    bf_broadcast_report rep;
    cr_assert_eq(bf_publisher_broadcast(bad, &ev.base, &rep), BF_EAUTH);
    cr_assert_eq(rep.n, 2);
    cr_expect_eq(rep.failed, 2);
    for (size_t i = 0; i < rep.n; i++) {
        cr_expect_eq(rep.results[i].rc, BF_EAUTH);
        cr_expect_eq(rep.results[i].status, 401);
        cr_expect_str_eq(rep.results[i].code, "unauthorized");
        cr_expect_str_eq(rep.results[i].message, "wrong API key");
    }
    bf_broadcast_report_deinit(&rep);
    bf_publisher_free(bad);

    bf_publisher *p = http_publisher(API_KEY);
    /* larger than the router's --max-message-bytes (64 KiB): the server says 413 */
    size_t n = 70000;
    char *big = malloc(n + 3);
    big[0] = '"';
    memset(big + 1, 'x', n);
    big[n + 1] = '"';
    big[n + 2] = '\0';
    bf_channel_result res;
    cr_expect_eq(bf_publisher_publish(p, "orders", "Big", big, &res), BF_ETOOBIG);
    cr_expect_eq(res.status, 413);
    cr_expect_str_eq(res.code, "too_large");
    free(big);
    /* rejected before sending: reserved event names, invalid channel names, bad JSON */
    cr_expect_eq(bf_publisher_publish(p, "orders", "presence:join", "{}", &res), BF_EINVAL);
    cr_expect_str_eq(res.code, "bad_event");
    cr_expect_eq(bf_publisher_publish(p, "bad name", "E", "{}", &res), BF_EINVAL);
    cr_expect_str_eq(res.code, "bad_channel");
    cr_expect_eq(bf_publisher_publish(p, "orders", "E", "{nope", &res), BF_EINVAL);
    cr_expect_str_eq(res.code, "bad_json");
    /* and the connection is still good afterwards */
    cr_expect_eq(bf_publisher_publish(p, "orders", "E", "{}", &res), 0, "%s", res.message);
    bf_publisher_free(p);
}

Test(client_publish, redis_without_a_listening_router_is_reported)
{
    bf_publisher_opts o = {.url = C->redis_url, .redis_prefix = "nobody:"};
    bf_publisher *p = bf_publisher_new(&o, NULL);
    cr_assert_not_null(p);
    bf_channel_result res;
    cr_expect_eq(bf_publisher_publish(p, "orders", "E", "{}", &res), BF_ENOTFOUND);
    cr_expect_str_eq(res.code, "no_router");
    cr_expect(strstr(res.message, "nobody:publish:*") != NULL, "%s", res.message);
    bf_publisher_free(p);

    /* a password this Redis does not have: AUTH is refused, and said so */
    char url[160];
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", C->redis.port);
    bf_publisher_opts o2 = {.url = url};
    p = bf_publisher_new(&o2, NULL);
    cr_assert_not_null(p);
    cr_expect_eq(bf_publisher_publish(p, "orders", "E", "{}", &res), BF_EAUTH);
    cr_expect_str_eq(res.code, "connect_failed");
    cr_expect(strstr(res.message, "refused the connection") != NULL, "%s", res.message);
    bf_publisher_free(p);
}

Test(client_publish, star_and_channel_handlers_both_receive)
{
    bf_client *c = open_client("both");
    cr_assert_neq(bf_client_subscribe(c, "*", record, NULL), 0);
    cr_assert_neq(bf_client_subscribe(c, "elsewhere", record, NULL), 0); /* another key */
    wait_subscribed("both");
    bf_publisher *p = http_publisher(API_KEY);
    cr_assert_eq(bf_publisher_publish(p, "both", "E", "{\"k\":1}", NULL), 0);
    wait_msgs(2);
    cr_expect_str_eq(seen.msgs[0].data, "{\"k\":1}");
    cr_expect_str_eq(seen.msgs[1].data, "{\"k\":1}");
    /* nothing for the "elsewhere" handler: a third copy never comes */
    cr_assert_eq(bf_publisher_publish(p, "both", "F", "{}", NULL), 0);
    wait_msgs(4);
    cr_expect_str_eq(seen.msgs[2].event, "F");
    cr_expect_str_eq(seen.msgs[3].event, "F");
    cr_expect_eq(seen.nmsgs, 4);
    bf_publisher_free(p);
    close_client(c);
}

Test(client_publish, whisper_on_a_public_channel_gets_the_error_frame)
{
    bf_client *c = open_client("lobby");
    cr_assert_eq(bf_client_whisper(c, NULL, "typing", "{\"user\":\"ann\"}"), 0);
    wait_msgs(1);
    cr_expect_str_eq(seen.msgs[0].event, "error");
    cr_expect(strstr(seen.msgs[0].data, "\"code\":\"whisper_forbidden\"") != NULL, "%s",
              seen.msgs[0].data);
    cr_expect_eq(seen.msgs[0].seq, 0, "errors are ephemeral");
    cr_expect_eq(bf_client_last_seq(c), 0);
    cr_expect_eq(bf_client_whisper(c, NULL, "", "{}"), BF_EINVAL);
    cr_expect_eq(bf_client_whisper(c, NULL, "typing", "{not json"), BF_EINVAL);
    close_client(c);
}

Test(client_publish, refused_upgrades_report_the_http_status)
{
    char url[256], err[BF_ERR_LEN];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/bad%%20name", C->gateways[0].port);
    bf_client_opts o = {.url = url, .initial_delay_ms = 5000, .on_disconnect = on_disconnect};
    bf_client *c = bf_client_new(&loop, &o, err);
    cr_assert_not_null(c, "%s", err);
    int one = 1;
    cr_assert(run_until(disconnected, &one, 5000));
    cr_expect_eq(seen.last_code, 400);
    cr_expect(!strncmp(seen.last_reason, "bad_channel: ", 13), "%s", seen.last_reason);
    cr_expect_eq(bf_client_get_state(c), BF_CLIENT_WAITING);
    bf_client_free(c);

    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/elsewhere", C->gateways[0].port);
    c = bf_client_new(&loop, &o, err);
    cr_assert_not_null(c, "%s", err);
    int two = 2;
    cr_assert(run_until(disconnected, &two, 5000));
    cr_expect_eq(seen.last_code, 404);
    cr_expect(!strncmp(seen.last_reason, "not_found: ", 11), "%s", seen.last_reason);
    bf_client_free(c);
}
