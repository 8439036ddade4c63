/* router/fanout_hold.c on a real libevent base: arrival order, one head tried per wake, the
 * fallback timer, the hold time, the per-channel limit and the answers at close. */
#include "err.h"
#include "redis.h"
#include "router/fanout_hold.h"

#include <criterion/criterion.h>
#include <event2/event.h>
#include <string.h>

typedef struct rec {
    int calls;
    bf_fhold_why why;
    int order; /* when it was called, among all */
} rec;

static int seq;

static void fn(void *arg, bf_fhold_why why)
{
    rec *r = arg;
    r->calls++;
    r->why = why;
    r->order = ++seq;
}

/* Runs the loop for about ms milliseconds. */
static void run_for(struct event_base *b, int ms)
{
    struct timeval tv = {0, ms * 1000};
    event_base_loopexit(b, &tv);
    event_base_dispatch(b);
}

Test(router_fanout_hold, a_wake_tries_the_head_of_its_channel_only)
{
    struct event_base *b = event_base_new();
    bf_fhold *h = bf_fhold_new(b, 5000, 8);
    rec r[3] = {0};
    uint64_t d[3] = {0};
    seq = 0;
    for (int i = 0; i < 2; i++)
        cr_assert_eq(bf_fhold_park(h, "news", 1000, &d[i], false, fn, &r[i]), 0);
    cr_assert_eq(bf_fhold_park(h, "other", 1000, &d[2], false, fn, &r[2]), 0);
    cr_expect_gt(d[0], bf_now_ms(), "the deadline is set on the first park");
    cr_expect_eq(bf_fhold_stats_get(h)->parked, 3);
    bf_fhold_wake(h, "news", 4);
    cr_expect_eq(r[0].calls, 1);
    cr_expect_eq(r[0].why, BF_FHOLD_RETRY);
    cr_expect_eq(r[1].calls, 0, "a wake tries one entry, the head");
    cr_expect_eq(r[2].calls, 0, "another channel's entry was tried");
    /* the retried head refused again goes back first */
    uint64_t before = d[0];
    cr_assert_eq(bf_fhold_park(h, "news", 1000, &d[0], true, fn, &r[0]), 0);
    cr_expect_eq(d[0], before, "a re-park keeps the first deadline");
    bf_fhold_wake(h, "news", 4);
    cr_expect_eq(r[0].calls, 2, "the re-parked head was not first");
    cr_expect_eq(r[1].calls, 0);
    bf_fhold_wake(h, "news", 4);
    cr_expect_eq(r[1].calls, 1);
    bf_fhold_wake(h, "news", 4); /* nothing held: a no-op */
    cr_expect_eq(bf_fhold_stats_get(h)->held, 3, "re-parks are not new holds");
    cr_expect_eq(bf_fhold_stats_get(h)->retries, 3);
    bf_fhold_free(h);
    cr_expect_eq(r[2].calls, 1);
    cr_expect_eq(r[2].why, BF_FHOLD_CLOSED, "what is held at close is answered");
    event_base_free(b);
}

Test(router_fanout_hold, without_a_wake_the_estimate_tries_one_entry_at_a_time)
{
    struct event_base *b = event_base_new();
    bf_fhold *h = bf_fhold_new(b, 5000, 8);
    rec r[2] = {0};
    uint64_t d[2] = {0};
    seq = 0;
    cr_assert_eq(bf_fhold_park(h, "news", 30, &d[0], false, fn, &r[0]), 0);
    cr_assert_eq(bf_fhold_park(h, "news", 30, &d[1], false, fn, &r[1]), 0);
    run_for(b, 45);
    cr_expect_eq(r[0].calls, 1, "the head was not tried after its estimate");
    cr_expect_eq(r[0].why, BF_FHOLD_RETRY);
    cr_expect_eq(r[1].calls, 0, "both were tried at once");
    run_for(b, 45);
    cr_expect_eq(r[1].calls, 1, "the next was not tried an estimate later");
    cr_expect_eq(r[1].why, BF_FHOLD_RETRY);
    cr_expect_lt(r[0].order, r[1].order);
    bf_fhold_free(h);
    event_base_free(b);
}

Test(router_fanout_hold, the_hold_time_ends_a_hold)
{
    struct event_base *b = event_base_new();
    bf_fhold *h = bf_fhold_new(b, 100, 8);
    rec r = {0};
    uint64_t d = 0;
    cr_assert_eq(bf_fhold_park(h, "news", 1000, &d, false, fn, &r), 0);
    run_for(b, 160);
    cr_expect_eq(r.calls, 1);
    cr_expect_eq(r.why, BF_FHOLD_EXPIRED);
    cr_expect_eq(bf_fhold_stats_get(h)->expired, 1);
    cr_expect_eq(bf_fhold_stats_get(h)->parked, 0);
    /* a re-park after the deadline is refused: the caller answers */
    cr_expect_eq(bf_fhold_park(h, "news", 20, &d, true, fn, &r), BF_ETIMEDOUT);
    cr_expect_eq(r.calls, 1);
    bf_fhold_free(h);
    event_base_free(b);
}

Test(router_fanout_hold, a_channel_holds_at_most_its_limit)
{
    struct event_base *b = event_base_new();
    bf_fhold *h = bf_fhold_new(b, 5000, 2);
    rec r[3] = {0};
    uint64_t d[3] = {0};
    cr_assert_eq(bf_fhold_park(h, "news", 1000, &d[0], false, fn, &r[0]), 0);
    cr_assert_eq(bf_fhold_park(h, "news", 1000, &d[1], false, fn, &r[1]), 0);
    cr_expect_eq(bf_fhold_park(h, "news", 1000, &d[2], false, fn, &r[2]), BF_EFULL);
    cr_expect_eq(bf_fhold_park(h, "other", 1000, &d[2], false, fn, &r[2]), 0,
                 "the limit is per channel");
    cr_expect_eq(bf_fhold_stats_get(h)->full, 1);
    bf_fhold_free(h);
    for (int i = 0; i < 3; i++) cr_expect_eq(r[i].calls, 1);
    event_base_free(b);
}
