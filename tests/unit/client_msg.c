/* Unit tests for gateway/client_msg.h: what a client may send (a whisper) and the error code
 * every other message gets; the relayed frame carries only the verified user id. */
#include "gateway/client_msg.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static bf_client_msg out;

static bf_cmsg_kind parse(const bf_client_ctx *ctx, const char *msg)
{
    return bf_client_msg_parse(ctx, msg, strlen(msg), &out);
}

static void expect_error(const bf_client_ctx *ctx, const char *msg, const char *code)
{
    cr_expect_eq(parse(ctx, msg), BF_CMSG_ERROR, "%s", msg);
    cr_expect_str_eq(out.code ? out.code : "(null)", code, "%s", msg);
    cr_expect(out.message && *out.message, "%s: a message", msg);
    cr_expect_null(out.frame);
}

static const bf_client_ctx priv = {"private-chat", BF_CH_PRIVATE, "alice", false};
static const bf_client_ctx pub = {"news", BF_CH_PUBLIC, NULL, false};

Test(client_msg, a_whisper_becomes_a_frame_with_the_verified_user)
{
    cr_assert_eq(parse(&priv, "{\"event\":\"whisper\",\"channel\":\"private-chat\","
                              "\"data\":{\"typing\":true},\"user_id\":\"mallory\"}"),
                 BF_CMSG_WHISPER);
    cr_expect_str_eq(out.frame, "{\"event\":\"whisper\",\"data\":{\"typing\":true},"
                                "\"user_id\":\"alice\"}");
    cr_expect_eq(out.frame_len, strlen(out.frame));
    free(out.frame);
    /* "channel" may be omitted */
    cr_assert_eq(parse(&priv, "{\"event\":\"whisper\",\"data\":1}"), BF_CMSG_WHISPER);
    cr_expect_str_eq(out.frame, "{\"event\":\"whisper\",\"data\":1,\"user_id\":\"alice\"}");
    free(out.frame);
}

Test(client_msg, public_whispers_need_the_flag_and_carry_no_user)
{
    expect_error(&pub, "{\"event\":\"whisper\",\"data\":1}", "whisper_forbidden");
    bf_client_ctx open = pub;
    open.allow_public_whisper = true;
    open.user_id = "bob";
    cr_assert_eq(parse(&open, "{\"event\":\"whisper\",\"data\":1}"), BF_CMSG_WHISPER);
    cr_expect_str_eq(out.frame, "{\"event\":\"whisper\",\"data\":1}");
    free(out.frame);
}

Test(client_msg, everything_else_gets_its_error_code)
{
    expect_error(&priv, "", "bad_json");
    expect_error(&priv, "[1]", "bad_json");
    expect_error(&priv, "{\"event\":", "bad_json");
    expect_error(&priv, "{\"event\":\"a\",\"event\":\"b\"}", "bad_json"); /* duplicate keys */
    expect_error(&priv, "{\"data\":1}", "bad_message");
    expect_error(&priv, "{\"event\":5}", "bad_message");
    expect_error(&priv, "{\"event\":\"subscribe\"}", "unknown_event");
    expect_error(&priv, "{\"event\":\"whisper\"}", "bad_message"); /* no data */
    expect_error(&priv, "{\"event\":\"whisper\",\"channel\":\"private-other\",\"data\":1}",
                 "wrong_channel");
    expect_error(&priv, "{\"event\":\"whisper\",\"channel\":7,\"data\":1}", "wrong_channel");
}
