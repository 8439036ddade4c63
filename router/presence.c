#include "backoff.h"
#include "presence.h"
#include "alloc.h"
#include "channel.h"
#include "log.h"
#include "redis_keys.h"
#include "scripts.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HOPS 1
#define MAX_ATTEMPTS 20

/* One operation, kept as its encoded envelope so it can be forwarded or retried unchanged. */
typedef struct bf_pres_op {
    struct bf_pres_op *next;
    bf_router *rt;
    char *env;
    size_t len;
    int attempts;
    uint64_t due_ms;
} bf_pres_op;

static void handle(bf_router *rt, bf_pres_op *p);

static bf_pres_op *op_new(bf_router *rt, const char *payload, size_t len)
{
    bf_pres_op *p = bf_calloc(1, sizeof(*p));
    p->rt = rt;
    p->env = bf_malloc(len ? len : 1);
    memcpy(p->env, payload, len);
    p->len = len;
    return p;
}

static void op_free(bf_pres_op *p)
{
    free(p->env);
    free(p);
}

/* Parks p until the ring has been refreshed. */
static void retry_later(bf_router *rt, bf_pres_op *p, const char *why)
{
    if (++p->attempts > MAX_ATTEMPTS) {
        bf_error("dropping presence operation after %d attempts: %s", p->attempts - 1, why);
        op_free(p);
        return;
    }
    bf_debug("presence operation retried later: %s", why);
    static const bf_backoff policy = {50, 500, 0}; /* ~9 s over the 20 attempts */
    p->due_ms = bf_now_ms() + bf_backoff_delay(&policy, (unsigned)p->attempts - 1, 0);
    p->next = rt->retry_head;
    rt->retry_head = p;
    bf_router_refresh_ring(rt);
}

static void on_script_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_pres_op *p = priv;
    redisReply *r = reply;
    if (!r) { /* connection lost: the operation may or may not have run; retrying is safe */
        retry_later(p->rt, p, "redis connection lost");
        return;
    }
    if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "STALE")) {
        p->rt->stats.presence_stale++;
        retry_later(p->rt, p, r->str);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) bf_warn("presence script failed: %s", r->str);
    op_free(p);
}

static void forward(bf_router *rt, bf_pres_op *p, const bf_inbox *m, const char *owner)
{
    bf_inbox fwd = *m;
    fwd.hops = m->hops + 1;
    char *env, key[BF_KEY_MAX];
    size_t len;
    if (bf_wire_encode_inbox(&fwd, &env, &len)) {
        op_free(p);
        return;
    }
    bf_key(key, rt->cfg.redis_prefix, BF_KEY_INBOX, owner);
    rt->stats.presence_forwards++;
    bf_redis_cmd(rt->cmd, NULL, NULL, "PUBLISH %s %b", key, env, len);
    free(env);
    op_free(p);
}

static void run_script(bf_router *rt, bf_pres_op *p, const bf_inbox *m, const char *channel)
{
    char kp[BF_KEY_MAX], ku[BF_KEY_MAX], ke[BF_KEY_MAX], epoch[24], conn[256], user[256];
    char kh[BF_KEY_MAX], kr[BF_KEY_MAX], hsize[24], httl[24];
    bf_seq_keys k;
    bf_key(kp, rt->cfg.redis_prefix, BF_KEY_PRESENCE, channel);
    bf_key(ku, rt->cfg.redis_prefix, BF_KEY_PUSERS, channel);
    bf_key(kh, rt->cfg.redis_prefix, BF_KEY_PHERE, channel);
    bf_key(kr, rt->cfg.redis_prefix, BF_KEY_PREP, channel);
    bf_key_seq_keys(&k, rt->cfg.redis_prefix, channel);
    bf_key(ke, rt->cfg.redis_prefix, BF_KEY_RING_EPOCH, NULL);
    bf_router_history_args(rt, hsize, httl);
    snprintf(epoch, sizeof(epoch), "%llu", (unsigned long long)bf_ring_epoch(rt->ring));
    snprintf(conn, sizeof(conn), "%.*s", (int)m->conn_id.len, m->conn_id.p);
    snprintf(user, sizeof(user), "%.*s", (int)m->user_id.len, m->user_id.p);
    int rc;
    if (m->op == BF_OP_JOIN || m->op == BF_OP_REJOIN) {
        const char *argv[] = {kp,     ku,   k.seq, k.fan, k.epoch,
                              k.hist, ke,   kh,    kr,    channel,
                              conn,   user, "",    epoch, m->op == BF_OP_JOIN ? "1" : "0",
                              hsize,  httl};
        size_t lens[17];
        for (int i = 0; i < 17; i++) lens[i] = strlen(argv[i]);
        argv[12] = m->payload.p ? m->payload.p : "";
        lens[12] = m->payload.len;
        rc =
            bf_script_call(rt->cmd, BF_SCRIPT_PRESENCE_JOIN, on_script_reply, p, 9, 17, argv, lens);
        if (!rc) rt->stats.presence_joins++;
    } else {
        const char *argv[] = {kp, ku, k.seq,   k.fan, k.epoch, k.hist, ke,
                              kh, kr, channel, epoch, conn,    hsize,  httl};
        rc = bf_script_call(rt->cmd, BF_SCRIPT_PRESENCE_LEAVE, on_script_reply, p, 9, 14, argv,
                            NULL);
        if (!rc) rt->stats.presence_leaves++;
    }
    if (rc) retry_later(rt, p, "redis unavailable");
}

static void kick(bf_router *rt, bf_pres_op *p, const bf_inbox *m, const char *channel)
{
    char kf[BF_KEY_MAX], *env;
    size_t len;
    bf_key(kf, rt->cfg.redis_prefix, BF_KEY_FAN, channel);
    bf_fanout f = {.kind = BF_FAN_KICK,
                   .channel = {channel, strlen(channel)},
                   .frame = m->payload,
                   .kick_user = m->user_id};
    if (bf_wire_encode_fanout(&f, &env, &len) == 0) {
        if (bf_redis_cmd(rt->cmd, NULL, NULL, "PUBLISH %s %b", kf, env, len) == 0)
            rt->stats.kicks++;
        free(env);
    }
    op_free(p);
}

static void handle(bf_router *rt, bf_pres_op *p)
{
    bf_inbox m;
    char channel[BF_CHANNEL_MAX + 1];
    if (bf_wire_decode_inbox(p->env, p->len, &m) || m.channel.len > BF_CHANNEL_MAX ||
        bf_channel_validate(m.channel.p, m.channel.len, NULL, 0) || m.user_id.len == 0 ||
        m.user_id.len > 200 || m.conn_id.len > 200) {
        rt->stats.inbox_malformed++;
        uint64_t n = rt->stats.inbox_malformed;
        if ((n & (n - 1)) == 0)
            bf_warn("dropped malformed inbox envelope (%llu so far)", (unsigned long long)n);
        op_free(p);
        return;
    }
    memcpy(channel, m.channel.p, m.channel.len);
    channel[m.channel.len] = '\0';
    if (!rt->in_ring) {
        retry_later(rt, p, "not in the ring yet");
        return;
    }
    const char *owner = bf_ring_owner(rt->ring, channel, m.channel.len);
    if (owner && strcmp(owner, rt->node_id)) {
        if (m.hops < MAX_HOPS)
            forward(rt, p, &m, owner);
        else
            retry_later(rt, p, "ownership is moving");
        return;
    }
    if (m.op == BF_OP_KICK)
        kick(rt, p, &m, channel);
    else
        run_script(rt, p, &m, channel);
}

void bf_presence_on_inbox(bf_router *rt, const char *payload, size_t len)
{
    handle(rt, op_new(rt, payload, len));
}

void bf_presence_tick(bf_router *rt, uint64_t now_ms)
{
    bf_pres_op *due = NULL, **pp = &rt->retry_head;
    while (*pp) {
        bf_pres_op *p = *pp;
        if (p->due_ms <= now_ms) {
            *pp = p->next;
            p->next = due;
            due = p;
        } else {
            pp = &p->next;
        }
    }
    while (due) {
        bf_pres_op *p = due;
        due = p->next;
        p->next = NULL;
        handle(rt, p);
    }
}

void bf_presence_deinit(bf_router *rt)
{
    while (rt->retry_head) {
        bf_pres_op *p = rt->retry_head;
        rt->retry_head = p->next;
        op_free(p);
    }
}

/* ---- sweeping dead gateways --------------------------------------------------------------- */

typedef struct sweep_ctx {
    bf_router *rt;
    char gw[128];
} sweep_ctx;

static void on_sweep_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_router *rt = priv;
    redisReply *r = reply;
    if (!r) return;
    if (r->type == REDIS_REPLY_ERROR) {
        if (strstr(r->str, "STALE"))
            bf_router_refresh_ring(rt);
        else
            bf_warn("sweep failed: %s", r->str);
        return;
    }
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
        rt->stats.sweep_leaves += (uint64_t)r->integer;
}

static void sweep_channel(bf_router *rt, const char *gw, const char *channel)
{
    char kp[BF_KEY_MAX], ku[BF_KEY_MAX], ke[BF_KEY_MAX], kc[BF_KEY_MAX], kgc[BF_KEY_MAX];
    char kgk[BF_KEY_MAX], kgz[BF_KEY_MAX], kh[BF_KEY_MAX], kr[BF_KEY_MAX], epoch[24];
    char hsize[24], httl[24];
    bf_seq_keys k;
    bf_key(kp, rt->cfg.redis_prefix, BF_KEY_PRESENCE, channel);
    bf_key(ku, rt->cfg.redis_prefix, BF_KEY_PUSERS, channel);
    bf_key_seq_keys(&k, rt->cfg.redis_prefix, channel);
    bf_key(ke, rt->cfg.redis_prefix, BF_KEY_RING_EPOCH, NULL);
    bf_key(kc, rt->cfg.redis_prefix, BF_KEY_CONNS, channel);
    bf_key(kgc, rt->cfg.redis_prefix, BF_KEY_GWCHANS, gw);
    bf_key(kgk, rt->cfg.redis_prefix, BF_KEY_GWKNOWN, NULL);
    bf_key(kgz, rt->cfg.redis_prefix, BF_KEY_GATEWAYS, NULL);
    bf_key(kh, rt->cfg.redis_prefix, BF_KEY_PHERE, channel);
    bf_key(kr, rt->cfg.redis_prefix, BF_KEY_PREP, channel);
    bf_router_history_args(rt, hsize, httl);
    snprintf(epoch, sizeof(epoch), "%llu", (unsigned long long)bf_ring_epoch(rt->ring));
    const char *argv[] = {kp,  ku,  k.seq, k.fan, k.epoch, k.hist, ke, kc,    kgc,
                          kgk, kgz, kh,    kr,    channel, epoch,  gw, hsize, httl};
    if (bf_script_call(rt->cmd, BF_SCRIPT_SWEEP, on_sweep_reply, rt, 13, 18, argv, NULL) == 0)
        rt->stats.sweeps++;
}

static void on_gwchans(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    sweep_ctx *sc = priv;
    bf_router *rt = sc->rt;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ARRAY && rt->in_ring) {
        if (r->elements == 0) {
            /* nothing left anywhere: forget the gateway (it re-adds itself if it comes back) */
            char kgk[BF_KEY_MAX];
            bf_key(kgk, rt->cfg.redis_prefix, BF_KEY_GWKNOWN, NULL);
            bf_redis_cmd(rt->cmd, NULL, NULL, "SREM %s %s", kgk, sc->gw);
        }
        for (size_t i = 0; i < r->elements; i++) {
            const char *ch = r->element[i]->str;
            if (r->element[i]->type != REDIS_REPLY_STRING) continue;
            if (bf_router_owns(rt, ch)) sweep_channel(rt, sc->gw, ch);
        }
    }
    free(sc);
}

/* Counts the active channels (those with connections on some gateway) this router owns. */
static void on_all_channels(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_router *rt = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY) return;
    uint64_t n = 0;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING && bf_router_owns(rt, r->element[i]->str))
            n++;
    rt->stats.owned_channels = n;
}

static void count_owned(bf_router *rt, redisReply *gateways)
{
    size_t n = gateways->elements;
    const char **argv = bf_calloc(n + 1, sizeof(char *));
    char(*keys)[BF_KEY_MAX] = bf_calloc(n ? n : 1, BF_KEY_MAX);
    argv[0] = "SUNION";
    for (size_t i = 0; i < n; i++) {
        bf_key(keys[i], rt->cfg.redis_prefix, BF_KEY_GWCHANS, gateways->element[i]->str);
        argv[i + 1] = keys[i];
    }
    if (n)
        bf_redis_cmdargv(rt->cmd, on_all_channels, rt, (int)n + 1, argv, NULL);
    else
        rt->stats.owned_channels = 0;
    free(keys);
    free(argv);
}

static void on_gwknown(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_router *rt = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || !rt->in_ring) return;
    /* every few passes, also refresh the owned-channels gauge (one SUNION of all gateways'
     * channel sets: proportional to the number of active channels) */
    if (rt->stats.sweep_passes++ % 5 == 0) count_owned(rt, r);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || (size_t)e->len >= sizeof(((sweep_ctx *)0)->gw))
            continue;
        if (bf_router_gateway_alive(rt, e->str)) continue;
        sweep_ctx *sc = bf_calloc(1, sizeof(*sc));
        sc->rt = rt;
        memcpy(sc->gw, e->str, (size_t)e->len + 1);
        char kgc[BF_KEY_MAX];
        bf_key(kgc, rt->cfg.redis_prefix, BF_KEY_GWCHANS, sc->gw);
        if (bf_redis_cmd(rt->cmd, on_gwchans, sc, "SMEMBERS %s", kgc)) free(sc);
    }
}

void bf_presence_sweep(bf_router *rt)
{
    char kgk[BF_KEY_MAX];
    if (!rt->in_ring) return;
    bf_key(kgk, rt->cfg.redis_prefix, BF_KEY_GWKNOWN, NULL);
    bf_redis_cmd(rt->cmd, on_gwknown, rt, "SMEMBERS %s", kgk);
}
