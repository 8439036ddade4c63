/* Unit tests for gateway/pace.c: the rotation's pace and the wait it predicts for the last listed
 * connection (the forward-looking half of the gateway's write backlog). */
#include "gateway/pace.h"

#include <criterion/criterion.h>

/* Flushes of 64 connections every 640 us: 10 us a connection, so 1,000 listed wait 10 ms. */
Test(pace, predicts_the_last_listed_wait_from_the_measured_pace)
{
    bf_pace p = {0};
    cr_expect_eq(bf_pace_ahead_ms(&p, 1000), 0, "no prediction before the first sample");
    uint64_t now = 1000000;
    size_t listed = 1000;
    for (int i = 0; i < 10; i++) {
        listed -= 64;
        bf_pace_flushed(&p, now, 64, listed);
        now += 640;
    }
    cr_expect_float_eq(p.us_per_conn, 10.0, 1e-9, "%f us a connection", p.us_per_conn);
    cr_expect_eq(bf_pace_ahead_ms(&p, 1000), 10);
    cr_expect_eq(bf_pace_ahead_ms(&p, 0), 0);
}

/* The loop blocks while nothing is listed: that idle time is not the rotation's pace. */
Test(pace, an_idle_span_is_not_a_sample)
{
    bf_pace p = {0};
    bf_pace_flushed(&p, 1000, 64, 10);
    bf_pace_flushed(&p, 1640, 64, 0); /* 10 us a connection; the list is empty now */
    cr_expect_float_eq(p.us_per_conn, 10.0, 1e-9);
    cr_expect_eq(p.last_us, 0);
    /* five seconds later a message lists connections again: the first flush has no span */
    bf_pace_flushed(&p, 5001640, 64, 500);
    cr_expect_float_eq(p.us_per_conn, 10.0, 1e-9, "%f: the idle gap was counted", p.us_per_conn);
    cr_expect_eq(bf_pace_ahead_ms(&p, 500), 5);
}

/* Larger writes slow the pace: the average follows within a few dozen chunks of 64, one
 * descheduled span moves it by a sixteenth, and a flush that wrote nothing moves nothing. */
Test(pace, follows_a_change_of_pace_within_a_few_chunks)
{
    bf_pace p = {0};
    uint64_t now = 1000;
    bf_pace_flushed(&p, now, 64, 1000);
    for (int i = 0; i < 4; i++) bf_pace_flushed(&p, now += 128, 64, 1000); /* 2 us */
    cr_expect_float_eq(p.us_per_conn, 2.0, 1e-9);
    bf_pace_flushed(&p, now += 500, 0, 1000);
    cr_expect_float_eq(p.us_per_conn, 2.0, 1e-9, "an empty flush moved the pace");
    bf_pace_flushed(&p, now += 4000 + 128, 64, 1000); /* preempted for 4 ms */
    cr_expect_float_eq(p.us_per_conn, 2.0 + 62.5 / 16, 1e-9, "%f", p.us_per_conn);
    for (int i = 0; i < 64; i++) bf_pace_flushed(&p, now += 1280, 64, 1000); /* 20 us */
    cr_expect_gt(p.us_per_conn, 19.5, "%f us after 64 chunks at 20", p.us_per_conn);
    cr_expect_lt(p.us_per_conn, 20.0);
}
