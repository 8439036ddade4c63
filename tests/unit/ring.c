/* Unit tests for common/ring.h: rendezvous hashing of channels onto routers.
 *
 * The ring is a cluster-wide contract (every node must compute the same owner), so the hash
 * functions and a set of owners are pinned by golden vectors. They were computed with an
 * independent Python implementation of the algorithm documented in ring.h, and fnv1a64("foobar")
 * and mix64(0x9e3779b97f4a7c15) are the published FNV-1a and SplitMix64 reference values. */
#include "ring.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- golden vectors ---------------------------------------------------------------------- */

Test(ring_hash, fnv1a64_golden)
{
    cr_expect_eq(bf_ring_fnv1a64("", 0), 0xcbf29ce484222325ULL);
    cr_expect_eq(bf_ring_fnv1a64("a", 1), 0xaf63dc4c8601ec8cULL);
    cr_expect_eq(bf_ring_fnv1a64("foobar", 6), 0x85944171f73967e8ULL);
    cr_expect_eq(bf_ring_fnv1a64("rt-a", 4), 0xca40171f75a920c1ULL);
}

Test(ring_hash, fnv1a64_uses_len_and_all_bytes)
{
    cr_expect_eq(bf_ring_fnv1a64("ab", 1), bf_ring_fnv1a64("a", 1));
    cr_expect_neq(bf_ring_fnv1a64("a\0", 2), bf_ring_fnv1a64("a", 1), "NUL is hashed");
    cr_expect_neq(bf_ring_fnv1a64("\xff", 1), bf_ring_fnv1a64("\x7f", 1), "bytes are unsigned");
    /* bytes >= 0x80 must be xored as unsigned: the reference value for "\xff" */
    cr_expect_eq(bf_ring_fnv1a64("\xff", 1), 0xaf64724c8602eb6eULL);
}

Test(ring_hash, mix64_golden)
{
    cr_expect_eq(bf_ring_mix64(0), 0);
    cr_expect_eq(bf_ring_mix64(1), 0x5692161d100b05e5ULL);
    cr_expect_eq(bf_ring_mix64(0xcbf29ce484222325ULL), 0xf52a15e9a9b5e89bULL);
    cr_expect_eq(bf_ring_mix64(0xffffffffffffffffULL), 0xb4d055fcf2cbbd7bULL);
    cr_expect_eq(bf_ring_mix64(0x0123456789abcdefULL), 0xb2c058e4ebb5112cULL);
    /* SplitMix64 seeded with 0: its first two outputs */
    cr_expect_eq(bf_ring_mix64(0x9e3779b97f4a7c15ULL), 0xe220a8397b1dcdafULL);
    cr_expect_eq(bf_ring_mix64(0x3c6ef372fe94f82aULL), 0x6e789e6aa1b965f4ULL);
}

static const char *const ABC[] = {"rt-a", "rt-b", "rt-c"};

static const struct {
    const char *channel, *owner;
} GOLDEN[] = {
    {"chat", "rt-b"},
    {"news", "rt-c"},
    {"private-room-1", "rt-b"},
    {"presence-lobby", "rt-c"},
    {"orders.42", "rt-c"},
    {"user:7", "rt-c"},
    {"a", "rt-c"},
    {"ch-0", "rt-c"},
    {"ch-1", "rt-a"},
    {"ch-999999", "rt-b"},
    {"x=y@z,w;v", "rt-b"},
    {"presence-game:3", "rt-a"},
};

Test(ring_owner, golden_owners)
{
    bf_ring *r = bf_ring_new();
    bf_ring_set(r, ABC, 3, 1);
    for (size_t i = 0; i < sizeof(GOLDEN) / sizeof(GOLDEN[0]); i++) {
        const char *o = bf_ring_owner(r, GOLDEN[i].channel, strlen(GOLDEN[i].channel));
        cr_assert_not_null(o);
        cr_expect_str_eq(o, GOLDEN[i].owner, "owner of '%s'", GOLDEN[i].channel);
    }
    bf_ring_free(r);
}

/* An independent implementation of the documented rule, to check many more channels. */
static uint64_t ref_fnv(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t ref_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static const char *ref_owner(const char *const *ids, size_t n, const char *ch, size_t len)
{
    uint64_t c = ref_mix(ref_fnv(ch, len)), best_w = 0;
    const char *best = NULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = ref_mix(ref_fnv(ids[i], strlen(ids[i])) ^ c);
        if (!best || w > best_w || (w == best_w && strcmp(ids[i], best) < 0)) {
            best = ids[i];
            best_w = w;
        }
    }
    return best;
}

Test(ring_owner, matches_reference_rule)
{
    const char *ids[] = {"router-7", "router-1", "r", "gw-x", "10.0.0.1:9100", "router-10"};
    size_t n = sizeof(ids) / sizeof(ids[0]);
    bf_ring *r = bf_ring_new();
    bf_ring_set(r, ids, n, 3);
    char ch[32];
    for (int i = 0; i < 20000; i++) {
        int len = snprintf(ch, sizeof(ch), "room-%d", i);
        cr_assert_str_eq(bf_ring_owner(r, ch, (size_t)len), ref_owner(ids, n, ch, (size_t)len),
                         "channel %s", ch);
    }
    bf_ring_free(r);
}

/* ---- membership ------------------------------------------------------------------------- */

Test(ring_owner, empty_ring_has_no_owner)
{
    bf_ring *r = bf_ring_new();
    cr_expect_null(bf_ring_owner(r, "chat", 4));
    cr_expect_eq(bf_ring_size(r), 0);
    bf_ring_set(r, ABC, 3, 1);
    cr_expect_not_null(bf_ring_owner(r, "chat", 4));
    bf_ring_set(r, NULL, 0, 2);
    cr_expect_null(bf_ring_owner(r, "chat", 4), "emptied again");
    cr_expect_eq(bf_ring_size(r), 0);
    cr_expect_null(bf_ring_member(r, 0));
    bf_ring_free(r);
}

Test(ring_owner, single_member_owns_everything)
{
    const char *one[] = {"solo"};
    bf_ring *r = bf_ring_new();
    bf_ring_set(r, one, 1, 1);
    char ch[32];
    for (int i = 0; i < 1000; i++) {
        int len = snprintf(ch, sizeof(ch), "c%d", i);
        cr_assert_str_eq(bf_ring_owner(r, ch, (size_t)len), "solo");
    }
    cr_expect_str_eq(bf_ring_owner(r, "", 0), "solo");
    bf_ring_free(r);
}

Test(ring_owner, channel_is_hashed_by_len)
{
    bf_ring *r = bf_ring_new();
    bf_ring_set(r, ABC, 3, 1);
    for (size_t i = 0; i < sizeof(GOLDEN) / sizeof(GOLDEN[0]); i++) {
        char buf[64];
        size_t len = strlen(GOLDEN[i].channel);
        snprintf(buf, sizeof(buf), "%s/trailing", GOLDEN[i].channel);
        cr_expect_str_eq(bf_ring_owner(r, buf, len), GOLDEN[i].owner);
    }
    bf_ring_free(r);
}

Test(ring_owner, independent_of_member_order)
{
    const char *a[] = {"rt-a", "rt-b", "rt-c", "rt-d", "rt-e"};
    const char *b[] = {"rt-d", "rt-b", "rt-e", "rt-a", "rt-c"};
    bf_ring *ra = bf_ring_new(), *rb = bf_ring_new();
    bf_ring_set(ra, a, 5, 1);
    bf_ring_set(rb, b, 5, 1);
    char ch[32];
    int differs = 0;
    for (int i = 0; i < 20000; i++) {
        int len = snprintf(ch, sizeof(ch), "ch-%d", i);
        const char *oa = bf_ring_owner(ra, ch, (size_t)len),
                   *ob = bf_ring_owner(rb, ch, (size_t)len);
        cr_assert_str_eq(oa, ob, "channel %s", ch);
        differs += strcmp(oa, "rt-a") != 0;
    }
    cr_expect_gt(differs, 0, "not everything on one member");
    bf_ring_free(ra);
    bf_ring_free(rb);
}

Test(ring_members, sorted_copied_and_epoch)
{
    char ids[3][8] = {"zeta", "alpha", "mid"};
    const char *p[] = {ids[0], ids[1], ids[2]};
    bf_ring *r = bf_ring_new();
    cr_expect_eq(bf_ring_epoch(r), 0);
    bf_ring_set(r, p, 3, 77);
    memset(ids, 'X', sizeof(ids)); /* the ring must have copied the ids */
    cr_expect_eq(bf_ring_size(r), 3);
    cr_expect_eq(bf_ring_epoch(r), 77);
    cr_expect_str_eq(bf_ring_member(r, 0), "alpha");
    cr_expect_str_eq(bf_ring_member(r, 1), "mid");
    cr_expect_str_eq(bf_ring_member(r, 2), "zeta");
    cr_expect_null(bf_ring_member(r, 3));
    const char *o = bf_ring_owner(r, "chat", 4);
    cr_expect(!strcmp(o, "alpha") || !strcmp(o, "mid") || !strcmp(o, "zeta"), "owner %s", o);
    bf_ring_set(r, ABC, 2, 78);
    cr_expect_eq(bf_ring_size(r), 2);
    cr_expect_eq(bf_ring_epoch(r), 78);
    cr_expect_str_eq(bf_ring_member(r, 1), "rt-b");
    bf_ring_free(r);
    bf_ring_free(NULL);
}

/* ---- distribution ------------------------------------------------------------------------ */

#define NMEM 17

static char member_ids[NMEM][16];
static const char *members[NMEM];

static void make_members(void)
{
    for (int i = 0; i < NMEM; i++) {
        snprintf(member_ids[i], sizeof(member_ids[i]), "router-%02d", i);
        members[i] = member_ids[i];
    }
}

static int member_index(const char *id)
{
    for (int i = 0; i < NMEM; i++)
        if (!strcmp(id, members[i])) return i;
    cr_assert_fail("owner '%s' is not a member", id);
    return -1;
}

Test(ring_distribution, balanced_over_16_members, .init = make_members)
{
    enum { N = 1000000 };
    bf_ring *r = bf_ring_new();
    bf_ring_set(r, members, 16, 1);
    long counts[NMEM] = {0};
    char ch[32];
    for (int i = 0; i < N; i++) {
        int len = snprintf(ch, sizeof(ch), "ch-%d", i);
        counts[member_index(bf_ring_owner(r, ch, (size_t)len))]++;
    }
    double mean = N / 16.0;
    for (int i = 0; i < 16; i++) {
        cr_expect_leq(counts[i], mean * 1.10, "%s owns %ld (mean %.0f)", members[i], counts[i],
                      mean);
        cr_expect_geq(counts[i], mean * 0.90, "%s owns %ld (mean %.0f)", members[i], counts[i],
                      mean);
    }
    cr_expect_eq(counts[16], 0);
    bf_ring_free(r);
}

Test(ring_distribution, stable_when_members_leave_and_join, .init = make_members)
{
    enum { N = 200000, GONE = 5 };
    /* three rings side by side, so owner pointers of each stay valid */
    const char *without[15];
    for (int i = 0, k = 0; i < 16; i++)
        if (i != GONE) without[k++] = members[i];
    bf_ring *r16 = bf_ring_new(), *r15 = bf_ring_new(), *r17 = bf_ring_new();
    bf_ring_set(r16, members, 16, 1);
    bf_ring_set(r15, without, 15, 2);
    bf_ring_set(r17, members, 17, 3);

    long moved_leave = 0, owned_by_gone = 0, moved_join = 0;
    char ch[32];
    for (int i = 0; i < N; i++) {
        size_t len = (size_t)snprintf(ch, sizeof(ch), "ch-%d", i);
        int o16 = member_index(bf_ring_owner(r16, ch, len));
        int o15 = member_index(bf_ring_owner(r15, ch, len));
        int o17 = member_index(bf_ring_owner(r17, ch, len));
        cr_assert_neq(o15, GONE, "a channel went to the member that left");
        if (o16 == GONE) owned_by_gone++;
        if (o16 != o15) {
            moved_leave++;
            cr_assert_eq(o16, GONE, "%s moved from %s, which did not leave", ch, members[o16]);
        }
        if (o16 != o17) {
            moved_join++;
            cr_assert_eq(o17, 16, "%s moved to %s, not to the new member", ch, members[o17]);
        }
    }
    cr_expect_eq(moved_leave, owned_by_gone, "exactly the leaver's channels move");
    cr_expect_gt(owned_by_gone, 0);
    cr_expect_leq(moved_join, (long)(N * 1.3 / 17), "joining moved %ld of %d", moved_join, N);
    cr_expect_geq(moved_join, (long)(N * 0.7 / 17), "the new member gets its share");
    bf_ring_free(r16);
    bf_ring_free(r15);
    bf_ring_free(r17);
}
