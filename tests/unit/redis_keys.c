/* Unit tests for common/redis_keys.h: every Redis key and subject name. */
#include "redis_keys.h"
#include "err.h"

#include <criterion/criterion.h>
#include <string.h>

static const struct {
    bf_key_kind kind;
    const char *arg;  /* NULL for kinds without an argument */
    const char *want; /* with the default prefix */
} KEYS[] = {
    {BF_KEY_SEQ, "chat", "belfry:seq:chat"},
    {BF_KEY_FAN, "private-room", "belfry:fan:private-room"},
    {BF_KEY_PUBLISH, "news", "belfry:publish:news"},
    {BF_KEY_ROUTERS, NULL, "belfry:routers"},
    {BF_KEY_GATEWAYS, NULL, "belfry:gateways"},
    {BF_KEY_RING_EPOCH, NULL, "belfry:ring:epoch"},
    {BF_KEY_NODE, "rt-1", "belfry:node:rt-1"},
    {BF_KEY_INBOX, "rt-2", "belfry:inbox:rt-2"},
    {BF_KEY_PRESENCE, "presence-lobby", "belfry:presence:presence-lobby"},
    {BF_KEY_PUSERS, "presence-lobby", "belfry:pusers:presence-lobby"},
    {BF_KEY_CONNS, "presence-lobby", "belfry:conns:presence-lobby"},
};
#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))

Test(redis_keys, every_kind_with_default_prefix)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char out[BF_KEY_MAX];
        int n = bf_key(out, "belfry:", KEYS[i].kind, KEYS[i].arg);
        cr_expect_eq(n, (int)strlen(KEYS[i].want), "kind %d length", KEYS[i].kind);
        cr_expect_str_eq(out, KEYS[i].want);
    }
}

Test(redis_keys, table_covers_every_kind)
{
    /* if a kind is added to the enum, add it to KEYS above */
    cr_expect_eq(NKEYS, BF_KEY_CONNS + 1);
    for (size_t i = 0; i < NKEYS; i++) cr_expect_eq(KEYS[i].kind, (bf_key_kind)i);
}

Test(redis_keys, kinds_are_distinct)
{
    /* with the same argument no two kinds may name the same key */
    char a[BF_KEY_MAX], b[BF_KEY_MAX];
    for (size_t i = 0; i < NKEYS; i++)
        for (size_t j = i + 1; j < NKEYS; j++) {
            bf_key(a, "p:", KEYS[i].kind, KEYS[i].arg ? "x" : NULL);
            bf_key(b, "p:", KEYS[j].kind, KEYS[j].arg ? "x" : NULL);
            cr_expect_str_neq(a, b, "kinds %zu and %zu collide", i, j);
        }
}

Test(redis_keys, custom_prefix)
{
    char out[BF_KEY_MAX];
    cr_expect_eq(bf_key(out, "tenant42:", BF_KEY_SEQ, "chat"), 17);
    cr_expect_str_eq(out, "tenant42:seq:chat");
    cr_expect_gt(bf_key(out, "{app}.", BF_KEY_ROUTERS, NULL), 0);
    cr_expect_str_eq(out, "{app}.routers");
    cr_expect_gt(bf_key(out, "", BF_KEY_INBOX, "rt"), 0);
    cr_expect_str_eq(out, "inbox:rt");
}

Test(redis_keys, publish_pattern)
{
    char out[BF_KEY_MAX];
    cr_expect_eq(bf_key_publish_pattern(out, "belfry:"), 16);
    cr_expect_str_eq(out, "belfry:publish:*");
    bf_key_publish_pattern(out, "x:");
    cr_expect_str_eq(out, "x:publish:*");
}

Test(redis_keys, strip_round_trip)
{
    const char *prefixes[] = {"belfry:", "t1:", ""};
    for (size_t p = 0; p < 3; p++)
        for (size_t i = 0; i < NKEYS; i++) {
            if (!KEYS[i].arg) continue;
            char out[BF_KEY_MAX];
            cr_assert_gt(bf_key(out, prefixes[p], KEYS[i].kind, KEYS[i].arg), 0);
            const char *got = bf_key_strip(out, prefixes[p], KEYS[i].kind);
            cr_assert_not_null(got, "%s", out);
            cr_expect_str_eq(got, KEYS[i].arg);
            cr_expect(got > out && got < out + strlen(out), "points into the subject");
        }
}

Test(redis_keys, strip_keeps_colons_in_the_argument)
{
    const char *got = bf_key_strip("belfry:fan:presence-game:3", "belfry:", BF_KEY_FAN);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, "presence-game:3");
}

Test(redis_keys, strip_non_matching)
{
    cr_expect_null(bf_key_strip("other:fan:chat", "belfry:", BF_KEY_FAN), "other prefix");
    cr_expect_null(bf_key_strip("belfry:seq:chat", "belfry:", BF_KEY_FAN), "other kind");
    cr_expect_null(bf_key_strip("belfry:fanchat", "belfry:", BF_KEY_FAN), "no colon");
    cr_expect_null(bf_key_strip("belfry:fa", "belfry:", BF_KEY_FAN), "cut in the kind");
    cr_expect_null(bf_key_strip("belf", "belfry:", BF_KEY_FAN), "cut in the prefix");
    cr_expect_null(bf_key_strip("", "belfry:", BF_KEY_INBOX), "empty subject");
    cr_expect_null(bf_key_strip("fan:chat", "belfry:", BF_KEY_FAN), "prefix missing");
    cr_expect_null(bf_key_strip("belfry:publish:chat", "belfry:", BF_KEY_PRESENCE));
    cr_expect_null(bf_key_strip("BELFRY:fan:chat", "belfry:", BF_KEY_FAN), "case matters");
}

Test(redis_keys, overflow_returns_erange)
{
    char prefix[BF_PREFIX_MAX + 1], arg[400], out[BF_KEY_MAX];
    memset(prefix, 'p', BF_PREFIX_MAX);
    prefix[BF_PREFIX_MAX] = '\0';
    memset(arg, 'a', sizeof(arg) - 1);
    arg[sizeof(arg) - 1] = '\0';
    cr_expect_eq(bf_key(out, prefix, BF_KEY_FAN, arg), BF_ERANGE);
    cr_expect_eq(bf_key(out, "belfry:", BF_KEY_FAN, arg), BF_ERANGE);

    /* the boundary: a key of BF_KEY_MAX - 1 bytes fits with its NUL, one more does not */
    size_t room = BF_KEY_MAX - 1 - strlen("belfry:fan:");
    arg[room] = '\0';
    cr_expect_eq(bf_key(out, "belfry:", BF_KEY_FAN, arg), BF_KEY_MAX - 1);
    cr_expect_eq(strlen(out), BF_KEY_MAX - 1);
    arg[room] = 'a';
    arg[room + 1] = '\0';
    cr_expect_eq(bf_key(out, "belfry:", BF_KEY_FAN, arg), BF_ERANGE);
    cr_expect_lt(strlen(out), BF_KEY_MAX, "out stays NUL-terminated");
}

Test(redis_keys, longest_real_key_fits)
{
    /* the largest legitimate key: longest prefix, longest kind, longest channel (164 bytes) */
    char prefix[BF_PREFIX_MAX + 1], chan[165], out[BF_KEY_MAX];
    memset(prefix, 'p', BF_PREFIX_MAX);
    prefix[BF_PREFIX_MAX] = '\0';
    memset(chan, 'c', 164);
    chan[164] = '\0';
    for (size_t i = 0; i < NKEYS; i++)
        cr_expect_gt(bf_key(out, prefix, KEYS[i].kind, KEYS[i].arg ? chan : NULL), 0, "kind %zu",
                     i);
}
