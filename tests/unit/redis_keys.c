/* Unit tests for common/redis_keys.h: every Redis key and subject name, and its hash tag. */
#include "redis_keys.h"
#include "err.h"
#include "slot.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const struct {
    bf_key_kind kind;
    const char *arg;  /* NULL for kinds without an argument */
    const char *want; /* with the default prefix */
} KEYS[] = {
    {BF_KEY_SEQ, "chat", "belfry:seq:{chat}"},
    {BF_KEY_FAN, "private-room", "belfry:fan:{private-room}"},
    {BF_KEY_PUBLISH, "news", "belfry:publish:news"},
    {BF_KEY_ROUTERS, NULL, "belfry:{#}:routers"},
    {BF_KEY_GATEWAYS, NULL, "belfry:{#}:gateways"},
    {BF_KEY_RING_EPOCH, NULL, "belfry:{#}:ring:epoch"},
    {BF_KEY_NODE, "rt-1", "belfry:{#}:node:rt-1"},
    {BF_KEY_INBOX, "rt-2", "belfry:inbox:rt-2"},
    {BF_KEY_PRESENCE, "presence-lobby", "belfry:presence:{presence-lobby}"},
    {BF_KEY_PUSERS, "presence-lobby", "belfry:pusers:{presence-lobby}"},
    {BF_KEY_CONNS, "presence-lobby", "belfry:conns:{presence-lobby}"},
    {BF_KEY_GWCHANS, "gw-1", "belfry:{#}:gwchans:gw-1"},
    {BF_KEY_GWKNOWN, NULL, "belfry:{#}:gwknown"},
    {BF_KEY_PROBE, "gw-1", "belfry:probe:gw-1"},
    {BF_KEY_EPOCH, "app1/news", "belfry:epoch:{app1/news}"},
    {BF_KEY_HIST, "news", "belfry:hist:{news}"},
    {BF_KEY_PHERE, "presence-a", "belfry:phere:{presence-a}"},
    {BF_KEY_PREP, "presence-a", "belfry:prep:{presence-a}"},
    {BF_KEY_POPS, "presence-a", "belfry:pops:{presence-a}"},
    {BF_KEY_PPENDING, NULL, "belfry:{#}:ppending"},
    {BF_KEY_PGONE, "presence-a", "belfry:pgone:{presence-a}"},
    {BF_KEY_GWPRES, "gw-1", "belfry:{#}:gwpres:gw-1"},
    {BF_KEY_REDIS_REPLID, NULL, "belfry:{#}:redis:replid"},
    {BF_KEY_APPS_DEFAULT, NULL, "belfry:{#}:apps:default"},
    {BF_KEY_WEBHOOKS, NULL, "belfry:{#}:webhooks"},
    {BF_KEY_WEBHOOKS_ON, NULL, "belfry:{#}:webhooks:on"},
    {BF_KEY_WEBHOOKS_VACATING, NULL, "belfry:{#}:webhooks:vacating"},
    {BF_KEY_BACKLOG, NULL, "belfry:backlog"},
    {BF_KEY_BPROBE, "gw-1", "belfry:bprobe:gw-1"},
    {BF_KEY_GWSUB, "gw-1", "belfry:gwsub:gw-1"},
    {BF_KEY_OWNER, "app1/news", "belfry:owner:{app1/news}"},
    {BF_KEY_FDONE, "app1/news", "belfry:fdone:{app1/news}"},
    {BF_KEY_FDONE_NOTICE, NULL, "belfry:fdone"},
    {BF_KEY_FANOUT_WANTED, NULL, "belfry:{#}:fanout:wanted"},
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
    cr_expect_eq(NKEYS, BF_KEY_FANOUT_WANTED + 1);
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

Test(redis_keys, a_channels_keys_share_its_slot_and_cluster_wide_keys_one_slot)
{
    /* Redis Cluster runs a script only on keys of one slot: a channel's keys hash by the channel
     * name alone, every cluster-wide key by the fixed tag, whatever the prefix and argument */
    const char *channels[] = {"news", "presence-room.42", "private-a:b", "app1/x", "belfry"};
    const char *prefixes[] = {"belfry:", "t1:", ""};
    char global[BF_KEY_MAX];
    bf_key(global, "belfry:", BF_KEY_GATEWAYS, NULL);
    unsigned gslot = bf_slot_of_key(global, strlen(global));
    for (size_t p = 0; p < 3; p++)
        for (size_t c = 0; c < sizeof(channels) / sizeof(*channels); c++) {
            unsigned want = bf_slot_crc16(channels[c], strlen(channels[c])) % BF_SLOT_COUNT;
            for (size_t i = 0; i < NKEYS; i++) {
                char out[BF_KEY_MAX];
                cr_assert_gt(bf_key(out, prefixes[p], KEYS[i].kind, channels[c]), 0);
                unsigned got = bf_slot_of_key(out, strlen(out));
                if (bf_key_is_channel_kind(KEYS[i].kind))
                    cr_expect_eq(got, want, "%s", out);
                else if (strstr(out, "{#}"))
                    cr_expect_eq(got, gslot, "%s", out);
                else
                    cr_expect_null(strchr(out, '{'), "a subject carries no tag: %s", out);
            }
        }
}

Test(redis_keys, channel_kinds)
{
    const bf_key_kind tagged[] = {BF_KEY_SEQ,      BF_KEY_FAN,    BF_KEY_EPOCH, BF_KEY_HIST,
                                  BF_KEY_PRESENCE, BF_KEY_PUSERS, BF_KEY_CONNS, BF_KEY_PHERE,
                                  BF_KEY_PREP,     BF_KEY_POPS,   BF_KEY_PGONE, BF_KEY_OWNER,
                                  BF_KEY_FDONE};
    size_t n = 0;
    for (size_t i = 0; i < NKEYS; i++) n += bf_key_is_channel_kind(KEYS[i].kind) ? 1 : 0;
    cr_expect_eq(n, sizeof(tagged) / sizeof(*tagged));
    for (size_t i = 0; i < sizeof(tagged) / sizeof(*tagged); i++)
        cr_expect(bf_key_is_channel_kind(tagged[i]), "kind %d", tagged[i]);
}

Test(redis_keys, stems)
{
    /* what a script appends to: '{' .. channel .. '}' for a channel kind, the id otherwise */
    char out[BF_KEY_MAX];
    cr_expect_eq(bf_key_stem(out, "belfry:", BF_KEY_CONNS), 13);
    cr_expect_str_eq(out, "belfry:conns:");
    bf_key_stem(out, "belfry:", BF_KEY_FAN);
    cr_expect_str_eq(out, "belfry:fan:");
    bf_key_stem(out, "belfry:", BF_KEY_GWCHANS);
    cr_expect_str_eq(out, "belfry:{#}:gwchans:");
}

Test(redis_keys, custom_prefix)
{
    char out[BF_KEY_MAX];
    cr_expect_eq(bf_key(out, "tenant42:", BF_KEY_SEQ, "chat"), 19);
    cr_expect_str_eq(out, "tenant42:seq:{chat}");
    cr_expect_gt(bf_key(out, "app.", BF_KEY_ROUTERS, NULL), 0);
    cr_expect_str_eq(out, "app.{#}:routers");
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
            size_t len = 0;
            cr_assert_gt(bf_key(out, prefixes[p], KEYS[i].kind, KEYS[i].arg), 0);
            const char *got = bf_key_strip(out, prefixes[p], KEYS[i].kind, &len);
            cr_assert_not_null(got, "%s", out);
            cr_expect_eq(len, strlen(KEYS[i].arg), "%s", out);
            cr_expect_eq(memcmp(got, KEYS[i].arg, len), 0, "%s", out);
            cr_expect(got > out && got + len <= out + strlen(out), "points into the subject");
        }
}

Test(redis_keys, strip_keeps_colons_in_the_argument)
{
    size_t len;
    const char *got = bf_key_strip("belfry:fan:{presence-game:3}", "belfry:", BF_KEY_FAN, &len);
    cr_assert_not_null(got);
    cr_expect_eq(len, 15);
    cr_expect_eq(strncmp(got, "presence-game:3", len), 0);
    got = bf_key_strip("belfry:publish:a:b", "belfry:", BF_KEY_PUBLISH, &len);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, "a:b", "a subject's argument runs to its end");
    cr_expect_eq(len, 3);
}

Test(redis_keys, strip_non_matching)
{
    size_t l;
    cr_expect_null(bf_key_strip("other:fan:{chat}", "belfry:", BF_KEY_FAN, &l), "other prefix");
    cr_expect_null(bf_key_strip("belfry:seq:{chat}", "belfry:", BF_KEY_FAN, &l), "other kind");
    cr_expect_null(bf_key_strip("belfry:fan{chat}", "belfry:", BF_KEY_FAN, &l), "no colon");
    cr_expect_null(bf_key_strip("belfry:fa", "belfry:", BF_KEY_FAN, &l), "cut in the kind");
    cr_expect_null(bf_key_strip("belf", "belfry:", BF_KEY_FAN, &l), "cut in the prefix");
    cr_expect_null(bf_key_strip("", "belfry:", BF_KEY_INBOX, &l), "empty subject");
    cr_expect_null(bf_key_strip("fan:{chat}", "belfry:", BF_KEY_FAN, &l), "prefix missing");
    cr_expect_null(bf_key_strip("belfry:publish:chat", "belfry:", BF_KEY_PRESENCE, &l));
    cr_expect_null(bf_key_strip("BELFRY:fan:{chat}", "belfry:", BF_KEY_FAN, &l), "case matters");
    /* the old, untagged names are not a channel's */
    cr_expect_null(bf_key_strip("belfry:fan:chat", "belfry:", BF_KEY_FAN, &l), "no tag");
    cr_expect_null(bf_key_strip("belfry:fan:{chat", "belfry:", BF_KEY_FAN, &l), "open tag");
    cr_expect_null(bf_key_strip("belfry:fan:chat}", "belfry:", BF_KEY_FAN, &l), "half a tag");
    cr_expect_null(bf_key_strip("belfry:fan:{}", "belfry:", BF_KEY_FAN, &l), "empty tag");
    cr_expect_null(bf_key_strip("belfry:gwchans:gw", "belfry:", BF_KEY_GWCHANS, &l), "no {#}");
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
    size_t room = BF_KEY_MAX - 1 - strlen("belfry:fan:{}");
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

/* The record of a shard's replication id (common/failover.c) lies in the slot it is named for,
 * and is in no channel's slot by its name: its tag is "#<n>". Every slot has such a tag within
 * the function's bound (one pass over n, as the function's search would make for the last slot
 * found), and the function finds it (a sample of slots: each search costs about a millisecond). */
Test(redis_keys, a_shards_replid_record_is_in_its_slot_for_every_slot)
{
    static bool seen[BF_SLOT_COUNT];
    unsigned left = BF_SLOT_COUNT, n = 0;
    char tag[16];
    for (; left && n < (1u << 22); n++) {
        int len = snprintf(tag, sizeof(tag), "#%u", n);
        unsigned s = bf_slot_crc16(tag, (size_t)len) & (BF_SLOT_COUNT - 1);
        if (!seen[s]) left--;
        seen[s] = true;
    }
    cr_assert_eq(left, 0, "%u slots have no tag #<n> with n < 2^22", left);
    char k[BF_KEY_MAX];
    for (unsigned s = 0; s < BF_SLOT_COUNT; s += 97) {
        int len = bf_key_shard_replid(k, "belfry:", s);
        cr_assert_gt(len, 0, "slot %u", s);
        cr_assert_eq(bf_slot_of_key(k, (size_t)len), s, "%s", k);
        cr_assert(!strncmp(k, "belfry:{#", 9) && strstr(k, "}:redis:replid"), "%s", k);
    }
    cr_assert_gt(bf_key_shard_replid(k, "belfry:", 0), 0);
    cr_expect_str_eq(k, "belfry:{#4549}:redis:replid"); /* fixed: a record must be found again */
    char longp[BF_KEY_MAX];
    memset(longp, 'p', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    cr_expect_eq(bf_key_shard_replid(k, longp, 0), BF_ERANGE);
}
