/* Chaos on Redis Cluster (the harness' three primaries with a replica each, the daemons on its
 * cluster:// URL), under publishing:
 *   - kill -9 of a primary: its replica is promoted, the transport re-resolves, HTTP publishes to
 *     that shard's channels flow again within a bound; a client recovering on one of them is told
 *     recovered:false (the shard's epochs were forgotten: never a silent gap), while a channel of
 *     another shard keeps its epoch: its live client got every acknowledged publish once and in
 *     order, and a client recovering on it gets recovered:true with exactly what it missed;
 *   - a CLUSTER SETSLOT migration of a busy channel's slot (IMPORTING/MIGRATING, MIGRATE of its
 *     keys one at a time with publishes in between, SETSLOT NODE): every publish is answered 204
 *     or a clear error, the live client gets every acknowledged publish exactly once and in
 *     order (the shard subscription follows the slot), and recovery afterwards is recovered:true
 *     with the same epoch (the keys moved intact);
 *   - a shard with no node left (primary and replica killed): publishes to any channel answer
 *     503 at once (the cluster is down: CLUSTERDOWN on every node with full coverage required),
 *     and /readyz is 503 — never a hang.
 * Until every daemon script call is single-slot (docs/architecture.md, the port's stage 3), only
 * the HTTP API's unfenced publish runs on a cluster; these tests use nothing else. */
#include "../integration/common.h"
#include "redis_cluster.h"
#include "slot.h"

#include <signal.h>

static bf_cluster *C; /* the test's cluster, stopped by fini also after a failed assertion */

static void fini(void)
{
    if (C) C->keep_logs = true; /* still set: the test did not reach its own stop */
    bf_cluster_stop(C);
    C = NULL;
}

TestSuite(chaos_cluster, .timeout = 150, .fini = fini);

#define FLOW_BOUND_MS 15000 /* from the kill to publishes flowing on the shard again */

static const char *const timeout_args[] = {"--redis-timeout", "1000", NULL};
static const char *const router_args[] = {"--redis-timeout", "1000", "--history-size", "1000",
                                          NULL};

static bf_cluster *start(int gateways)
{
    bf_cluster_opts o = {.routers = 1,
                         .gateways = gateways,
                         .redis_cluster = true,
                         .router_args = router_args,
                         .gateway_args = timeout_args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c, "the daemons did not start on a Redis Cluster");
    C = c;
    return c;
}

/* The slot of channel's keys and the node owning it now. */
static unsigned slot_of(const char *ch)
{
    char key[256];
    snprintf(key, sizeof(key), "belfry:seq:{%s}", ch);
    return bf_slot_of_key(key, strlen(key));
}

/* A channel "<stem>-N" whose slot node `node` owns (`node` < 0: any node but `not`). */
static void channel_on(bf_cluster *c, int node, int not, const char *stem, char *out, size_t cap)
{
    for (int i = 0; i < 100000; i++) {
        snprintf(out, cap, "%s-%d", stem, i);
        int o = bf_rcl_owner(c->rcl, slot_of(out));
        if (node >= 0 ? o == node : (o >= 0 && o != not )) return;
    }
    cr_assert_fail("no channel on node %d", node);
}

/* The victim: the primary of slot 0. A channel "<sv>-N" on its shard into chv, one "<so>-N" on
 * another shard into cho (64 bytes each). */
static int victim_and_other(bf_cluster *c, const char *sv, const char *so, char *chv, char *cho)
{
    int victim = bf_rcl_owner(c->rcl, 0);
    channel_on(c, victim, -1, sv, chv, 64);
    channel_on(c, -1, victim, so, cho, 64);
    return victim;
}

/* POST /broadcast/<ch> {"event":"N","data":{"i":i}}: the status, 0 when no answer came within
 * 5 s (a hang). */
static int publish(bf_cluster *c, const char *ch, int i)
{
    char body[96];
    snprintf(body, sizeof(body), "{\"event\":\"N\",\"data\":{\"i\":%d}}", i);
    return it_publish_status(c, ch, body);
}

/* What a channel's publishes got: the data.i of those acknowledged (204), in order. */
typedef struct acked {
    int i[4096];
    int n;
} acked;

static void publish_ok(bf_cluster *c, const char *ch, int i, acked *a)
{
    int st = publish(c, ch, i);
    cr_assert_eq(st, 204, "publish %d to %s: %d", i, ch, st);
    a->i[a->n++] = i;
}

/* A recover=1 subscription: the position in *epoch (64 bytes) and the returned seq. */
static bf_ws *subscribe_recover(bf_cluster *c, const char *ch, char *epoch, long long *seq)
{
    char path[256];
    snprintf(path, sizeof(path), "/ws/%s?recover=1", ch);
    bf_ws *w = it_connect(c, 0, path, NULL);
    json_t *j = it_recv_event(w, "belfry:subscribed", 5000, ch);
    json_t *d = json_object_get(j, "data");
    snprintf(epoch, 64, "%s", json_string_value(json_object_get(d, "epoch")));
    *seq = json_integer_value(json_object_get(d, "seq"));
    json_decref(j);
    return w;
}

/* Reads w's frames until 1 s of silence: their data.i must be exactly a's from index from on,
 * each once, in order, with consecutive seqs starting at seq0. On a mismatch the whole stream is
 * named (seq:i of each frame) with the acknowledged publishes it lacks. */
static void expect_exactly(bf_ws *w, const acked *a, int from, long long seq0, const char *who)
{
    char got[4096] = "";
    size_t gl = 0;
    int k = from, bad = 0;
    long long seq = seq0;
    bf_ws_msg m;
    while (bf_ws_recv(w, &m, 1000) == 0) {
        cr_assert_eq(m.opcode, 1, "%s: opcode %d (%s)", who, m.opcode, m.data);
        json_t *j = json_loads(m.data, 0, NULL);
        bf_ws_msg_free(&m);
        cr_assert_not_null(j);
        long long s = json_integer_value(json_object_get(j, "seq"));
        int i = (int)json_integer_value(json_object_get(json_object_get(j, "data"), "i"));
        const char *ev = json_string_value(json_object_get(j, "event"));
        if (gl < sizeof(got) - 32)
            gl += (size_t)snprintf(got + gl, sizeof(got) - gl, " %lld:%d%s", s, i,
                                   ev && !strcmp(ev, "N") ? ""
                                   : ev                   ? ev
                                                          : "?");
        bad += !(ev && !strcmp(ev, "N") && k < a->n && i == a->i[k] && s == seq);
        json_decref(j);
        k++;
        seq++;
    }
    char lacks[2048] = "";
    size_t ll = 0;
    for (int q = k; q < a->n && ll < sizeof(lacks) - 16; q++)
        ll += (size_t)snprintf(lacks + ll, sizeof(lacks) - ll, " %d", a->i[q]);
    cr_expect(
        !bad && k == a->n,
        "%s: wanted the %d acknowledged publishes (i=%d..) with seqs from %lld; got (seq:i)%s; "
        "never got i=%s",
        who, a->n - from, from < a->n ? a->i[from] : -1, seq0, got, lacks);
}

/* The live client of a failed-over channel: every acknowledged publish from index from on
 * arrives (once; seqs may restart in a new epoch after the failover), or the client is told
 * (a belfry: event other than a message, or the connection closed so that it recovers). */
static void expect_live_told(bf_ws *w, const acked *a, int from, long long seq0, const char *who)
{
    static bool seen[1 << 16];
    memset(seen, 0, sizeof(seen));
    char got[4096] = "";
    size_t gl = 0;
    bool told = false;
    bf_ws_msg m;
    (void)seq0;
    while (bf_ws_recv(w, &m, 1000) == 0) {
        if (m.opcode != 1) {
            told = true; /* closed: the client reconnects and recovers */
            bf_ws_msg_free(&m);
            break;
        }
        json_t *j = json_loads(m.data, 0, NULL);
        bf_ws_msg_free(&m);
        cr_assert_not_null(j);
        const char *ev = json_string_value(json_object_get(j, "event"));
        long long s = json_integer_value(json_object_get(j, "seq"));
        int i = (int)json_integer_value(json_object_get(json_object_get(j, "data"), "i"));
        if (ev && strcmp(ev, "N"))
            told = true;
        else if (i >= 0 && i < (1 << 16)) {
            cr_expect(!seen[i], "%s: i=%d twice", who, i);
            seen[i] = true;
        }
        if (gl < sizeof(got) - 40)
            gl += (size_t)snprintf(got + gl, sizeof(got) - gl, " %lld:%d%s", s, i,
                                   ev && strcmp(ev, "N") ? ev : "");
        json_decref(j);
    }
    char lacks[2048] = "";
    size_t ll = 0;
    for (int q = from; q < a->n && ll < sizeof(lacks) - 16; q++)
        if (a->i[q] < (1 << 16) && !seen[a->i[q]])
            ll += (size_t)snprintf(lacks + ll, sizeof(lacks) - ll, " %d", a->i[q]);
    cr_expect(told || !lacks[0], "%s: silently never got acknowledged i=%s; got (seq:i)%s", who,
              lacks, got);
}

/* Connects with since/epoch and returns the belfry:subscribed data (caller decrefs). */
static json_t *resume(bf_cluster *c, const char *ch, long long since, const char *epoch,
                      bf_ws **out)
{
    char path[256];
    snprintf(path, sizeof(path), "/ws/%s?since=%lld&epoch=%s", ch, since, epoch);
    *out = it_connect(c, 0, path, NULL);
    json_t *j = it_recv_event(*out, "belfry:subscribed", 5000, ch);
    json_t *d = json_incref(json_object_get(j, "data"));
    json_decref(j);
    return d;
}

/* A client resuming on ch at seq 10 in epoch: told recovered:true in the same epoch, then given
 * exactly a's acknowledged publishes from index 10 on (seqs from 11), each once, in order. */
static void expect_recovers(bf_cluster *c, const char *ch, const char *epoch, const acked *a,
                            const char *who)
{
    bf_ws *w;
    json_t *d = resume(c, ch, 10, epoch, &w);
    cr_expect(json_is_true(json_object_get(d, "recovered")), "%s: %s", who, json_dumps(d, 0));
    cr_expect_str_eq(json_string_value(json_object_get(d, "epoch")), epoch, "%s: the epoch changed",
                     who);
    json_decref(d);
    expect_exactly(w, a, 10, 11, who);
    bf_ws_close(w);
}

Test(chaos_cluster, kill_9_of_a_primary_under_publishing)
{
    bf_cluster *c = start(1);
    char chv[64], cho[64];
    int victim = victim_and_other(c, "doomed", "steady", chv, cho);
    static acked av, ao;
    memset(&av, 0, sizeof(av));
    memset(&ao, 0, sizeof(ao));

    /* both channels under way; a live client on the steady one, positions on both */
    int i = 0;
    for (; i < 10; i++) {
        publish_ok(c, chv, i, &av);
        publish_ok(c, cho, i, &ao);
    }
    char ev[64], eo[64];
    long long sv, so;
    bf_ws *gone = subscribe_recover(c, chv, ev, &sv);
    bf_ws *live = subscribe_recover(c, cho, eo, &so);
    cr_assert_eq(sv, 10);
    cr_assert_eq(so, 10);
    bf_ws_close(gone); /* a client of the doomed channel that left at seq 10 */
    char ev2[64];
    long long sv2;
    bf_ws *live_v = subscribe_recover(c, chv, ev2, &sv2); /* and one that stays */
    it_wait_subscribed(c, cho, 1);
    it_wait_subscribed(c, chv, 1);
    int live_from = ao.n;
    for (; i < 20; i++) {
        publish_ok(c, chv, i, &av);
        publish_ok(c, cho, i, &ao);
    }
    cr_assert_eq(bf_rcl_wait_replicated(c->rcl, victim, 3000), 0);

    bf_rcl_kill(c->rcl, victim);
    long long killed = bf_ms(), flowing = 0;
    int in_a_row = 0, refused = 0;
    while (in_a_row < 5) {
        cr_assert(bf_ms() - killed < FLOW_BOUND_MS,
                  "publishes to the failed-over shard did not flow again within %d ms",
                  FLOW_BOUND_MS);
        int st = publish(c, chv, i);
        cr_assert(st == 204 || st == 503, "a publish during the failover answered %d", st);
        if (st == 204) {
            av.i[av.n++] = i;
            if (!in_a_row++) flowing = bf_ms();
        } else {
            in_a_row = 0;
            refused++;
        }
        st = publish(c, cho, i);
        cr_assert(st == 204 || st == 503, "a publish to another shard answered %d", st);
        if (st == 204) ao.i[ao.n++] = i;
        i++;
        if (refused && !in_a_row) usleep(20000);
    }
    fprintf(stderr, "chaos_cluster: publishes flowed again %lld ms after the kill (%d refused)\n",
            flowing - killed, refused);
    for (int k = 0; k < 10; k++, i++) {
        publish_ok(c, chv, i, &av);
        publish_ok(c, cho, i, &ao);
    }

    /* the other shard: its live client got every acknowledged publish once, in order */
    expect_exactly(live, &ao, live_from, so + 1, "live client of the other shard");
    bf_ws_close(live);
    /* ... and a client resuming on it at seq 10 recovers exactly what it missed */
    expect_recovers(c, cho, eo, &ao, "client recovering on the other shard");

    /* the failed-over shard's live client: what it got up to the kill, once and in order; after
     * it, every frame must be either an acknowledged publish or a notice — the seqs it sees may
     * restart (a new epoch) but it must never miss an acknowledged publish silently */
    expect_live_told(live_v, &av, 10, 11, "live client of the failed-over shard");
    bf_ws_close(live_v);
    /* the failed-over shard: told, never a silent gap */
    bf_ws *w;
    json_t *d = resume(c, chv, 10, ev, &w);
    cr_expect(json_is_false(json_object_get(d, "recovered")),
              "a client resuming on the failed-over shard was told recovered:%s: %s",
              json_is_true(json_object_get(d, "recovered")) ? "true" : "?", json_dumps(d, 0));
    cr_expect_str_neq(json_string_value(json_object_get(d, "epoch")), ev,
                      "the failed-over shard's channel kept its epoch");
    json_decref(d);
    bf_ws_close(w);
    C = NULL;
    cr_expect_eq(bf_cluster_stop_checked(c), 0, "a daemon did not exit cleanly");
}

/* The node index whose cluster id is id, by CLUSTER MYID. */
static void node_id(bf_cluster *c, int i, char *id)
{
    cr_assert_eq(bf_rcl_id(c->rcl, i, id), 0, "node %d's id", i);
}

static void setslot(bf_cluster *c, int node, unsigned slot, const char *how, const char *id)
{
    redisReply *r = bf_rcl_cmd(c->rcl, node, "CLUSTER SETSLOT %u %s %s", slot, how, id);
    cr_assert(r && r->type == REDIS_REPLY_STATUS, "SETSLOT %u %s on node %d: %s", slot, how, node,
              r && r->str ? r->str : "no reply");
    freeReplyObject(r);
}

/* n publishes to ch from *i on: each 204 (recorded in a), or a clear error (a script whose keys
 * are split between the two nodes gets TRYAGAIN until the redirect limit: 503); never a hang. */
static void publish_during(bf_cluster *c, const char *ch, int *i, acked *a, int *errors, int n)
{
    for (int k = 0; k < n; k++, (*i)++) {
        int st = publish(c, ch, *i);
        cr_assert(st == 204 || st == 503, "publish %d during the migration answered %d", *i, st);
        if (st == 204)
            a->i[a->n++] = *i;
        else
            (*errors)++;
    }
}

Test(chaos_cluster, migration_of_a_busy_channels_slot_under_publishing)
{
    bf_cluster *c = start(1);
    int src = bf_rcl_owner(c->rcl, 0);
    char ch[64];
    channel_on(c, src, -1, "busy", ch, sizeof(ch));
    unsigned slot = slot_of(ch);
    int dst = bf_rcl_other_primary(c->rcl, src);
    cr_assert_geq(dst, 0);
    char sid[64], did[64];
    node_id(c, src, sid);
    node_id(c, dst, did);
    static acked a;
    memset(&a, 0, sizeof(a));
    int i = 0;
    for (; i < 10; i++) publish_ok(c, ch, i, &a);
    char epoch[64];
    long long seq0;
    bf_ws *live = subscribe_recover(c, ch, epoch, &seq0);
    cr_assert_eq(seq0, 10);
    it_wait_subscribed(c, ch, 1);
    int live_from = a.n, errors = 0;

    publish_during(c, ch, &i, &a, &errors, 5);
    setslot(c, dst, slot, "IMPORTING", sid);
    publish_during(c, ch, &i, &a, &errors, 5);
    setslot(c, src, slot, "MIGRATING", did);
    publish_during(c, ch, &i, &a, &errors, 5);
    /* the channel's keys one at a time, publishes in between (ASK for a moved key, TRYAGAIN for a
     * script whose keys are on both sides) */
    int moved = 0;
    for (;;) {
        redisReply *r = bf_rcl_cmd(c->rcl, src, "CLUSTER GETKEYSINSLOT %u 1", slot);
        cr_assert(r && r->type == REDIS_REPLY_ARRAY);
        if (!r->elements) {
            freeReplyObject(r);
            break;
        }
        redisReply *m = bf_rcl_cmd(c->rcl, src, "MIGRATE 127.0.0.1 %d %s 0 5000",
                                   c->rcl->nodes[dst].port, r->element[0]->str);
        cr_assert(m && m->type == REDIS_REPLY_STATUS, "MIGRATE %s: %s", r->element[0]->str,
                  m && m->str ? m->str : "no reply");
        freeReplyObject(m);
        freeReplyObject(r);
        moved++;
        publish_during(c, ch, &i, &a, &errors, 3);
    }
    cr_assert_geq(moved, 3, "the channel's keys (seq, epoch, hist) moved");
    setslot(c, dst, slot, "NODE", did);
    publish_during(c, ch, &i, &a, &errors, 3);
    setslot(c, src, slot, "NODE", did);
    for (int k = 0; k < BF_RCL_NODES; k++)
        if (k != src && k != dst && c->rcl->nodes[k].pid > 0) {
            redisReply *r = bf_rcl_cmd(c->rcl, k, "ROLE");
            bool primary =
                r && r->type == REDIS_REPLY_ARRAY && !strcmp(r->element[0]->str, "master");
            freeReplyObject(r);
            if (primary) setslot(c, k, slot, "NODE", did);
        }
    publish_during(c, ch, &i, &a, &errors, 10);
    /* afterwards every publish is taken again */
    for (int k = 0; k < 10; k++, i++) publish_ok(c, ch, i, &a);
    fprintf(stderr,
            "chaos_cluster: migration: %d keys moved, %d publishes refused meanwhile, %d "
            "acknowledged\n",
            moved, errors, a.n);
    cr_expect_eq(bf_rcl_owner(c->rcl, slot), dst);

    /* the gateway's shard subscription follows the slot (a sunsubscribe push from the old node,
     * or at the latest the next slot map read, --redis-cluster-refresh); until then the new node's
     * publishes reach nobody there, which is what the live client is told of below */
    long long t0 = bf_ms();
    while (bf_metric(c->gateways[0].port, "belfry_gateway_redis_cluster_resubscribes_total") < 1 &&
           bf_ms() - t0 < 10000)
        usleep(50 * 1000);
    fprintf(stderr,
            "chaos_cluster: the shard subscription followed the slot %lld ms after it moved\n",
            bf_ms() - t0);
    cr_assert_geq(bf_metric(c->gateways[0].port, "belfry_gateway_redis_cluster_resubscribes_total"),
                  1, "the gateway's shard subscription never followed the slot");
    /* a client resuming at seq 10 after the migration: the history moved intact */
    expect_recovers(c, ch, epoch, &a, "client recovering after the migration");
    /* the live client: a publish run on the new node before the gateway's shard subscription
     * moved there must still reach it (caught up), or it must be told; never a silent gap */
    expect_live_told(live, &a, live_from, seq0 + 1, "live client of the migrated channel");
    bf_ws_close(live);
    C = NULL;
    cr_expect_eq(bf_cluster_stop_checked(c), 0, "a daemon did not exit cleanly");
}

Test(chaos_cluster, a_shard_without_any_node_is_a_clear_error_not_a_hang)
{
    bf_cluster *c = start(1);
    char chv[64], cho[64];
    int victim = victim_and_other(c, "lost", "other", chv, cho);
    cr_assert_eq(publish(c, chv, 0), 204);
    cr_assert_eq(publish(c, cho, 0), 204);
    /* the victim's replica: the node whose ROLE names the victim's port as its primary */
    int replica = -1;
    for (int k = 0; k < BF_RCL_NODES && replica < 0; k++) {
        redisReply *r = bf_rcl_cmd(c->rcl, k, "ROLE");
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
            !strcmp(r->element[0]->str, "slave") &&
            r->element[2]->integer == c->rcl->nodes[victim].port)
            replica = k;
        freeReplyObject(r);
    }
    cr_assert_geq(replica, 0, "the victim's replica");
    bf_rcl_kill(c->rcl, replica);
    bf_rcl_kill(c->rcl, victim);
    long long t0 = bf_ms();
    /* once the cluster notices (cluster-node-timeout 1 s), every publish is refused at once */
    int st = 204;
    while (st == 204 && bf_ms() - t0 < 10000) st = publish(c, chv, 1);
    cr_assert_eq(st, 503, "a publish to the lost shard answered %d", st);
    for (int k = 0; k < 10; k++) {
        long long t = bf_ms();
        st = publish(c, chv, 2 + k);
        cr_expect_eq(st, 503, "lost shard: %d", st);
        cr_expect_lt(bf_ms() - t, 2500, "a refusal took %lld ms", bf_ms() - t);
        t = bf_ms();
        st = publish(c, cho, 2 + k);
        /* with cluster-require-full-coverage (Redis' default) the other shards refuse too
         * (CLUSTERDOWN); the transport is not READY while a slot has no owner */
        cr_expect_eq(st, 503, "other shard: %d", st);
        cr_expect_lt(bf_ms() - t, 2500, "a refusal took %lld ms", bf_ms() - t);
    }
    int status = 0;
    free(it_http_get(c, "/readyz", &status));
    cr_expect_eq(status, 503, "the router's /readyz answered %d with a shard lost", status);
    C = NULL;
    cr_expect_eq(bf_cluster_stop_checked(c), 0, "a daemon did not exit cleanly");
}
