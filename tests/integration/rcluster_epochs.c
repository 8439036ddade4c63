/* The failover check per shard (common/failover.c) on a real three-primary cluster: each
 * primary's node link records that primary's replication id in a key of its own slots
 * ({#<n>}:redis:replid, bf_key_shard_replid); a kill -9 of one primary, whose replica is
 * promoted (its link already up, as every node is a seed, so the transport must gate it again
 * before it serves), forgets the epochs of that shard's channels only: the other shards' epochs
 * stay, and a second process meeting the same primaries forgets nothing. A manual failover and
 * the failback, every link staying up, do the same for that shard each time. */
#include "common/failover.h"
#include "common/redis_keys.h"
#include "rcluster_common.h"

TestSuite(rcluster_epochs, .timeout = 90, .fini = rc_fini);

#define CHANNELS 60

static bool never(rc_env *e)
{
    (void)e;
    return false;
}

/* Node i's master_replid (INFO replication) into out; false if it does not answer. */
static bool replid_of(rc_env *e, int i, char *out, size_t cap)
{
    redisReply *r = bf_rcl_cmd(&e->t, i, "INFO replication");
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "master_replid:") : NULL;
    if (p) {
        p += strlen("master_replid:");
        size_t n = strcspn(p, "\r\n");
        snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    }
    freeReplyObject(r);
    return p != NULL;
}

/* The lowest slot node i owns (CLUSTER SLOTS as node i says), or -1. */
static int lowest_slot(rc_env *e, int i)
{
    int low = -1;
    redisReply *r = bf_rcl_cmd(&e->t, i, "CLUSTER SLOTS");
    for (size_t k = 0; r && r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
        redisReply *x = r->element[k];
        if (x->elements >= 3 && x->element[2]->element[1]->integer == e->t.nodes[i].port &&
            (low < 0 || x->element[0]->integer < low))
            low = (int)x->element[0]->integer;
    }
    freeReplyObject(r);
    return low;
}

/* Node i's record of its own replication id, as the gate wrote it ("" if none). */
static void record_of(rc_env *e, int i, char *out, size_t cap)
{
    char key[BF_KEY_MAX];
    int slot = lowest_slot(e, i);
    cr_assert_geq(slot, 0, "node %d owns no slot", i);
    cr_assert_geq(bf_key_shard_replid(key, "belfry:", (unsigned)slot), 0);
    redisReply *r = bf_rcl_cmd(&e->t, i, "GET %s", key);
    snprintf(out, cap, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

static bool epoch_exists(rc_env *e, const char *ch)
{
    char key[BF_KEY_MAX];
    bf_key(key, "belfry:", BF_KEY_EPOCH, ch);
    int owner = bf_rcl_owner(&e->t, bf_slot_of_key(key, strlen(key)));
    redisReply *r = owner >= 0 ? bf_rcl_cmd(&e->t, owner, "EXISTS %s", key) : NULL;
    bool yes = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return yes;
}

static int primaries(rc_env *e, int *out)
{
    int n = 0;
    for (int i = 0; i < BF_RCL_NODES; i++) {
        redisReply *r = bf_rcl_cmd(&e->t, i, "ROLE");
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements &&
            !strcmp(r->element[0]->str, "master") && lowest_slot(e, i) >= 0)
            out[n++] = i;
        freeReplyObject(r);
    }
    return n;
}

Test(rcluster_epochs, a_primarys_failover_forgets_the_epochs_of_its_shard_only)
{
    static rc_env e; /* static: rc_fini reaches it after a failed assertion */
    rc_start(&e, 0);
    static bf_failover f1 = {.prefix = "belfry:"};
    e.r = rc_link_gated(&e, "gated", bf_failover_gate, &f1);
    cr_assert(rc_run(&e, rc_ready, 10000), "the gated cluster link did not become ready");

    /* the first meeting: no record anywhere, each primary recorded its own id in its slots */
    int prim[BF_RCL_NODES];
    cr_assert_eq(primaries(&e, prim), 3);
    cr_expect_eq(f1.new_primaries, 3, "each primary's record was read once");
    for (int k = 0; k < 3; k++) {
        char id[64] = "", rec[64];
        cr_assert(replid_of(&e, prim[k], id, sizeof(id)));
        record_of(&e, prim[k], rec, sizeof(rec));
        cr_expect_str_eq(rec, id, "node %d's record", prim[k]);
    }

    /* channel epochs on every shard (through the gated link), replicated */
    char chans[CHANNELS][32];
    int owner_of[CHANNELS], on_victim = 0;
    int victim = bf_rcl_owner(&e.t, 0);
    for (int i = 0; i < CHANNELS; i++) {
        snprintf(chans[i], sizeof(chans[i]), "room-%d", i);
        char key[BF_KEY_MAX];
        bf_key(key, "belfry:", BF_KEY_EPOCH, chans[i]);
        owner_of[i] = bf_rcl_owner(&e.t, bf_slot_of_key(key, strlen(key)));
        on_victim += owner_of[i] == victim;
        rc_reply rep;
        cr_assert_str_eq(rc_set(&e, &rep, key, "e1"), "OK");
    }
    cr_assert(on_victim > 0 && on_victim < CHANNELS, "channels on the victim and elsewhere");
    for (int k = 0; k < 3; k++)
        cr_assert_eq(bf_rcl_wait_replicated(&e.t, prim[k], 3000), 0, "node %d's replica", prim[k]);

    /* a second process meeting the same primaries: same ids, nothing forgotten */
    static bf_failover f2 = {.prefix = "belfry:"};
    e.sub = rc_link_gated(&e, "gated-2", bf_failover_gate, &f2);
    cr_assert(rc_run(&e, rc_ready, 10000));
    cr_expect_eq(f2.new_primaries, 0);
    cr_expect_eq(f2.epochs_forgotten, 0);
    for (int i = 0; i < CHANNELS; i++)
        cr_assert(epoch_exists(&e, chans[i]), "%s lost its epoch without a failover", chans[i]);
    bf_redis_free(e.sub);
    e.sub = NULL;

    /* kill -9 of one primary: its replica (a seed, its link already READY as a replica) is
     * promoted; the link is gated again on it before a command reaches it */
    bf_rcl_kill(&e.t, victim);
    uint64_t killed = bf_now_ms();
    char probe[64];
    rc_key_on(&e, victim, "probe", probe, sizeof(probe));
    bool flowing = false;
    while (!flowing && bf_now_ms() - killed < 30000) {
        rc_reply rep;
        flowing = !strcmp(rc_set(&e, &rep, probe, "x"), "OK");
        if (!flowing) rc_run(&e, never, 50);
    }
    cr_assert(flowing, "the victim's slots did not serve again within 30 s");
    int promoted = bf_rcl_owner(&e.t, 0);
    cr_assert(promoted >= 0 && promoted != victim);

    int forgotten = 0, kept = 0;
    for (int i = 0; i < CHANNELS; i++) {
        bool exists = epoch_exists(&e, chans[i]);
        if (owner_of[i] == victim) {
            cr_expect(!exists, "%s (on the failed-over shard) kept its epoch", chans[i]);
            forgotten += !exists;
        } else {
            cr_expect(exists, "%s (on another shard) lost its epoch", chans[i]);
            kept += exists;
        }
    }
    cr_expect_eq(forgotten, on_victim);
    cr_expect_eq(kept, CHANNELS - on_victim);
    cr_expect_eq(f1.new_primaries, 4, "only the promoted replica was a new primary");
    cr_expect_eq(f1.epochs_forgotten, (uint64_t)on_victim);
    char id[64] = "", rec[64];
    cr_assert(replid_of(&e, promoted, id, sizeof(id)));
    record_of(&e, promoted, rec, sizeof(rec));
    cr_expect_str_eq(rec, id, "the promoted replica's record is its own id");
    bf_log(BF_LOG_INFO, "epochs: %d of %d forgotten, %llu ms after the kill", forgotten, CHANNELS,
           (unsigned long long)(bf_now_ms() - killed));
    rc_teardown(&e);
}

/* Sets an epoch key for every channel of chans (through the link) and waits until it is on every
 * replica. */
static void set_epochs(rc_env *e, char (*chans)[32], int n, const char *v)
{
    for (int i = 0; i < n; i++) {
        char key[BF_KEY_MAX];
        bf_key(key, "belfry:", BF_KEY_EPOCH, chans[i]);
        rc_reply rep;
        cr_assert_str_eq(rc_set(e, &rep, key, v), "OK");
    }
    int prim[BF_RCL_NODES], np = primaries(e, prim);
    for (int k = 0; k < np; k++)
        cr_assert_eq(bf_rcl_wait_replicated(&e->t, prim[k], 3000), 0, "node %d", prim[k]);
}

/* Runs the loop until a SET on key (a slot of the shard that failed over) goes through. */
static void until_flowing(rc_env *e, const char *key, int timeout_ms)
{
    uint64_t t0 = bf_now_ms();
    for (;;) {
        rc_reply rep;
        if (!strcmp(rc_set(e, &rep, key, "x"), "OK")) return;
        cr_assert(bf_now_ms() - t0 < (uint64_t)timeout_ms, "the shard did not serve again");
        rc_run(e, never, 50);
    }
}

/* The node whose ROLE names node p as its primary, or -1. */
static int replica_of(rc_env *e, int p)
{
    for (int k = 0; k < BF_RCL_NODES; k++) {
        redisReply *r = bf_rcl_cmd(&e->t, k, "ROLE");
        bool yes = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
                   !strcmp(r->element[0]->str, "slave") &&
                   r->element[2]->integer == e->t.nodes[p].port;
        freeReplyObject(r);
        if (yes) return k;
    }
    return -1;
}

/* A manual failover (CLUSTER FAILOVER on the replica) and the failback, with every link staying up:
 * each promotion is a new history on a node whose link was already open (first a replica's, then
 * a demoted primary's), so it is gated again and forgets the epochs of that shard only. */
Test(rcluster_epochs, a_failover_and_failback_under_open_links_forget_that_shards_epochs)
{
    static rc_env e; /* static: rc_fini reaches it after a failed assertion */
    rc_start(&e, 0);
    static bf_failover f = {.prefix = "belfry:"};
    e.r = rc_link_gated(&e, "gated", bf_failover_gate, &f);
    cr_assert(rc_run(&e, rc_ready, 10000));
    cr_expect_eq(f.new_primaries, 3);

    static char chans[CHANNELS][32];
    int owner_of[CHANNELS];
    int old = bf_rcl_owner(&e.t, 0), repl = replica_of(&e, old);
    cr_assert_geq(repl, 0);
    for (int i = 0; i < CHANNELS; i++) {
        snprintf(chans[i], sizeof(chans[i]), "room-%d", i);
        char key[BF_KEY_MAX];
        bf_key(key, "belfry:", BF_KEY_EPOCH, chans[i]);
        owner_of[i] = bf_rcl_owner(&e.t, bf_slot_of_key(key, strlen(key)));
    }
    char probe[64];
    rc_key_on(&e, old, "probe", probe, sizeof(probe));

    for (int round = 0; round < 2; round++) {
        /* round 0: the replica takes over; round 1: the old primary takes back */
        int from = round ? repl : old, to = round ? old : repl;
        set_epochs(&e, chans, CHANNELS, "e");
        uint64_t before = f.new_primaries;
        redisReply *r = bf_rcl_cmd(&e.t, to, "CLUSTER FAILOVER");
        cr_assert(r && r->type == REDIS_REPLY_STATUS, "CLUSTER FAILOVER on node %d", to);
        freeReplyObject(r);
        for (int k = 0; k < 200 && bf_rcl_owner(&e.t, 0) != to; k++) rc_run(&e, never, 25);
        cr_assert_eq(bf_rcl_owner(&e.t, 0), to, "round %d: node %d did not take over", round, to);
        until_flowing(&e, probe, 15000);
        /* the link may have served the new primary's slots only after its gate: every epoch of
         * that shard is gone, every other one is there */
        for (int i = 0; i < CHANNELS; i++) {
            char key[BF_KEY_MAX];
            bf_key(key, "belfry:", BF_KEY_EPOCH, chans[i]);
            redisReply *x = bf_rcl_cmd(&e.t, bf_rcl_owner(&e.t, bf_slot_of_key(key, strlen(key))),
                                       "EXISTS %s", key);
            bool exists = x && x->type == REDIS_REPLY_INTEGER && x->integer == 1;
            freeReplyObject(x);
            if (owner_of[i] == from)
                cr_expect(!exists, "round %d: %s (the failed-over shard) kept its epoch", round,
                          chans[i]);
            else
                cr_expect(exists, "round %d: %s (another shard) lost its epoch", round, chans[i]);
        }
        cr_expect_eq(f.new_primaries, before + 1, "round %d: one new primary", round);
        for (int i = 0; i < CHANNELS; i++)
            if (owner_of[i] == from) owner_of[i] = to;
    }
    rc_teardown(&e);
}
