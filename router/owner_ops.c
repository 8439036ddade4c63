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

/* One inbox operation, kept as its encoded envelope so it can be forwarded or retried unchanged. */
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

/* Parks p until the ring has been refreshed (kicks, and operations of older gateways that Redis
 * did not take). */
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

/* ---- applying pending operations ---------------------------------------------------------- */

typedef struct apply_ctx {
    bf_router *rt;
    char channel[BF_CHANNEL_MAX + 1];
} apply_ctx;

static void apply(bf_router *rt, const char *channel);

static void on_apply_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    apply_ctx *ax = priv;
    bf_router *rt = ax->rt;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 6) {
        long long v[6];
        for (int i = 0; i < 6; i++)
            v[i] = r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : 0;
        rt->stats.presence_applied += (uint64_t)v[0];
        rt->stats.presence_joins += (uint64_t)v[2];
        rt->stats.presence_leaves += (uint64_t)v[3];
        rt->stats.kicks += (uint64_t)v[5];
        if (v[4] > 0) {
            rt->stats.inbox_malformed += (uint64_t)v[4];
            bf_warn("dropped %lld malformed pending presence operation(s) on %s", v[4],
                    ax->channel);
        }
        /* more than one batch was waiting: go on (a later call queues behind other work) */
        if (v[1] > 0 && !rt->stopping) apply(rt, ax->channel);
    } else if (r) {
        /* nothing is lost: the operations stay queued for the next pass */
        bf_warn("applying presence operations on %s failed: %s", ax->channel,
                r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    }
    free(ax);
}

/* Applies channel's pending presence operations (presence_apply.lua). Safe from any router at
 * any time: each operation leaves the queue in the step that applies it. */
static void apply(bf_router *rt, const char *channel)
{
    bf_script_args a;
    bf_presence_apply pa = {.prefix = rt->cfg.redis_prefix,
                            .channel = channel,
                            .history_size = rt->cfg.history_size,
                            .history_ttl_ms = rt->cfg.history_ttl_s * 1000};
    if (bf_presence_apply_args(&a, &pa)) return;
    apply_ctx *ax = bf_calloc(1, sizeof(*ax));
    ax->rt = rt;
    snprintf(ax->channel, sizeof(ax->channel), "%s", channel);
    if (bf_script_args_send(rt->cmd, &a, on_apply_reply, ax))
        free(ax); /* Redis is away: the next sweep pass applies them */
    else
        rt->stats.presence_applies++;
}

/* An operation from an older gateway, sent to the inbox only: it is put in the channel's queue
 * (where newer gateways put theirs) and applied from there. */
typedef struct enqueue_ctx {
    bf_pres_op *p;
    char channel[BF_CHANNEL_MAX + 1];
} enqueue_ctx;

static void on_enqueue_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    enqueue_ctx *ex = priv;
    bf_pres_op *p = ex->p;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        apply(p->rt, ex->channel);
        op_free(p);
    } else {
        retry_later(p->rt, p, r ? "redis error" : "redis connection lost");
    }
    free(ex);
}

static void enqueue(bf_router *rt, bf_pres_op *p, const bf_inbox *m, const char *channel)
{
    char gw[256];
    const char *slash = memrchr(m->conn_id.p, '/', m->conn_id.len);
    size_t gl = slash ? (size_t)(slash - m->conn_id.p) : 0;
    if (!gl || gl >= sizeof(gw)) {
        rt->stats.inbox_malformed++;
        op_free(p);
        return;
    }
    memcpy(gw, m->conn_id.p, gl);
    gw[gl] = '\0';
    bf_script_args a;
    bf_presence_enqueue e = {.prefix = rt->cfg.redis_prefix,
                             .channel = channel,
                             .gateway = gw,
                             .envelope = p->env,
                             .envelope_len = p->len,
                             .join = m->op != BF_OP_LEAVE};
    if (bf_presence_enqueue_args(&a, &e)) {
        op_free(p);
        return;
    }
    enqueue_ctx *ex = bf_calloc(1, sizeof(*ex));
    ex->p = p;
    snprintf(ex->channel, sizeof(ex->channel), "%s", channel);
    if (bf_script_args_send(rt->cmd, &a, on_enqueue_reply, ex)) {
        free(ex);
        retry_later(rt, p, "redis unavailable");
    }
}

/* ---- inbox ------------------------------------------------------------------------------- */

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

static void malformed(bf_router *rt, bf_pres_op *p)
{
    rt->stats.inbox_malformed++;
    uint64_t n = rt->stats.inbox_malformed;
    if ((n & (n - 1)) == 0)
        bf_warn("dropped malformed inbox envelope (%llu so far)", (unsigned long long)n);
    op_free(p);
}

static void handle(bf_router *rt, bf_pres_op *p)
{
    bf_inbox m;
    char channel[BF_CHANNEL_MAX + 1];
    if (bf_wire_decode_inbox(p->env, p->len, &m) || m.channel.len > BF_CHANNEL_MAX ||
        bf_channel_validate(m.channel.p, m.channel.len, NULL, 0)) {
        malformed(rt, p);
        return;
    }
    memcpy(channel, m.channel.p, m.channel.len);
    channel[m.channel.len] = '\0';
    if (m.op == BF_OP_APPLY) {
        /* a nudge after an enqueue: whoever receives it may apply (no ownership needed) */
        apply(rt, channel);
        op_free(p);
        return;
    }
    if (m.user_id.len == 0 || m.user_id.len > 200 || m.conn_id.len > 200) {
        malformed(rt, p);
        return;
    }
    if (m.op != BF_OP_KICK) {
        enqueue(rt, p, &m, channel);
        return;
    }
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
    kick(rt, p, &m, channel);
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
    bf_script_args a;
    bf_sweep sw = {.prefix = rt->cfg.redis_prefix,
                   .channel = channel,
                   .gateway = gw,
                   .ring_epoch = bf_ring_epoch(rt->ring),
                   .history_size = rt->cfg.history_size,
                   .history_ttl_ms = rt->cfg.history_ttl_s * 1000};
    if (bf_sweep_args(&a, &sw)) return;
    if (bf_script_args_send(rt->cmd, &a, on_sweep_reply, rt) == 0) rt->stats.sweeps++;
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
        /* the channels where it counted connections, and those where it may hold presence
         * entries (a count can reach 0 before the last presence leave is applied) */
        char kgc[BF_KEY_MAX], kgp[BF_KEY_MAX];
        bf_key(kgc, rt->cfg.redis_prefix, BF_KEY_GWCHANS, sc->gw);
        bf_key(kgp, rt->cfg.redis_prefix, BF_KEY_GWPRES, sc->gw);
        if (bf_redis_cmd(rt->cmd, on_gwchans, sc, "SUNION %s %s", kgc, kgp)) free(sc);
    }
}

/* The channels with pending presence operations: each router applies those of the channels it
 * owns, so operations whose nudge was lost (its router died, or none was alive) are applied
 * within one sweep interval of the ring knowing a live owner. */
static void on_ppending(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_router *rt = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || !rt->in_ring || rt->stopping) return;
    rt->stats.presence_pending_channels = r->elements;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || (size_t)e->len > BF_CHANNEL_MAX) continue;
        if (bf_router_owns(rt, e->str)) apply(rt, e->str);
    }
}

void bf_presence_sweep(bf_router *rt)
{
    char kgk[BF_KEY_MAX], kpp[BF_KEY_MAX];
    if (!rt->in_ring) return;
    bf_key(kpp, rt->cfg.redis_prefix, BF_KEY_PPENDING, NULL);
    bf_redis_cmd(rt->cmd, on_ppending, rt, "SMEMBERS %s", kpp);
    bf_key(kgk, rt->cfg.redis_prefix, BF_KEY_GWKNOWN, NULL);
    bf_redis_cmd(rt->cmd, on_gwknown, rt, "SMEMBERS %s", kgk);
}
