#include "owner_ops.h"
#include "owner_ops_int.h"
#include "alloc.h"
#include "backoff.h"
#include "channel.h"
#include "err.h"
#include "log.h"
#include "redis_keys.h"
#include "scripts.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HOPS 1
#define MAX_ATTEMPTS 20

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void bf__owner_ops_stale(bf_owner_ops *o)
{
    if (o->on_stale) o->on_stale(o->arg);
}

bool bf__owner_ops_owns(const bf_owner_ops *o, const char *channel)
{
    const char *owner = bf_ring_owner(o->ring, channel, strlen(channel));
    return owner && !strcmp(owner, o->node_id);
}

bool bf__owner_ops_gateway_alive(const bf_owner_ops *o, const char *id)
{
    return bsearch(&id, o->gateways, o->ngateways, sizeof(char *), cmp_str) != NULL;
}

/* The live gateways of the last snapshot as one argument, ids separated by spaces (a node id
 * has none: BF_CFG_NAME, common/config.c). Caller frees. */
static char *live_list(const bf_owner_ops *o)
{
    size_t len = 1;
    for (size_t i = 0; i < o->ngateways; i++) len += strlen(o->gateways[i]) + 1;
    char *s = bf_malloc(len), *p = s;
    *p = '\0';
    for (size_t i = 0; i < o->ngateways; i++) {
        size_t n = strlen(o->gateways[i]);
        if (i) *p++ = ' ';
        memcpy(p, o->gateways[i], n + 1);
        p += n;
    }
    return s;
}

static void free_gateways(bf_owner_ops *o)
{
    for (size_t i = 0; i < o->ngateways; i++) free(o->gateways[i]);
    free(o->gateways);
    o->gateways = NULL;
    o->ngateways = 0;
}

/* One inbox operation, kept as its encoded envelope so it can be forwarded or retried unchanged. */
typedef struct bf_pres_op {
    struct bf_pres_op *next;
    bf_owner_ops *o;
    char *env;
    size_t len;
    int attempts;
    uint64_t due_ms;
} bf_pres_op;

static void handle(bf_owner_ops *o, bf_pres_op *p);

static bf_pres_op *op_new(bf_owner_ops *o, const char *payload, size_t len)
{
    bf_pres_op *p = bf_calloc(1, sizeof(*p));
    p->o = o;
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
static void retry_later(bf_owner_ops *o, bf_pres_op *p, const char *why)
{
    if (++p->attempts > MAX_ATTEMPTS) {
        bf_error("dropping presence operation after %d attempts: %s", p->attempts - 1, why);
        op_free(p);
        return;
    }
    bf_debug("presence operation retried later: %s", why);
    static const bf_backoff policy = {50, 500, 0}; /* ~9 s over the 20 attempts */
    p->due_ms = bf_now_ms() + bf_backoff_delay(&policy, (unsigned)p->attempts - 1, 0);
    p->next = o->retry_head;
    o->retry_head = p;
    bf__owner_ops_stale(o);
}

/* ---- applying pending operations ---------------------------------------------------------- */

typedef struct apply_ctx {
    bf_owner_ops *o;
    bool cluster;      /* sent in the cluster form: ppending is left by the steps below */
    uint64_t view_gen; /* cluster: the snapshot of the gateways it was sent with */
    char channel[BF_CHANNEL_MAX + 1];
} apply_ctx;

static void apply_view(bf_owner_ops *o, const char *channel, bool strict);

void bf__owner_ops_apply(bf_owner_ops *o, const char *channel)
{
    apply_view(o, channel, false);
}

/* Redis Cluster: a channel whose apply deferred a join of a gateway missing from the snapshot it
 * was sent with (presence_apply.lua): applied again, strictly, with the next snapshot, which the
 * deferral asks for at once (on_stale: the next tick heartbeats). At most one entry per channel,
 * and every snapshot empties the list: it holds the channels of one heartbeat interval. */
typedef struct deferral {
    struct deferral *next;
    char channel[BF_CHANNEL_MAX + 1];
} deferral;

static void defer_apply(bf_owner_ops *o, const char *channel)
{
    for (deferral *d = o->deferrals; d; d = d->next)
        if (!strcmp(d->channel, channel)) return;
    deferral *d = bf_calloc(1, sizeof(*d));
    snprintf(d->channel, sizeof(d->channel), "%s", channel);
    d->next = o->deferrals;
    o->deferrals = d;
    o->stats.deferred++;
    bf__owner_ops_stale(o);
}

/* A new snapshot: the deferred channels are applied with it (or, out of the ring, by the next
 * sweep passes: their operations stay queued). */
static void flush_deferrals(bf_owner_ops *o, bool apply_them)
{
    while (o->deferrals) {
        deferral *d = o->deferrals;
        o->deferrals = d->next;
        if (apply_them && !o->stopping) apply_view(o, d->channel, true);
        free(d);
    }
}

/* Redis Cluster: an emptied pops:{channel} leaves {#}:ppending in steps of their own, each sent
 * from the previous one's reply (two slots: two nodes, no order between them). SREM first, then
 * LLEN: an enqueue pushes its operation (RPUSH, the channel's slot) before it adds its ppending
 * entry (the cluster-wide slot), so an operation that arrived meanwhile either re-added the
 * entry after the SREM or is counted by the LLEN, which puts the entry back. A crash between the
 * steps leaves at worst a stale entry: one empty apply. */
static void on_unpend_llen(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    apply_ctx *ax = priv;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
        char kpp[BF_KEY_MAX];
        bf_key(kpp, ax->o->prefix, BF_KEY_PPENDING, NULL);
        bf_redis_cmd(ax->o->cmd, NULL, NULL, "SADD %s %s", kpp, ax->channel);
        ax->o->stats.repended++;
    }
    free(ax);
}

static void on_unpend_srem(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    apply_ctx *ax = priv;
    redisReply *r = reply;
    char kpo[BF_KEY_MAX];
    /* no reply: the link went down, and the entry may still be there: harmless (see above) */
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer == 0 ||
        bf_key(kpo, ax->o->prefix, BF_KEY_POPS, ax->channel) < 0 ||
        bf_redis_cmd(ax->o->cmd, on_unpend_llen, ax, "LLEN %s", kpo))
        free(ax);
}

static void unpend(bf_owner_ops *o, const char *channel)
{
    apply_ctx *ax = bf_calloc(1, sizeof(*ax));
    ax->o = o;
    snprintf(ax->channel, sizeof(ax->channel), "%s", channel);
    char kpp[BF_KEY_MAX];
    bf_key(kpp, o->prefix, BF_KEY_PPENDING, NULL);
    if (bf_redis_cmd(o->cmd, on_unpend_srem, ax, "SREM %s %s", kpp, channel)) free(ax);
}

static void on_apply_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    apply_ctx *ax = priv;
    bf_owner_ops *o = ax->o;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ARRAY &&
        (r->elements == 6 || (ax->cluster && r->elements == 7))) {
        long long v[7] = {0};
        for (size_t i = 0; i < r->elements; i++)
            v[i] = r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : 0;
        o->stats.applied += (uint64_t)v[0];
        o->stats.joins += (uint64_t)v[2];
        o->stats.leaves += (uint64_t)v[3];
        o->stats.kicks += (uint64_t)v[5];
        if (v[4] > 0) {
            o->stats.inbox_malformed += (uint64_t)v[4];
            bf_warn("dropped %lld malformed pending presence operation(s) on %s", v[4],
                    ax->channel);
        }
        if (v[6] > 0) {
            /* a join of a gateway the snapshot did not name: again with a newer one, strictly */
            if (ax->view_gen < o->view_gen)
                apply_view(o, ax->channel, true);
            else
                defer_apply(o, ax->channel);
        } else if (v[1] > 0 && !o->stopping) {
            /* more than one batch was waiting: go on (a later call queues behind other work) */
            bf__owner_ops_apply(o, ax->channel);
        }
        if (v[1] == 0 && ax->cluster) unpend(o, ax->channel);
    } else if (r) {
        /* nothing is lost: the operations stay queued for the next pass */
        bf_warn("applying presence operations on %s failed: %s", ax->channel,
                r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    }
    free(ax);
}

/* Applies channel's pending presence operations (presence_apply.lua). Safe from any router at
 * any time: each operation leaves the queue in the step that applies it. */
static void apply_view(bf_owner_ops *o, const char *channel, bool strict)
{
    bf_script_args a;
    /* On Redis Cluster the gateways' liveness comes from this router's view (the cluster-wide
     * zset is in another slot): only a view taken since the link's last connection will do, or
     * the joins of a gateway missing from an empty or old view would be refused. Until then the
     * operations wait in their queue for the sweep pass, which runs in the ring only. */
    bool cluster = bf_redis_is_cluster(o->cmd);
    if (cluster && !o->in_ring) return;
    char *live = cluster ? live_list(o) : NULL;
    bf_presence_apply pa = {.prefix = o->prefix,
                            .channel = channel,
                            .history_size = o->history_size,
                            .history_ttl_ms = o->history_ttl_ms,
                            .cluster = cluster,
                            .gateways = live,
                            .strict = strict};
    int rc = bf_presence_apply_args(&a, &pa);
    if (rc) {
        free(live);
        return;
    }
    apply_ctx *ax = bf_calloc(1, sizeof(*ax));
    ax->o = o;
    ax->cluster = cluster;
    ax->view_gen = o->view_gen;
    snprintf(ax->channel, sizeof(ax->channel), "%s", channel);
    if (bf_script_args_send(o->cmd, &a, on_apply_reply, ax))
        free(ax); /* Redis is away: the next sweep pass applies them */
    else
        o->stats.applies++;
    free(live); /* the command holds a copy */
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
        bf__owner_ops_apply(p->o, ex->channel);
        op_free(p);
    } else {
        retry_later(p->o, p, r ? "redis error" : "redis connection lost");
    }
    free(ex);
}

static void enqueue(bf_owner_ops *o, bf_pres_op *p, const bf_inbox *m, const char *channel)
{
    char gw[256];
    const char *slash = memrchr(m->conn_id.p, '/', m->conn_id.len);
    size_t gl = slash ? (size_t)(slash - m->conn_id.p) : 0;
    if (!gl || gl >= sizeof(gw)) {
        o->stats.inbox_malformed++;
        op_free(p);
        return;
    }
    memcpy(gw, m->conn_id.p, gl);
    gw[gl] = '\0';
    bf_presence_enqueue e = {.prefix = o->prefix,
                             .channel = channel,
                             .gateway = gw,
                             .envelope = p->env,
                             .envelope_len = p->len,
                             .join = m->op != BF_OP_LEAVE};
    enqueue_ctx *ex = bf_calloc(1, sizeof(*ex));
    ex->p = p;
    snprintf(ex->channel, sizeof(ex->channel), "%s", channel);
    /* one call on one Redis; on a cluster its steps in order (bf_presence_enqueue_send) */
    int rc = bf_presence_enqueue_send(o->cmd, &e, on_enqueue_reply, ex);
    if (rc == BF_ERANGE) {
        free(ex);
        op_free(p);
    } else if (rc) {
        free(ex);
        retry_later(o, p, "redis unavailable");
    }
}

/* ---- inbox ------------------------------------------------------------------------------- */

static void forward(bf_owner_ops *o, bf_pres_op *p, const bf_inbox *m, const char *owner)
{
    bf_inbox fwd = *m;
    fwd.hops = m->hops + 1;
    char *env, key[BF_KEY_MAX];
    size_t len;
    if (bf_wire_encode_inbox(&fwd, &env, &len)) {
        op_free(p);
        return;
    }
    bf_key(key, o->prefix, BF_KEY_INBOX, owner);
    o->stats.forwards++;
    bf_redis_cmd(o->cmd, NULL, NULL, "PUBLISH %s %b", key, env, len);
    free(env);
    op_free(p);
}

static void kick(bf_owner_ops *o, bf_pres_op *p, const bf_inbox *m, const char *channel)
{
    char kf[BF_KEY_MAX], *env;
    size_t len;
    bf_key(kf, o->prefix, BF_KEY_FAN, channel);
    bf_fanout f = {.kind = BF_FAN_KICK,
                   .channel = {channel, strlen(channel)},
                   .frame = m->payload,
                   .kick_user = m->user_id};
    if (bf_wire_encode_fanout(&f, &env, &len) == 0) {
        /* a channel's fan-out is a shard channel on Redis Cluster (scripts.h, BF_SHARDED) */
        if (bf_redis_cmd(o->cmd, NULL, NULL,
                         bf_redis_is_cluster(o->cmd) ? "SPUBLISH %s %b" : "PUBLISH %s %b", kf, env,
                         len) == 0)
            o->stats.kicks++;
        free(env);
    }
    op_free(p);
}

static void malformed(bf_owner_ops *o, bf_pres_op *p)
{
    o->stats.inbox_malformed++;
    uint64_t n = o->stats.inbox_malformed;
    if ((n & (n - 1)) == 0)
        bf_warn("dropped malformed inbox envelope (%llu so far)", (unsigned long long)n);
    op_free(p);
}

static void handle(bf_owner_ops *o, bf_pres_op *p)
{
    bf_inbox m;
    char channel[BF_CHANNEL_MAX + 1];
    if (bf_wire_decode_inbox(p->env, p->len, &m) || m.channel.len > BF_CHANNEL_MAX ||
        bf_channel_validate(m.channel.p, m.channel.len, NULL, 0)) {
        malformed(o, p);
        return;
    }
    memcpy(channel, m.channel.p, m.channel.len);
    channel[m.channel.len] = '\0';
    if (m.op == BF_OP_APPLY) {
        /* a nudge after an enqueue: whoever receives it may apply (no ownership needed) */
        bf__owner_ops_apply(o, channel);
        op_free(p);
        return;
    }
    if (m.user_id.len == 0 || m.user_id.len > 200 || m.conn_id.len > 200) {
        malformed(o, p);
        return;
    }
    if (m.op != BF_OP_KICK) {
        enqueue(o, p, &m, channel);
        return;
    }
    if (!o->in_ring) {
        retry_later(o, p, "not in the ring yet");
        return;
    }
    const char *owner = bf_ring_owner(o->ring, channel, m.channel.len);
    if (owner && strcmp(owner, o->node_id)) {
        if (m.hops < MAX_HOPS)
            forward(o, p, &m, owner);
        else
            retry_later(o, p, "ownership is moving");
        return;
    }
    kick(o, p, &m, channel);
}

void bf_owner_ops_on_inbox(bf_owner_ops *o, const char *payload, size_t len)
{
    handle(o, op_new(o, payload, len));
}

void bf_owner_ops_tick(bf_owner_ops *o, uint64_t now_ms)
{
    bf_pres_op *due = NULL, **pp = &o->retry_head;
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
        handle(o, p);
    }
}

/* ---- lifecycle and the router's view ---------------------------------------------------- */

bf_owner_ops *bf_owner_ops_new(const bf_owner_ops_opts *opts)
{
    bf_owner_ops *o = bf_calloc(1, sizeof(*o));
    o->cmd = opts->cmd;
    o->ring = opts->ring;
    o->prefix = opts->prefix;
    o->node_id = opts->node_id;
    o->history_size = opts->history_size;
    o->history_ttl_ms = opts->history_ttl_ms;
    o->on_stale = opts->on_stale;
    o->arg = opts->arg;
    return o;
}

void bf_owner_ops_free(bf_owner_ops *o)
{
    if (!o) return;
    while (o->retry_head) {
        bf_pres_op *p = o->retry_head;
        o->retry_head = p->next;
        op_free(p);
    }
    free_gateways(o);
    flush_deferrals(o, false);
    free(o);
}

void bf_owner_ops_set_in_ring(bf_owner_ops *o, bool in_ring)
{
    o->in_ring = in_ring;
}

void bf_owner_ops_set_gateways(bf_owner_ops *o, const char *const *ids, size_t n)
{
    free_gateways(o);
    o->gateways = bf_calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) o->gateways[i] = bf_strdup(ids[i]);
    o->ngateways = n;
    qsort(o->gateways, n, sizeof(char *), cmp_str);
    o->view_gen++;
    flush_deferrals(o, true);
}

long long bf_owner_ops_live_connections(const bf_owner_ops *o, const redisReply *counts)
{
    if (!counts || counts->type != REDIS_REPLY_ARRAY || counts->elements % 2) return -1;
    long long sum = 0;
    for (size_t i = 0; i < counts->elements; i += 2) {
        const redisReply *id = counts->element[i], *n = counts->element[i + 1];
        if (id->type != REDIS_REPLY_STRING || n->type != REDIS_REPLY_STRING) return -1;
        if (bf__owner_ops_gateway_alive(o, id->str)) sum += strtoll(n->str, NULL, 10);
    }
    return sum;
}

void bf_owner_ops_stop(bf_owner_ops *o)
{
    o->stopping = true;
}

const bf_owner_ops_stats *bf_owner_ops_stats_get(const bf_owner_ops *o)
{
    return &o->stats;
}
