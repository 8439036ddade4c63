/* Sharded pub/sub through a cluster:// bf_redis: SSUBSCRIBE is made on the node owning each
 * channel's slot, SPUBLISH on every shard reaches it (published on the owner directly and through
 * the cluster link), and still does after the slot moves to another primary (Redis 7 sends an
 * unsolicited sunsubscribe; the link subscribes again on the new owner). Plain SUBSCRIBE goes to
 * one node and receives a PUBLISH made on any other, since a cluster broadcasts PUBLISH. */
#include "common/err.h"
#include "rcluster_common.h"

TestSuite(rcluster_pubsub, .timeout = 60, .fini = rc_fini);

#define NCH 3

typedef struct got {
    char ch[NCH][64];
    int confirmed[NCH];
    int messages[NCH];
    char last[NCH][64];
    int plain;
} got;

static got g;

static int index_of(const char *ch)
{
    for (int i = 0; i < NCH; i++)
        if (!strcmp(g.ch[i], ch)) return i;
    return -1;
}

static void on_push(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    (void)ac;
    cr_assert_eq(priv, &g);
    if (!r) return;
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_geq(r->elements, 3);
    int i = index_of(r->element[1]->str);
    cr_assert_geq(i, 0, "a push for a channel never subscribed: %s", r->element[1]->str);
    if (!strcmp(r->element[0]->str, "ssubscribe")) {
        g.confirmed[i]++;
    } else {
        cr_assert_str_eq(r->element[0]->str, "smessage");
        g.messages[i]++;
        snprintf(g.last[i], sizeof(g.last[i]), "%s", r->element[2]->str);
    }
}

static int want_confirmed, want_messages[NCH];
static bool all_confirmed(rc_env *e)
{
    (void)e;
    for (int i = 0; i < NCH; i++)
        if (g.confirmed[i] < want_confirmed) return false;
    return true;
}

static bool all_messages(rc_env *e)
{
    (void)e;
    for (int i = 0; i < NCH; i++)
        if (g.messages[i] < want_messages[i]) return false;
    return true;
}

/* SPUBLISH on the node owning ch (as a publisher connected to the right shard would). */
static void spublish_direct(rc_env *e, int i, const char *msg)
{
    int owner = bf_rcl_owner(&e->t, bf_slot_of_key(g.ch[i], strlen(g.ch[i])));
    redisReply *r = bf_rcl_cmd(&e->t, owner, "SPUBLISH %s %s", g.ch[i], msg);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER, "SPUBLISH: %s", r && r->str ? r->str : "-");
    cr_expect_eq(r->integer, 1, "one shard subscriber on %s's owner", g.ch[i]);
    freeReplyObject(r);
    want_messages[i]++;
}

static bool never(rc_env *e)
{
    (void)e;
    return false;
}

static void setup_channels(rc_env *e)
{
    memset(&g, 0, sizeof(g));
    memset(want_messages, 0, sizeof(want_messages));
    /* one channel on each primary */
    int primaries[NCH], np = 0;
    for (int i = 0; i < BF_RCL_NODES && np < NCH; i++) {
        redisReply *r = bf_rcl_cmd(&e->t, i, "ROLE");
        if (r && !strcmp(r->element[0]->str, "master")) primaries[np++] = i;
        freeReplyObject(r);
    }
    cr_assert_eq(np, NCH);
    for (int i = 0; i < NCH; i++) rc_key_on(e, primaries[i], "shard", g.ch[i], sizeof(g.ch[i]));
    for (int i = 0; i < NCH; i++) {
        const char *argv[] = {"SSUBSCRIBE", g.ch[i]};
        cr_assert_eq(bf_redis_cmdargv(e->sub, on_push, &g, 2, argv, NULL), 0);
    }
    want_confirmed = 1;
    cr_assert(rc_run(e, all_confirmed, 5000), "SSUBSCRIBE not confirmed on every shard");
}

Test(rcluster_pubsub, spublish_on_every_shard_reaches_the_cluster_subscriber_even_after_a_move)
{
    static rc_env e; /* static: rc_fini reaches it after a failed assertion */
    rc_setup(&e, true, 60000);
    setup_channels(&e);
    for (int i = 0; i < NCH; i++) spublish_direct(&e, i, "direct");
    cr_assert(rc_run(&e, all_messages, 5000), "not every shard's message arrived");
    /* through the cluster link: SPUBLISH is routed to the channel's slot */
    rc_reply rep;
    for (int i = 0; i < NCH; i++) {
        const char *argv[] = {"SPUBLISH", g.ch[i], "routed"};
        cr_expect_str_eq(rc_call(&e, &rep, 3, argv), "1", "SPUBLISH %s through the link", g.ch[i]);
        want_messages[i]++;
    }
    cr_assert(rc_run(&e, all_messages, 5000));
    for (int i = 0; i < NCH; i++) cr_expect_str_eq(g.last[i], "routed");

    /* a burst, pipelined, every 50th message 40 KB (read by hiredis in several pieces): every
     * push must find its callback (docs/architecture.md, Redis Cluster) */
    {
        int owner = bf_rcl_owner(&e.t, bf_slot_of_key(g.ch[2], strlen(g.ch[2])));
        redisContext *rc = redisConnect("127.0.0.1", e.t.nodes[owner].port);
        cr_assert(rc && !rc->err);
        static char big[40001];
        memset(big, 'x', sizeof(big) - 1);
        for (int k = 0; k < 500; k++)
            redisAppendCommand(rc, "SPUBLISH %s %s", g.ch[2], k % 50 ? "small" : big);
        for (int k = 0; k < 500; k++) {
            redisReply *r = NULL;
            cr_assert_eq(redisGetReply(rc, (void **)&r), REDIS_OK);
            freeReplyObject(r);
        }
        redisFree(rc);
        want_messages[2] += 500;
        cr_assert(rc_run(&e, all_messages, 10000), "%d of %d messages of the burst", g.messages[2],
                  want_messages[2]);
        cr_expect_eq(g.messages[2], want_messages[2], "no more than sent either");
    }

    /* move channel 0's slot: its subscription must follow, told by Redis' unsolicited sunsubscribe
     * (the periodic refresh is a minute away in this suite) */
    unsigned slot = bf_slot_of_key(g.ch[0], strlen(g.ch[0]));
    int src = bf_rcl_owner(&e.t, slot), dst = bf_rcl_other_primary(&e.t, src);
    cr_assert_eq(bf_rcl_move_slot(&e.t, slot, src, dst), 0);
    want_confirmed = 2; /* channel 0 confirmed again (on dst); the others are not touched */
    g.confirmed[1] = g.confirmed[2] = 2;
    cr_assert(rc_run(&e, all_confirmed, 5000), "the moved channel was not subscribed again");
    cr_expect_eq(rc_stats(e.sub).resubscribes, 1);
    spublish_direct(&e, 0, "after-move");
    cr_assert(rc_run(&e, all_messages, 5000), "no message after the slot moved");
    cr_expect_str_eq(g.last[0], "after-move");
    /* the old owner has no shard subscriber for it any more */
    redisReply *r = bf_rcl_cmd(&e.t, src, "PUBSUB SHARDNUMSUB %s", g.ch[0]);
    cr_expect(r && r->elements == 2 && r->element[1]->integer == 0, "still subscribed on src");
    freeReplyObject(r);

    /* SUNSUBSCRIBE: no more callbacks for it */
    const char *un[] = {"SUNSUBSCRIBE", g.ch[1]};
    cr_assert_eq(bf_redis_cmdargv(e.sub, NULL, NULL, 2, un, NULL), 0);
    int owner1 = bf_rcl_owner(&e.t, bf_slot_of_key(g.ch[1], strlen(g.ch[1])));
    for (int k = 0; k < 100; k++) {
        rc_run(&e, never, 20);
        r = bf_rcl_cmd(&e.t, owner1, "PUBSUB SHARDNUMSUB %s", g.ch[1]);
        bool gone = r && r->elements == 2 && r->element[1]->integer == 0;
        freeReplyObject(r);
        if (gone) break;
    }
    r = bf_rcl_cmd(&e.t, owner1, "SPUBLISH %s %s", g.ch[1], "unheard");
    cr_expect(r && r->integer == 0, "unsubscribed on the owner");
    freeReplyObject(r);
    rc_teardown(&e);
}

static void on_plain(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    (void)ac;
    (void)priv;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        !strcmp(r->element[0]->str, "message") && !strcmp(r->element[2]->str, "hello"))
        g.plain++;
}

static bool plain_subscribed(rc_env *e)
{
    for (int i = 0; i < BF_RCL_NODES; i++) {
        redisReply *r = bf_rcl_cmd(&e->t, i, "PUBSUB NUMSUB plain");
        bool yes = r && r->elements == 2 && r->element[1]->integer == 1;
        freeReplyObject(r);
        if (yes) return true;
    }
    return false;
}

static bool plain_got(rc_env *e)
{
    (void)e;
    return g.plain >= BF_RCL_NODES;
}

Test(rcluster_pubsub, plain_subscribe_hears_a_publish_made_on_any_node)
{
    static rc_env e; /* static: rc_fini reaches it after a failed assertion */
    rc_setup(&e, true, 60000);
    memset(&g, 0, sizeof(g));
    /* one SSUBSCRIBE of more channels than the limit is refused, not cut */
    const char *many[70];
    char names[69][16];
    many[0] = "SSUBSCRIBE";
    for (int i = 0; i < 69; i++) {
        snprintf(names[i], sizeof(names[i]), "c%d", i);
        many[i + 1] = names[i];
    }
    cr_expect_eq(bf_redis_cmdargv(e.sub, on_plain, NULL, 70, many, NULL), BF_EINVAL);
    const char *argv[] = {"SUBSCRIBE", "plain"};
    cr_assert_eq(bf_redis_cmdargv(e.sub, on_plain, NULL, 2, argv, NULL), 0);
    for (int k = 0; k < 100 && !plain_subscribed(&e); k++) rc_run(&e, never, 20);
    cr_assert(plain_subscribed(&e));
    for (int i = 0; i < BF_RCL_NODES; i++) {
        redisReply *r = bf_rcl_cmd(&e.t, i, "PUBLISH plain hello");
        freeReplyObject(r);
    }
    cr_expect(rc_run(&e, plain_got, 5000), "%d of %d publishes heard", g.plain, BF_RCL_NODES);
    rc_teardown(&e);
}
