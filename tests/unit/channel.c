/* Unit tests for common/channel.h: name validation, type prefixes and ?type= resolution. */
#include "channel.h"
#include "err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------------------- */

static int validate(const char *s, size_t len, char *err)
{
    return bf_channel_validate(s, len, err, BF_ERR_LEN);
}

static int validate_str(const char *s)
{
    char err[BF_ERR_LEN];
    return validate(s, strlen(s), err);
}

/* Fills buf with n copies of c and a NUL; buf must hold n + 1 bytes. */
static char *repeat(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* ---- validation: accepted names ---------------------------------------------------------- */

Test(channel_validate, accepts_every_allowed_class)
{
    const char *ok[] = {"ABCXYZ", "abcxyz", "0123456789", "_", "-", "=",
                        "@",      ",",      ".",          ";", ":", "Az09_-=@,.;:"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_expect_eq(validate_str(ok[i]), 0, "'%s' should be valid", ok[i]);
}

Test(channel_validate, accepts_every_allowed_byte_individually)
{
    const char *allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-=@,.;:";
    for (const char *p = allowed; *p; p++) {
        char err[BF_ERR_LEN];
        cr_expect_eq(validate(p, 1, err), 0, "byte '%c' should be allowed", *p);
    }
}

Test(channel_validate, rejects_every_other_byte)
{
    const char *allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-=@,.;:";
    int n_ok = 0;
    for (int c = 0; c < 256; c++) {
        char b = (char)c, err[BF_ERR_LEN];
        int rc = validate(&b, 1, err);
        int want_ok = c != 0 && strchr(allowed, c) != NULL;
        cr_expect_eq(rc, want_ok ? 0 : BF_EINVAL, "byte 0x%02x: rc %d", c, rc);
        n_ok += rc == 0;
    }
    cr_expect_eq(n_ok, 26 + 26 + 10 + 8);
}

Test(channel_validate, length_one_is_ok)
{
    cr_expect_eq(validate_str("x"), 0);
}

Test(channel_validate, length_164_is_ok)
{
    char buf[BF_CHANNEL_MAX + 1];
    cr_assert_eq(BF_CHANNEL_MAX, 164);
    cr_expect_eq(validate_str(repeat(buf, 'a', 164)), 0);
}

Test(channel_validate, err_may_be_null)
{
    cr_expect_eq(bf_channel_validate("ok", 2, NULL, 0), 0);
    cr_expect_eq(bf_channel_validate("no way", 6, NULL, 0), BF_EINVAL);
    cr_expect_eq(bf_channel_validate("", 0, NULL, 0), BF_EINVAL);
}

Test(channel_validate, only_len_bytes_are_checked)
{
    /* A forbidden byte just past len must not matter. */
    char err[BF_ERR_LEN];
    cr_expect_eq(validate("abc/def", 3, err), 0);
}

/* ---- validation: rejected names ---------------------------------------------------------- */

Test(channel_validate, empty_is_rejected)
{
    char err[BF_ERR_LEN] = "";
    cr_expect_eq(validate("", 0, err), BF_EINVAL);
    cr_expect(strstr(err, "empty") != NULL, "err: %s", err);
}

Test(channel_validate, length_165_is_rejected)
{
    char buf[BF_CHANNEL_MAX + 2], err[BF_ERR_LEN] = "";
    cr_expect_eq(validate(repeat(buf, 'a', 165), 165, err), BF_EINVAL);
    cr_expect(strstr(err, "165") != NULL, "err names the length: %s", err);
    cr_expect(strstr(err, "164") != NULL, "err names the limit: %s", err);
}

static void expect_forbidden(const char *name, size_t len, size_t offset, unsigned char byte)
{
    char err[BF_ERR_LEN] = "", want[64];
    cr_expect_eq(validate(name, len, err), BF_EINVAL, "byte 0x%02x should be rejected", byte);
    snprintf(want, sizeof(want), "0x%02x", byte);
    cr_expect(strstr(err, want) != NULL, "err names the byte %s: %s", want, err);
    snprintf(want, sizeof(want), "offset %zu", offset);
    cr_expect(strstr(err, want) != NULL, "err names %s: %s", want, err);
}

Test(channel_validate, space_is_rejected)
{
    expect_forbidden("ab cd", 5, 2, ' ');
}

Test(channel_validate, slash_is_rejected)
{
    expect_forbidden("a/b", 3, 1, '/');
}

Test(channel_validate, question_mark_is_rejected)
{
    expect_forbidden("chan?type=x", 11, 4, '?');
}

Test(channel_validate, hash_is_rejected)
{
    expect_forbidden("#x", 2, 0, '#');
}

Test(channel_validate, percent_is_rejected)
{
    expect_forbidden("a%20", 4, 1, '%');
}

Test(channel_validate, nul_inside_len_is_rejected)
{
    expect_forbidden("abc\0def", 7, 3, 0);
}

Test(channel_validate, non_ascii_is_rejected)
{
    expect_forbidden("caf\xc3\xa9", 5, 3, 0xc3);
}

Test(channel_validate, control_chars_are_rejected)
{
    expect_forbidden("a\tb", 3, 1, '\t');
    expect_forbidden("ab\n", 3, 2, '\n');
    expect_forbidden("\x7f", 1, 0, 0x7f);
}

Test(channel_validate, first_bad_byte_is_reported)
{
    expect_forbidden("ok/then space", 13, 2, '/');
}

/* ---- types ------------------------------------------------------------------------------- */

Test(channel_type, prefixes)
{
    cr_expect_eq(bf_channel_type_of("chat"), BF_CH_PUBLIC);
    cr_expect_eq(bf_channel_type_of("private-chat"), BF_CH_PRIVATE);
    cr_expect_eq(bf_channel_type_of("presence-chat"), BF_CH_PRESENCE);
    cr_expect_eq(bf_channel_type_of("shop/presence-chat"), BF_CH_PRESENCE, "a scoped name");
    cr_expect_eq(bf_channel_type_of("shop/private-x"), BF_CH_PRIVATE);
    cr_expect_eq(bf_channel_type_of("presence-x/y"), BF_CH_PUBLIC, "the bare name decides");
    cr_expect_eq(bf_channel_type_of("private-"), BF_CH_PRIVATE);
    cr_expect_eq(bf_channel_type_of("presence-"), BF_CH_PRESENCE);
}

Test(channel_type, near_miss_prefixes_are_public)
{
    cr_expect_eq(bf_channel_type_of("private"), BF_CH_PUBLIC);
    cr_expect_eq(bf_channel_type_of("privatechat"), BF_CH_PUBLIC);
    cr_expect_eq(bf_channel_type_of("Private-chat"), BF_CH_PUBLIC);
    cr_expect_eq(bf_channel_type_of("presence"), BF_CH_PUBLIC);
    cr_expect_eq(bf_channel_type_of("presence_chat"), BF_CH_PUBLIC);
    cr_expect_eq(bf_channel_type_of("x-private-chat"), BF_CH_PUBLIC);
    cr_expect_eq(bf_channel_type_of(""), BF_CH_PUBLIC);
}

Test(channel_type, names_and_parse_round_trip)
{
    bf_channel_type ts[] = {BF_CH_PUBLIC, BF_CH_PRIVATE, BF_CH_PRESENCE};
    const char *names[] = {"public", "private", "presence"};
    for (int i = 0; i < 3; i++) {
        bf_channel_type t = (bf_channel_type)-1;
        cr_expect_str_eq(bf_channel_type_name(ts[i]), names[i]);
        cr_expect_eq(bf_channel_type_parse(names[i], &t), 0);
        cr_expect_eq(t, ts[i]);
    }
}

Test(channel_type, parse_rejects_unknown)
{
    bf_channel_type t = BF_CH_PRESENCE;
    cr_expect_eq(bf_channel_type_parse("Public", &t), BF_EINVAL);
    cr_expect_eq(bf_channel_type_parse("", &t), BF_EINVAL);
    cr_expect_eq(bf_channel_type_parse("privat", &t), BF_EINVAL);
    cr_expect_eq(bf_channel_type_parse("presence ", &t), BF_EINVAL);
    cr_expect_eq(t, BF_CH_PRESENCE, "out is untouched on error");
}

/* ---- resolve ----------------------------------------------------------------------------- */

static int resolve(const char *name, const char *type, char *out, char *err)
{
    return bf_channel_resolve(name, strlen(name), type, out, err, BF_ERR_LEN);
}

Test(channel_resolve, no_type_keeps_name)
{
    char out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN];
    cr_expect_eq(resolve("chat", NULL, out, err), 0);
    cr_expect_str_eq(out, "chat");
    cr_expect_eq(resolve("private-chat", NULL, out, err), 0);
    cr_expect_str_eq(out, "private-chat");
    cr_expect_eq(resolve("presence-chat", "", out, err), 0, "empty type is no type");
    cr_expect_str_eq(out, "presence-chat");
}

Test(channel_resolve, name_is_not_required_to_be_nul_terminated)
{
    char out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN];
    cr_expect_eq(bf_channel_resolve("chatXYZ", 4, "private", out, err, sizeof(err)), 0);
    cr_expect_str_eq(out, "private-chat");
    cr_expect_eq(bf_channel_resolve("room/rest", 4, NULL, out, err, sizeof(err)), 0);
    cr_expect_str_eq(out, "room");
}

Test(channel_resolve, public_on_plain_name)
{
    char out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN];
    cr_expect_eq(resolve("chat", "public", out, err), 0);
    cr_expect_str_eq(out, "chat");
}

Test(channel_resolve, private_on_plain_name_adds_prefix)
{
    char out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN];
    cr_expect_eq(resolve("chat", "private", out, err), 0);
    cr_expect_str_eq(out, "private-chat");
}

Test(channel_resolve, presence_on_plain_name_adds_prefix)
{
    char out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN];
    cr_expect_eq(resolve("chat", "presence", out, err), 0);
    cr_expect_str_eq(out, "presence-chat");
}

Test(channel_resolve, matching_type_on_prefixed_name_is_kept)
{
    char out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN];
    cr_expect_eq(resolve("private-chat", "private", out, err), 0);
    cr_expect_str_eq(out, "private-chat");
    cr_expect_eq(resolve("presence-chat", "presence", out, err), 0);
    cr_expect_str_eq(out, "presence-chat");
}

Test(channel_resolve, private_name_cannot_be_downgraded)
{
    char out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN] = "";
    cr_expect_eq(resolve("private-chat", "public", out, err), BF_EINVAL);
    cr_expect(strstr(err, "contradicts") != NULL, "err: %s", err);
    cr_expect(strstr(err, "private-") != NULL, "err names the prefix: %s", err);
    err[0] = '\0';
    cr_expect_eq(resolve("private-chat", "presence", out, err), BF_EINVAL);
    cr_expect(strstr(err, "contradicts") != NULL, "err: %s", err);
}

Test(channel_resolve, presence_name_cannot_be_changed)
{
    char out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN] = "";
    cr_expect_eq(resolve("presence-chat", "public", out, err), BF_EINVAL);
    cr_expect(strstr(err, "presence-") != NULL, "err: %s", err);
    cr_expect_eq(resolve("presence-chat", "private", out, err), BF_EINVAL);
}

Test(channel_resolve, unknown_type_is_rejected)
{
    char out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN] = "";
    cr_expect_eq(resolve("chat", "secret", out, err), BF_EINVAL);
    cr_expect(strstr(err, "public, private or presence") != NULL, "err: %s", err);
    cr_expect_eq(resolve("chat", "PRIVATE", out, err), BF_EINVAL);
}

Test(channel_resolve, invalid_name_is_rejected_with_validation_message)
{
    char out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN] = "";
    cr_expect_eq(resolve("bad name", "private", out, err), BF_EINVAL);
    cr_expect(strstr(err, "offset 3") != NULL, "err: %s", err);
    cr_expect_eq(resolve("", NULL, out, err), BF_EINVAL);
}

Test(channel_resolve, exactly_164_after_prefix_is_ok)
{
    char name[BF_CHANNEL_MAX + 1], out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN];
    repeat(name, 'n', BF_CHANNEL_MAX - 8); /* "private-" is 8 bytes */
    cr_expect_eq(resolve(name, "private", out, err), 0, "err: %s", err);
    cr_expect_eq(strlen(out), BF_CHANNEL_MAX);
    cr_expect(!strncmp(out, "private-nnn", 11));
    repeat(name, 'n', BF_CHANNEL_MAX - 9); /* "presence-" is 9 bytes */
    cr_expect_eq(resolve(name, "presence", out, err), 0, "err: %s", err);
    cr_expect_eq(strlen(out), BF_CHANNEL_MAX);
}

Test(channel_resolve, overflow_after_prefix_is_rejected)
{
    char name[BF_CHANNEL_MAX + 1], out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN] = "";
    /* BF_ETOOBIG: the HTTP API answers bad_channel for it, and bad_type for the other refusals */
    repeat(name, 'n', BF_CHANNEL_MAX - 7);
    cr_expect_eq(resolve(name, "private", out, err), BF_ETOOBIG);
    cr_expect(strstr(err, "164") != NULL, "err: %s", err);
    repeat(name, 'n', BF_CHANNEL_MAX - 8);
    cr_expect_eq(resolve(name, "presence", out, err), BF_ETOOBIG);
    repeat(name, 'n', BF_CHANNEL_MAX);
    cr_expect_eq(resolve(name, "private", out, err), BF_ETOOBIG);
}

Test(channel_resolve, max_length_name_without_type_is_ok)
{
    char name[BF_CHANNEL_MAX + 1], out[BF_CHANNEL_MAX + 1], err[BF_ERR_LEN];
    repeat(name, 'z', BF_CHANNEL_MAX);
    cr_expect_eq(resolve(name, NULL, out, err), 0);
    cr_expect_str_eq(out, name);
    cr_expect_eq(resolve(name, "public", out, err), 0);
    cr_expect_str_eq(out, name);
}
