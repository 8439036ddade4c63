/* common/rcluster.c through bf_redis against a real three-primary Redis Cluster: commands of many
 * slots routed without a redirect, SCRIPT LOAD on every primary then EVALSHA anywhere, MOVED
 * after a slot is migrated, ASK in the middle of a migration. The kill -9 of a primary is in
 * rcluster_failover.c, sharded pub/sub in rcluster_pubsub.c. */
#include "rcluster_common.h"
#include "common/redis_metrics.h"

TestSuite(rcluster, .timeout = 60, .fini = rc_fini);

Test(rcluster, keys_of_many_slots_set_get_and_evalsha_through_one_link)
{
    static rc_env e; /* static: rc_fini reaches it after a failed assertion */
    rc_setup(&e, false, 0);
    rc_reply rep;
    const char *load[] = {"SCRIPT", "LOAD", "return redis.call('GET', KEYS[1]) .. ARGV[1]"};
    char sha[300];
    snprintf(sha, sizeof(sha), "%s", rc_call(&e, &rep, 3, load));
    cr_assert_eq(strlen(sha), 40, "SCRIPT LOAD: %s", sha);
    enum { N = 300 };
    char key[64], val[64];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        cr_assert_str_eq(rc_set(&e, &rep, key, val), "OK", "SET %s", key);
    }
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        cr_assert_str_eq(rc_get(&e, &rep, key), val, "GET %s", key);
        const char *ev[] = {"EVALSHA", sha, "1", key, "!"};
        char want[80];
        snprintf(want, sizeof(want), "v%d!", i);
        cr_assert_str_eq(rc_call(&e, &rep, 5, ev), want, "EVALSHA on %s", key);
    }
    /* hash tags: one slot, so a multi-key command works */
    const char *mset[] = {"MSET", "{user1}.a", "1", "{user1}.b", "2"};
    cr_expect_str_eq(rc_call(&e, &rep, 5, mset), "OK");
    /* the keys are spread over the three primaries (each holds some), and routing by slot found
     * every one at once: no redirect was needed */
    int holding = 0;
    for (int i = 0; i < BF_RCL_NODES; i++) {
        redisReply *r = bf_rcl_cmd(&e.t, i, "ROLE");
        bool primary = r && !strcmp(r->element[0]->str, "master");
        freeReplyObject(r);
        if (!primary) continue;
        r = bf_rcl_cmd(&e.t, i, "DBSIZE");
        cr_assert(r && r->type == REDIS_REPLY_INTEGER);
        holding += r->integer > 0;
        freeReplyObject(r);
    }
    cr_expect_eq(holding, 3, "keys on %d primaries", holding);
    bf_redis_cluster_stats st = rc_stats(e.r);
    cr_expect_eq(st.moved, 0, "%llu MOVED: commands went to the wrong node",
                 (unsigned long long)st.moved);
    cr_expect_eq(st.asks, 0);
    cr_expect_geq(st.refreshes, 1);
    cr_expect_eq(st.nodes, 6, "a link to every primary and every seed");
    /* a READY cluster reads its slot map again every cluster_refresh_ms (1 s here) */
    uint64_t t0 = bf_now_ms();
    while (bf_now_ms() - t0 < 2500) event_base_loop(e.base, EVLOOP_ONCE);
    cr_expect_geq(rc_stats(e.r).refreshes, st.refreshes + 2, "periodic refresh");
    rc_teardown(&e);
}

Test(rcluster, moved_after_a_slot_migration_updates_the_map)
{
    static rc_env e; /* static: rc_fini reaches it after a failed assertion */
    rc_setup(&e, false, 0);
    rc_reply rep;
    char key[64];
    rc_key_on(&e, bf_rcl_owner(&e.t, 0), "moved", key, sizeof(key));
    unsigned slot = bf_slot_of_key(key, strlen(key));
    int src = bf_rcl_owner(&e.t, slot), dst = bf_rcl_other_primary(&e.t, src);
    cr_assert_geq(dst, 0);
    cr_assert_str_eq(rc_set(&e, &rep, key, "before"), "OK");
    cr_assert_eq(bf_rcl_move_slot(&e.t, slot, src, dst), 0);
    cr_assert_eq(bf_rcl_owner(&e.t, slot), dst);
    /* the link still thinks src owns the slot: src answers MOVED, the command goes to dst */
    uint64_t moved0 = rc_stats(e.r).moved;
    cr_expect_str_eq(rc_get(&e, &rep, key), "before");
    cr_expect_eq(rc_stats(e.r).moved, moved0 + 1, "one MOVED followed");
    cr_expect_str_eq(rc_set(&e, &rep, key, "after"), "OK");
    cr_expect_eq(rc_stats(e.r).moved, moved0 + 1, "the map was updated: no second MOVED");
    redisReply *r = bf_rcl_cmd(&e.t, dst, "GET %s", key);
    cr_expect(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "after"),
              "the write landed on the new owner");
    freeReplyObject(r);
    cr_expect_eq(rc_stats(e.r).redirect_limit_hits, 0);
    rc_teardown(&e);
}

Test(rcluster, ask_during_a_migration_leaves_the_map_alone)
{
    static rc_env e; /* static: rc_fini reaches it after a failed assertion */
    rc_setup(&e, false, 0);
    rc_reply rep;
    char key[64], sid[41], did[41];
    rc_key_on(&e, bf_rcl_owner(&e.t, 0), "ask", key, sizeof(key));
    unsigned slot = bf_slot_of_key(key, strlen(key));
    int src = bf_rcl_owner(&e.t, slot), dst = bf_rcl_other_primary(&e.t, src);
    cr_assert_str_eq(rc_set(&e, &rep, key, "migrating"), "OK");
    cr_assert_eq(bf_rcl_id(&e.t, src, sid), 0);
    cr_assert_eq(bf_rcl_id(&e.t, dst, did), 0);
    /* half a migration: the key already on dst, the slot still src's */
    redisReply *r = bf_rcl_cmd(&e.t, dst, "CLUSTER SETSLOT %u IMPORTING %s", slot, sid);
    freeReplyObject(r);
    r = bf_rcl_cmd(&e.t, src, "CLUSTER SETSLOT %u MIGRATING %s", slot, did);
    freeReplyObject(r);
    r = bf_rcl_cmd(&e.t, src, "MIGRATE 127.0.0.1 %d %s 0 2000", e.t.nodes[dst].port, key);
    cr_assert(r && r->type == REDIS_REPLY_STATUS, "MIGRATE: %s", r && r->str ? r->str : "-");
    freeReplyObject(r);
    cr_expect_str_eq(rc_get(&e, &rep, key), "migrating", "src answers ASK; dst after ASKING");
    cr_expect_str_eq(rc_get(&e, &rep, key), "migrating");
    bf_redis_cluster_stats st = rc_stats(e.r);
    cr_expect_eq(st.asks, 2, "every command on the migrating slot is asked again");
    cr_expect_eq(st.moved, 0, "ASK does not change the map");
    rc_teardown(&e);
}

Test(rcluster, a_redirect_loop_ends_at_the_limit)
{
    static rc_env e; /* static: rc_fini reaches it after a failed assertion */
    rc_setup(&e, false, 0);
    rc_reply rep;
    char key[64], sid[41], did[41];
    rc_key_on(&e, bf_rcl_owner(&e.t, 0), "loop", key, sizeof(key));
    unsigned slot = bf_slot_of_key(key, strlen(key));
    int src = bf_rcl_owner(&e.t, slot), dst = bf_rcl_other_primary(&e.t, src);
    cr_assert_eq(bf_rcl_id(&e.t, src, sid), 0);
    cr_assert_eq(bf_rcl_id(&e.t, dst, did), 0);
    /* src says the key is on dst (ASK: it is migrating and missing here), dst without IMPORTING
     * refuses ASKING's command with MOVED back to src: a loop, cut at 5 redirects */
    redisReply *r = bf_rcl_cmd(&e.t, src, "CLUSTER SETSLOT %u MIGRATING %s", slot, did);
    freeReplyObject(r);
    const char *s = rc_get(&e, &rep, key);
    cr_expect(!strncmp(s, "ERR:MOVED", 9) || !strncmp(s, "ERR:ASK", 7), "got %s", s);
    cr_expect_eq(rc_stats(e.r).redirect_limit_hits, 1);
    /* what /metrics shows of it (both daemons print this text) */
    const bf_redis *links[] = {e.r, NULL};
    bf_failover fo = {0};
    size_t mlen;
    char *m = bf_redis_metrics("router", links, 2, &fo, &mlen);
    cr_expect_eq(mlen, strlen(m));
    cr_expect(strstr(m, "\nbelfry_router_redis_cluster_redirect_limit_hits_total 1\n"), "%s", m);
    cr_expect(strstr(m, "\n# TYPE belfry_router_redis_cluster_nodes gauge\n"), "%s", m);
    free(m);
    r = bf_rcl_cmd(&e.t, src, "CLUSTER SETSLOT %u STABLE", slot);
    freeReplyObject(r);
    cr_expect_str_eq(rc_get(&e, &rep, key), "(nil)", "fine again once the slot is stable");
    rc_teardown(&e);
}

static bool never(rc_env *e)
{
    (void)e;
    return false;
}

Test(rcluster, tryagain_during_a_migration_then_moved_once_it_ends)
{
    static rc_env e; /* static: rc_fini reaches it after a failed assertion */
    rc_setup(&e, false, 0);
    rc_reply rep;
    char sid[41], did[41];
    /* two keys of one slot (a hash tag) on src; the slot half migrated: one key moved */
    char a[64], b[64], tag[32];
    rc_key_on(&e, bf_rcl_owner(&e.t, 0), "t", tag, sizeof(tag));
    snprintf(a, sizeof(a), "{%s}a", tag);
    snprintf(b, sizeof(b), "{%s}b", tag);
    unsigned slot = bf_slot_of_key(a, strlen(a));
    int src = bf_rcl_owner(&e.t, slot), dst = bf_rcl_other_primary(&e.t, src);
    cr_assert_str_eq(rc_set(&e, &rep, a, "1"), "OK");
    cr_assert_str_eq(rc_set(&e, &rep, b, "2"), "OK");
    cr_assert_eq(bf_rcl_id(&e.t, src, sid), 0);
    cr_assert_eq(bf_rcl_id(&e.t, dst, did), 0);
    freeReplyObject(bf_rcl_cmd(&e.t, dst, "CLUSTER SETSLOT %u IMPORTING %s", slot, sid));
    freeReplyObject(bf_rcl_cmd(&e.t, src, "CLUSTER SETSLOT %u MIGRATING %s", slot, did));
    redisReply *r = bf_rcl_cmd(&e.t, src, "MIGRATE 127.0.0.1 %d %s 0 2000", e.t.nodes[dst].port, a);
    cr_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    /* a multi-key command now gets TRYAGAIN from src (one key here, one there) */
    const char *mget[] = {"MGET", a, b};
    memset(&rep, 0, sizeof(rep));
    cr_assert_eq(bf_redis_cmdargv(e.r, rc_on_reply, &rep, 3, mget, NULL), 0);
    rc_run(&e, never, 30);
    cr_assert(!rep.done, "answered before the migration ended: %s", rep.s);
    cr_expect_geq(rc_stats(e.r).tryagains, 1, "TRYAGAIN retried");
    /* the migration ends while the command waits: the retry meets MOVED, then dst answers */
    cr_assert_eq(bf_rcl_move_slot(&e.t, slot, src, dst), 0);
    cr_assert(rc_await(&e, &rep));
    cr_expect_str_eq(rep.s, "(array 2)");
    bf_redis_cluster_stats st = rc_stats(e.r);
    cr_expect_geq(st.moved, 1);
    cr_expect_eq(st.redirect_limit_hits, 0);
    rc_teardown(&e);
}
