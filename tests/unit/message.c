/* Unit tests for common/message.h: publish bodies, the frame prefix and rendered frames. */
#include "message.h"
#include "err.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------------------- */

static char err[BF_ERR_LEN];

static bf_msg_status parse_as(const char *body, bf_channel_type t, char **prefix, size_t *plen)
{
    err[0] = '\0';
    return bf_message_parse_publish(body, strlen(body), t, prefix, plen, err, sizeof(err));
}

/* Expects body to parse on a public channel into exactly the given prefix. */
static void expect_prefix(const char *body, const char *want)
{
    char *prefix = NULL;
    size_t plen = 0;
    cr_assert_eq(parse_as(body, BF_CH_PUBLIC, &prefix, &plen), BF_MSG_OK, "%s: %s", body, err);
    cr_assert_not_null(prefix);
    cr_expect_str_eq(prefix, want);
    cr_expect_eq(plen, strlen(want), "prefix_len matches");
    free(prefix);
}

static void expect_status(const char *body, bf_channel_type t, bf_msg_status want)
{
    char *prefix = NULL;
    size_t plen = 0;
    bf_msg_status st = parse_as(body, t, &prefix, &plen);
    cr_expect_eq(st, want, "%s: status %d, want %d (%s)", body, st, want, err);
    if (st != BF_MSG_OK) cr_expect_neq(err[0], '\0', "%s: an error message is given", body);
    free(prefix);
}

#define expect_bad_json(body) expect_status((body), BF_CH_PUBLIC, BF_MSG_BAD_JSON)
#define expect_bad_event(body) expect_status((body), BF_CH_PUBLIC, BF_MSG_BAD_EVENT)

#define has(s) cr_expect(strstr(err, (s)) != NULL, "err should mention '%s': %s", (s), err)

/* ---- accepted bodies --------------------------------------------------------------------- */

Test(publish, object_data_gives_exact_prefix)
{
    expect_prefix("{\"event\":\"Name\",\"data\":{\"a\":1,\"b\":[true,null]}}",
                  "{\"event\":\"Name\",\"data\":{\"a\":1,\"b\":[true,null]},\"seq\":");
}

Test(publish, whitespace_is_compacted_and_key_order_kept)
{
    expect_prefix(" {\n  \"data\" : { \"z\" : 1 , \"a\" : \"x y\" } ,\t\"event\" : \"e\" }\n",
                  "{\"event\":\"e\",\"data\":{\"z\":1,\"a\":\"x y\"},\"seq\":");
}

Test(publish, absent_data_is_null)
{
    expect_prefix("{\"event\":\"ping\"}", "{\"event\":\"ping\",\"data\":null,\"seq\":");
    expect_prefix("{\"event\":\"ping\",\"data\":null}",
                  "{\"event\":\"ping\",\"data\":null,\"seq\":");
}

Test(publish, scalar_and_array_data)
{
    expect_prefix("{\"event\":\"e\",\"data\":[1,\"two\",{}]}",
                  "{\"event\":\"e\",\"data\":[1,\"two\",{}],\"seq\":");
    expect_prefix("{\"event\":\"e\",\"data\":\"hello\"}",
                  "{\"event\":\"e\",\"data\":\"hello\",\"seq\":");
    expect_prefix("{\"event\":\"e\",\"data\":42}", "{\"event\":\"e\",\"data\":42,\"seq\":");
    expect_prefix("{\"event\":\"e\",\"data\":-7}", "{\"event\":\"e\",\"data\":-7,\"seq\":");
    expect_prefix("{\"event\":\"e\",\"data\":1.5}", "{\"event\":\"e\",\"data\":1.5,\"seq\":");
    expect_prefix("{\"event\":\"e\",\"data\":false}", "{\"event\":\"e\",\"data\":false,\"seq\":");
    expect_prefix("{\"event\":\"e\",\"data\":\"\"}", "{\"event\":\"e\",\"data\":\"\",\"seq\":");
}

Test(publish, unknown_keys_are_dropped)
{
    expect_prefix("{\"event\":\"e\",\"socket_id\":\"1.2\",\"data\":1,\"extra\":{}}",
                  "{\"event\":\"e\",\"data\":1,\"seq\":");
}

Test(publish, strings_are_escaped_in_the_prefix)
{
    expect_prefix("{\"event\":\"a\\\"b\\\\c\",\"data\":\"line\\nnext\\u0001\"}",
                  "{\"event\":\"a\\\"b\\\\c\",\"data\":\"line\\nnext\\u0001\",\"seq\":");
}

Test(publish, unicode_survives)
{
    expect_prefix("{\"event\":\"caf\xc3\xa9\",\"data\":\"\\u00e9\xe2\x82\xac\"}",
                  "{\"event\":\"caf\xc3\xa9\",\"data\":\"\xc3\xa9\xe2\x82\xac\",\"seq\":");
}

Test(publish, prefix_completes_to_a_valid_frame)
{
    char *prefix = NULL;
    size_t plen = 0;
    cr_assert_eq(parse_as("{\"event\":\"e\",\"data\":{\"k\":[1,2]}}", BF_CH_PUBLIC, &prefix, &plen),
                 BF_MSG_OK);
    char frame[256];
    snprintf(frame, sizeof(frame), "%s%d}", prefix, 31);
    json_error_t je;
    json_t *v = json_loads(frame, JSON_REJECT_DUPLICATES, &je);
    cr_assert_not_null(v, "frame %s: %s", frame, je.text);
    cr_expect_str_eq(json_string_value(json_object_get(v, "event")), "e");
    cr_expect_eq(json_integer_value(json_object_get(v, "seq")), 31);
    cr_expect(json_is_array(json_object_get(json_object_get(v, "data"), "k")));
    json_decref(v);
    free(prefix);
}

Test(publish, body_need_not_be_nul_terminated)
{
    const char *body = "{\"event\":\"e\"}GARBAGE";
    char *prefix = NULL;
    size_t plen = 0;
    cr_assert_eq(bf_message_parse_publish(body, 13, BF_CH_PUBLIC, &prefix, &plen, err, sizeof(err)),
                 BF_MSG_OK, "%s", err);
    cr_expect_str_eq(prefix, "{\"event\":\"e\",\"data\":null,\"seq\":");
    free(prefix);
}

/* ---- type -------------------------------------------------------------------------------- */

Test(publish, matching_type_is_accepted)
{
    expect_status("{\"event\":\"e\",\"type\":\"public\"}", BF_CH_PUBLIC, BF_MSG_OK);
    expect_status("{\"event\":\"e\",\"type\":\"private\"}", BF_CH_PRIVATE, BF_MSG_OK);
    expect_status("{\"event\":\"e\",\"type\":\"presence\"}", BF_CH_PRESENCE, BF_MSG_OK);
    expect_status("{\"event\":\"e\"}", BF_CH_PRESENCE, BF_MSG_OK);
}

Test(publish, type_is_not_part_of_the_frame)
{
    char *prefix = NULL;
    size_t plen;
    cr_assert_eq(parse_as("{\"type\":\"private\",\"event\":\"e\",\"data\":2}", BF_CH_PRIVATE,
                          &prefix, &plen),
                 BF_MSG_OK);
    cr_expect_str_eq(prefix, "{\"event\":\"e\",\"data\":2,\"seq\":");
    free(prefix);
}

Test(publish, contradicting_type_is_rejected)
{
    expect_status("{\"event\":\"e\",\"type\":\"public\"}", BF_CH_PRIVATE, BF_MSG_BAD_TYPE);
    has("public");
    has("private");
    expect_status("{\"event\":\"e\",\"type\":\"private\"}", BF_CH_PUBLIC, BF_MSG_BAD_TYPE);
    expect_status("{\"event\":\"e\",\"type\":\"presence\"}", BF_CH_PRIVATE, BF_MSG_BAD_TYPE);
    expect_status("{\"event\":\"e\",\"type\":\"private\"}", BF_CH_PRESENCE, BF_MSG_BAD_TYPE);
}

Test(publish, malformed_type_is_rejected)
{
    expect_status("{\"event\":\"e\",\"type\":\"secret\"}", BF_CH_PUBLIC, BF_MSG_BAD_TYPE);
    expect_status("{\"event\":\"e\",\"type\":1}", BF_CH_PUBLIC, BF_MSG_BAD_TYPE);
    expect_status("{\"event\":\"e\",\"type\":null}", BF_CH_PUBLIC, BF_MSG_BAD_TYPE);
    expect_status("{\"event\":\"e\",\"type\":\"\"}", BF_CH_PUBLIC, BF_MSG_BAD_TYPE);
}

/* ---- named: an unprefixed name plus a type, as on the WebSocket --------------------------- */

static bf_msg_status named(const char *name, const char *qtype, const char *body, char *channel)
{
    char *prefix = NULL;
    size_t plen;
    err[0] = '\0';
    strcpy(channel, "(unset)");
    bf_msg_status st = bf_message_parse_publish_named(body, strlen(body), name, qtype, channel,
                                                      &prefix, &plen, err, sizeof(err));
    if (st == BF_MSG_OK) {
        cr_expect_str_eq(prefix, "{\"event\":\"e\",\"data\":null,\"seq\":");
    } else {
        cr_expect_neq(err[0], '\0', "%s %s: an error message is given", name, body);
    }
    free(prefix);
    return st;
}

Test(publish_named, body_or_query_type_prefixes_an_unprefixed_name)
{
    char ch[BF_CHANNEL_MAX + 1];
    cr_expect_eq(named("orders.1", NULL, "{\"event\":\"e\",\"type\":\"private\"}", ch), BF_MSG_OK);
    cr_expect_str_eq(ch, "private-orders.1");
    cr_expect_eq(named("room", "presence", "{\"event\":\"e\"}", ch), BF_MSG_OK);
    cr_expect_str_eq(ch, "presence-room");
    cr_expect_eq(named("room", "presence", "{\"event\":\"e\",\"type\":\"presence\"}", ch),
                 BF_MSG_OK);
    cr_expect_str_eq(ch, "presence-room");
    cr_expect_eq(named("room", "", "{\"event\":\"e\"}", ch), BF_MSG_OK);
    cr_expect_str_eq(ch, "room");
    cr_expect_eq(named("room", NULL, "{\"event\":\"e\",\"type\":\"public\"}", ch), BF_MSG_OK);
    cr_expect_str_eq(ch, "room");
    cr_expect_eq(named("private-a", "private", "{\"event\":\"e\",\"type\":\"private\"}", ch),
                 BF_MSG_OK);
    cr_expect_str_eq(ch, "private-a");
}

Test(publish_named, contradictions_are_bad_type)
{
    char ch[BF_CHANNEL_MAX + 1];
    cr_expect_eq(named("private-a", NULL, "{\"event\":\"e\",\"type\":\"public\"}", ch),
                 BF_MSG_BAD_TYPE);
    cr_expect_eq(named("private-a", "presence", "{\"event\":\"e\"}", ch), BF_MSG_BAD_TYPE);
    cr_expect_eq(named("a", "private", "{\"event\":\"e\",\"type\":\"presence\"}", ch),
                 BF_MSG_BAD_TYPE);
    cr_expect(strstr(err, "?type="), "%s", err);
    cr_expect_eq(named("a", "bogus", "{\"event\":\"e\"}", ch), BF_MSG_BAD_TYPE);
    cr_expect_eq(named("a", NULL, "{\"event\":\"e\",\"type\":1}", ch), BF_MSG_BAD_TYPE);
}

Test(publish_named, too_long_once_prefixed_is_bad_channel)
{
    char ch[BF_CHANNEL_MAX + 1], name[BF_CHANNEL_MAX + 1];
    memset(name, 'a', BF_CHANNEL_MAX - 2);
    name[BF_CHANNEL_MAX - 2] = '\0';
    cr_expect_eq(named(name, "private", "{\"event\":\"e\"}", ch), BF_MSG_BAD_CHANNEL);
    cr_expect_eq(named(name, NULL, "{\"event\":\"e\"}", ch), BF_MSG_OK);
}

/* ---- bad JSON ---------------------------------------------------------------------------- */

Test(publish, not_json)
{
    expect_bad_json("");
    expect_bad_json("event=e");
    expect_bad_json("{\"event\":\"e\"");
    expect_bad_json("{\"event\":\"e\",}");
    expect_bad_json("{'event':'e'}");
    expect_bad_json("{\"event\":\"e\"} {}");
    has("JSON");
}

Test(publish, top_level_must_be_an_object)
{
    expect_bad_json("[{\"event\":\"e\"}]");
    has("object");
    expect_bad_json("\"event\"");
    expect_bad_json("42");
    expect_bad_json("null");
}

Test(publish, invalid_utf8_is_rejected)
{
    expect_bad_json("{\"event\":\"e\",\"data\":\"\xff\"}");
    expect_bad_json("{\"event\":\"caf\xc3\"}");
    expect_bad_json("{\"event\":\"e\",\"data\":\"\xc0\xaf\"}");     /* overlong '/' */
    expect_bad_json("{\"event\":\"e\",\"data\":\"\xed\xa0\x80\"}"); /* UTF-16 surrogate */
}

Test(publish, nul_escape_is_rejected)
{
    expect_status("{\"event\":\"a\\u0000b\"}", BF_CH_PUBLIC, BF_MSG_BAD_JSON);
}

Test(publish, duplicate_keys_are_rejected)
{
    expect_bad_json("{\"event\":\"e\",\"event\":\"presence:join\"}");
    expect_bad_json("{\"event\":\"e\",\"data\":1,\"data\":2}");
    expect_bad_json("{\"event\":\"e\",\"data\":{\"a\":1,\"a\":2}}");
}

/* ---- event names ------------------------------------------------------------------------- */

Test(publish, missing_event)
{
    expect_bad_event("{\"data\":1}");
    has("event");
    expect_bad_event("{}");
    expect_bad_event("{\"Event\":\"e\"}");
}

Test(publish, event_not_a_string)
{
    expect_bad_event("{\"event\":1}");
    has("string");
    expect_bad_event("{\"event\":null}");
    expect_bad_event("{\"event\":[\"e\"]}");
    expect_bad_event("{\"event\":{}}");
    expect_bad_event("{\"event\":true}");
}

Test(publish, empty_event)
{
    expect_bad_event("{\"event\":\"\"}");
    has("1-200");
}

static void event_of_len(char *body, size_t cap, const char *unit, size_t count)
{
    size_t n = (size_t)snprintf(body, cap, "{\"event\":\"");
    for (size_t i = 0; i < count; i++) n += (size_t)snprintf(body + n, cap - n, "%s", unit);
    snprintf(body + n, cap - n, "\"}");
}

Test(publish, event_length_limit_is_200_bytes)
{
    char body[1024];
    cr_assert_eq(BF_EVENT_MAX, 200);
    event_of_len(body, sizeof(body), "x", 200);
    expect_status(body, BF_CH_PUBLIC, BF_MSG_OK);
    event_of_len(body, sizeof(body), "x", 201);
    expect_bad_event(body);
    has("200");
    event_of_len(body, sizeof(body), "x", 1);
    expect_status(body, BF_CH_PUBLIC, BF_MSG_OK);
}

Test(publish, event_length_counts_bytes_not_characters)
{
    char body[1024];
    event_of_len(body, sizeof(body), "\xc3\xa9", 100); /* 200 bytes */
    expect_status(body, BF_CH_PUBLIC, BF_MSG_OK);
    event_of_len(body, sizeof(body), "\xc3\xa9", 101); /* 202 bytes */
    expect_bad_event(body);
    event_of_len(body, sizeof(body), "\\u00e9", 101); /* escaped: still 202 bytes decoded */
    expect_bad_event(body);
}

Test(publish, reserved_event_names_are_rejected)
{
    const char *bad[] = {
        "presence:join", "presence:leave", "presence:here", "presence:", "belfry:x",
        "belfry:",       "belfry:ping",    "whisper",       "error"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"event\":\"%s\",\"data\":1}", bad[i]);
        expect_bad_event(body);
        has("reserved");
    }
}

Test(publish, near_reserved_event_names_are_accepted)
{
    const char *ok[] = {"presence", "presence-join", "Presence:join", "belfry",   "belfry-x",
                        "errors",   "error:x",       "whispers",      "whisper:", "client-whisper",
                        "err"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"event\":\"%s\"}", ok[i]);
        expect_status(body, BF_CH_PUBLIC, BF_MSG_OK);
    }
}

Test(check_event, direct_calls)
{
    cr_expect_eq(bf_message_check_event("ok", 2, err, sizeof(err)), 0);
    cr_expect_eq(bf_message_check_event("", 0, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf_message_check_event("a\0b", 3, err, sizeof(err)), BF_EINVAL);
    has("NUL");
    /* len, not NUL, bounds the name: "errorX" cut at 5 is "error" */
    cr_expect_eq(bf_message_check_event("errorX", 5, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf_message_check_event("whisperX", 8, err, sizeof(err)), 0);
    cr_expect_eq(bf_message_check_event("presence:", 8, err, sizeof(err)), 0, "'presence'");
}

/* ---- render ------------------------------------------------------------------------------ */

static void expect_render(const char *event, const char *data, unsigned long long seq,
                          const char *want)
{
    size_t len = 0;
    char *s = bf_message_render(event, data, seq, &len);
    cr_assert_not_null(s);
    cr_expect_str_eq(s, want);
    cr_expect_eq(len, strlen(want));
    json_error_t je;
    json_t *v = json_loads(s, JSON_REJECT_DUPLICATES, &je);
    cr_expect_not_null(v, "rendered frame is JSON: %s (%s)", s, je.text);
    if (v) cr_expect_str_eq(json_string_value(json_object_get(v, "event")), event);
    json_decref(v);
    free(s);
}

Test(render, with_seq)
{
    expect_render("order.created", "{\"id\":9}", 7,
                  "{\"event\":\"order.created\",\"data\":{\"id\":9},\"seq\":7}");
    expect_render("e", "null", 9223372036854775807ULL,
                  "{\"event\":\"e\",\"data\":null,\"seq\":9223372036854775807}");
}

Test(render, largest_seq)
{
    /* beyond what jansson parses, so compare text only */
    size_t len;
    char *s = bf_message_render("e", "0", 18446744073709551615ULL, &len);
    cr_expect_str_eq(s, "{\"event\":\"e\",\"data\":0,\"seq\":18446744073709551615}");
    cr_expect_eq(len, strlen(s));
    free(s);
}

Test(render, without_seq)
{
    expect_render("presence:here", "[]", 0, "{\"event\":\"presence:here\",\"data\":[]}");
}

Test(render, event_is_escaped)
{
    expect_render("say \"hi\"", "1", 1, "{\"event\":\"say \\\"hi\\\"\",\"data\":1,\"seq\":1}");
    expect_render("a\\b", "1", 0, "{\"event\":\"a\\\\b\",\"data\":1}");
    expect_render("t\tn\nr\r", "1", 0, "{\"event\":\"t\\tn\\nr\\r\",\"data\":1}");
    expect_render("c\x01\x1f", "1", 0, "{\"event\":\"c\\u0001\\u001F\",\"data\":1}");
    expect_render("caf\xc3\xa9", "1", 0, "{\"event\":\"caf\xc3\xa9\",\"data\":1}");
}

Test(render, data_is_verbatim)
{
    expect_render("e", "{\"b\": 2, \"a\" : [1]}", 3,
                  "{\"event\":\"e\",\"data\":{\"b\": 2, \"a\" : [1]},\"seq\":3}");
}

Test(render, large_data)
{
    size_t n = 50000;
    char *data = malloc(n + 3);
    data[0] = '"';
    memset(data + 1, 'x', n);
    strcpy(data + 1 + n, "\"");
    size_t len;
    char *s = bf_message_render("big", data, 99, &len);
    cr_expect_eq(len, strlen("{\"event\":\"big\",\"data\":,\"seq\":99}") + n + 2);
    cr_expect_eq(strlen(s), len);
    const char *tail = "xx\",\"seq\":99}";
    cr_expect_str_eq(s + len - strlen(tail), tail);
    free(s);
    free(data);
}
