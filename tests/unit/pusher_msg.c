/* Unit tests for gateway/pusher_msg.h: the Pusher wire format (client frames in, server frames
 * out), including the translation of native fan-out frames. */
#include "gateway/pusher_msg.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static bf_pmsg_kind parse(const char *s, bf_pusher_msg *m)
{
    return bf_pusher_msg_parse(s, strlen(s), m);
}

Test(pusher_msg, ping_pong)
{
    bf_pusher_msg m;
    cr_expect_eq(parse("{\"event\":\"pusher:ping\",\"data\":{}}", &m), BF_PMSG_PING);
    bf_pusher_msg_free(&m);
    cr_expect_eq(parse("{\"event\":\"pusher:pong\"}", &m), BF_PMSG_PONG);
    bf_pusher_msg_free(&m);
}

Test(pusher_msg, subscribe_with_object_or_string_data)
{
    bf_pusher_msg m;
    cr_assert_eq(parse("{\"event\":\"pusher:subscribe\",\"data\":{\"auth\":\"k:s\",\"channel\":"
                       "\"presence-r\",\"channel_data\":\"{\\\"user_id\\\":1}\"}}",
                       &m),
                 BF_PMSG_SUBSCRIBE);
    cr_expect_str_eq(m.channel, "presence-r");
    cr_expect_str_eq(m.auth, "k:s");
    cr_expect_str_eq(m.channel_data, "{\"user_id\":1}");
    bf_pusher_msg_free(&m);
    /* other SDKs send data as a JSON string */
    cr_assert_eq(
        parse("{\"event\":\"pusher:subscribe\",\"data\":\"{\\\"channel\\\":\\\"news\\\"}\"}", &m),
        BF_PMSG_SUBSCRIBE);
    cr_expect_str_eq(m.channel, "news");
    cr_expect_str_eq(m.auth, "");
    cr_expect_null(m.channel_data);
    bf_pusher_msg_free(&m);
    cr_assert_eq(parse("{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"news\"}}", &m),
                 BF_PMSG_UNSUBSCRIBE);
    cr_expect_str_eq(m.channel, "news");
    bf_pusher_msg_free(&m);
}

Test(pusher_msg, errors_say_what_is_wrong)
{
    struct {
        const char *in, *msg;
    } cases[] = {
        {"not json", "JSON objects"},
        {"[1,2]", "JSON objects"},
        {"{\"data\":{}}", "missing \"event\""},
        {"{\"event\":\"pusher:nope\"}", "unknown event"},
        {"{\"event\":\"pusher:subscribe\",\"data\":3}", "must be an object"},
        {"{\"event\":\"pusher:subscribe\",\"data\":{}}", "data.channel"},
        {"{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"a b\"}}", "invalid channel"},
        {"{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"a\",\"auth\":5}}", "data.auth"},
        {"{\"event\":\"client-x\",\"data\":{}}", "valid \"channel\""},
        {"{\"event\":\"pusher:signin\",\"data\":{}}", "user_data"},
        {"{\"event\":\"pusher:ping\",\"event\":\"x\"}", "JSON objects"}, /* duplicate keys */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bf_pusher_msg m;
        cr_expect_eq(parse(cases[i].in, &m), BF_PMSG_ERROR, "%s", cases[i].in);
        cr_expect(m.message && strstr(m.message, cases[i].msg), "%s: %s", cases[i].in,
                  m.message ? m.message : "(null)");
        bf_pusher_msg_free(&m);
    }
}

Test(pusher_msg, channel_names)
{
    char longname[166];
    memset(longname, 'a', sizeof(longname));
    cr_expect(bf_pusher_channel_valid("private-encrypted-x=@,.;_-", 26));
    cr_expect(bf_pusher_channel_valid("#server-to-user-42", 18));
    cr_expect(!bf_pusher_channel_valid("#other", 6));
    cr_expect(!bf_pusher_channel_valid("a/b", 3), "'/' separates app scopes");
    cr_expect(!bf_pusher_channel_valid("a:b", 3));
    cr_expect(!bf_pusher_channel_valid("", 0));
    cr_expect(bf_pusher_channel_valid(longname, 164));
    cr_expect(!bf_pusher_channel_valid(longname, 165));
}

Test(pusher_msg, client_event_keeps_object_or_string_data)
{
    bf_pusher_msg m;
    cr_assert_eq(
        parse("{\"event\":\"client-typing\",\"channel\":\"private-c\",\"data\":{\"a\":1}}", &m),
        BF_PMSG_CLIENT_EVENT);
    cr_expect_str_eq(m.event, "client-typing");
    cr_expect_str_eq(m.data, "{\"a\":1}");
    bf_pusher_msg_free(&m);
    cr_assert_eq(parse("{\"event\":\"client-t\",\"channel\":\"private-c\",\"data\":\"s\"}", &m),
                 BF_PMSG_CLIENT_EVENT);
    cr_expect_str_eq(m.data, "\"s\"");
    bf_pusher_msg_free(&m);
}

static bf_fanout fan(bf_fan_kind kind, const char *frame)
{
    bf_fanout m = {.kind = kind, .channel = {"c", 1}, .seq = 1, .frame = {frame, strlen(frame)}};
    return m;
}

static void expect_json(char *got, const char *want)
{
    cr_assert_not_null(got);
    json_t *g = json_loads(got, 0, NULL), *w = json_loads(want, 0, NULL);
    cr_assert_not_null(w, "bad expectation %s", want);
    cr_expect(json_equal(g, w), "got %s\nwant %s", got, want);
    json_decref(g);
    json_decref(w);
    free(got);
}

Test(pusher_render, publish_data_is_a_json_string)
{
    size_t len;
    bf_fanout m = fan(BF_FAN_MESSAGE, "{\"event\":\"E\",\"data\":{\"x\":[1,2]},\"seq\":4}");
    expect_json(bf_pusher_render(&m, "news", &len),
                "{\"event\":\"E\",\"channel\":\"news\",\"data\":\"{\\\"x\\\":[1,2]}\"}");
    m = fan(BF_FAN_MESSAGE, "{\"event\":\"E\",\"data\":\"hi\",\"seq\":4}");
    expect_json(bf_pusher_render(&m, "news", &len),
                "{\"event\":\"E\",\"channel\":\"news\",\"data\":\"\\\"hi\\\"\"}");
    /* a Pusher HTTP publish: data exactly as its publisher sent it */
    m = fan(BF_FAN_MESSAGE, "{\"event\":\"E\",\"data\":{\"x\":1},\"seq\":4}");
    m.data_raw = (bf_strview){"{ \"x\" : 1 }", 11};
    expect_json(bf_pusher_render(&m, "news", &len),
                "{\"event\":\"E\",\"channel\":\"news\",\"data\":\"{ \\\"x\\\" : 1 }\"}");
}

Test(pusher_render, presence_events)
{
    size_t len;
    bf_fanout m = fan(BF_FAN_MESSAGE, "{\"event\":\"presence:join\",\"data\":{\"member\":{\"id\":"
                                      "\"u1\",\"joinedAt\":5,\"info\":{\"n\":\"A\"}}},\"seq\":2}");
    expect_json(
        bf_pusher_render(&m, "presence-r", &len),
        "{\"event\":\"pusher_internal:member_added\",\"channel\":\"presence-r\","
        "\"data\":\"{\\\"user_id\\\":\\\"u1\\\",\\\"user_info\\\":{\\\"n\\\":\\\"A\\\"}}\"}");
    m = fan(BF_FAN_MESSAGE,
            "{\"event\":\"presence:leave\",\"data\":{\"member\":{\"id\":\"u1\"}},\"seq\":3}");
    expect_json(bf_pusher_render(&m, "presence-r", &len),
                "{\"event\":\"pusher_internal:member_removed\",\"channel\":\"presence-r\","
                "\"data\":\"{\\\"user_id\\\":\\\"u1\\\"}\"}");
    m = fan(BF_FAN_DIRECT, "{\"event\":\"presence:here\",\"data\":{\"members\":[{\"id\":\"a\","
                           "\"info\":{}},{\"id\":\"b\",\"info\":{\"k\":1}}]},\"seq\":3}");
    char *out = bf_pusher_render(&m, "presence-r", &len);
    cr_assert_not_null(out);
    json_t *f = json_loads(out, 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(f, "event")),
                     "pusher_internal:subscription_succeeded");
    json_t *d = json_loads(json_string_value(json_object_get(f, "data")), 0, NULL);
    json_t *want =
        json_loads("{\"presence\":{\"ids\":[\"a\",\"b\"],\"hash\":{\"a\":{},\"b\":{\"k\":"
                   "1}},\"count\":2}}",
                   0, NULL);
    cr_expect(json_equal(d, want), "%s", out);
    json_decref(want);
    json_decref(d);
    json_decref(f);
    free(out);
}

Test(pusher_render, whispers_are_client_events_and_back)
{
    size_t len;
    bf_fanout m = fan(BF_FAN_EPHEMERAL, "{\"event\":\"whisper\",\"data\":{\"event\":\"typing\","
                                        "\"data\":{\"on\":true}},\"user_id\":\"u2\"}");
    expect_json(bf_pusher_render(&m, "private-c", &len),
                "{\"event\":\"client-typing\",\"channel\":\"private-c\",\"data\":"
                "\"{\\\"on\\\":true}\",\"user_id\":\"u2\"}");
    expect_json(bf_pusher_whisper_frame("client-typing", "{\"on\":true}", 11, "u2", &len),
                "{\"event\":\"whisper\",\"data\":{\"event\":\"typing\",\"data\":{\"on\":true}},"
                "\"user_id\":\"u2\"}");
}

Test(pusher_render, nothing_for_kicks_and_garbage)
{
    size_t len;
    bf_fanout m = fan(BF_FAN_KICK, "bye");
    cr_expect_null(bf_pusher_render(&m, "c", &len));
    m = fan(BF_FAN_MESSAGE, "not json");
    cr_expect_null(bf_pusher_render(&m, "c", &len));
    m = fan(BF_FAN_MESSAGE, "{\"data\":1}");
    cr_expect_null(bf_pusher_render(&m, "c", &len));
}

Test(pusher_render, errors)
{
    size_t len;
    expect_json(bf_pusher_error(4301, "slow down", &len),
                "{\"event\":\"pusher:error\",\"data\":{\"message\":\"slow down\",\"code\":4301}}");
    expect_json(bf_pusher_error(0, "bad", &len),
                "{\"event\":\"pusher:error\",\"data\":{\"message\":\"bad\",\"code\":null}}");
    expect_json(bf_pusher_subscription_error("private-x", "AuthError", "bad signature", 401, &len),
                "{\"event\":\"pusher:subscription_error\",\"channel\":\"private-x\",\"data\":{"
                "\"type\":\"AuthError\",\"error\":\"bad signature\",\"status\":401}}");
}
