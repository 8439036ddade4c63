/* The gateway's fan-out on Redis Cluster: the hub (gateway/hub.c) on a cluster:// subscriber link
 * SSUBSCRIBEs each channel's fan:{channel} through the transport's shard registry, and the
 * sequencing scripts loaded on a cluster:// link SPUBLISH to it (BF_SHARDED, scripts.h). Checked
 * against the harness' real three-primary cluster with channels on every primary: every message
 * published through publish.lua (the unfenced, single-slot form) reaches the hub once and in
 * order, each channel is a shard subscription on the node owning its slot and no classic one,
 * and leaving a channel removes its shard subscription. The hub's connections are bare bf_conn
 * records: the render callback is the hub's output (it returns no frame, so nothing is queued). */
#include "common/err.h"
#include "common/redis_keys.h"
#include "common/scripts.h"
#include "gateway/conn.h"
#include "gateway/hub.h"
#include "rcluster_common.h"

TestSuite(rcluster_hub, .timeout = 90, .fini = rc_fini);

#define PFX "belfry:"
#define PER_NODE 2
#define NCH (3 * PER_NODE)
#define NMSG 30

static struct {
    char ch[NCH][32];
    int owner[NCH];
    int ready[NCH];
    int got[NCH];
    long long last[NCH];
    int out_of_order;
    int published, pub_errors;
    char pub_error[256];
} G;

static int index_of(const char *ch)
{
    for (int i = 0; i < NCH; i++)
        if (!strcmp(G.ch[i], ch)) return i;
    return -1;
}

static void on_ready_sub(bf_sub *s, void *arg)
{
    (void)arg;
    int i = index_of(bf_hub_sub_channel(s));
    cr_assert_geq(i, 0);
    G.ready[i]++;
}

static bf_frame *render(int proto, const bf_fanout *m, const char *channel, void *arg)
{
    (void)proto;
    (void)arg;
    int i = index_of(channel);
    cr_assert_geq(i, 0, "a message for a channel never joined: %s", channel);
    if (m->kind != BF_FAN_MESSAGE) return NULL;
    if ((long long)m->seq != G.last[i] + 1) G.out_of_order++;
    G.last[i] = (long long)m->seq;
    G.got[i]++;
    return NULL;
}

static void on_published(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)priv;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        G.published++;
    } else {
        G.pub_errors++;
        snprintf(G.pub_error, sizeof(G.pub_error), "%s",
                 !r                             ? "(null)"
                 : r->type == REDIS_REPLY_ERROR ? r->str
                                                : "not an integer");
    }
}

static bool all_ready(rc_env *e)
{
    (void)e;
    for (int i = 0; i < NCH; i++)
        if (!G.ready[i]) return false;
    return true;
}

static bool all_delivered(rc_env *e)
{
    (void)e;
    for (int i = 0; i < NCH; i++)
        if (G.got[i] < NMSG) return false;
    return G.published + G.pub_errors == NCH * NMSG;
}

/* SHARDNUMSUB (or NUMSUB) of channel i's fan-out subject on node n. */
static long long numsub(rc_env *e, int n, int i, bool sharded)
{
    char key[BF_KEY_MAX];
    bf_key(key, PFX, BF_KEY_FAN, G.ch[i]);
    redisReply *r =
        bf_rcl_cmd(&e->t, n, sharded ? "PUBSUB SHARDNUMSUB %s" : "PUBSUB NUMSUB %s", key);
    long long v =
        r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->integer : -1;
    freeReplyObject(r);
    return v;
}

static bool none_subscribed(rc_env *e)
{
    for (int i = 0; i < NCH; i++)
        if (numsub(e, G.owner[i], i, true) != 0) return false;
    return true;
}

Test(rcluster_hub, fan_out_is_sharded_and_reaches_the_hub_from_every_primary)
{
    rc_env e;
    memset(&G, 0, sizeof(G));
    rc_setup(&e, true, 0);
    /* channels on every primary: PER_NODE on each */
    int per[BF_RCL_NODES] = {0}, n = 0;
    for (int k = 0; n < NCH && k < 1000; k++) {
        char name[32];
        snprintf(name, sizeof(name), "hub-%d", k);
        char key[BF_KEY_MAX];
        bf_key(key, PFX, BF_KEY_FAN, name);
        int o = bf_rcl_owner(&e.t, bf_slot_of_key(key, strlen(key)));
        cr_assert_geq(o, 0);
        if (per[o] == PER_NODE) continue;
        per[o]++;
        G.owner[n] = o;
        snprintf(G.ch[n++], sizeof(G.ch[0]), "%s", name);
    }
    cr_assert_eq(n, NCH, "channels on every primary");

    cr_assert_eq(bf_scripts_load(e.r), 0);
    bf_hub *h = bf_hub_new(&(bf_hub_opts){.sub = e.sub,
                                          .prefix = PFX,
                                          .node_id = "gw-t",
                                          .socket_prefix = "1.",
                                          .limits = {.max_msgs = 1000, .max_bytes = 1 << 20},
                                          .ready = on_ready_sub,
                                          .render = render});
    bf_hub_on_ready(h);
    static bf_conn conns[NCH];
    static bf_sub subs[NCH];
    memset(conns, 0, sizeof(conns));
    memset(subs, 0, sizeof(subs));
    for (int i = 0; i < NCH; i++) {
        conns[i].id = (uint64_t)i + 1;
        subs[i].conn = &conns[i];
        bf_hub_join(h, &subs[i], G.ch[i]);
    }
    cr_assert(rc_run(&e, all_ready, 10000), "the channels' subscriptions were not confirmed");
    for (int i = 0; i < NCH; i++) {
        cr_expect_eq(numsub(&e, G.owner[i], i, true), 1, "%s: one shard subscription on node %d",
                     G.ch[i], G.owner[i]);
        for (int k = 0; k < BF_RCL_NODES; k++)
            cr_expect_leq(numsub(&e, k, i, false), 0, "%s: a classic subscription on node %d",
                          G.ch[i], k);
    }

    for (int m = 0; m < NMSG; m++)
        for (int i = 0; i < NCH; i++) {
            bf_publish p = {.prefix = PFX,
                            .channel = G.ch[i],
                            .frame_prefix = "{\"seq\":",
                            .frame_prefix_len = 7,
                            .history_size = 10,
                            .history_ttl_ms = 60000};
            bf_script_args a;
            cr_assert_eq(bf_publish_args(&a, &p), 0);
            cr_assert_eq(bf_script_args_send(e.r, &a, on_published, NULL), 0);
        }
    bool done = rc_run(&e, all_delivered, 15000);
    cr_expect_eq(G.pub_errors, 0, "publish.lua failed: %s", G.pub_error);
    cr_assert(done, "not every message arrived");
    for (int i = 0; i < NCH; i++) {
        cr_expect_eq(G.got[i], NMSG, "%s: %d messages", G.ch[i], G.got[i]);
        cr_expect_eq(G.last[i], NMSG, "%s: last seq %lld", G.ch[i], G.last[i]);
    }
    cr_expect_eq(G.out_of_order, 0, "messages out of order or repeated");

    for (int i = 0; i < NCH; i++) bf_hub_leave(h, &subs[i]);
    cr_expect(rc_run(&e, none_subscribed, 5000), "shard subscriptions left after the last leave");
    cr_expect_eq(bf_hub_stats_get(h)->channels, 0);
    bf_hub_free(h);
    rc_teardown(&e);
}
