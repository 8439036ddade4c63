/* Unit tests for bench/payload.h: the load generator's message payload, written at publish and
 * found again in whatever frame the server under test wraps it in. A wrong parse here would show
 * up as loss or as a wrong latency in every benchmark, so the scanner is checked on its own. */
#include "bench/payload.c"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(bench_payload, round_trip_at_the_requested_size)
{
    char buf[256];
    bb_payload in = {.t = 1234567890123456789ull, .g = 42, .c = 7, .k = 3}, out = {0};
    int n = bb_payload_write(buf, sizeof(buf), 100, &in);
    cr_assert_eq(n, 100);
    cr_assert_eq(bb_payload_find(buf, (size_t)n, &out), 0);
    cr_expect_eq(out.t, in.t);
    cr_expect_eq(out.g, 42);
    cr_expect_eq(out.c, 7);
    cr_expect_eq(out.k, 3);
}

Test(bench_payload, too_small_a_buffer_is_refused)
{
    char buf[16];
    bb_payload in = {.t = 1, .g = 1, .c = 1};
    cr_expect_eq(bb_payload_write(buf, sizeof(buf), 100, &in), -1);
}

Test(bench_payload, found_inside_a_server_envelope_with_underscores_before_it)
{
    /* underscores in the channel name and the event, a "_t" inside a string value, and spaces
     * around the colons: only the real keys count */
    const char *f = "{\"event\":\"my_event\",\"channel\":\"room_1\",\"note\":\"x_t\","
                    "\"data\":{\"_t\" : 99,\"_g\":5, \"_c\":3,\"_k\":1,\"_p\":\"xx\"},\"seq\":8}";
    bb_payload out = {0};
    cr_assert_eq(bb_payload_find(f, strlen(f), &out), 0);
    cr_expect_eq(out.t, 99);
    cr_expect_eq(out.g, 5);
    cr_expect_eq(out.c, 3);
    cr_expect_eq(out.k, 1);
}

Test(bench_payload, other_frames_are_not_payloads)
{
    const char *cases[] = {
        "{\"event\":\"presence:here\",\"data\":[]}",
        "{\"_t\":1,\"_g\":2}",              /* no channel */
        "{\"_t\":1,\"_g\":2,\"_c\":1}",     /* no publisher connection */
        "{\"_g\":2,\"_c\":1,\"_t\":1}",     /* _g must follow _t */
        "{\"_t\":\"1\",\"_g\":2,\"_c\":1}", /* not a number */
        "_",
        "\"_",
        "\"_t",
        "\"_t\"",
        "\"_t\":", /* truncated at every point */
        "",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bb_payload out;
        /* copied to an exact-size heap block so that ASan sees any read past the end */
        size_t len = strlen(cases[i]);
        char *p = malloc(len ? len : 1);
        memcpy(p, cases[i], len);
        cr_expect_eq(bb_payload_find(p, len, &out), -1, "case %zu: %s", i, cases[i]);
        free(p);
    }
}
