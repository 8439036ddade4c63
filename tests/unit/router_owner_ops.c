/* Unit tests for router/owner_ops.h: the owner's operations as a module of their own. The file is
 * compiled here (with owner_sweep.c) without the router (router.c, http_api.c), which is what shows
 * it depends only on what it receives at _new; its link to Redis stays down, so every call that
 * needs Redis takes the path a lost link takes. */
#include "router/owner_ops.c"
#include "router/owner_sweep.c"

#include "err.h"
#include "redis_url.h"

#include <criterion/criterion.h>

typedef struct up {
    int stale; /* on_stale calls */
} up;

static void on_stale(void *arg)
{
    ((up *)arg)->stale++;
}

typedef struct fixture {
    bf_redis_url url;
    bf_redis *cmd;
    bf_ring *ring;
    bf_owner_ops *o;
    up up;
} fixture;

static void start(fixture *f)
{
    char err[BF_ERR_LEN];
    cr_assert_eq(bf_parse_redis_url("redis://127.0.0.1:1", &f->url, err, sizeof(err)), 0, "%s",
                 err);
    bf_redis_opts ro = {.url = &f->url, .name = "cmd"};
    f->cmd = bf_redis_new(&ro); /* DOWN until ticked: never connects here */
    f->ring = bf_ring_new();
    bf_owner_ops_opts oo = {.cmd = f->cmd,
                            .ring = f->ring,
                            .prefix = "belfry:",
                            .node_id = "rt-a",
                            .history_size = 10,
                            .history_ttl_ms = 1000,
                            .on_stale = on_stale,
                            .arg = &f->up};
    f->o = bf_owner_ops_new(&oo);
}

static void stop(fixture *f)
{
    bf_owner_ops_free(f->o); /* frees the operations still waiting (ASan: no leak) */
    bf_redis_free(f->cmd);
    bf_ring_free(f->ring);
}

static void send_kick(fixture *f, const char *channel, int hops)
{
    bf_inbox m = {.op = BF_OP_KICK,
                  .channel = {channel, strlen(channel)},
                  .conn_id = {"belfryctl/1", 11},
                  .user_id = {"u1", 2},
                  .payload = {"bye", 3},
                  .hops = (uint32_t)hops};
    char *env;
    size_t len;
    cr_assert_eq(bf_wire_encode_inbox(&m, &env, &len), 0);
    bf_owner_ops_on_inbox(f->o, env, len);
    free(env);
}

static size_t waiting(const bf_owner_ops *o)
{
    size_t n = 0;
    for (const bf_pres_op *p = o->retry_head; p; p = p->next) n++;
    return n;
}

Test(router_owner_ops, a_kick_outside_the_ring_waits_and_asks_the_router_for_a_fresher_ring)
{
    fixture f = {0};
    start(&f);
    send_kick(&f, "presence-room", 0);
    cr_expect_eq(f.up.stale, 1, "the callback up was not called");
    cr_expect_eq(waiting(f.o), 1);
    stop(&f);
}

Test(router_owner_ops, a_kick_for_another_owner_is_forwarded_once_then_waits)
{
    fixture f = {0};
    start(&f);
    const char *ids[] = {"rt-b"};
    cr_assert_eq(bf_ring_set(f.ring, ids, 1, 7), 0);
    bf_owner_ops_set_in_ring(f.o, true);
    send_kick(&f, "presence-room", 0);
    cr_expect_eq(bf_owner_ops_stats_get(f.o)->forwards, 1);
    cr_expect_eq(f.up.stale, 0);
    send_kick(&f, "presence-room", 1); /* already forwarded once: ownership is moving */
    cr_expect_eq(bf_owner_ops_stats_get(f.o)->forwards, 1);
    cr_expect_eq(f.up.stale, 1);
    cr_expect_eq(waiting(f.o), 1);
    stop(&f);
}

Test(router_owner_ops, malformed_envelopes_are_counted_and_dropped)
{
    fixture f = {0};
    start(&f);
    bf_owner_ops_on_inbox(f.o, "\x93junk", 5);
    send_kick(&f, "bad channel", 0);
    cr_expect_eq(bf_owner_ops_stats_get(f.o)->inbox_malformed, 2);
    cr_expect_eq(waiting(f.o), 0);
    cr_expect_eq(f.up.stale, 0);
    stop(&f);
}

Test(router_owner_ops, the_live_gateways_are_copied_and_looked_up_in_any_order)
{
    fixture f = {0};
    start(&f);
    char a[] = "gw-c", b[] = "gw-a", c[] = "gw-b";
    const char *ids[] = {a, b, c};
    bf_owner_ops_set_gateways(f.o, ids, 3);
    a[0] = b[0] = c[0] = 'x'; /* copied: the caller's strings may change */
    cr_expect(bf__owner_ops_gateway_alive(f.o, "gw-a") &&
              bf__owner_ops_gateway_alive(f.o, "gw-b") && bf__owner_ops_gateway_alive(f.o, "gw-c"));
    cr_expect(!bf__owner_ops_gateway_alive(f.o, "gw-d"));
    bf_owner_ops_set_gateways(f.o, NULL, 0);
    cr_expect(!bf__owner_ops_gateway_alive(f.o, "gw-a"));
    stop(&f);
}

Test(router_owner_ops, a_sweep_pass_outside_the_ring_does_nothing)
{
    fixture f = {0};
    start(&f);
    bf_owner_ops_sweep(f.o);
    cr_expect_eq(bf_owner_ops_stats_get(f.o)->sweeps, 0);
    bf_owner_ops_tick(f.o, UINT64_MAX); /* nothing waiting: nothing to do */
    stop(&f);
}
