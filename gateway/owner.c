#include "backoff.h"
#include "owner.h"
#include "alloc.h"
#include "dict.h"
#include "err.h"
#include "log.h"
#include "redis_keys.h"
#include "ring.h"
#include "scripts.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct op {
    struct op *next, *prev;
    bf_owner *o;
    bf_inbox_op kind;
    char *env; /* the encoded inbox envelope: what is recorded in Redis */
    size_t env_len;
    char *channel, *conn_id;
    uint64_t first_ms, next_ms, backoff_ms;
    unsigned retries;
    bool in_flight;
    bool attempted; /* sent at least once: Redis may have it even without an acknowledgement */
    bool dead;      /* the owner was freed while this op was in flight */
} op;

struct bf_owner {
    bf_redis *cmd;
    const char *prefix, *node_id;
    uint64_t give_up_ms;
    bf_ring *ring;
    op *head, *tail;
    size_t n;
    bf_dict *first_of_conn; /* conn id -> its earliest queued op (ops of a conn go in order) */
    bf_owner_stats stats;
};

bf_owner *bf_owner_new(bf_redis *cmd, const char *prefix, const char *node_id, uint64_t give_up_ms)
{
    bf_owner *o = bf_calloc(1, sizeof(*o));
    o->cmd = cmd;
    o->prefix = prefix;
    o->node_id = node_id;
    o->give_up_ms = give_up_ms;
    o->ring = bf_ring_new();
    o->first_of_conn = bf_dict_new();
    return o;
}

static void op_free(op *p)
{
    free(p->env);
    free(p->channel);
    free(p->conn_id);
    free(p);
}

/* Unlinks p and makes the next op of the same connection its first. */
static void unlink_op(bf_owner *o, op *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        o->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        o->tail = p->prev;
    o->n--;
    size_t cl = strlen(p->conn_id);
    if (bf_dict_get(o->first_of_conn, p->conn_id, cl) == p) {
        op *q = p->next;
        while (q && strcmp(q->conn_id, p->conn_id)) q = q->next;
        if (q)
            bf_dict_put(o->first_of_conn, p->conn_id, cl, q);
        else
            bf_dict_del(o->first_of_conn, p->conn_id, cl);
    }
}

void bf_owner_free(bf_owner *o)
{
    if (!o) return;
    op *p = o->head;
    while (p) {
        op *nx = p->next;
        if (p->in_flight)
            p->dead = true; /* its reply callback frees it */
        else
            op_free(p);
        p = nx;
    }
    bf_dict_free(o->first_of_conn);
    bf_ring_free(o->ring);
    free(o);
}

void bf_owner_set_routers(bf_owner *o, const char *const *ids, size_t n)
{
    bf_ring_set(o->ring, ids, n, 0);
}

size_t bf_owner_routers(const bf_owner *o)
{
    return bf_ring_size(o->ring);
}

/* Whether a later op of p's connection is queued. */
static bool later_of_conn(const op *p)
{
    for (const op *q = p->next; q; q = q->next)
        if (!strcmp(q->conn_id, p->conn_id)) return true;
    return false;
}

void bf_owner_send(bf_owner *o, const bf_inbox *m)
{
    assert(m->op == BF_OP_JOIN || m->op == BF_OP_REJOIN || m->op == BF_OP_LEAVE);
    op *first = bf_dict_get(o->first_of_conn, m->conn_id.p, m->conn_id.len);
    if (m->op == BF_OP_LEAVE && first && first->kind != BF_OP_LEAVE && !first->attempted &&
        !later_of_conn(first)) {
        /* the join never left the gateway: Redis knows nothing of the connection */
        unlink_op(o, first);
        op_free(first);
        return;
    }
    op *p = bf_calloc(1, sizeof(*p));
    p->o = o;
    p->kind = m->op;
    if (bf_wire_encode_inbox(m, &p->env, &p->env_len)) {
        free(p);
        return;
    }
    p->channel = bf_strndup(m->channel.p, m->channel.len);
    p->conn_id = bf_strndup(m->conn_id.p, m->conn_id.len);
    p->first_ms = p->next_ms = bf_now_ms();
    p->prev = o->tail;
    if (o->tail)
        o->tail->next = p;
    else
        o->head = p;
    o->tail = p;
    o->n++;
    if (!first) bf_dict_put(o->first_of_conn, p->conn_id, strlen(p->conn_id), p);
    bf_owner_tick(o, p->first_ms);
}

static void retry_later(bf_owner *o, op *p, const char *why)
{
    uint64_t now = bf_now_ms();
    p->in_flight = false;
    if (now - p->first_ms >= o->give_up_ms) {
        o->stats.failed++;
        bf_error("giving up on presence operation for %s (%s) after %llu ms: %s", p->channel,
                 p->conn_id, (unsigned long long)(now - p->first_ms), why);
        unlink_op(o, p);
        op_free(p);
        return;
    }
    o->stats.retries++;
    static const bf_backoff policy = {100, 2000, 0};
    p->backoff_ms = bf_backoff_delay(&policy, p->retries++, 0);
    p->next_ms = now + p->backoff_ms;
    bf_debug("presence operation for %s will be retried in %llu ms: %s", p->channel,
             (unsigned long long)p->backoff_ms, why);
}

static void on_enqueued(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    op *p = priv;
    redisReply *r = reply;
    if (p->dead) {
        op_free(p);
        return;
    }
    assert(p->in_flight);
    bf_owner *o = p->o;
    if (r && r->type == REDIS_REPLY_ARRAY) { /* {pending, nudge receivers} */
        o->stats.sent++;
        unlink_op(o, p);
        op_free(p);
        return;
    }
    /* no reply: Redis may or may not have it; recording it again is harmless (idempotent) */
    retry_later(o, p, !r ? "redis connection lost" : "redis error");
}

void bf_owner_tick(bf_owner *o, uint64_t now_ms)
{
    if (!bf_redis_ready(o->cmd)) return; /* sent when the link is back (backoff aside) */
    for (op *p = o->head, *nx; p; p = nx) {
        nx = p->next;
        if (p->in_flight || p->next_ms > now_ms) continue;
        if (bf_dict_get(o->first_of_conn, p->conn_id, strlen(p->conn_id)) != p) continue;
        bf_presence_enqueue e = {.prefix = o->prefix,
                                 .channel = p->channel,
                                 .gateway = o->node_id,
                                 .envelope = p->env,
                                 .envelope_len = p->env_len,
                                 .join = p->kind != BF_OP_LEAVE,
                                 .owner = bf_ring_owner(o->ring, p->channel, strlen(p->channel))};
        /* on a cluster, several steps: the acknowledgement is the last one's reply */
        int rc = bf_presence_enqueue_send(o->cmd, &e, on_enqueued, p);
        if (rc == BF_ERANGE) { /* cannot happen: names are validated */
            unlink_op(o, p);
            op_free(p);
            continue;
        }
        if (rc) {
            retry_later(o, p, "redis unavailable");
            continue;
        }
        p->in_flight = p->attempted = true;
    }
}

const bf_owner_stats *bf_owner_stats_get(const bf_owner *o)
{
    return &o->stats;
}

size_t bf_owner_pending(const bf_owner *o)
{
    return o->n;
}

bool bf_owner_conn_pending(const bf_owner *o, const char *conn_id)
{
    return bf_dict_get(o->first_of_conn, conn_id, strlen(conn_id)) != NULL;
}
