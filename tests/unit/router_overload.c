/* Unit tests for router/overload.h: which gateways count as behind, from their reports, their
 * silence, Redis' client list and the live membership. */
#include "router/overload.c"

#include <criterion/criterion.h>

static bf_overload *mk(void)
{
    return bf_overload_new(500, "belfry:gwsub:");
}

static int report(bf_overload *o, const char *msg, uint64_t now)
{
    return bf_overload_report(o, msg, strlen(msg), now);
}

Test(router_overload, reports_make_a_gateway_behind_and_ahead_again)
{
    bf_overload *o = mk();
    uint64_t retry = 0;
    cr_expect_null(bf_overload_check(o, 1000, &retry), "no gateway reported: nothing is behind");
    cr_expect_eq(report(o, "gw-1 3 0", 1000), 0);
    cr_expect_eq(report(o, "gw-2 40 1", 1000), 0);
    const char *why = bf_overload_check(o, 1010, &retry);
    cr_assert_not_null(why);
    cr_expect(strstr(why, "gw-2") && strstr(why, "40 ms behind"), "%s", why);
    cr_expect_eq(retry, 20, "about half the backlog");
    cr_expect_eq(bf_overload_behind(o), 1);
    cr_expect_eq(report(o, "gw-2 4 0", 1020), 0);
    cr_expect_null(bf_overload_check(o, 1030, &retry));
    cr_expect_eq(bf_overload_behind(o), 0);
    report(o, "gw-2 100000 1", 1040);
    bf_overload_check(o, 1040, &retry);
    cr_expect_eq(retry, 1000, "the delay is bounded");
    bf_overload_free(o);
}

Test(router_overload, malformed_reports_are_refused)
{
    bf_overload *o = mk();
    const char *bad[] = {"",         "gw-1",           "gw-1 ", "gw-1 3",   "gw-1 3 2",
                         "gw-1 x 1", "gw-1 3 1 extra", " 3 1",  "gw-1 3 1x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(report(o, bad[i], 1000), -1, "'%s' accepted", bad[i]);
    uint64_t retry;
    cr_expect_null(bf_overload_check(o, 1000, &retry));
    bf_overload_free(o);
}

Test(router_overload, a_silent_gateway_is_behind_while_redis_holds_its_link)
{
    bf_overload *o = mk();
    uint64_t retry = 0;
    report(o, "gw-1 1 0", 1000);
    cr_expect_not(bf_overload_want_clients(o, 1400), "not silent yet");
    cr_expect_null(bf_overload_check(o, 1400, &retry));
    /* silent: behind until Redis' client list says otherwise */
    cr_expect(bf_overload_want_clients(o, 1600));
    cr_expect_not(bf_overload_want_clients(o, 1600), "one list at a time");
    const char *why = bf_overload_check(o, 1600, &retry);
    cr_assert_not_null(why);
    cr_expect(strstr(why, "gw-1 has not reported"), "%s", why);
    cr_expect_eq(retry, 500);
    /* stopped: its subscriber link is still open */
    bf_overload_clients(o,
                        "id=7 addr=127.0.0.1:5 name=belfry:gwsub:gw-10 omem=0\n"
                        "id=8 addr=127.0.0.1:6 name=belfry:gwsub:gw-1 omem=8000000 cmd=ssub\n",
                        1610);
    cr_expect_not_null(bf_overload_check(o, 1620, &retry));
    cr_expect_not(bf_overload_want_clients(o, 1620), "the list taken after it fell silent holds");
    /* a new report ends the silence */
    report(o, "gw-1 2 0", 1700);
    cr_expect_null(bf_overload_check(o, 1700, &retry));
    bf_overload_free(o);
}

Test(router_overload, a_silent_gateway_whose_link_is_gone_is_dead_not_behind)
{
    bf_overload *o = mk();
    uint64_t retry;
    report(o, "gw-1 1 0", 1000);
    cr_expect(bf_overload_want_clients(o, 1600));
    /* only a gateway whose name merely starts with ours */
    bf_overload_clients(o, "id=7 addr=127.0.0.1:5 name=belfry:gwsub:gw-10 omem=0\n", 1605);
    cr_expect_null(bf_overload_check(o, 1610, &retry));
    /* a failed list leaves it behind and is asked again */
    report(o, "gw-1 1 0", 2000);
    cr_expect(bf_overload_want_clients(o, 2600));
    bf_overload_clients(o, NULL, 2600);
    cr_expect_not_null(bf_overload_check(o, 2600, &retry));
    cr_expect(bf_overload_want_clients(o, 2700));
    bf_overload_free(o);
}

Test(router_overload, a_gateway_that_left_the_membership_is_forgotten)
{
    bf_overload *o = mk();
    uint64_t retry;
    report(o, "gw-1 50 1", 1000);
    report(o, "gw-2 50 1", 1000);
    const char *live[] = {"gw-2"};
    bf_overload_set_live(o, live, 1);
    const char *why = bf_overload_check(o, 1001, &retry);
    cr_assert_not_null(why);
    cr_expect(strstr(why, "gw-2"), "%s", why);
    bf_overload_set_live(o, NULL, 0);
    cr_expect_null(bf_overload_check(o, 1002, &retry));
    bf_overload_free(o);
}
