/* Unit tests for common/backoff.h: the one retry-delay rule (doubling, cap, jitter bounds). */
#include "common/backoff.h"

#include <criterion/criterion.h>
#include <stdint.h>

Test(backoff, doubles_from_initial_to_the_cap)
{
    bf_backoff b = {100, 2000, 0};
    const uint64_t want[] = {100, 200, 400, 800, 1600, 2000, 2000};
    for (unsigned i = 0; i < sizeof(want) / sizeof(*want); i++)
        cr_expect_eq(bf_backoff_delay(&b, i, 12345), want[i], "attempt %u", i);
    cr_expect_eq(bf_backoff_delay(&b, 4000000000u, 0), 2000, "no overflow on huge attempts");
}

Test(backoff, jitter_stays_within_its_percent_and_the_cap)
{
    bf_backoff b = {1000, 30000, 20};
    cr_expect_eq(bf_backoff_delay(&b, 0, 0), 800, "rnd 0: -20%");
    cr_expect_eq(bf_backoff_delay(&b, 0, UINT32_MAX), 1200, "rnd max: +20%");
    cr_expect_eq(bf_backoff_delay(&b, 0, UINT32_MAX / 2), 1000, "the middle: no change");
    for (unsigned a = 0; a < 10; a++)
        for (uint32_t r = 0; r < 0xffff0000u; r += 0x0fff0001u) {
            uint64_t d = bf_backoff_delay(&b, a, r);
            uint64_t base = a < 5 ? 1000u << a : 30000;
            cr_expect(d >= base - base / 5 && d <= base + base / 5 && d <= 30000,
                      "attempt %u rnd %u: %llu", a, r, (unsigned long long)d);
        }
}

Test(backoff, a_cap_below_the_initial_delay_wins)
{
    bf_backoff b = {500, 300, 50};
    for (uint32_t r = 0; r < 0xf0000000u; r += 0x10000000u)
        cr_expect_leq(bf_backoff_delay(&b, 0, r), 300);
}
