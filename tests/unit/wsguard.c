/* Unit tests for gateway/wsguard.h: the frame-header rules the gateway checks on the raw byte
 * stream, fed whole and split at every byte, and where a violation's frame begins. */
#include "gateway/wsguard.h"

#include <criterion/criterion.h>
#include <string.h>

/* A masked client frame header + payload of n bytes ('x') into out; returns its length. */
static size_t frame(uint8_t *out, uint8_t b0, size_t n, int masked)
{
    size_t o = 0;
    out[o++] = b0;
    uint8_t m = masked ? 0x80 : 0;
    if (n < 126) {
        out[o++] = (uint8_t)(m | n);
    } else if (n < 65536) {
        out[o++] = m | 126;
        out[o++] = (uint8_t)(n >> 8);
        out[o++] = (uint8_t)n;
    } else {
        out[o++] = m | 127;
        for (int i = 7; i >= 0; i--) out[o++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    if (masked) {
        memset(out + o, 0x5a, 4);
        o += 4;
    }
    memset(out + o, 'x', n);
    return o + n;
}

/* Feeds buf in pieces of `step` bytes; returns the verdict and the absolute offset of the
 * violating frame as reported (sum of bytes accepted). */
static bf_wsguard_verdict feed(const uint8_t *buf, size_t len, size_t step, size_t *accepted)
{
    bf_wsguard g;
    bf_wsguard_init(&g);
    *accepted = 0;
    for (size_t i = 0; i < len; i += step) {
        size_t n = len - i < step ? len - i : step, ok = 99999;
        bf_wsguard_verdict v = bf_wsguard_scan(&g, buf + i, n, &ok);
        *accepted += ok;
        if (v != BF_WSG_OK) return v;
        cr_assert_eq(ok, n);
    }
    return BF_WSG_OK;
}

static uint8_t buf[200000];

Test(wsguard, masked_frames_of_every_length_form_pass_at_any_split)
{
    size_t len = 0;
    len += frame(buf + len, 0x81, 0, 1);
    len += frame(buf + len, 0x81, 125, 1);
    len += frame(buf + len, 0x81, 126, 1);
    len += frame(buf + len, 0x82, 70000, 1);
    len += frame(buf + len, 0x89, 125, 1); /* ping at the limit */
    len += frame(buf + len, 0x88, 2, 1);
    size_t steps[] = {1, 2, 3, 7, 13, 4096, sizeof(buf)};
    for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
        size_t acc;
        cr_expect_eq(feed(buf, len, steps[i], &acc), BF_WSG_OK, "step %zu", steps[i]);
    }
}

/* `seen_at`: how many header bytes it takes to see the violation (2, or 3 for the length's top
 * bit). Nothing of the offending frame is passed on beyond the header bytes that came in earlier
 * pieces, so lws never holds a complete header of it. */
static void expect_violation(size_t good, size_t len, bf_wsguard_verdict want, size_t seen_at)
{
    size_t steps[] = {1, 2, 5, 100, sizeof(buf)};
    for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
        size_t acc;
        cr_expect_eq(feed(buf, len, steps[i], &acc), want, "step %zu", steps[i]);
        cr_expect_leq(acc, good + seen_at - 1,
                      "step %zu: %zu bytes passed, the bad frame starts at %zu", steps[i], acc,
                      good);
        if (steps[i] >= 100) cr_expect_eq(acc, good, "whole header in one piece");
    }
}

Test(wsguard, an_unmasked_frame_is_reported_where_it_begins)
{
    size_t good = frame(buf, 0x81, 300, 1);
    size_t len = good + frame(buf + good, 0x81, 5, 0);
    expect_violation(good, len, BF_WSG_UNMASKED, 2);
    cr_expect_str_eq(bf_wsguard_reason(BF_WSG_UNMASKED), "client frames must be masked");
}

Test(wsguard, control_frames_over_125_bytes_are_reported)
{
    size_t good = frame(buf, 0x81, 10, 1);
    size_t len = good + frame(buf + good, 0x89, 126, 1);
    expect_violation(good, len, BF_WSG_CONTROL_TOO_LONG, 2);
    len = good + frame(buf + good, 0x88, 200, 1); /* close */
    expect_violation(good, len, BF_WSG_CONTROL_TOO_LONG, 2);
    len = good + frame(buf + good, 0x8a, 126, 1); /* pong */
    expect_violation(good, len, BF_WSG_CONTROL_TOO_LONG, 2);
}

Test(wsguard, a_64_bit_length_with_the_top_bit_set_is_reported)
{
    size_t good = frame(buf, 0x81, 1, 1);
    uint8_t bad[] = {0x81, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    memcpy(buf + good, bad, sizeof(bad));
    expect_violation(good, good + sizeof(bad), BF_WSG_LENGTH_MSB, 3);
}
