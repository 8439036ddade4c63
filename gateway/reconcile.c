#include "reconcile.h"
#include "alloc.h"
#include "channel.h"
#include "dict.h"
#include "log.h"
#include "redis_keys.h"
#include "scripts.h"
#include "wire.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

const char *const bf_reconcile_kind_names[BF_REPAIR__COUNT] = {
    [BF_REPAIR_PRESENCE_GHOST] = "presence_ghost",
    [BF_REPAIR_PRESENCE_MISSING] = "presence_missing",
    [BF_REPAIR_CONNS] = "conns",
};

/* A local presence connection as the snapshot saw it. */
typedef struct snap_conn {
    char *channel, *user_id, *member;
    bool pending;       /* an operation of it was on its way: not compared */
    bool awaiting_here; /* its join was refused before it got presence:here */
} snap_conn;

/* One pass: the snapshot and the replies still expected. Freed when the last reply is in. */
typedef struct pass {
    bf_reconcile *r; /* NULL once the reconciler was freed */
    int outstanding;
    bf_dict *conns;  /* snap_key(channel, conn id) -> snap_conn */
    bf_dict *counts; /* channel -> local connection count at the snapshot (as a pointer) */
    /* Redis Cluster (see reconcile_cluster below) */
    bool cluster;
    bool waiting; /* for the count calls in flight to be answered, before the reads */
    int reads;    /* of the two reads (union, index) still unanswered */
    bool reads_ok;
    bf_dict *listed; /* gwchans:{gateway} ∪ gwpres:{gateway}: channels to audit (keys only) */
    bf_dict *index;  /* gwchans:{gateway} as read (keys only) */
} pass;

/* The reply to one channel's audit. */
typedef struct audit {
    pass *p;
    char channel[BF_CHANNEL_MAX + 1];
} audit;

struct bf_reconcile {
    bf_reconcile_deps d;
    uint64_t interval_ms, next_ms;
    pass *running;
    uint64_t repairs[BF_REPAIR__COUNT], passes;
};

bf_reconcile *bf_reconcile_new(const bf_reconcile_deps *d, uint64_t interval_ms)
{
    bf_reconcile *r = bf_calloc(1, sizeof(*r));
    r->d = *d;
    r->interval_ms = interval_ms;
    return r;
}

static int free_snap(const char *key, void *val, void *arg)
{
    (void)key;
    (void)arg;
    snap_conn *s = val;
    free(s->channel);
    free(s->user_id);
    free(s->member);
    free(s);
    return 0;
}

static void pass_unref(pass *p)
{
    assert(p->outstanding > 0);
    if (--p->outstanding > 0) return;
    if (p->r) {
        p->r->running = NULL;
        p->r->passes++;
        if (p->cluster) bf_conncount_unmark(p->r->d.counts);
    }
    bf_dict_foreach(p->conns, free_snap, NULL);
    bf_dict_free(p->conns);
    bf_dict_free(p->counts);
    bf_dict_free(p->listed);
    bf_dict_free(p->index);
    free(p);
}

void bf_reconcile_free(bf_reconcile *r)
{
    if (!r) return;
    pass *p = r->running;
    if (p) {
        p->r = NULL;                   /* its replies arrive (NULL) and free it */
        if (p->waiting) pass_unref(p); /* no reply is expected yet */
    }
    free(r);
}

const uint64_t *bf_reconcile_repairs(const bf_reconcile *r)
{
    return r->repairs;
}

uint64_t bf_reconcile_passes(const bf_reconcile *r)
{
    return r->passes;
}

/* ---- repairs ----------------------------------------------------------------------------- */

static void send_op(bf_reconcile *r, bf_inbox_op op, const char *channel, const char *conn_id,
                    const char *user_id, const char *member)
{
    bf_inbox m = {.op = op,
                  .channel = {channel, strlen(channel)},
                  .conn_id = {conn_id, strlen(conn_id)},
                  .user_id = {user_id, strlen(user_id)},
                  .payload = {member, strlen(member)}};
    bf_owner_send(r->d.owner, &m);
}

static void check_counts(bf_reconcile *r, pass *p, const char *ch, redisReply *rep)
{
    long long in_redis = rep->element[1]->integer, listed = rep->element[2]->integer;
    if (p->cluster) {
        /* the index was read apart from the counts: a channel whose count was sent since the
         * read (or is about to be) would look wrong, so it is left to the next pass */
        if (bf_conncount_changed(r->d.counts, ch)) return;
        listed = bf_dict_get(p->index, ch, strlen(ch)) != NULL;
    }
    size_t local = (size_t)(uintptr_t)bf_dict_get(p->counts, ch, strlen(ch));
    if ((long long)local == in_redis && (local > 0) == (listed == 1)) return;
    size_t now = r->d.channel_conns(r->d.src, ch);
    r->repairs[BF_REPAIR_CONNS]++;
    bf_warn("reconcile: %s: Redis counted %lld connection(s) of ours%s, we had %zu: set to %zu", ch,
            in_redis, listed ? "" : " (not in gwchans)", local, now);
    bf_conncount_set(r->d.counts, ch, now);
}

/* The snapshot's key of a connection's presence on a channel: "<channel>\n<conn id>" (a Pusher
 * connection is a member of several presence channels under one connection id; '\n' is in
 * neither). Returns false if it does not fit. */
static bool snap_key(char *out, size_t cap, const char *channel, const char *conn_id)
{
    return (size_t)snprintf(out, cap, "%s\n%s", channel, conn_id) < cap;
}

typedef struct missing_ctx {
    bf_reconcile *r;
    const char *channel;
    bf_dict *in_redis;
} missing_ctx;

static int find_missing(const char *key, void *val, void *arg)
{
    missing_ctx *mc = arg;
    snap_conn *s = val;
    const char *conn_id = strchr(key, '\n') + 1; /* see snap_key */
    if (s->pending || strcmp(s->channel, mc->channel)) return 0;
    if (bf_dict_get(mc->in_redis, conn_id, strlen(conn_id))) return 0;
    if (bf_owner_conn_pending(mc->r->d.owner, conn_id)) return 0; /* it closed meanwhile */
    mc->r->repairs[BF_REPAIR_PRESENCE_MISSING]++;
    bf_warn("reconcile: %s: connection %s (user %s) is missing from presence: re-adding it",
            mc->channel, conn_id, s->user_id);
    send_op(mc->r, s->awaiting_here ? BF_OP_JOIN : BF_OP_REJOIN, s->channel, conn_id, s->user_id,
            s->member);
    return 0;
}

static void check_presence(bf_reconcile *r, pass *p, const char *ch, redisReply *rep)
{
    if (rep->element[0]->integer > 0) return; /* operations pending: they may change it */
    bf_dict *in_redis = bf_dict_new();
    for (size_t i = 3; i < rep->elements; i++) {
        redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_STRING) continue;
        bf_dict_put(in_redis, e->str, (size_t)e->len, e);
        char k[2 * BF_KEY_MAX];
        if (snap_key(k, sizeof(k), ch, e->str) && bf_dict_get(p->conns, k, strlen(k))) continue;
        if (bf_owner_conn_pending(r->d.owner, e->str)) continue; /* its leave is on its way */
        r->repairs[BF_REPAIR_PRESENCE_GHOST]++;
        bf_warn("reconcile: %s: presence entry %s is not a connection of ours: removing it", ch,
                e->str);
        send_op(r, BF_OP_LEAVE, ch, e->str, "", "");
    }
    missing_ctx mc = {r, ch, in_redis};
    bf_dict_foreach(p->conns, find_missing, &mc);
    /* nothing of ours here any more: the channel leaves gwpres:{gateway} (only when no operation
     * at all is on its way, any of which could be a join that indexed it) */
    if (rep->elements == 3 && r->d.channel_conns(r->d.src, ch) == 0 &&
        bf_owner_pending(r->d.owner) == 0) {
        char key[BF_KEY_MAX];
        if (bf_key(key, r->d.prefix, BF_KEY_GWPRES, r->d.node_id) >= 0)
            bf_redis_cmd(r->d.cmd, NULL, NULL, "SREM %s %s", key, ch);
    }
    bf_dict_free(in_redis);
}

static void on_audit(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    audit *a = priv;
    pass *p = a->p;
    redisReply *rep = reply;
    bool ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 3;
    for (size_t i = 0; ok && i < 3; i++) ok = rep->element[i]->type == REDIS_REPLY_INTEGER;
    if (p->r && ok) {
        check_counts(p->r, p, a->channel, rep);
        check_presence(p->r, p, a->channel, rep);
    } else if (p->r && rep) {
        bf_warn("reconcile: reading %s failed: %s", a->channel,
                rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    }
    free(a);
    pass_unref(p);
}

/* ---- the pass ---------------------------------------------------------------------------- */

static void audit_channel(pass *p, const char *ch)
{
    bf_reconcile *r = p->r;
    bf_script_args args;
    if (strlen(ch) > BF_CHANNEL_MAX ||
        bf_presence_audit_args(&args, r->d.prefix, r->d.node_id, ch, p->cluster))
        return;
    audit *a = bf_calloc(1, sizeof(*a));
    a->p = p;
    memcpy(a->channel, ch, strlen(ch) + 1);
    if (bf_script_args_send(r->d.cmd, &args, on_audit, a)) {
        free(a);
        return;
    }
    p->outstanding++;
}

static void snap_channel(const char *channel, size_t nconns, void *arg)
{
    pass *p = arg;
    bf_dict_put(p->counts, channel, strlen(channel), (void *)(uintptr_t)nconns);
}

static void snap_presence(const char *channel, const char *conn_id, const char *user_id,
                          const char *member, bool awaiting_here, void *arg)
{
    pass *p = arg;
    snap_conn *s = bf_calloc(1, sizeof(*s));
    s->channel = bf_strdup(channel);
    s->user_id = bf_strdup(user_id);
    s->member = bf_strdup(member);
    s->awaiting_here = awaiting_here;
    s->pending = bf_owner_conn_pending(p->r->d.owner, conn_id);
    char k[2 * BF_KEY_MAX];
    if (!snap_key(k, sizeof(k), channel, conn_id)) {
        free_snap(NULL, s, NULL);
        return;
    }
    snap_conn *old = bf_dict_put(p->conns, k, strlen(k), s);
    if (old) free_snap(NULL, old, NULL);
}

static int audit_counted(const char *key, void *val, void *arg)
{
    (void)val;
    bf_dict *seen = ((void **)arg)[1];
    if (!bf_dict_get(seen, key, strlen(key))) {
        bf_dict_put(seen, key, strlen(key), (void *)1);
        audit_channel(((void **)arg)[0], key);
    }
    return 0;
}

static int audit_presence(const char *key, void *val, void *arg)
{
    (void)key;
    return audit_counted(((snap_conn *)val)->channel, NULL, arg);
}

/* Takes the snapshot and audits every channel of `listed` (names, borrowed) plus every channel
 * we have connections on. */
static void audit_all(pass *p, void (*foreach_listed)(void *src, void *ctx), void *src)
{
    bf_reconcile *r = p->r;
    /* changes not yet sent go first, so that the audits see them (on a cluster: or they are
     * left to the next pass, bf_conncount_changed) */
    bf_conncount_flush(r->d.counts, r->d.cmd);
    r->d.foreach_channel(r->d.src, snap_channel, p);
    r->d.foreach_presence(r->d.src, snap_presence, p);
    bf_dict *seen = bf_dict_new();
    void *ctx[2] = {p, seen};
    foreach_listed(src, ctx);
    bf_dict_foreach(p->counts, audit_counted, ctx);
    bf_dict_foreach(p->conns, audit_presence, ctx);
    bf_dict_free(seen);
}

static void listed_of_reply(void *src, void *ctx)
{
    redisReply *rep = src;
    for (size_t i = 0; i < rep->elements; i++)
        if (rep->element[i]->type == REDIS_REPLY_STRING)
            audit_counted(rep->element[i]->str, NULL, ctx);
}

/* The channels Redis may hold state of ours in: take the snapshot and audit each of them plus
 * every channel we have connections on. */
static void on_channels(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    pass *p = priv;
    bf_reconcile *r = p->r;
    redisReply *rep = reply;
    if (r && rep && rep->type == REDIS_REPLY_ARRAY && bf_redis_ready(r->d.cmd))
        audit_all(p, listed_of_reply, rep);
    pass_unref(p);
}

/* ---- the pass on Redis Cluster ------------------------------------------------------------
 *
 * presence_audit.lua cannot read gwchans:{gateway} there (another slot), and a count call's
 * steps (index, counts, SREM of the emptied: bf_conns_send) are not ordered against the audits.
 * So the pass (1) flushes the counts and waits until no count call is unanswered (bf_conncount
 * sends no other meanwhile), (2) marks (bf_conncount_mark) and reads gwchans ∪ gwpres and
 * gwchans itself (the cluster-wide slot), (3) from those replies takes the snapshot and sends
 * the audits as on one Redis, with the index read standing for the audits' "in gwchans". A
 * channel whose count was sent since the mark is left to the next pass: its index or count may
 * have moved between the read and its audit. Counts sent after the snapshot reach a channel's
 * node after its audit (they follow an index reply that comes after the audits were sent). */

static int put_key(const char *key, void *val, void *arg)
{
    (void)val;
    bf_dict_put(arg, key, strlen(key), (void *)1);
    return 0;
}

static void listed_of_dict(void *src, void *ctx)
{
    bf_dict_foreach(src, audit_counted, ctx);
}

static void on_read(redisAsyncContext *ac, void *reply, void *priv, bf_dict *into)
{
    (void)ac;
    pass *p = priv;
    redisReply *rep = reply;
    if (rep && rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < rep->elements; i++)
            if (rep->element[i]->type == REDIS_REPLY_STRING)
                put_key(rep->element[i]->str, NULL, into);
    } else {
        p->reads_ok = false;
        if (p->r && rep)
            bf_warn("reconcile: reading our index failed: %s",
                    rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    }
    if (--p->reads) return;
    if (p->r && p->reads_ok && bf_redis_ready(p->r->d.cmd)) audit_all(p, listed_of_dict, p->listed);
    pass_unref(p);
}

static void on_union(redisAsyncContext *ac, void *reply, void *priv)
{
    on_read(ac, reply, priv, ((pass *)priv)->listed);
}

static void on_index(redisAsyncContext *ac, void *reply, void *priv)
{
    on_read(ac, reply, priv, ((pass *)priv)->index);
}

/* Step (2), once no count call is unanswered. */
static void cluster_reads(pass *p)
{
    bf_reconcile *r = p->r;
    char kgc[BF_KEY_MAX], kgp[BF_KEY_MAX];
    p->waiting = false;
    bf_key(kgc, r->d.prefix, BF_KEY_GWCHANS, r->d.node_id); /* fit: checked by the tick */
    bf_key(kgp, r->d.prefix, BF_KEY_GWPRES, r->d.node_id);
    bf_conncount_mark(r->d.counts);
    p->reads_ok = true;
    if (bf_redis_cmd(r->d.cmd, on_union, p, "SUNION %s %s", kgc, kgp) == 0) p->reads++;
    if (p->reads && bf_redis_cmd(r->d.cmd, on_index, p, "SMEMBERS %s", kgc) == 0) p->reads++;
    if (p->reads == 1) p->reads_ok = false; /* the audits need both */
    if (!p->reads) pass_unref(p);
}

void bf_reconcile_tick(bf_reconcile *r, uint64_t now_ms, bool ready)
{
    if (r->running) {
        if (r->running->waiting && ready && !bf_conncount_busy(r->d.counts))
            cluster_reads(r->running);
        return;
    }
    if (!ready || now_ms < r->next_ms) return;
    char kgc[BF_KEY_MAX], kgp[BF_KEY_MAX];
    if (bf_key(kgc, r->d.prefix, BF_KEY_GWCHANS, r->d.node_id) < 0 ||
        bf_key(kgp, r->d.prefix, BF_KEY_GWPRES, r->d.node_id) < 0)
        return;
    pass *p = bf_calloc(1, sizeof(*p));
    p->r = r;
    p->outstanding = 1;
    p->conns = bf_dict_new();
    p->counts = bf_dict_new();
    p->listed = bf_dict_new();
    p->index = bf_dict_new();
    if (bf_redis_is_cluster(r->d.cmd)) {
        p->cluster = p->waiting = true;
        r->running = p;
        r->next_ms = now_ms + r->interval_ms;
        bf_conncount_flush(r->d.counts, r->d.cmd);
        if (!bf_conncount_busy(r->d.counts)) cluster_reads(p);
        return;
    }
    if (bf_redis_cmd(r->d.cmd, on_channels, p, "SUNION %s %s", kgc, kgp)) {
        p->r = NULL;
        pass_unref(p);
        return;
    }
    r->running = p;
    r->next_ms = now_ms + r->interval_ms;
}
