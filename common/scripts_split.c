/* The calls that take several single-slot steps on Redis Cluster; see scripts_split.h and the
 * plan's table in docs/architecture.md ("The daemons on Redis Cluster: the port"). Each chain
 * object lives from its first step to the caller's callback, which runs exactly once unless the
 * first step could not be sent (the function then returns the error and cb never runs). */
#include "scripts_split.h"
#include "alloc.h"
#include "err.h"
#include "redis_keys.h"
#include "slot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- what every chain keeps: its caller, its steps in flight, the first failure ------------ */

typedef struct chain {
    bf_redis *r;
    redisCallbackFn *cb;
    void *priv;
    int outstanding;       /* replies of the current step still expected */
    bool failed;           /* a step failed: the chain ends after the current step */
    char *err;             /* the first error reply's text (NULL: a link lost) */
    redisAsyncContext *ac; /* the last reply's, passed to cb */
} chain;

/* Records one reply of the current step; returns true when it is acceptable (not NULL, not an
 * error, and of type want unless want is 0). */
static bool took(chain *c, redisAsyncContext *ac, const redisReply *rep, int want)
{
    c->outstanding--;
    if (ac) c->ac = ac;
    if (rep && rep->type != REDIS_REPLY_ERROR && (!want || rep->type == want)) return true;
    if (!c->failed) {
        c->failed = true;
        if (rep) c->err = bf_strdup(rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    }
    return false;
}

/* A reply made here, freed with freeReplyObject (hiredis frees what it allocated the same way). */
static redisReply *int_array(const long long *v, size_t n)
{
    redisReply *r = bf_calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = bf_calloc(n ? n : 1, sizeof(*r->element));
    for (size_t i = 0; i < n; i++) {
        r->element[i] = bf_calloc(1, sizeof(**r->element));
        r->element[i]->type = REDIS_REPLY_INTEGER;
        r->element[i]->integer = v[i];
    }
    return r;
}

/* Calls the caller's cb: with ok (owned, freed here) unless a step failed, else with the first
 * error (NULL for a lost link). */
static void chain_end(chain *c, redisReply *ok)
{
    redisReply *rep = ok;
    if (c->failed) {
        if (ok) freeReplyObject(ok);
        rep = NULL;
        if (c->err) {
            rep = bf_calloc(1, sizeof(*rep));
            rep->type = REDIS_REPLY_ERROR;
            rep->str = c->err;
            rep->len = strlen(c->err);
            c->err = NULL;
        }
    }
    if (c->cb) c->cb(c->ac, rep, c->priv);
    if (rep) freeReplyObject(rep);
    free(c->err);
}

/* Sends argv (argc values) as one step of c; a synchronous failure fails the chain. */
static void step_cmd(chain *c, redisCallbackFn *fn, void *priv, int argc, const char **argv)
{
    if (bf_redis_cmdargv(c->r, fn, priv, argc, argv, NULL) == 0)
        c->outstanding++;
    else
        c->failed = true;
}

/* ---- conns: index, counts per slot, SREM of the emptied -------------------------------------- */

typedef struct conns_split conns_split;

typedef struct conns_group {
    conns_split *s;
    size_t first, n; /* its channels: s->order[first .. first + n) */
} conns_group;

struct conns_split {
    chain c;
    char gwchans[BF_KEY_MAX], gwknown[BF_KEY_MAX];
    char *prefix, *node_id;
    size_t n;
    char **channels;
    char (*vals)[24];
    long long *counts;
    size_t *order; /* the channels' indices, grouped by slot */
    unsigned *slot;
    conns_group *groups;
    size_t ngroups;
};

static void conns_free(conns_split *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->channels[i]);
    free(s->channels);
    free(s->vals);
    free(s->counts);
    free(s->order);
    free(s->slot);
    free(s->groups);
    free(s->prefix);
    free(s->node_id);
    free(s);
}

static void conns_end(conns_split *s)
{
    chain_end(&s->c, s->c.failed ? NULL : int_array(s->counts, s->n));
    conns_free(s);
}

static void on_conns_srem(redisAsyncContext *ac, void *reply, void *priv)
{
    conns_split *s = priv;
    took(&s->c, ac, reply, REDIS_REPLY_INTEGER);
    conns_end(s);
}

/* Every count is in: the channels whose count reached 0 leave the index. */
static void conns_srem(conns_split *s)
{
    const char **argv = bf_malloc((s->n + 2) * sizeof(*argv));
    int argc = 0;
    argv[argc++] = "SREM";
    argv[argc++] = s->gwchans;
    for (size_t i = 0; i < s->n; i++)
        if (s->counts[i] <= 0) argv[argc++] = s->channels[i];
    if (argc > 2) step_cmd(&s->c, on_conns_srem, s, argc, (const char **)argv);
    free(argv);
    if (!s->c.outstanding) conns_end(s);
}

static void on_conns_counts(redisAsyncContext *ac, void *reply, void *priv)
{
    conns_group *g = priv;
    conns_split *s = g->s;
    redisReply *rep = reply;
    if (took(&s->c, ac, rep, REDIS_REPLY_ARRAY)) {
        if (rep->elements != g->n) {
            s->c.failed = true;
        } else {
            for (size_t k = 0; k < g->n; k++)
                s->counts[s->order[g->first + k]] = rep->element[k]->integer;
        }
    }
    if (s->c.outstanding) return;
    if (s->c.failed)
        conns_end(s);
    else
        conns_srem(s);
}

/* One conns.lua call per slot: KEYS are that slot's conns:{channel} hashes. Returns the number
 * of calls sent. */
static int conns_counts(conns_split *s)
{
    const char **argv = bf_malloc((1 + 3 * s->n) * sizeof(*argv));
    char(*keys)[BF_KEY_MAX] = bf_malloc(s->n * sizeof(*keys));
    for (size_t gi = 0; gi < s->ngroups; gi++) {
        conns_group *g = &s->groups[gi];
        size_t a = 0;
        for (size_t k = 0; k < g->n; k++) {
            size_t i = s->order[g->first + k];
            bf_key(keys[g->first + k], s->prefix, BF_KEY_CONNS, s->channels[i]); /* fits: checked */
            argv[a++] = keys[g->first + k];
        }
        argv[a++] = s->node_id;
        for (size_t k = 0; k < g->n; k++) {
            size_t i = s->order[g->first + k];
            argv[a++] = s->vals[i];
            argv[a++] = s->channels[i];
        }
        if (bf_script_call(s->c.r, BF_SCRIPT_CONNS, on_conns_counts, g, (int)g->n, (int)a, argv,
                           NULL) == 0)
            s->c.outstanding++;
        else
            s->c.failed = true;
    }
    free(argv);
    free(keys);
    return s->c.outstanding;
}

static void on_conns_index(redisAsyncContext *ac, void *reply, void *priv)
{
    conns_split *s = priv;
    took(&s->c, ac, reply, REDIS_REPLY_INTEGER);
    if (s->c.outstanding) return;
    if (s->c.failed || !conns_counts(s)) conns_end(s);
}

typedef struct by_slot {
    unsigned slot;
    size_t i;
} by_slot;

static int cmp_slot(const void *a, const void *b)
{
    const by_slot *x = a, *y = b;
    if (x->slot != y->slot) return x->slot < y->slot ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int bf__conns_send_cluster(bf_redis *r, const char *prefix, const char *node_id,
                           const bf_conns_change *changes, size_t n, redisCallbackFn *cb,
                           void *priv)
{
    if (!bf_redis_ready(r)) return BF_EDISCONNECTED;
    conns_split *s = bf_calloc(1, sizeof(*s));
    s->c = (chain){.r = r, .cb = cb, .priv = priv};
    s->n = n;
    s->prefix = bf_strdup(prefix);
    s->node_id = bf_strdup(node_id);
    s->channels = bf_calloc(n, sizeof(*s->channels));
    s->vals = bf_calloc(n, sizeof(*s->vals));
    s->counts = bf_calloc(n, sizeof(*s->counts));
    s->order = bf_calloc(n, sizeof(*s->order));
    s->groups = bf_calloc(n, sizeof(*s->groups));
    by_slot *bs = bf_calloc(n, sizeof(*bs));
    int rc = 0;
    if (bf_key(s->gwchans, prefix, BF_KEY_GWCHANS, node_id) < 0 ||
        bf_key(s->gwknown, prefix, BF_KEY_GWKNOWN, NULL) < 0)
        rc = BF_ERANGE;
    for (size_t i = 0; i < n && !rc; i++) {
        char key[BF_KEY_MAX];
        int kl = bf_key(key, prefix, BF_KEY_CONNS, changes[i].channel);
        if (kl < 0) {
            rc = BF_ERANGE;
            break;
        }
        s->channels[i] = bf_strdup(changes[i].channel);
        snprintf(s->vals[i], sizeof(s->vals[i]), changes[i].absolute ? "=%lld" : "%lld",
                 changes[i].value);
        bs[i] = (by_slot){bf_slot_of_key(key, (size_t)kl), i};
    }
    if (rc) {
        free(bs);
        conns_free(s);
        return rc;
    }
    qsort(bs, n, sizeof(*bs), cmp_slot);
    for (size_t k = 0; k < n; k++) {
        s->order[k] = bs[k].i;
        if (!k || bs[k].slot != bs[k - 1].slot)
            s->groups[s->ngroups++] = (conns_group){.s = s, .first = k};
        s->groups[s->ngroups - 1].n++;
    }
    free(bs);
    /* the index first, for the channels gaining connections: the sweep must be able to find a
     * count before it exists */
    const char **argv = bf_malloc((n + 2) * sizeof(*argv));
    int argc = 0;
    argv[argc++] = "SADD";
    argv[argc++] = s->gwchans;
    for (size_t i = 0; i < n; i++)
        if (changes[i].value > 0) argv[argc++] = s->channels[i];
    if (argc > 2) { /* the rest from the index' replies (also when only one was sent) */
        const char *known[] = {"SADD", s->gwknown, s->node_id};
        step_cmd(&s->c, on_conns_index, s, argc, argv);
        if (!s->c.failed) step_cmd(&s->c, on_conns_index, s, 3, known);
    } else { /* no channel gains: the counts at once */
        conns_counts(s);
    }
    free(argv);
    if (!s->c.outstanding) { /* nothing sent: the caller's cb never runs */
        conns_free(s);
        return BF_EDISCONNECTED;
    }
    return 0;
}

/* ---- presence_enqueue: a join's index, the operation, ppending ------------------------------ */

typedef struct enqueue_split {
    chain c;
    bf_presence_enqueue e; /* its strings point into the copies below */
    char *prefix, *channel, *gateway, *envelope, *owner;
    char gwpres[BF_KEY_MAX], gwknown[BF_KEY_MAX], ppending[BF_KEY_MAX];
    long long ack[2]; /* the operation's reply: {pending, nudge receivers} */
} enqueue_split;

static void enqueue_free(enqueue_split *s)
{
    free(s->prefix);
    free(s->channel);
    free(s->gateway);
    free(s->envelope);
    free(s->owner);
    free(s);
}

static void enqueue_end(enqueue_split *s)
{
    chain_end(&s->c, s->c.failed ? NULL : int_array(s->ack, 2));
    enqueue_free(s);
}

static void on_enqueue_ppending(redisAsyncContext *ac, void *reply, void *priv)
{
    enqueue_split *s = priv;
    took(&s->c, ac, reply, REDIS_REPLY_INTEGER);
    enqueue_end(s);
}

static void on_enqueue_op(redisAsyncContext *ac, void *reply, void *priv)
{
    enqueue_split *s = priv;
    redisReply *rep = reply;
    if (took(&s->c, ac, rep, REDIS_REPLY_ARRAY)) {
        for (size_t i = 0; i < 2; i++)
            s->ack[i] = i < rep->elements && rep->element[i]->type == REDIS_REPLY_INTEGER
                            ? rep->element[i]->integer
                            : 0;
        /* after the RPUSH: an apply that empties the list and leaves ppending either runs before
         * it (and this entry stays for the next apply) or sees the operation (presence_apply) */
        const char *argv[] = {"SADD", s->ppending, s->channel};
        step_cmd(&s->c, on_enqueue_ppending, s, 3, argv);
    }
    if (!s->c.outstanding) enqueue_end(s);
}

/* The operation's step, in the channel's slot. Returns true if it was sent. */
static bool enqueue_op(enqueue_split *s)
{
    bf_script_args a;
    bf_presence_enqueue e = s->e;
    e.cluster = true;
    if (bf_presence_enqueue_args(&a, &e) || bf_script_args_send(s->c.r, &a, on_enqueue_op, s)) {
        s->c.failed = true;
        return false;
    }
    s->c.outstanding++;
    return true;
}

static void on_enqueue_index(redisAsyncContext *ac, void *reply, void *priv)
{
    enqueue_split *s = priv;
    took(&s->c, ac, reply, REDIS_REPLY_INTEGER);
    if (s->c.outstanding) return;
    if (s->c.failed || !enqueue_op(s)) enqueue_end(s);
}

int bf_presence_enqueue_send(bf_redis *r, const bf_presence_enqueue *e, redisCallbackFn *cb,
                             void *priv)
{
    bf_script_args a;
    if (!bf_redis_is_cluster(r)) {
        bf_presence_enqueue one = *e;
        one.cluster = false;
        int rc = bf_presence_enqueue_args(&a, &one);
        return rc ? rc : bf_script_args_send(r, &a, cb, priv);
    }
    bf_presence_enqueue probe = *e;
    probe.cluster = true;
    int rc = bf_presence_enqueue_args(&a, &probe); /* the keys fit (BF_ERANGE otherwise) */
    if (rc) return rc;
    if (!bf_redis_ready(r)) return BF_EDISCONNECTED;
    enqueue_split *s = bf_calloc(1, sizeof(*s));
    s->c = (chain){.r = r, .cb = cb, .priv = priv};
    if (bf_key(s->gwpres, e->prefix, BF_KEY_GWPRES, e->gateway) < 0 ||
        bf_key(s->gwknown, e->prefix, BF_KEY_GWKNOWN, NULL) < 0 ||
        bf_key(s->ppending, e->prefix, BF_KEY_PPENDING, NULL) < 0) {
        enqueue_free(s);
        return BF_ERANGE;
    }
    s->prefix = bf_strdup(e->prefix);
    s->channel = bf_strdup(e->channel);
    s->gateway = bf_strdup(e->gateway);
    s->envelope = bf_malloc(e->envelope_len + 1);
    memcpy(s->envelope, e->envelope, e->envelope_len);
    s->envelope[e->envelope_len] = 0;
    s->owner = e->owner ? bf_strdup(e->owner) : NULL;
    s->e = (bf_presence_enqueue){.prefix = s->prefix,
                                 .channel = s->channel,
                                 .gateway = s->gateway,
                                 .envelope = s->envelope,
                                 .envelope_len = e->envelope_len,
                                 .join = e->join,
                                 .owner = s->owner,
                                 .cluster = true};
    if (e->join) { /* the gateway's index before an entry of it can exist */
        const char *pres[] = {"SADD", s->gwpres, s->channel};
        const char *known[] = {"SADD", s->gwknown, s->gateway};
        step_cmd(&s->c, on_enqueue_index, s, 3, pres);
        if (!s->c.failed) step_cmd(&s->c, on_enqueue_index, s, 3, known);
    } else {
        enqueue_op(s);
    }
    if (!s->c.outstanding) {
        enqueue_free(s);
        return BF_EDISCONNECTED;
    }
    return 0;
}

/* ---- a gateway's leave: its counts per slot, then leave.lua --------------------------------- */

typedef struct leave_split {
    chain c;
    bf_leave l; /* its strings point into the copies below */
    char *prefix, *node_id;
    bool counts_failed; /* a count may be left: the leave keeps the index for the sweep */
} leave_split;

static void leave_free(leave_split *s)
{
    free(s->prefix);
    free(s->node_id);
    free(s);
}

/* leave.lua's reply is the caller's: passed on as it is. */
static void on_leave_done(redisAsyncContext *ac, void *reply, void *priv)
{
    leave_split *s = priv;
    if (s->c.cb) s->c.cb(ac, reply, s->c.priv);
    leave_free(s);
}

static void leave_global(leave_split *s, redisAsyncContext *ac)
{
    bf_script_args a;
    bf_leave l = s->l;
    l.cluster = true;
    if (s->counts_failed) l.clean = false;
    if (bf_leave_args(&a, &l) == 0 && bf_script_args_send(s->c.r, &a, on_leave_done, s) == 0)
        return;
    if (s->c.cb) s->c.cb(ac, NULL, s->c.priv);
    leave_free(s);
}

static void on_leave_zeroed(redisAsyncContext *ac, void *reply, void *priv)
{
    leave_split *s = priv;
    redisReply *rep = reply;
    s->c.outstanding--;
    if (ac) s->c.ac = ac;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) s->counts_failed = true;
    if (!s->c.outstanding) leave_global(s, s->c.ac);
}

static void on_leave_members(redisAsyncContext *ac, void *reply, void *priv)
{
    leave_split *s = priv;
    redisReply *rep = reply;
    if (!took(&s->c, ac, rep, REDIS_REPLY_ARRAY)) {
        /* the link is going: the leave cannot follow; the membership expires instead */
        chain_end(&s->c, NULL);
        leave_free(s);
        return;
    }
    enum { BATCH = 256 };
    bf_conns_change ch[BATCH];
    size_t k = 0;
    for (size_t i = 0; i <= rep->elements; i++) {
        if (i < rep->elements && rep->element[i]->type == REDIS_REPLY_STRING)
            ch[k++] = (bf_conns_change){.channel = rep->element[i]->str, .absolute = true};
        if (k && (k == BATCH || i == rep->elements)) {
            if (bf__conns_send_cluster(s->c.r, s->prefix, s->node_id, ch, k, on_leave_zeroed, s))
                s->counts_failed = true;
            else
                s->c.outstanding++;
            k = 0;
        }
    }
    if (!s->c.outstanding) leave_global(s, ac);
}

int bf_leave_send(bf_redis *r, const bf_leave *l, redisCallbackFn *cb, void *priv)
{
    bf_script_args a;
    bf_leave one = *l;
    one.cluster = false;
    if (l->router || !bf_redis_is_cluster(r)) {
        int rc = bf_leave_args(&a, &one);
        return rc ? rc : bf_script_args_send(r, &a, cb, priv);
    }
    one.cluster = true;
    char gwchans[BF_KEY_MAX];
    int rc = bf_leave_args(&a, &one);
    if (rc || bf_key(gwchans, l->prefix, BF_KEY_GWCHANS, l->node_id) < 0) return BF_ERANGE;
    leave_split *s = bf_calloc(1, sizeof(*s));
    s->c = (chain){.r = r, .cb = cb, .priv = priv};
    s->prefix = bf_strdup(l->prefix);
    s->node_id = bf_strdup(l->node_id);
    s->l = *l;
    s->l.prefix = s->prefix;
    s->l.node_id = s->node_id;
    const char *argv[] = {"SMEMBERS", gwchans};
    step_cmd(&s->c, on_leave_members, s, 2, argv);
    if (!s->c.outstanding) {
        leave_free(s);
        return BF_EDISCONNECTED;
    }
    return 0;
}
