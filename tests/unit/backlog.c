/* Unit tests for gateway/backlog.c's report schedule (the file is included to reach its statics;
 * the probes and the reports themselves are tested against a real gateway in
 * integration/backpressure). */
#include "gateway/backlog.c"

#include <criterion/criterion.h>

/* Ticks that come every 99.99 ms — libuv's millisecond timers fire up to a millisecond short of
 * the microsecond clock's period — must still give a report at every tick of a 100 ms period:
 * a report due strictly at last + period skips every other tick. */
Test(backlog, periodic_reports_keep_to_their_period_when_ticks_come_early)
{
    bf_backlog b = {.d = {.report_ms = 100}};
    uint64_t start = 5000000;
    int reports = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t now = start + (uint64_t)i * 99990;
        if (report_due(&b, now)) {
            reports++;
            next_report(&b, now);
        }
    }
    cr_expect_eq(reports, 100, "%d reports at 100 ticks of 99.99 ms", reports);
}

/* Never more often than the period less the slack, however often the loop ticks (a busy loop
 * ticks every few microseconds), and after a stall one report, not a burst of the missed ones. */
Test(backlog, reports_are_never_more_frequent_than_the_period_less_the_slack)
{
    bf_backlog b = {.d = {.report_ms = 100}};
    uint64_t last = 0;
    int reports = 0;
    for (uint64_t now = 1000000; now < 3000000; now += 50) {
        if (!report_due(&b, now)) continue;
        if (reports)
            cr_expect_geq(now - last, 100000 - REPORT_SLACK_US, "%llu us apart",
                          (unsigned long long)(now - last));
        reports++;
        last = now;
        next_report(&b, now);
    }
    cr_expect_leq(reports, 21, "%d reports in 2 s of a 100 ms period", reports);
    next_report(&b, 5000000); /* a tick after a stall of 2 s */
    cr_expect(!report_due(&b, 5000050), "a second report right after a stall");
}
