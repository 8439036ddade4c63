/* common/slot.c: Redis Cluster key slots. The vectors are the Redis Cluster specification's
 * CRC16 test vector and slots that redis-server 7.0.15 (Debian 12) itself gave for these keys
 * with CLUSTER KEYSLOT, hash-tag edge cases included. */
#include "redis_keys.h"
#include "slot.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(slot, crc16_specification_vector)
{
    cr_expect_eq(bf_slot_crc16("123456789", 9), 0x31C3);
    cr_expect_eq(bf_slot_crc16("", 0), 0);
}

static void slot_is(const char *key, unsigned want)
{
    cr_expect_eq(bf_slot_of_key(key, strlen(key)), want, "slot of '%s'", key);
}

Test(slot, matches_redis_cluster_keyslot)
{
    slot_is("123456789", 12739);
    slot_is("foo", 12182);
    slot_is("bar", 5061);
    slot_is("hello", 866);
    slot_is("", 0);
    slot_is("belfry:seq:news", 7492);
}

Test(slot, hash_tags)
{
    slot_is("{user1000}.following", 3443);
    slot_is("{user1000}.followers", 3443);
    slot_is("foo{bar}{zap}", 5061); /* the first tag only: "bar" */
    slot_is("foo{}{bar}", 8363);    /* an empty first tag: the whole key */
    slot_is("foo{{bar}}zap", 4015); /* from the first '{' to the first '}': "{bar" */
    slot_is("{}", 15257);
    slot_is("a{b", 13340); /* no closing brace: the whole key */
    slot_is("}{a}", 15495);
    slot_is("belfry:seq:{news}", 5161);
    slot_is("belfry:hist:{news}", 5161);
}

Test(slot, a_channels_tagged_keys_share_one_slot)
{
    /* redis_keys.h tags every per-channel kind with the channel name */
    const bf_key_kind kinds[] = {BF_KEY_SEQ,      BF_KEY_FAN,    BF_KEY_EPOCH, BF_KEY_HIST,
                                 BF_KEY_PRESENCE, BF_KEY_PUSERS, BF_KEY_CONNS, BF_KEY_PHERE,
                                 BF_KEY_PREP,     BF_KEY_POPS,   BF_KEY_PGONE};
    const char *channels[] = {"news", "presence-room.42", "private-a:b", "x"};
    for (size_t c = 0; c < sizeof(channels) / sizeof(*channels); c++) {
        char key[BF_KEY_MAX];
        unsigned want = bf_slot_crc16(channels[c], strlen(channels[c])) & (BF_SLOT_COUNT - 1);
        for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++) {
            cr_assert_geq(bf_key(key, "belfry:", kinds[k], channels[c]), 0);
            cr_expect_eq(bf_slot_of_key(key, strlen(key)), want, "%s", key);
        }
    }
}
