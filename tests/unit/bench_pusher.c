/* Unit tests for bench/pusher.h: the load generator's own reading of Pusher frames. A wrong parse
 * here shows up as loss, failed connects or a wrong latency in the Pusher benchmarks, so the
 * scanner and the string decoder are checked on their own, on frames as the gateway renders them
 * and on everything a scanner could trip over. */
#include "bench/payload.c"
#include "bench/pusher.c"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Copies s into an exact-size heap block, so that ASan sees any read past its end. */
static char *exact(const char *s, size_t *len)
{
    *len = strlen(s);
    char *p = malloc(*len ? *len : 1);
    memcpy(p, s, *len);
    return p;
}

static int str_is(const char *p, size_t len, const char *want)
{
    return p && len == strlen(want) && !memcmp(p, want, len);
}

Test(bench_pusher, a_delivered_event_yields_the_payload_from_the_data_string)
{
    /* a native publish of {"event":"bench","data":{payload}} as a Pusher subscriber gets it: data
     * is the payload object JSON-encoded into a string */
    const char *f =
        "{\"event\":\"bench\",\"channel\":\"bench-7\",\"data\":\"{\\\"_t\\\":"
        "1234567890123,\\\"_g\\\":42,\\\"_c\\\":7,\\\"_k\\\":3,\\\"_p\\\":\\\"xx\\\"}\"}";
    size_t len;
    char *p = exact(f, &len), buf[256];
    const char *data = NULL;
    size_t dlen = 0;
    bb_payload pl = {0};
    cr_assert_eq(bb_pusher_payload(p, len, buf, sizeof(buf), &data, &dlen, &pl), 0);
    cr_expect_eq(pl.t, 1234567890123ull);
    cr_expect_eq(pl.g, 42);
    cr_expect_eq(pl.c, 7);
    cr_expect_eq(pl.k, 3);
    cr_expect(
        str_is(data, dlen, "{\"_t\":1234567890123,\"_g\":42,\"_c\":7,\"_k\":3,\"_p\":\"xx\"}"));
    /* the escaped keys are not found without decoding: the native scanner must not see them */
    bb_payload raw;
    cr_expect_eq(bb_payload_find(p, len, &raw), -1);
    free(p);
}

Test(bench_pusher, control_frames_are_parsed_whatever_the_key_order_and_spacing)
{
    const char *f = " { \"data\" : {\"socket_id\":\"1.2\",\"activity_timeout\":120} ,"
                    "\"event\" : \"pusher:connection_established\" } ";
    size_t len;
    char *p = exact(f, &len);
    bb_pusher_frame fr;
    cr_assert_eq(bb_pusher_parse(p, len, &fr), 0);
    cr_expect(bb_pusher_event_is(&fr, "pusher:connection_established"));
    cr_expect(!bb_pusher_event_is(&fr, "pusher:connection"));
    cr_expect_null(fr.channel);
    cr_expect_eq(fr.data_is_string, 0);
    cr_expect(str_is(fr.data, fr.data_len, "{\"socket_id\":\"1.2\",\"activity_timeout\":120}"));
    free(p);

    f = "{\"event\":\"pusher_internal:subscription_succeeded\",\"channel\":\"bench-0\","
        "\"data\":\"{}\"}";
    p = exact(f, &len);
    cr_assert_eq(bb_pusher_parse(p, len, &fr), 0);
    cr_expect(bb_pusher_event_is(&fr, "pusher_internal:subscription_succeeded"));
    cr_expect(str_is(fr.channel, fr.channel_len, "bench-0"));
    cr_expect(fr.data_is_string);
    cr_expect(str_is(fr.data, fr.data_len, "{}"));
    free(p);
}

Test(bench_pusher, braces_and_quotes_inside_strings_do_not_end_a_value)
{
    const char *f = "{\"data\":{\"a\":\"}\\\"]\",\"b\":[1,{\"c\":\"{\"}],\"d\":null},"
                    "\"x\":true,\"n\":-1.5e3,\"event\":\"e\\\"v\"}";
    size_t len;
    char *p = exact(f, &len);
    bb_pusher_frame fr;
    cr_assert_eq(bb_pusher_parse(p, len, &fr), 0);
    cr_expect(str_is(fr.event, fr.event_len, "e\\\"v"));
    cr_expect(
        str_is(fr.data, fr.data_len, "{\"a\":\"}\\\"]\",\"b\":[1,{\"c\":\"{\"}],\"d\":null}"));
    free(p);
}

Test(bench_pusher, malformed_and_truncated_frames_are_not_frames)
{
    const char *full = "{\"event\":\"bench\",\"channel\":\"c\",\"data\":\"{\\\"_t\\\":1}\"}";
    size_t flen = strlen(full);
    bb_pusher_frame fr;
    for (size_t cut = 0; cut < flen; cut++) { /* every proper prefix */
        char *p = malloc(cut ? cut : 1);
        memcpy(p, full, cut);
        cr_expect_eq(bb_pusher_parse(p, cut, &fr), -1, "prefix of %zu bytes", cut);
        free(p);
    }
    const char *cases[] = {
        "",
        "[]",
        "{}",
        "\"event\"",
        "{\"channel\":\"c\"}",                 /* no event */
        "{\"event\":1}",                       /* event not a string */
        "{\"event\":{\"a\":1}}",               /* nor an object */
        "{\"event\"\"bench\"}",                /* no colon */
        "{\"event\":\"a\" \"data\":1}",        /* no comma */
        "{\"event\":\"a\",}",                  /* trailing comma */
        "{\"event\":\"a\",\"data\":}",         /* no value */
        "{\"event\":\"a\nb\"}",                /* control character in a string */
        "{\"event\":\"a\",\"data\":{\"x\":1}", /* unclosed */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        char *p = exact(cases[i], &len);
        cr_expect_eq(bb_pusher_parse(p, len, &fr), -1, "case %zu: %s", i, cases[i]);
        free(p);
    }
    /* nesting deeper than the scanner follows is refused, not recursed into */
    char deep[300];
    size_t n = (size_t)snprintf(deep, sizeof(deep), "{\"event\":\"a\",\"data\":");
    while (n < 200) deep[n++] = '[';
    while (n < 280) deep[n++] = ']';
    deep[n++] = '}';
    cr_expect_eq(bb_pusher_parse(deep, n, &fr), -1);
}

Test(bench_pusher, events_without_a_payload_in_a_data_string_are_not_payloads)
{
    const char *cases[] = {
        /* data is an object (a Pusher server never sends an event's data that way) */
        "{\"event\":\"bench\",\"channel\":\"c\",\"data\":{\"_t\":1,\"_g\":2,\"_c\":0,\"_k\":0}}",
        /* no channel: a connection-level event */
        "{\"event\":\"bench\",\"data\":\"{\\\"_t\\\":1,\\\"_g\\\":2,\\\"_c\\\":0,\\\"_k\\\":0}\"}",
        /* a string without the keys */
        "{\"event\":\"bench\",\"channel\":\"c\",\"data\":\"hello\"}",
        /* a bad escape inside data */
        "{\"event\":\"bench\",\"channel\":\"c\",\"data\":\"\\q\"}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len, dlen = 0;
        char *p = exact(cases[i], &len), buf[128];
        const char *data = NULL;
        bb_payload pl;
        cr_expect_eq(bb_pusher_payload(p, len, buf, sizeof(buf), &data, &dlen, &pl), -1,
                     "case %zu: %s", i, cases[i]);
        free(p);
    }
}

Test(bench_pusher, unescape_decodes_every_escape_and_refuses_what_is_malformed)
{
    char out[64];
    const char *in = "a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac\\ud83d\\ude00";
    long n = bb_pusher_unescape(in, strlen(in), out, sizeof(out));
    const char want[] = "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    cr_assert_eq(n, (long)sizeof(want) - 1);
    cr_expect_eq(memcmp(out, want, sizeof(want) - 1), 0);

    const char *bad[] = {"\\", "\\x", "\\u12", "\\u12g4", "\\ud83d", "\\ud83d\\u0041", "\\ude00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len;
        char *p = exact(bad[i], &len);
        cr_expect_eq(bb_pusher_unescape(p, len, out, sizeof(out)), -1, "case %zu: %s", i, bad[i]);
        free(p);
    }
    /* too small an output buffer is refused, never overrun */
    cr_expect_eq(bb_pusher_unescape("abcd", 4, out, 3), -1);
    cr_expect_eq(bb_pusher_unescape("\\u20ac", 6, out, 2), -1);
    cr_expect_eq(bb_pusher_unescape("abc", 3, out, 3), 3);
}

Test(bench_pusher, the_subscribe_frame_is_what_pusher_js_sends)
{
    char out[128];
    int n = bb_pusher_subscribe_frame(out, sizeof(out), "bench-12");
    cr_assert_gt(n, 0);
    cr_expect_str_eq(out, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"bench-12\"}}");
    bb_pusher_frame fr;
    cr_assert_eq(bb_pusher_parse(out, (size_t)n, &fr), 0);
    cr_expect(bb_pusher_event_is(&fr, "pusher:subscribe"));
    cr_expect_eq(bb_pusher_subscribe_frame(out, 20, "bench-12"), -1);
    cr_expect_eq(bb_pusher_subscribe_frame(out, sizeof(out), "a\"b"), -1);
}

Test(bench_pusher, the_fast_path_takes_published_events_and_leaves_the_rest_to_the_parser)
{
    const char *ok = "{\"event\":\"bench\",\"channel\":\"bench-7\",\"data\":\"{\\\"_t\\\":1,"
                     "\\\"s\\\":\\\"a\\\\\\\\\\\"}\"}";
    size_t len;
    char *p = exact(ok, &len);
    const char *d = NULL;
    size_t dlen = 0;
    cr_assert_eq(bb_pusher_event_data(p, len, &d, &dlen), 0);
    cr_expect(str_is(d, dlen, "{\\\"_t\\\":1,\\\"s\\\":\\\"a\\\\\\\\\\\"}"));
    /* it agrees with the full parser */
    bb_pusher_frame fr;
    cr_assert_eq(bb_pusher_parse(p, len, &fr), 0);
    cr_expect(fr.data == d && fr.data_len == dlen);
    free(p);

    const char *no[] = {
        /* control frames, data not a string, no data, not ending in a string */
        "{\"event\":\"pusher:ping\",\"data\":\"{}\"}",
        "{\"event\":\"pusher_internal:subscription_succeeded\",\"channel\":\"c\",\"data\":\"{}\"}",
        "{\"event\":\"bench\",\"channel\":\"c\",\"data\":{\"a\":\"b\"}}",
        "{\"event\":\"bench\",\"channel\":\"c\"}",
        "{\"event\":\"b\",\"data\":\"\"}x",
        "{\"event\":\"",
        "",
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        p = exact(no[i], &len);
        cr_expect_eq(bb_pusher_event_data(p, len, &d, &dlen), -1, "case %zu: %s", i, no[i]);
        free(p);
    }
}

Test(bench_pusher, what_the_fast_path_lets_through_holds_no_payload_unless_it_is_one)
{
    /* data not the last member, or an escaped "closing" quote: the fast path is not sure of the
     * string's end, and neither the escaped scan nor the decoder finds a payload in what it got */
    const char *odd[] = {
        "{\"event\":\"bench\",\"data\":\"x\",\"channel\":\"c\"}",
        "{\"event\":\"bench\",\"channel\":\"c\",\"data\":\"x\\\"}",
    };
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        size_t len, dlen = 0;
        char *p = exact(odd[i], &len), buf[64];
        const char *d = NULL;
        bb_payload pl;
        cr_assert_eq(bb_pusher_event_data(p, len, &d, &dlen), 0, "case %zu", i);
        cr_expect_eq(bb_pusher_payload_escaped(d, dlen, &pl), -1, "case %zu", i);
        long n = bb_pusher_unescape(d, dlen, buf, sizeof(buf));
        cr_expect(n < 0 || bb_payload_find(buf, (size_t)n, &pl) == -1, "case %zu", i);
        free(p);
    }
}

Test(bench_pusher, the_escaped_scan_agrees_with_decoding_then_scanning)
{
    char pl_text[256], esc[512];
    bb_payload in = {.t = 987654321987ull, .g = 77, .c = 12, .k = 2}, a, b;
    int n = bb_payload_write(pl_text, sizeof(pl_text), 100, &in);
    cr_assert_gt(n, 0);
    size_t e = 0; /* JSON-encode it into a string body, as the gateway does */
    for (int i = 0; i < n; i++) {
        if (pl_text[i] == '"' || pl_text[i] == '\\') esc[e++] = '\\';
        esc[e++] = pl_text[i];
    }
    char *p = malloc(e);
    memcpy(p, esc, e);
    cr_assert_eq(bb_pusher_payload_escaped(p, e, &a), 0);
    char dec[256];
    long dn = bb_pusher_unescape(p, e, dec, sizeof(dec));
    cr_assert_eq(dn, n);
    cr_assert_eq(bb_payload_find(dec, (size_t)dn, &b), 0);
    cr_expect(a.t == in.t && a.g == in.g && a.c == in.c && a.k == in.k);
    cr_expect(b.t == in.t && b.g == in.g && b.c == in.c && b.k == in.k);
    /* every truncation before _k's digit is refused, never read past; from there on (the
     * padding) it is found, as bb_payload_find finds an unpadded payload */
    const char *kd = memmem(p, e, "_k\\\":", 5);
    cr_assert_not_null(kd);
    size_t first_ok = (size_t)(kd - p) + 6;
    for (size_t cut = 0; cut <= first_ok; cut++) {
        char *q = malloc(cut ? cut : 1);
        memcpy(q, p, cut);
        cr_expect_eq(bb_pusher_payload_escaped(q, cut, &a), cut < first_ok ? -1 : 0, "cut %zu",
                     cut);
        free(q);
    }
    free(p);
    /* unescaped keys (a payload not inside a string) are not what this scans for */
    const char *plain = "{\"_t\":1,\"_g\":2,\"_c\":3,\"_k\":4}";
    cr_expect_eq(bb_pusher_payload_escaped(plain, strlen(plain), &a), -1);
}
