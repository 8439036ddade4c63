/* Issue: private and presence channels — whispers, limits and client-message errors. */
#include "common.h"

static bf_cluster *C;

static void setup(void)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 2, .jwt_secret = IT_SECRET};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly");
}

TestSuite(whisper, .init = setup, .fini = teardown, .timeout = 60);

static bf_ws *priv(int gw, const char *channel, const char *user)
{
    char chans[256], path[4096];
    snprintf(chans, sizeof(chans), "[\"%s\"]", channel);
    char *t = it_token(user, chans, 600);
    snprintf(path, sizeof(path), "/ws/%s?token=%s", channel, t);
    free(t);
    return it_connect(C, gw, path, NULL);
}

static void send_str(bf_ws *w, const char *s)
{
    cr_assert_eq(bf_ws_send_text(w, s, strlen(s)), 0);
}

static void expect_error(bf_ws *w, const char *code, const char *who)
{
    json_t *j = it_recv_event(w, "error", 3000, who);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "data"), "code")), code,
                     "%s", who);
    cr_expect_null(json_object_get(j, "seq"), "error frames carry no seq");
    json_decref(j);
}

Test(whisper, relayed_to_every_other_connection_across_gateways_with_sender_id)
{
    const char *ch = "private-chat";
    bf_ws *a = priv(0, ch, "alice"), *b = priv(1, ch, "bob"), *c = priv(0, ch, "carol");
    it_wait_subscribed(C, ch, 2);
    /* the client-supplied user_id is ignored: the verified one is attached */
    send_str(a, "{\"event\":\"whisper\",\"channel\":\"private-chat\",\"user_id\":\"mallory\","
                "\"data\":{\"event\":\"typing\",\"data\":{\"on\":true}}}");
    for (int i = 0; i < 2; i++) {
        bf_ws *w = i ? c : b;
        json_t *j = it_recv_json(w, 3000, i ? "carol" : "bob");
        cr_expect_str_eq(json_string_value(json_object_get(j, "event")), "whisper");
        cr_expect_str_eq(json_string_value(json_object_get(j, "user_id")), "alice");
        json_t *d = json_object_get(j, "data");
        cr_expect_str_eq(json_string_value(json_object_get(d, "event")), "typing");
        cr_expect(json_is_true(json_object_get(json_object_get(d, "data"), "on")));
        cr_expect_null(json_object_get(j, "seq"), "whispers carry no seq");
        json_decref(j);
    }
    it_expect_silence(a, 300, "sender");
    /* channel may be omitted, or given without its prefix */
    send_str(b, "{\"event\":\"whisper\",\"data\":{\"event\":\"x\",\"data\":1}}");
    send_str(b, "{\"event\":\"whisper\",\"channel\":\"chat\",\"data\":{\"event\":\"y\"}}");
    json_t *j1 = it_recv_event(a, "whisper", 3000, "alice"),
           *j2 = it_recv_event(a, "whisper", 3000, "alice");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j2, "data"), "event")), "y");
    json_decref(j1);
    json_decref(j2);
    send_str(b, "{\"event\":\"whisper\",\"channel\":\"private-other\",\"data\":{}}");
    expect_error(b, "wrong_channel", "bob");
    bf_ws_close(a);
    bf_ws_close(b);
    bf_ws_close(c);
}

Test(whisper, refused_on_public_channels_by_default)
{
    bf_ws *a = it_connect(C, 0, "/ws/lobby", NULL), *b = it_connect(C, 1, "/ws/lobby", NULL);
    it_wait_subscribed(C, "lobby", 2);
    send_str(a, "{\"event\":\"whisper\",\"data\":{\"event\":\"spam\"}}");
    expect_error(a, "whisper_forbidden", "public sender");
    it_expect_silence(b, 300, "public listener");
    bf_ws_close(a);
    bf_ws_close(b);
}

Test(whisper, rate_limited_per_connection)
{
    const char *ch = "private-rate";
    bf_ws *a = priv(0, ch, "alice"), *b = priv(1, ch, "bob");
    it_wait_subscribed(C, ch, 2);
    for (int i = 0; i < 25; i++)
        send_str(a, "{\"event\":\"whisper\",\"data\":{\"event\":\"burst\"}}");
    int relayed = 0, limited = 0;
    bf_ws_msg m;
    while (bf_ws_recv(b, &m, 500) == 0) {
        relayed += strstr(m.data, "burst") != NULL;
        bf_ws_msg_free(&m);
    }
    while (bf_ws_recv(a, &m, 300) == 0) {
        limited += strstr(m.data, "rate_limited") != NULL;
        bf_ws_msg_free(&m);
    }
    /* burst 10 at 10/s: about 10 pass at once, the rest are refused one by one */
    cr_expect(relayed >= 10 && relayed <= 13, "relayed %d", relayed);
    cr_expect_eq(relayed + limited, 25, "relayed %d + limited %d", relayed, limited);
    bf_ws_close(a);
    bf_ws_close(b);
}

static int close_code_after(bf_ws *w)
{
    bf_ws_msg m;
    for (;;) {
        int rc = bf_ws_recv(w, &m, 3000);
        if (rc) return -rc;
        int op = m.opcode, code = m.close_code;
        bf_ws_msg_free(&m);
        if (op == 8) return code;
    }
}

Test(whisper, oversized_message_closes_1009_counting_all_fragments)
{
    bf_ws *a = priv(0, "private-big", "alice");
    char *big = malloc(11000);
    memset(big, 'a', 11000);
    bf_ws_send_frame(a, 1, 1, big, 11000, 1);
    cr_expect_eq(close_code_after(a), 1009);
    bf_ws_abort(a);
    /* three 4 KiB fragments: each under the limit, together over it */
    bf_ws *b = priv(0, "private-big", "bob");
    bf_ws_send_frame(b, 0, 1, big, 4000, 1);
    bf_ws_send_frame(b, 0, 0, big, 4000, 1);
    bf_ws_send_frame(b, 1, 0, big, 4000, 1);
    cr_expect_eq(close_code_after(b), 1009);
    bf_ws_abort(b);
    free(big);
    /* the gateway still serves */
    bf_ws *c = priv(0, "private-big", "carol");
    bf_ws_close(c);
}

Test(whisper, invalid_utf8_closes_1007_and_bad_json_keeps_the_connection)
{
    bf_ws *a = priv(1, "private-bytes", "alice");
    send_str(a, "not json at all");
    expect_error(a, "bad_json", "alice");
    send_str(a, "{\"event\":\"subscribe\",\"data\":{}}");
    expect_error(a, "unknown_event", "alice");
    send_str(a, "{\"event\":\"whisper\"}");
    expect_error(a, "bad_message", "alice");
    /* the connection is still usable */
    send_str(a, "{\"event\":\"nope\"}");
    expect_error(a, "unknown_event", "alice");
    const char bad[] = {'{', '"', 0xC3, 0x28, '"', '}'};
    bf_ws_send_frame(a, 1, 1, bad, sizeof(bad), 1);
    cr_expect_eq(close_code_after(a), 1007);
    bf_ws_abort(a);
}
