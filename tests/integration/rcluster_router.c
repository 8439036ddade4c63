/* The router's script calls on Redis Cluster, in their single-slot forms (docs/architecture.md,
 * "The daemons on Redis Cluster: the port", stage 3), against the harness' real three-primary
 * cluster with channels on every primary:
 *   - bf_publish_batch_send splits a batch by slot and answers one array of every target's seq in
 *     the batch's order (a channel twice, a channel whose seq did not start at 0), or the error of
 *     a failing slot;
 *   - a fenced publish checks and raises the channel's owner:{channel} (highest epoch wins);
 *   - the owner's operations (router/owner_ops.c, compiled in) on a cluster link: presence_apply
 *     with the router's live gateways as its argument (a join from a gateway missing from the view
 *     waits for a newer view, where it is applied if the gateway is there and refused if not),
 *     ppending left in steps after an emptied queue, channel_info's counts summed over
 *     the live gateways, and the sweep of a dead gateway in three calls (liveness, the channel's
 *     part fenced by owner:{channel}, the gateway's index entries), refused where a newer epoch
 *     holds the channel. */
#include "router/owner_ops.c"
#include "router/owner_sweep.c"

#include "common/err.h"
#include "common/redis_keys.h"
#include "common/scripts.h"
#include "common/wire.h"
#include "rcluster_common.h"

TestSuite(rcluster_router, .timeout = 90, .fini = rc_fini);

#define PFX "belfry:"
#define NCH 6 /* two channels on each primary */

static char CHS[NCH][32];

/* Channels named prefix-N, two on each primary (by the slot of their keys). */
static void pick_channels(rc_env *e, const char *prefix, int per_node, int n)
{
    int per[BF_RCL_NODES] = {0}, got = 0;
    for (int k = 0; got < n && k < 10000; k++) {
        char name[32], key[BF_KEY_MAX];
        snprintf(name, sizeof(name), "%s-%d", prefix, k);
        bf_key(key, PFX, BF_KEY_SEQ, name);
        int o = bf_rcl_owner(&e->t, bf_slot_of_key(key, strlen(key)));
        cr_assert_geq(o, 0);
        if (per[o] == per_node) continue;
        per[o]++;
        snprintf(CHS[got++], sizeof(CHS[0]), "%s", name);
    }
    cr_assert_eq(got, n, "channels on every primary");
}

/* A command routed by the transport, its reply as text (rc_call). */
static const char *q(rc_env *e, const char *a0, const char *a1, const char *a2)
{
    static rc_reply out;
    const char *argv[] = {a0, a1, a2};
    return rc_call(e, &out, a2 ? 3 : 2, argv);
}

static const char *qkey(rc_env *e, const char *cmd, bf_key_kind kind, const char *arg,
                        const char *a2)
{
    char key[BF_KEY_MAX];
    bf_key(key, PFX, kind, arg);
    return q(e, cmd, key, a2);
}

/* ---- publish_batch ------------------------------------------------------------------------ */

static struct {
    bool done, null_reply;
    int type;
    size_t n;
    long long seqs[16];
    char err[256];
} B;

static void on_batch(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)priv;
    redisReply *r = reply;
    B.done = true;
    B.null_reply = !r;
    if (!r) return;
    B.type = r->type;
    if (r->type == REDIS_REPLY_ERROR) snprintf(B.err, sizeof(B.err), "%s", r->str);
    if (r->type != REDIS_REPLY_ARRAY) return;
    B.n = r->elements;
    for (size_t i = 0; i < r->elements && i < 16; i++)
        B.seqs[i] = r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : -1;
}

static bool batch_done(rc_env *e)
{
    (void)e;
    return B.done;
}

static void send_batch(rc_env *e, const bf_pub_target *t, size_t nt)
{
    static const char p0[] = "{\"event\":\"a\",\"data\":\"x\",\"seq\":",
                      p1[] = "{\"event\":\"b\",\"data\":\"y\",\"seq\":";
    bf_pub_msg msgs[2] = {{.prefix = p0,
                           .prefix_len = sizeof(p0) - 1,
                           .data_raw = "x",
                           .data_raw_len = 1,
                           .exclude_socket = ""},
                          {.prefix = p1,
                           .prefix_len = sizeof(p1) - 1,
                           .data_raw = "y",
                           .data_raw_len = 1,
                           .exclude_socket = "1.2"}};
    bf_publish_batch b = {.prefix = PFX,
                          .history_size = 10,
                          .history_ttl_ms = 60000,
                          .msgs = msgs,
                          .nmsgs = 2,
                          .targets = t,
                          .ntargets = nt};
    memset(&B, 0, sizeof(B));
    cr_assert_eq(bf_publish_batch_send(e->r, &b, on_batch, NULL), 0);
    cr_assert(rc_run(e, batch_done, 5000), "the batch was not answered");
}

Test(rcluster_router, publish_batch_is_one_call_per_slot_and_answers_every_seq_in_order)
{
    rc_env e;
    rc_setup(&e, false, 0);
    cr_assert_eq(bf_scripts_load(e.r), 0);
    pick_channels(&e, "batch", 2, NCH);
    cr_assert_str_eq(qkey(&e, "SET", BF_KEY_SEQ, CHS[1], "100"), "OK");
    bf_pub_target t[NCH + 2];
    for (int i = 0; i < NCH; i++) t[i] = (bf_pub_target){.channel = CHS[i], .msg = 0};
    t[NCH] = (bf_pub_target){.channel = CHS[0], .msg = 1};
    t[NCH + 1] = (bf_pub_target){.channel = CHS[3], .msg = 1};
    send_batch(&e, t, NCH + 2);
    cr_assert_eq(B.type, REDIS_REPLY_ARRAY, "%s", B.err);
    cr_assert_eq(B.n, (size_t)NCH + 2);
    long long want[NCH + 2] = {1, 101, 1, 1, 1, 1, 2, 2};
    for (int i = 0; i < NCH + 2; i++)
        cr_expect_eq(B.seqs[i], want[i], "target %d (%s): seq %lld, want %lld", i, t[i].channel,
                     B.seqs[i], want[i]);
    for (int i = 0; i < NCH; i++) {
        char w[8];
        snprintf(w, sizeof(w), "%lld", i == 1 ? 101LL : (i == 0 || i == 3) ? 2LL : 1LL);
        cr_expect_str_eq(qkey(&e, "GET", BF_KEY_SEQ, CHS[i], NULL), w, "%s", CHS[i]);
    }
    /* each target got its own message: channel 0's second frame is message "b" */
    char hist[BF_KEY_MAX];
    bf_key(hist, PFX, BF_KEY_HIST, CHS[0]);
    const char *argv[] = {"XRANGE", hist, "2-1", "2-1"};
    rc_reply out;
    rc_call(&e, &out, 4, argv);
    cr_expect_str_eq(out.s, "(array 1)");

    /* a slot that fails: the caller hears the error, as from one call */
    cr_assert_str_eq(qkey(&e, "SET", BF_KEY_SEQ, CHS[2], "not-a-number"), "OK");
    send_batch(&e, t, NCH);
    cr_expect_eq(B.type, REDIS_REPLY_ERROR, "an error reply expected (type %d)", B.type);
    cr_expect(strstr(B.err, "not an integer"), "%s", B.err);
    rc_teardown(&e);
}

/* ---- fenced publish ----------------------------------------------------------------------- */

static const char *fenced(rc_env *e, const char *ch, uint64_t epoch)
{
    bf_publish p = {.prefix = PFX,
                    .channel = ch,
                    .frame_prefix = "{\"seq\":",
                    .frame_prefix_len = 7,
                    .fenced = true,
                    .ring_epoch = epoch,
                    .history_size = 0,
                    .cluster = true};
    bf_script_args a;
    cr_assert_eq(bf_publish_args(&a, &p), 0);
    static rc_reply out;
    memset(&out, 0, sizeof(out));
    cr_assert_eq(bf_script_args_send(e->r, &a, rc_on_reply, &out), 0);
    cr_assert(rc_await(e, &out));
    return out.s;
}

Test(rcluster_router, a_fenced_publish_checks_and_raises_the_channels_fence)
{
    rc_env e;
    rc_setup(&e, false, 0);
    cr_assert_eq(bf_scripts_load(e.r), 0);
    pick_channels(&e, "fence", 1, 3);
    for (int i = 0; i < 3; i++) {
        cr_expect_str_eq(fenced(&e, CHS[i], 10), "1", "%s: a first owner publishes", CHS[i]);
        cr_expect_str_eq(qkey(&e, "GET", BF_KEY_OWNER, CHS[i], NULL), "10");
        cr_expect_str_eq(fenced(&e, CHS[i], 10), "2", "the same epoch again");
        const char *r = fenced(&e, CHS[i], 9);
        cr_expect(strstr(r, "STALE"), "an older owner is refused: %s", r);
        cr_expect_str_eq(qkey(&e, "GET", BF_KEY_SEQ, CHS[i], NULL), "2", "and sequences nothing");
        cr_expect_str_eq(fenced(&e, CHS[i], 11), "3", "a newer owner takes the channel");
        cr_expect_str_eq(qkey(&e, "GET", BF_KEY_OWNER, CHS[i], NULL), "11");
        /* a fence is not kept forever (one key per channel ever published) */
        const char *ttl = qkey(&e, "PTTL", BF_KEY_OWNER, CHS[i], NULL);
        cr_expect(atoll(ttl) > 86000000 && atoll(ttl) <= 86400000, "PTTL %s", ttl);
        r = fenced(&e, CHS[i], 10);
        cr_expect(strstr(r, "STALE"), "the previous owner is now refused: %s", r);
    }
    rc_teardown(&e);
}

/* ---- the owner's operations on a cluster link --------------------------------------------- */

typedef struct up {
    int stale;
} up;

static void on_stale(void *arg)
{
    ((up *)arg)->stale++;
}

static void push_join(rc_env *e, const char *ch, const char *conn, const char *user)
{
    char member[128], key[BF_KEY_MAX];
    snprintf(member, sizeof(member), "{\"id\":\"%s\",\"joinedAt\":1000,\"info\":{}}", user);
    bf_inbox m = {.op = BF_OP_REJOIN,
                  .channel = {ch, strlen(ch)},
                  .conn_id = {conn, strlen(conn)},
                  .user_id = {user, strlen(user)},
                  .payload = {member, strlen(member)}};
    char *env;
    size_t len;
    cr_assert_eq(bf_wire_encode_inbox(&m, &env, &len), 0);
    bf_key(key, PFX, BF_KEY_POPS, ch);
    const char *argv[] = {"RPUSH", key, env};
    size_t lens[] = {5, strlen(key), len};
    rc_reply out;
    memset(&out, 0, sizeof(out));
    cr_assert_eq(bf_redis_cmdargv(e->r, rc_on_reply, &out, 3, argv, lens), 0);
    cr_assert(rc_await(e, &out));
    free(env);
}

static rc_env *E;

static bool applied_everywhere(rc_env *e)
{
    (void)e;
    static uint64_t next;
    if (bf_now_ms() < next) return false;
    next = bf_now_ms() + 50;
    if (strcmp(qkey(E, "SCARD", BF_KEY_PPENDING, NULL, NULL), "0")) return false;
    for (int i = 0; i < 3; i++)
        if (strcmp(qkey(E, "HLEN", BF_KEY_PRESENCE, CHS[i], NULL), "2")) return false;
    return true;
}

static bf_owner_ops *OPS;

static bool all_deferred(rc_env *e)
{
    (void)e;
    return bf_owner_ops_stats_get(OPS)->deferred == 3;
}

static bool swept(rc_env *e)
{
    (void)e;
    static uint64_t next;
    if (bf_now_ms() < next) return false;
    next = bf_now_ms() + 50;
    /* every channel but the fenced one (2) left the dead gateway's index */
    return !strcmp(qkey(E, "SCARD", BF_KEY_GWCHANS, "gw-dead", NULL), "1") &&
           !strcmp(qkey(E, "SISMEMBER", BF_KEY_GWCHANS, "gw-dead", CHS[2]), "1") &&
           !strcmp(qkey(E, "SCARD", BF_KEY_GWPRES, "gw-dead", NULL), "1");
}

static struct {
    bool done;
    long long conns, users;
} INFO;

static bf_owner_ops *INFO_O;

static void on_info(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)priv;
    redisReply *r = reply;
    INFO.done = true;
    INFO.conns = INFO.users = -2;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) return;
    INFO.conns = bf_owner_ops_live_connections(INFO_O, r->element[0]);
    INFO.users = r->element[1]->integer;
}

static bool info_done(rc_env *e)
{
    (void)e;
    return INFO.done;
}

Test(rcluster_router, the_owners_apply_and_sweep_stay_in_one_slot_per_call)
{
    rc_env e;
    rc_setup(&e, false, 0);
    E = &e;
    cr_assert_eq(bf_scripts_load(e.r), 0);
    pick_channels(&e, "presence-own", 1, 3);
    bf_ring *ring = bf_ring_new();
    const char *members[] = {"rt-a"};
    bf_ring_set(ring, members, 1, 5);
    up u = {0};
    bf_owner_ops_opts oo = {.cmd = e.r,
                            .ring = ring,
                            .prefix = PFX,
                            .node_id = "rt-a",
                            .history_size = 10,
                            .history_ttl_ms = 60000,
                            .on_stale = on_stale,
                            .arg = &u};
    bf_owner_ops *o = bf_owner_ops_new(&oo);
    INFO_O = OPS = o;
    const char *live[] = {"gw-a", "gw-dead"};
    bf_owner_ops_set_gateways(o, live, 2);

    /* gw-dead's state in each channel, as a gateway leaves it (its liveness entry long expired) */
    char kg[BF_KEY_MAX];
    bf_key(kg, PFX, BF_KEY_GATEWAYS, NULL);
    const char *zadd[] = {"ZADD", kg, "1", "gw-dead"};
    rc_reply out;
    cr_assert_str_eq(rc_call(&e, &out, 4, zadd), "1");
    for (int i = 0; i < 3; i++) {
        push_join(&e, CHS[i], "gw-dead/1", "u1");
        /* gateways this router does not see yet: gw-new appears in its next view, gw-ghost never */
        push_join(&e, CHS[i], "gw-ghost/1", "u2");
        push_join(&e, CHS[i], "gw-new/1", "u3");
        cr_assert_str_eq(qkey(&e, "SADD", BF_KEY_PPENDING, NULL, CHS[i]), "1");
        char kc[BF_KEY_MAX];
        bf_key(kc, PFX, BF_KEY_CONNS, CHS[i]);
        /* gw-gone: counts of a gateway no longer in the view, not swept yet */
        const char *hset[] = {"HSET", kc, "gw-dead", "1", "gw-a", "2", "gw-gone", "4"};
        cr_assert_str_eq(rc_call(&e, &out, 8, hset), "3");
        cr_assert_str_eq(qkey(&e, "SADD", BF_KEY_GWCHANS, "gw-dead", CHS[i]), "1");
        cr_assert_str_eq(qkey(&e, "SADD", BF_KEY_GWPRES, "gw-dead", CHS[i]), "1");
    }
    cr_assert_str_eq(qkey(&e, "SADD", BF_KEY_GWKNOWN, NULL, "gw-dead"), "1");
    /* gw-late: missing from the router's view, but alive on the Redis clock (the view is stale):
     * the liveness check just before the channel's part keeps it */
    const char *zlate[] = {"ZADD", kg, "99999999999999", "gw-late"};
    cr_assert_str_eq(rc_call(&e, &out, 4, zlate), "1");
    cr_assert_str_eq(qkey(&e, "SADD", BF_KEY_GWKNOWN, NULL, "gw-late"), "1");
    cr_assert_str_eq(qkey(&e, "SADD", BF_KEY_GWCHANS, "gw-late", CHS[0]), "1");
    char kc0[BF_KEY_MAX];
    bf_key(kc0, PFX, BF_KEY_CONNS, CHS[0]);
    const char *hlate[] = {"HSET", kc0, "gw-late", "7"};
    cr_assert_str_eq(rc_call(&e, &out, 4, hlate), "1");

    /* out of the ring the cluster form does not apply (no fresh view of the gateways), not even
     * on a nudge; the LLEN, in the channel's slot, is ordered after an apply sent before it */
    bf_inbox nudge = {.op = BF_OP_APPLY, .channel = {CHS[0], strlen(CHS[0])}};
    char *env;
    size_t envlen;
    cr_assert_eq(bf_wire_encode_inbox(&nudge, &env, &envlen), 0);
    bf_owner_ops_on_inbox(o, env, envlen);
    free(env);
    cr_expect_str_eq(qkey(&e, "LLEN", BF_KEY_POPS, CHS[0], NULL), "3");
    bf_owner_ops_sweep(o);
    bf_owner_ops_set_in_ring(o, true);
    bf_owner_ops_sweep(o); /* applies ppending's channels; gw-dead is alive in the view */
    /* gw-dead's joins are applied; gw-ghost's, from a gateway the view does not name, wait at the
     * head of the queue for a newer view, which the router asks for */
    cr_assert(rc_run(&e, all_deferred, 10000), "the applies did not defer (%llu)",
              (unsigned long long)bf_owner_ops_stats_get(o)->deferred);
    cr_expect_gt(u.stale, 0, "a deferral asks for a fresher view");
    for (int i = 0; i < 3; i++) {
        cr_expect_str_eq(qkey(&e, "HLEN", BF_KEY_PRESENCE, CHS[i], NULL), "1");
        cr_expect_str_eq(qkey(&e, "LLEN", BF_KEY_POPS, CHS[i], NULL), "2", "kept, in order");
    }
    /* the next heartbeat's view: gw-new is in it, gw-ghost is not (dead: refused) */
    const char *next_live[] = {"gw-a", "gw-dead", "gw-new"};
    bf_owner_ops_set_gateways(o, next_live, 3);
    cr_assert(rc_run(&e, applied_everywhere, 10000), "the pending joins were not applied");
    for (int i = 0; i < 3; i++) {
        cr_expect_str_eq(qkey(&e, "HEXISTS", BF_KEY_PRESENCE, CHS[i], "gw-dead/1"), "1");
        cr_expect_str_eq(qkey(&e, "HEXISTS", BF_KEY_PRESENCE, CHS[i], "gw-new/1"), "1",
                         "a gateway the first view did not know yet");
        cr_expect_str_eq(qkey(&e, "HEXISTS", BF_KEY_PRESENCE, CHS[i], "gw-ghost/1"), "0",
                         "a join from a gateway missing from a newer view is refused");
        cr_expect_str_eq(qkey(&e, "LLEN", BF_KEY_POPS, CHS[i], NULL), "0");
        /* occupancy: the live gateways' counts only */
        bf_script_args a;
        cr_assert_eq(bf_channel_info_args(&a, PFX, CHS[i], true), 0);
        memset(&INFO, 0, sizeof(INFO));
        cr_assert_eq(bf_script_args_send(e.r, &a, on_info, NULL), 0);
        cr_assert(rc_run(&e, info_done, 5000));
        cr_expect_eq(INFO.conns, 3, "gw-a and gw-dead are live, gw-gone is not: %lld", INFO.conns);
        cr_expect_eq(INFO.users, 2);
    }
    cr_expect_eq(bf_owner_ops_stats_get(o)->applied, 9);

    /* gw-dead leaves the view: the next pass sweeps it, except where a newer owner holds the
     * channel's fence */
    cr_assert_str_eq(qkey(&e, "SET", BF_KEY_OWNER, CHS[2], "9"), "OK");
    const char *now_live[] = {"gw-a", "gw-new"};
    bf_owner_ops_set_gateways(o, now_live, 2);
    bf_owner_ops_sweep(o);
    cr_assert(rc_run(&e, swept, 10000), "the dead gateway was not swept");
    for (int i = 0; i < 2; i++) {
        cr_expect_str_eq(qkey(&e, "HEXISTS", BF_KEY_PRESENCE, CHS[i], "gw-dead/1"), "0", "%s",
                         CHS[i]);
        cr_expect_str_eq(qkey(&e, "HEXISTS", BF_KEY_PRESENCE, CHS[i], "gw-new/1"), "1");
        cr_expect_str_eq(qkey(&e, "HGET", BF_KEY_CONNS, CHS[i], "gw-dead"), "(nil)");
        cr_expect_str_eq(qkey(&e, "HGET", BF_KEY_CONNS, CHS[i], "gw-a"), "2");
        cr_expect_str_eq(qkey(&e, "GET", BF_KEY_SEQ, CHS[i], NULL), "3", "two joins, a leave");
        cr_expect_str_eq(qkey(&e, "GET", BF_KEY_OWNER, CHS[i], NULL), "5");
    }
    cr_expect_str_eq(qkey(&e, "HEXISTS", BF_KEY_PRESENCE, CHS[2], "gw-dead/1"), "1",
                     "the fenced channel is left to its newer owner");
    cr_expect_str_eq(qkey(&e, "GET", BF_KEY_OWNER, CHS[2], NULL), "9");
    cr_expect_gt(u.stale, 0, "a refused sweep asks for a fresher ring");
    cr_expect_str_eq(qkey(&e, "SISMEMBER", BF_KEY_GWKNOWN, NULL, "gw-dead"), "1");
    cr_expect_eq(bf_owner_ops_stats_get(o)->sweep_leaves, 2);

    /* the newer epoch is ours too: the last channel goes, and so does the gateway */
    bf_ring_set(ring, members, 1, 9);
    bf_owner_ops_sweep(o);
    uint64_t deadline = bf_now_ms() + 10000;
    while (strcmp(qkey(&e, "SISMEMBER", BF_KEY_GWKNOWN, NULL, "gw-dead"), "0") &&
           bf_now_ms() < deadline)
        event_base_loop(e.base, EVLOOP_NONBLOCK);
    cr_expect_str_eq(qkey(&e, "SISMEMBER", BF_KEY_GWKNOWN, NULL, "gw-dead"), "0",
                     "the gateway is forgotten once its index is empty");
    cr_expect_str_eq(qkey(&e, "HLEN", BF_KEY_PRESENCE, CHS[2], NULL), "1");
    cr_expect_str_eq(qkey(&e, "HGET", BF_KEY_CONNS, CHS[0], "gw-late"), "7",
                     "a gateway alive on the Redis clock is not swept");
    cr_expect_str_eq(qkey(&e, "SISMEMBER", BF_KEY_GWCHANS, "gw-late", CHS[0]), "1");

    /* an older gateway's join sent straight to the inbox: the router records it in the queue (in
     * the cluster's steps) and applies it */
    char member[] = "{\"id\":\"u9\",\"joinedAt\":1,\"info\":{}}";
    bf_inbox join = {.op = BF_OP_REJOIN,
                     .channel = {CHS[0], strlen(CHS[0])},
                     .conn_id = {"gw-a/9", 6},
                     .user_id = {"u9", 2},
                     .payload = {member, strlen(member)}};
    cr_assert_eq(bf_wire_encode_inbox(&join, &env, &envlen), 0);
    bf_owner_ops_on_inbox(o, env, envlen);
    free(env);
    deadline = bf_now_ms() + 10000;
    while (strcmp(qkey(&e, "HEXISTS", BF_KEY_PRESENCE, CHS[0], "gw-a/9"), "1") &&
           bf_now_ms() < deadline)
        event_base_loop(e.base, EVLOOP_NONBLOCK);
    cr_expect_str_eq(qkey(&e, "HEXISTS", BF_KEY_PRESENCE, CHS[0], "gw-a/9"), "1",
                     "an inbox join is enqueued and applied");

    bf_owner_ops_stop(o);
    rc_teardown(&e); /* before freeing what the pending callbacks use */
    bf_owner_ops_free(o);
    bf_ring_free(ring);
}
