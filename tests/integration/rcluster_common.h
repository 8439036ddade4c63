/* Shared by the Redis Cluster transport suites (tests/integration/rcluster*.c): a bf_redis on a
 * libevent base (the router's loop and hiredis adapter), ticked every 10 ms, against the harness'
 * three-primary cluster (tests/harness/redis_cluster.h). */
#ifndef BF_TEST_RCLUSTER_COMMON_H
#define BF_TEST_RCLUSTER_COMMON_H

#include "common/log.h"
#include "common/redis.h"
#include "common/redis_url.h"
#include "common/slot.h"
#include "redis_cluster.h"

#include <criterion/criterion.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rc_env {
    bf_rcl t;
    struct event_base *base;
    struct event *tick;
    bf_redis *r, *sub;
    int refresh_ms; /* cluster_refresh_ms of the links; 0: 1000 */
} rc_env;

/* The environment of the test running now, so that a failed assertion (which leaves the test
 * function at once) still stops the cluster: rc_fini is every suite's .fini. */
static rc_env *rc_current;

static inline int rc_attach(redisAsyncContext *ac, void *loop)
{
    return redisLibeventAttach(ac, loop);
}

static inline void rc_on_tick(evutil_socket_t fd, short what, void *arg)
{
    rc_env *e = arg;
    (void)fd;
    (void)what;
    if (e->r) bf_redis_tick(e->r, bf_now_ms());
    if (e->sub) bf_redis_tick(e->sub, bf_now_ms());
}

/* A cluster:// link to e's cluster on e's loop, gated by gate (gate_arg borrowed) unless NULL.
 * Caller frees (bf_redis_free). */
static inline bf_redis *rc_link_gated(rc_env *e, const char *name, bf_redis_gate_fn gate,
                                      void *gate_arg)
{
    bf_redis_url u;
    char err[256];
    cr_assert_eq(bf_parse_redis_url(e->t.url, &u, err, sizeof(err)), 0, "%s", err);
    bf_redis_opts o = {.url = &u,
                       .name = name,
                       .attach = rc_attach,
                       .loop = e->base,
                       .connect_timeout_ms = 1000,
                       .command_timeout_ms = 1000,
                       .cluster_refresh_ms = e->refresh_ms ? e->refresh_ms : 1000,
                       .gate = gate,
                       .gate_arg = gate_arg};
    return bf_redis_new(&o);
}

static inline bf_redis *rc_link(rc_env *e, const char *name)
{
    return rc_link_gated(e, name, NULL, NULL);
}

/* Runs the loop until *flag (when flag) or until done(e) (when done), at most timeout_ms. */
static inline bool rc_run(rc_env *e, bool (*done)(rc_env *), int timeout_ms)
{
    uint64_t deadline = bf_now_ms() + (uint64_t)timeout_ms;
    while (bf_now_ms() < deadline) {
        if (done(e)) return true;
        event_base_loop(e->base, EVLOOP_ONCE);
    }
    return done(e);
}

static inline bool rc_ready(rc_env *e)
{
    return bf_redis_ready(e->r) && (!e->sub || bf_redis_ready(e->sub));
}

/* Starts e's cluster and its loop with the links' tick; no link yet (e->r, e->sub are NULL). */
static inline void rc_start(rc_env *e, int refresh_ms)
{
    memset(e, 0, sizeof(*e));
    e->refresh_ms = refresh_ms;
    rc_current = e;
    if (getenv("RCLUSTER_DEBUG")) bf_log_init("test", BF_LOG_DEBUG, false);
    cr_assert_eq(bf_rcl_start(&e->t), 0, "the redis cluster did not start");
    e->base = event_base_new();
    e->tick = event_new(e->base, -1, EV_PERSIST, rc_on_tick, e);
    struct timeval tv = {0, 10000};
    event_add(e->tick, &tv);
}

/* rc_start, then the command link (and the subscriber link if sub), both READY. */
static inline void rc_setup(rc_env *e, bool sub, int refresh_ms)
{
    rc_start(e, refresh_ms);
    e->r = rc_link(e, "cmd");
    if (sub) e->sub = rc_link(e, "sub");
    cr_assert(rc_run(e, rc_ready, 10000), "the cluster link did not become ready");
}

static inline bool rc_closed(rc_env *e)
{
    return bf_redis_closed(e->r) && (!e->sub || bf_redis_closed(e->sub));
}

static inline void rc_teardown(rc_env *e)
{
    /* a graceful close, then the loop must be empty (every node link's socket gone) */
    bf_redis_close(e->r);
    if (e->sub) bf_redis_close(e->sub);
    cr_expect(rc_run(e, rc_closed, 3000), "the links did not close");
    bf_redis_free(e->r);
    bf_redis_free(e->sub);
    event_free(e->tick);
    cr_expect_eq(event_base_loop(e->base, EVLOOP_NONBLOCK), 1, "the loop is empty");
    event_base_free(e->base);
    bf_rcl_stop(&e->t);
    rc_current = NULL;
}

/* After a failed test: everything is stopped, the cluster's logs kept (named on stderr). */
static inline void rc_fini(void)
{
    rc_env *e = rc_current;
    if (!e) return;
    rc_current = NULL;
    bf_redis_free(e->r);
    bf_redis_free(e->sub);
    if (e->tick) event_free(e->tick);
    if (e->base) event_base_free(e->base);
    e->t.keep_logs = true;
    bf_rcl_stop(&e->t);
}

/* One command's reply, kept as a string (or "(nil)", "(null)" for a lost link, "ERR..."). */
typedef struct rc_reply {
    bool done;
    char s[256];
} rc_reply;

static inline void rc_on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    rc_reply *out = priv;
    redisReply *r = reply;
    (void)ac;
    out->done = true;
    if (!r)
        snprintf(out->s, sizeof(out->s), "(null)");
    else if (r->type == REDIS_REPLY_NIL)
        snprintf(out->s, sizeof(out->s), "(nil)");
    else if (r->type == REDIS_REPLY_INTEGER)
        snprintf(out->s, sizeof(out->s), "%lld", r->integer);
    else if (r->str)
        snprintf(out->s, sizeof(out->s), "%s%s", r->type == REDIS_REPLY_ERROR ? "ERR:" : "",
                 r->str);
    else
        snprintf(out->s, sizeof(out->s), "(array %zu)", r->elements);
}

static rc_reply *rc_wait_on;
static inline bool rc_reply_done(rc_env *e)
{
    (void)e;
    return rc_wait_on->done;
}

/* Runs the loop until out, a command's rc_on_reply argument (zeroed before it was sent), has its
 * reply, at most 5 s; false if none came. */
static inline bool rc_await(rc_env *e, rc_reply *out)
{
    rc_wait_on = out;
    return rc_run(e, rc_reply_done, 5000);
}

/* Sends argv through e->r and waits for its reply (5 s). */
static inline const char *rc_call(rc_env *e, rc_reply *out, int argc, const char **argv)
{
    memset(out, 0, sizeof(*out));
    int rc = bf_redis_cmdargv(e->r, rc_on_reply, out, argc, argv, NULL);
    if (rc) {
        snprintf(out->s, sizeof(out->s), "(send failed %d)", rc);
        return out->s;
    }
    if (!rc_await(e, out)) snprintf(out->s, sizeof(out->s), "(no reply)");
    return out->s;
}

static inline const char *rc_get(rc_env *e, rc_reply *out, const char *key)
{
    const char *argv[] = {"GET", key};
    return rc_call(e, out, 2, argv);
}

static inline const char *rc_set(rc_env *e, rc_reply *out, const char *key, const char *val)
{
    const char *argv[] = {"SET", key, val};
    return rc_call(e, out, 3, argv);
}

static inline bf_redis_cluster_stats rc_stats(bf_redis *r)
{
    bf_redis_cluster_stats st;
    cr_assert_eq(bf_redis_cluster_stats_get(r, &st), 0);
    return st;
}

/* A key named prefix-N whose slot node `node` owns. */
static inline void rc_key_on(rc_env *e, int node, const char *prefix, char *out, size_t cap)
{
    for (int i = 0; i < 100000; i++) {
        snprintf(out, cap, "%s-%d", prefix, i);
        if (bf_rcl_owner(&e->t, bf_slot_of_key(out, strlen(out))) == node) return;
    }
    cr_assert_fail("no key of node %d", node);
}

#endif
