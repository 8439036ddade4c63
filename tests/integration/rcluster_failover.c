/* A Redis Cluster primary killed with SIGKILL under a cluster:// bf_redis: the link goes down
 * (on_down), commands fail cleanly meanwhile (BF_EDISCONNECTED or a NULL reply, never a hang), the
 * cluster promotes the replica (cluster-node-timeout 1000 ms), a slot map refresh finds it, the
 * link is READY again (on_ready) and commands to every shard flow, the data the replica had
 * included; a shard subscription on the lost primary is made again on the promoted replica. */
#include "rcluster_common.h"

TestSuite(rcluster_failover, .timeout = 60, .fini = rc_fini);

static int readies, downs, messages;

static void on_ready(bf_redis *r, void *arg)
{
    (void)r;
    (void)arg;
    readies++;
}

static void on_down(bf_redis *r, void *arg)
{
    (void)r;
    (void)arg;
    downs++;
}

static char gone[64]; /* a shard channel unsubscribed while the cluster is not ready */
static int gone_messages;

static void on_push(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    (void)ac;
    (void)priv;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        !strcmp(r->element[0]->str, "smessage")) {
        if (!strcmp(r->element[1]->str, gone))
            gone_messages++;
        else
            messages++;
    }
}

static bool sub_down(rc_env *e)
{
    return !bf_redis_ready(e->sub);
}

static bool got_message(rc_env *e)
{
    (void)e;
    return messages > 0;
}

static bool subscribed_on(rc_env *e, int node, const char *ch)
{
    redisReply *r = bf_rcl_cmd(&e->t, node, "PUBSUB SHARDNUMSUB %s", ch);
    bool yes = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->integer == 1;
    freeReplyObject(r);
    return yes;
}

static bool never(rc_env *e)
{
    (void)e;
    return false;
}

Test(rcluster_failover, kill_9_of_a_primary_then_commands_flow_again_on_its_replica)
{
    static rc_env e; /* static: rc_fini reaches it after a failed assertion */
    memset(&e, 0, sizeof(e));
    rc_current = &e;
    cr_assert_eq(bf_rcl_start(&e.t), 0);
    e.base = event_base_new();
    e.tick = event_new(e.base, -1, EV_PERSIST, rc_on_tick, &e);
    struct timeval tv = {0, 10000};
    event_add(e.tick, &tv);
    bf_redis_url u;
    char err[256];
    cr_assert_eq(bf_parse_redis_url(e.t.url, &u, err, sizeof(err)), 0);
    bf_redis_opts o = {.url = &u,
                       .name = "cmd",
                       .attach = rc_attach,
                       .loop = e.base,
                       .on_ready = on_ready,
                       .on_down = on_down,
                       .connect_timeout_ms = 1000,
                       .command_timeout_ms = 1000,
                       .cluster_refresh_ms = 1000};
    e.r = bf_redis_new(&o);
    o.name = "sub";
    o.on_ready = o.on_down = NULL;
    e.sub = bf_redis_new(&o);
    cr_assert(rc_run(&e, rc_ready, 10000));
    cr_assert_eq(readies, 1);

    /* a key and a shard channel on the primary we kill, keys on the others */
    rc_reply rep;
    int victim = bf_rcl_owner(&e.t, 0);
    char key[64], ch[64];
    rc_key_on(&e, victim, "kept", key, sizeof(key));
    rc_key_on(&e, victim, "chan", ch, sizeof(ch));
    rc_key_on(&e, victim, "gone", gone, sizeof(gone));
    cr_assert_str_eq(rc_set(&e, &rep, key, "survives"), "OK");
    redisReply *r = bf_rcl_cmd(&e.t, victim, "WAIT 1 2000");
    cr_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1, "the replica has the key");
    freeReplyObject(r);
    const char *ss[] = {"SSUBSCRIBE", ch, gone};
    cr_assert_eq(bf_redis_cmdargv(e.sub, on_push, NULL, 3, ss, NULL), 0);
    for (int k = 0; k < 100 && !subscribed_on(&e, victim, ch); k++) rc_run(&e, never, 20);
    cr_assert(subscribed_on(&e, victim, ch));
    cr_assert(subscribed_on(&e, victim, gone));

    bf_rcl_kill(&e.t, victim);
    uint64_t killed = bf_now_ms();
    /* a subscriber that leaves a channel while the cluster is down (the gateway's hub freeing an
     * emptied channel) is not refused: the registry forgets it, and it is not subscribed again */
    cr_assert(rc_run(&e, sub_down, 5000), "the subscriber link did not notice the kill");
    const char *su[] = {"SUNSUBSCRIBE", gone};
    cr_expect_eq(bf_redis_cmdargv(e.sub, NULL, NULL, 2, su, NULL), 0,
                 "SUNSUBSCRIBE refused while the cluster is not ready");
    /* commands keep being sent: each either fails at once or gets a NULL reply / a cluster error;
     * none hangs past the command deadline */
    int failed = 0, ok_in_a_row = 0;
    while (ok_in_a_row < 20 && bf_now_ms() - killed < 30000) {
        const char *s = rc_set(&e, &rep, key, "after");
        if (!strcmp(s, "OK")) {
            ok_in_a_row++;
        } else {
            cr_assert(strcmp(s, "(no reply)"), "a command hung past its deadline");
            failed++;
            ok_in_a_row = 0;
            rc_run(&e, never, 50);
        }
    }
    cr_assert_eq(ok_in_a_row, 20, "commands did not flow again within 30 s of the kill");
    bf_log(BF_LOG_INFO, "failover: commands flowed again %llu ms after the kill (%d failed)",
           (unsigned long long)(bf_now_ms() - killed), failed);
    cr_expect_gt(failed, 0, "the kill was noticed");
    cr_expect_geq(downs, 1, "on_down ran");
    cr_expect_geq(readies, 2, "on_ready ran again");
    cr_expect_geq(bf_redis_reconnects(e.r), 1);
    int promoted = bf_rcl_owner(&e.t, bf_slot_of_key(key, strlen(key)));
    cr_assert(promoted >= 0 && promoted != victim);
    cr_expect_str_eq(rc_get(&e, &rep, key), "after");
    /* every shard answers, once the other primaries have learnt of the promotion too (until then
     * one may still answer CLUSTERDOWN: the cluster's own gossip, slower under a sanitizer) */
    for (int i = 0; i < 50; i++) {
        char k[32];
        snprintf(k, sizeof(k), "post-%d", i);
        const char *s = rc_set(&e, &rep, k, "x");
        for (uint64_t t0 = bf_now_ms(); strcmp(s, "OK") && bf_now_ms() - t0 < 5000;) {
            rc_run(&e, never, 50);
            s = rc_set(&e, &rep, k, "x");
        }
        cr_expect_str_eq(s, "OK", "SET %s", k);
    }
    /* the shard subscription moved to the promoted replica */
    for (int k = 0; k < 250 && !subscribed_on(&e, promoted, ch); k++) rc_run(&e, never, 20);
    cr_assert(subscribed_on(&e, promoted, ch), "not subscribed again on the promoted replica");
    r = bf_rcl_cmd(&e.t, promoted, "SPUBLISH %s %s", ch, "hello");
    freeReplyObject(r);
    cr_expect(rc_run(&e, got_message, 5000), "no message from the promoted replica");
    cr_expect(!subscribed_on(&e, promoted, gone), "%s was subscribed again after SUNSUBSCRIBE",
              gone);
    r = bf_rcl_cmd(&e.t, promoted, "SPUBLISH %s %s", gone, "nobody");
    freeReplyObject(r);
    r = bf_rcl_cmd(&e.t, promoted, "SPUBLISH %s %s", ch, "after");
    freeReplyObject(r);
    int before = messages;
    for (int k = 0; k < 100 && messages == before; k++) rc_run(&e, never, 20);
    cr_expect_eq(gone_messages, 0, "a message on %s after SUNSUBSCRIBE", gone);
    cr_expect_geq(rc_stats(e.sub).resubscribes, 1);
    rc_teardown(&e);
}
