/* Unit tests for common/redis.c's state machine: the legal transitions are the diagram in
 * redis.h, and an illegal one aborts in Debug/ASan builds (asserts are compiled out with NDEBUG,
 * in the release build types only). The file is included to reach its statics. */
#include "common/redis.c"

#include <criterion/criterion.h>
#include <signal.h>

#ifndef NDEBUG
Test(redis_link, the_legal_transitions_are_the_diagram)
{
    /* from -> to, as redis.h draws it */
    static const int want[7][7] = {
        /*                DOWN RES CONN HAND READY CLOSING CLOSED */
        [ST_DOWN] = {0, 1, 1, 0, 0, 0, 1},       [ST_RESOLVING] = {1, 0, 1, 0, 0, 0, 1},
        [ST_CONNECTING] = {1, 0, 0, 1, 0, 0, 1}, [ST_HANDSHAKE] = {1, 0, 0, 0, 1, 0, 1},
        [ST_READY] = {1, 0, 0, 0, 0, 1, 1},      [ST_CLOSING] = {0, 0, 0, 0, 0, 0, 1},
        [ST_CLOSED] = {0, 0, 0, 0, 0, 0, 0},
    };
    for (int f = ST_DOWN; f <= ST_CLOSED; f++)
        for (int t = ST_DOWN; t <= ST_CLOSED; t++)
            if (f != t)
                cr_expect_eq(legal((link_state)f, (link_state)t), want[f][t], "%s -> %s",
                             state_names[f], state_names[t]);
}

Test(redis_link, an_illegal_transition_aborts, .signal = SIGABRT)
{
    bf_redis_url url = {0};
    bf_redis_opts o = {.url = &url, .name = "t"};
    bf_redis *r = bf_redis_new(&o);
    set_state(r, ST_READY, NULL); /* DOWN -> READY skips the connection and the handshake */
    bf_redis_free(r);
}
#endif

/* Every build type: bf_redis_close on a link that never connected closes it for good. */
Test(redis_link, a_closed_link_stays_closed)
{
    bf_redis_url url = {0};
    bf_redis_opts o = {.url = &url, .name = "t"};
    bf_redis *r = bf_redis_new(&o);
    bf_redis_close(r); /* DOWN: nothing was sent, closed at once */
    cr_expect(bf_redis_closed(r));
    bf_redis_tick(r, bf_now_ms() + 100000); /* no reconnection */
    cr_expect(bf_redis_closed(r));
    cr_expect_eq(bf_redis_cmd(r, NULL, NULL, "PING"), BF_EDISCONNECTED);
    bf_redis_free(r);
}
