/* The gateway's Redis calls on a real three-primary Redis Cluster (the harness'), in their
 * single-slot forms (docs/architecture.md, "The daemons on Redis Cluster: the port"):
 *   - bf_conns_send: the index (gwchans, gwknown), one conns.lua call per slot, the emptied
 *     channels leaving the index; one array of counts, in order, for the caller; the occupancy
 *     events reach the cluster-wide stream through the caller (bf_script_call);
 *   - bf_presence_enqueue_send: a join's index, the operation in the channel's slot, then
 *     ppending; one connection's operations in order, the nudge published;
 *   - bf_leave_send: the gateway's counts removed per slot, then its membership (clean or not);
 *   - presence_audit.lua without the gwchans key, and gateway/reconcile.c's pass on a cluster:
 *     wrong counts repaired, right ones left alone.
 * Channels are chosen on every primary, and two of them share one slot (one conns.lua call). */
#include "common/err.h"
#include "common/redis_keys.h"
#include "common/scripts.h"
#include "gateway/conncount.h"
#include "gateway/owner.h"
#include "gateway/reconcile.h"
#include "rcluster_common.h"

TestSuite(rcluster_gateway, .timeout = 120, .fini = rc_fini);

#define PFX "belfry:"
#define NCH 7 /* two per primary, and one more in channel 0's slot */

static char CH[NCH][32];

/* Two channels on each primary, then one that shares CH[0]'s slot. */
static void pick_channels(rc_env *e, const char *stem)
{
    int per[BF_RCL_NODES] = {0}, n = 0;
    char key[BF_KEY_MAX];
    for (int k = 0; n < NCH - 1 && k < 10000; k++) {
        char name[32];
        snprintf(name, sizeof(name), "%s-%d", stem, k);
        bf_key(key, PFX, BF_KEY_CONNS, name);
        int o = bf_rcl_owner(&e->t, bf_slot_of_key(key, strlen(key)));
        cr_assert_geq(o, 0);
        if (per[o] == 2) continue;
        per[o]++;
        snprintf(CH[n++], sizeof(CH[0]), "%s", name);
    }
    cr_assert_eq(n, NCH - 1, "two channels on every primary");
    bf_key(key, PFX, BF_KEY_CONNS, CH[0]);
    unsigned slot0 = bf_slot_of_key(key, strlen(key));
    for (int k = 0; k < 1000000; k++) {
        char name[32];
        snprintf(name, sizeof(name), "%s-same-%d", stem, k);
        bf_key(key, PFX, BF_KEY_CONNS, name);
        if (bf_slot_of_key(key, strlen(key)) == slot0) {
            snprintf(CH[NCH - 1], sizeof(CH[0]), "%s", name);
            return;
        }
    }
    cr_assert_fail("no channel shares %s's slot", CH[0]);
}

/* ---- replies ------------------------------------------------------------------------------- */

typedef struct got {
    int calls;
    bool ok;
    size_t n;
    long long v[16];
    char err[256];
} got;

/* Records one reply in g: ok when it is of type want (an array's integers kept in v), else the
 * error. */
static void got_reply(got *g, const redisReply *r, int want)
{
    g->calls++;
    g->ok = r && r->type == want;
    if (!g->ok) {
        snprintf(g->err, sizeof(g->err), "%s", !r ? "(null)" : r->str ? r->str : "unexpected");
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY) return;
    g->n = r->elements;
    for (size_t i = 0; i < r->elements && i < 16; i++)
        g->v[i] = r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : -999;
}

/* The reply of a script that answers an array. */
static void on_got(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    got_reply(priv, reply, REDIS_REPLY_ARRAY);
}

static got *waiting;
static bool got_one(rc_env *e)
{
    (void)e;
    return waiting->calls > 0;
}

static void wait_got(rc_env *e, got *g)
{
    waiting = g;
    cr_assert(rc_run(e, got_one, 5000), "no reply");
    /* the callback runs once: a second call would show here after more loop turns */
    for (int i = 0; i < 20; i++) event_base_loop(e->base, EVLOOP_NONBLOCK);
    cr_expect_eq(g->calls, 1, "the caller's callback ran %d times", g->calls);
}

static long long integer(rc_env *e, const char *cmd, const char *key, const char *arg)
{
    rc_reply out;
    const char *argv[] = {cmd, key, arg};
    const char *s = rc_call(e, &out, arg ? 3 : 2, argv);
    if (!strcmp(s, "(nil)")) return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    cr_assert(*s && !*end, "%s %s: %s", cmd, key, s);
    return v;
}

static long long hget_conns(rc_env *e, const char *ch, const char *gw)
{
    char key[BF_KEY_MAX];
    bf_key(key, PFX, BF_KEY_CONNS, ch);
    return integer(e, "HGET", key, gw);
}

static bool member(rc_env *e, bf_key_kind kind, const char *id, const char *m)
{
    char key[BF_KEY_MAX];
    bf_key(key, PFX, kind, id);
    return integer(e, "SISMEMBER", key, m) == 1;
}

static long long card(rc_env *e, bf_key_kind kind, const char *id)
{
    char key[BF_KEY_MAX];
    bf_key(key, PFX, kind, id);
    return integer(e, "SCARD", key, NULL);
}

static void start(rc_env *e)
{
    rc_setup(e, false, 0);
    cr_assert_eq(bf_scripts_load(e->r), 0);
}

/* ---- conns ---------------------------------------------------------------------------------- */

Test(rcluster_gateway, conns_counts_go_per_slot_and_the_index_follows_them)
{
    rc_env e;
    start(&e);
    pick_channels(&e, "cn");
    char on[BF_KEY_MAX], stream[BF_KEY_MAX];
    bf_key(on, PFX, BF_KEY_WEBHOOKS_ON, NULL);
    bf_key(stream, PFX, BF_KEY_WEBHOOKS, NULL);
    rc_reply out;
    rc_set(&e, &out, on, "60000");

    bf_conns_change up[NCH];
    long long want[NCH];
    for (int i = 0; i < NCH; i++) {
        up[i] = (bf_conns_change){.channel = CH[i], .value = i + 1, .absolute = i == 2};
        want[i] = i + 1;
    }
    got g = {0};
    cr_assert_eq(bf_conns_send(e.r, PFX, "gw1", up, NCH, on_got, &g), 0);
    wait_got(&e, &g);
    cr_assert(g.ok, "conns failed: %s", g.err);
    cr_assert_eq(g.n, NCH, "one array with every channel's count");
    for (int i = 0; i < NCH; i++) {
        cr_expect_eq(g.v[i], want[i], "%s: count %lld in the reply", CH[i], g.v[i]);
        cr_expect_eq(hget_conns(&e, CH[i], "gw1"), want[i], "%s's count in Redis", CH[i]);
        cr_expect(member(&e, BF_KEY_GWCHANS, "gw1", CH[i]), "%s indexed", CH[i]);
    }
    cr_expect(member(&e, BF_KEY_GWKNOWN, NULL, "gw1"));
    /* every channel became occupied: its event reached the cluster-wide stream */
    long long events = 0;
    for (int k = 0; k < 100 && events < NCH; k++) events = integer(&e, "XLEN", stream, NULL);
    cr_expect_eq(events, NCH, "channel_occupied events: %lld", events);

    /* down to 0 (a delta, an absolute, two in one slot) and up again */
    bf_conns_change down[] = {{CH[0], -1, false},
                              {CH[1], 0, true},
                              {CH[2], 1, false},
                              {CH[NCH - 1], -NCH, false},
                              {CH[3], -4, false}};
    got d = {0};
    cr_assert_eq(bf_conns_send(e.r, PFX, "gw1", down, 5, on_got, &d), 0);
    wait_got(&e, &d);
    cr_assert(d.ok, "conns failed: %s", d.err);
    long long want_d[] = {0, 0, 4, 0, 0};
    for (int i = 0; i < 5; i++)
        cr_expect_eq(d.v[i], want_d[i], "%s: %lld", down[i].channel, d.v[i]);
    for (int i = 0; i < 5; i++) {
        bool left = want_d[i] > 0;
        cr_expect_eq(member(&e, BF_KEY_GWCHANS, "gw1", down[i].channel), left, "%s: in gwchans %d",
                     down[i].channel, !left);
        cr_expect_eq(hget_conns(&e, down[i].channel, "gw1"), left ? want_d[i] : -1);
    }
    cr_expect_eq(card(&e, BF_KEY_GWCHANS, "gw1"), NCH - 4);
    /* the emptied channels' channel_vacated is held for the delay, through the caller too */
    char vacating[BF_KEY_MAX];
    bf_key(vacating, PFX, BF_KEY_WEBHOOKS_VACATING, NULL);
    long long held = 0;
    for (int k = 0; k < 100 && held < 4; k++) held = integer(&e, "ZCARD", vacating, NULL);
    cr_expect_eq(held, 4, "channel_vacated held for %lld channels", held);

    /* a change with no channel gaining: no index step, the counts at once */
    bf_conns_change neg[] = {{CH[4], -1, false}};
    got n = {0};
    cr_assert_eq(bf_conns_send(e.r, PFX, "gw1", neg, 1, on_got, &n), 0);
    wait_got(&e, &n);
    cr_expect(n.ok && n.v[0] == 4, "%s", n.err);

    /* bf_conncount keeps one call in flight on a cluster: a channel's next change waits for the
     * previous call's last step (its SREM could otherwise land after the next call's SADD) */
    bf_conncount *cc = bf_conncount_new(PFX, "gw1");
    bf_conncount_add(cc, CH[5], -1);
    cr_expect_eq(bf_conncount_flush(cc, e.r), 1);
    cr_expect(bf_conncount_busy(cc));
    bf_conncount_add(cc, CH[5], 2);
    cr_expect_eq(bf_conncount_flush(cc, e.r), 0, "a second call while the first is unanswered");
    cr_expect(bf_conncount_changed(cc, CH[5]), "a change not yet sent");
    while (bf_conncount_busy(cc)) event_base_loop(e.base, EVLOOP_ONCE);
    cr_expect_eq(hget_conns(&e, CH[5], "gw1"), 5);
    cr_expect_eq(bf_conncount_flush(cc, e.r), 1);
    while (bf_conncount_busy(cc)) event_base_loop(e.base, EVLOOP_ONCE);
    cr_expect_eq(hget_conns(&e, CH[5], "gw1"), 7);
    rc_teardown(&e);
    bf_conncount_free(cc);
}

/* ---- presence_enqueue ------------------------------------------------------------------------ */

#define NOPS 4

static struct {
    rc_env *e;
    int next[NCH];
    got acks[NCH][NOPS];
    int errors;
} Q;

static void send_op(int c);

static void on_ack(redisAsyncContext *ac, void *reply, void *priv)
{
    int c = (int)(intptr_t)priv;
    int k = Q.next[c];
    on_got(ac, reply, &Q.acks[c][k]);
    if (!Q.acks[c][k].ok) Q.errors++;
    Q.next[c]++;
    if (Q.next[c] < NOPS) send_op(c); /* one connection's operations one at a time */
}

/* Channel c's operations: join, leave, rejoin, leave (envelopes "op-c-k"). */
static void send_op(int c)
{
    int k = Q.next[c];
    char env[32];
    snprintf(env, sizeof(env), "op-%d-%d", c, k);
    bool join = k % 2 == 0;
    /* the last channel only ever leaves: it is not indexed in gwpres */
    if (c == NCH - 1) join = false;
    bf_presence_enqueue pe = {.prefix = PFX,
                              .channel = CH[c],
                              .gateway = "gw2",
                              .envelope = env,
                              .envelope_len = strlen(env),
                              .join = join,
                              .owner = "rt1"};
    cr_assert_eq(bf_presence_enqueue_send(Q.e->r, &pe, on_ack, (void *)(intptr_t)c), 0);
}

static bool all_acked(rc_env *e)
{
    (void)e;
    for (int c = 0; c < NCH; c++)
        if (Q.next[c] < NOPS) return false;
    return true;
}

Test(rcluster_gateway, presence_operations_are_recorded_in_order_and_indexed)
{
    rc_env e;
    start(&e);
    pick_channels(&e, "pq");
    memset(&Q, 0, sizeof(Q));
    Q.e = &e;
    /* a subscriber of the owner's inbox on one node: a cluster forwards PUBLISH to every node */
    char inbox[BF_KEY_MAX];
    bf_key(inbox, PFX, BF_KEY_INBOX, "rt1");
    redisContext *sub = redisConnect("127.0.0.1", e.t.nodes[0].port);
    cr_assert(sub && !sub->err);
    redisReply *r = redisCommand(sub, "SUBSCRIBE %s", inbox);
    freeReplyObject(r);

    for (int c = 0; c < NCH; c++) send_op(c);
    cr_assert(rc_run(&e, all_acked, 10000), "not every operation was acknowledged");
    cr_expect_eq(Q.errors, 0, "operations failed");
    for (int c = 0; c < NCH; c++) {
        for (int k = 0; k < NOPS; k++) {
            got *g = &Q.acks[c][k];
            cr_expect(g->ok && g->n == 2, "%s op %d: %s", CH[c], k, g->err);
            cr_expect_eq(g->v[0], k + 1, "%s op %d: %lld pending", CH[c], k, g->v[0]);
        }
        char key[BF_KEY_MAX];
        bf_key(key, PFX, BF_KEY_POPS, CH[c]);
        rc_reply out;
        for (int k = 0; k < NOPS; k++) {
            char want[32];
            snprintf(want, sizeof(want), "op-%d-%d", c, k);
            char idx[8];
            snprintf(idx, sizeof(idx), "%d", k);
            const char *argv[] = {"LINDEX", key, idx};
            cr_expect_str_eq(rc_call(&e, &out, 3, argv), want, "%s: operation %d", CH[c], k);
        }
        cr_expect(member(&e, BF_KEY_PPENDING, NULL, CH[c]), "%s in ppending", CH[c]);
        cr_expect_eq(member(&e, BF_KEY_GWPRES, "gw2", CH[c]), c != NCH - 1,
                     "%s: gwpres only after a join", CH[c]);
    }
    cr_expect(member(&e, BF_KEY_GWKNOWN, NULL, "gw2"));
    /* every operation nudged the owner */
    struct timeval tv = {2, 0};
    redisSetTimeout(sub, tv);
    int nudges = 0;
    while (nudges < NCH * NOPS && redisGetReply(sub, (void **)&r) == REDIS_OK) {
        nudges++;
        freeReplyObject(r);
    }
    cr_expect_eq(nudges, NCH * NOPS, "nudges received: %d", nudges);
    redisFree(sub);
    rc_teardown(&e);
}

/* ---- leave ---------------------------------------------------------------------------------- */

static void counts(rc_env *e, const char *gw, long long v)
{
    bf_conns_change c[NCH];
    for (int i = 0; i < NCH; i++) c[i] = (bf_conns_change){CH[i], v, false};
    got g = {0};
    cr_assert_eq(bf_conns_send(e->r, PFX, gw, c, NCH, on_got, &g), 0);
    wait_got(e, &g);
    cr_assert(g.ok, "%s", g.err);
}

static void heartbeat(rc_env *e, const char *gw)
{
    bf_heartbeat hb = {.prefix = PFX,
                       .node_id = gw,
                       .ttl_ms = 60000,
                       .host = "127.0.0.1",
                       .port = 1,
                       .version = "t",
                       .connections = "0"};
    got g = {0};
    cr_assert_eq(bf_heartbeat_send(e->r, &hb, on_got, &g), 0);
    wait_got(e, &g);
}

/* leave.lua's reply: an integer. */
static void on_left(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    got_reply(priv, reply, REDIS_REPLY_INTEGER);
}

Test(rcluster_gateway, a_gateway_leaves_its_counts_per_slot_then_its_membership)
{
    rc_env e;
    start(&e);
    pick_channels(&e, "lv");
    char gws[BF_KEY_MAX];
    bf_key(gws, PFX, BF_KEY_GATEWAYS, NULL);
    for (int clean = 0; clean < 2; clean++) {
        const char *gw = clean ? "gw-clean" : "gw-unclean";
        counts(&e, gw, 2);
        counts(&e, "gw-other", 1);
        heartbeat(&e, gw);
        cr_assert_neq(integer(&e, "ZSCORE", gws, gw), -1, "%s is a member", gw);
        bf_leave l = {.prefix = PFX, .node_id = gw, .clean = clean};
        got g = {0};
        cr_assert_eq(bf_leave_send(e.r, &l, on_left, &g), 0);
        waiting = &g;
        cr_assert(rc_run(&e, got_one, 5000), "no reply to the leave");
        cr_expect(g.ok, "leave failed: %s", g.err);
        for (int i = 0; i < NCH; i++) {
            cr_expect_eq(hget_conns(&e, CH[i], gw), -1, "%s: %s's count is left", CH[i], gw);
            cr_expect_eq(hget_conns(&e, CH[i], "gw-other"), clean ? 2 : 1,
                         "%s: another gateway's count is kept", CH[i]);
        }
        cr_expect_eq(integer(&e, "ZSCORE", gws, gw), -1, "%s left the membership", gw);
        cr_expect_eq(card(&e, BF_KEY_GWCHANS, gw), 0, "%s: no count indexed", gw);
        cr_expect_eq(member(&e, BF_KEY_GWKNOWN, NULL, gw), !clean,
                     "%s: gwknown kept only for the sweep of an unclean leave", gw);
    }
    rc_teardown(&e);
}

/* ---- audit and reconciliation ------------------------------------------------------------- */

static size_t LOCAL[NCH]; /* the fake gateway's connections per channel */

static void foreach_presence(void *src, bf_reconcile_conn_fn fn, void *arg)
{
    (void)src, (void)fn, (void)arg;
}

static void foreach_channel(void *src, bf_reconcile_chan_fn fn, void *arg)
{
    (void)src;
    for (int i = 0; i < NCH; i++)
        if (LOCAL[i]) fn(CH[i], LOCAL[i], arg);
}

static size_t channel_conns(void *src, const char *ch)
{
    (void)src;
    for (int i = 0; i < NCH; i++)
        if (!strcmp(CH[i], ch)) return LOCAL[i];
    return 0;
}

static struct {
    bf_reconcile *rec;
    bf_conncount *cc;
    uint64_t passes;
    bool racing; /* a connection arrives on CH[0] just after the pass' reads are sent */
} RC;

/* The gateway's loop, reduced: the counts flushed every turn, the reconciliation ticked. */
static bool passes_done(rc_env *e)
{
    bf_conncount_flush(RC.cc, e->r);
    bf_reconcile_tick(RC.rec, bf_now_ms(), bf_redis_ready(e->r));
    if (RC.racing) { /* the tick started the pass and sent its reads (no count call was busy) */
        RC.racing = false;
        LOCAL[0]++;
        bf_conncount_add(RC.cc, CH[0], 1);
    }
    return bf_reconcile_passes(RC.rec) >= RC.passes && !bf_conncount_busy(RC.cc);
}

Test(rcluster_gateway, the_reconciliation_reads_the_index_itself_and_repairs_counts)
{
    rc_env e;
    start(&e);
    pick_channels(&e, "rc");
    /* presence_audit's cluster form: no gwchans key, "in gwchans" is -1 */
    char pres[BF_KEY_MAX];
    bf_key(pres, PFX, BF_KEY_PRESENCE, CH[0]);
    rc_reply out;
    const char *hs[] = {"HSET", pres, "gw3/1", "{}"};
    rc_call(&e, &out, 4, hs);
    counts(&e, "gw3", 2);
    bf_script_args a;
    cr_assert_eq(bf_presence_audit_args(&a, PFX, "gw3", CH[0], true), 0);
    got g = {0};
    cr_assert_eq(bf_script_args_send(e.r, &a, on_got, &g), 0);
    wait_got(&e, &g);
    cr_assert(g.ok, "presence_audit failed: %s", g.err);
    cr_expect_eq(g.n, 4);
    cr_expect_eq(g.v[1], 2, "the count");
    cr_expect_eq(g.v[2], -1, "gwchans not read by the script");

    /* Redis: every channel counted 2 for gw3 (and indexed). Locally: channels 0-2 have 2 (right),
     * 3-4 have 1 (wrong count), 5-6 have none (counts of no connection). */
    for (int i = 0; i < NCH; i++) LOCAL[i] = i <= 2 ? 2 : i <= 4 ? 1 : 0;
    RC.cc = bf_conncount_new(PFX, "gw3");
    bf_owner *ow = bf_owner_new(e.r, PFX, "gw3", 30000);
    bf_reconcile_deps d = {.cmd = e.r,
                           .prefix = PFX,
                           .node_id = "gw3",
                           .owner = ow,
                           .counts = RC.cc,
                           .foreach_presence = foreach_presence,
                           .foreach_channel = foreach_channel,
                           .channel_conns = channel_conns};
    RC.rec = bf_reconcile_new(&d, 100);
    RC.passes = 1;
    cr_assert(rc_run(&e, passes_done, 10000), "no reconciliation pass");
    cr_expect_eq(bf_reconcile_repairs(RC.rec)[BF_REPAIR_CONNS], 4, "repairs: %llu",
                 (unsigned long long)bf_reconcile_repairs(RC.rec)[BF_REPAIR_CONNS]);
    /* the repairs' counts are sent by the next turns; a second pass finds nothing to repair */
    RC.passes = 3;
    cr_assert(rc_run(&e, passes_done, 10000), "no further passes");
    cr_expect_eq(bf_reconcile_repairs(RC.rec)[BF_REPAIR_CONNS], 4, "a right count was repaired");
    for (int i = 0; i < NCH; i++) {
        cr_expect_eq(hget_conns(&e, CH[i], "gw3"), LOCAL[i] ? (long long)LOCAL[i] : -1, "%s",
                     CH[i]);
        cr_expect_eq(member(&e, BF_KEY_GWCHANS, "gw3", CH[i]), LOCAL[i] > 0, "%s indexed", CH[i]);
    }

    /* a count Redis holds that is not indexed is repaired too (the index read says so) */
    char gwchans[BF_KEY_MAX];
    bf_key(gwchans, PFX, BF_KEY_GWCHANS, "gw3");
    const char *srem[] = {"SREM", gwchans, CH[0]};
    rc_call(&e, &out, 3, srem);
    RC.passes = bf_reconcile_passes(RC.rec) + 2;
    cr_assert(rc_run(&e, passes_done, 10000), "no further passes");
    cr_expect_eq(bf_reconcile_repairs(RC.rec)[BF_REPAIR_CONNS], 5);
    cr_expect(member(&e, BF_KEY_GWCHANS, "gw3", CH[0]), "%s indexed again", CH[0]);

    bf_reconcile_free(RC.rec);

    /* A count sent while the pass' reads are in flight reaches its channel's node after the
     * audit (it follows its index step's reply): the snapshot already has it, Redis not yet. The
     * pass must leave that channel to the next one, not "repair" it. */
    RC.rec = bf_reconcile_new(&d, 3600000); /* one pass: the first tick's */
    RC.passes = 1;
    RC.racing = true;
    cr_assert(rc_run(&e, passes_done, 10000), "no reconciliation pass");
    cr_expect_eq(bf_reconcile_repairs(RC.rec)[BF_REPAIR_CONNS], 0,
                 "a count changed since the index read was repaired");
    cr_expect_eq(hget_conns(&e, CH[0], "gw3"), 3);
    bf_reconcile_free(RC.rec);
    rc_teardown(&e);
    bf_owner_free(ow);
    bf_conncount_free(RC.cc);
}
