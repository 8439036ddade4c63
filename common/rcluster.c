#include "rcluster_int.h"
#include "alloc.h"
#include "err.h"
#include "log.h"
#include "slot.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void dispatch(rcl_req *q);

/* ---- nodes ----------------------------------------------------------------------------------- */

/* Whether n serves commands: its command link READY and, with a gate, gated as a primary. */
static bool links_ready(const rcl_node *n)
{
    return n->link && bf_redis_ready(n->link) && !n->gone && n->checked;
}

static void set_ready(bf_rcluster *c, bool ready, const char *why)
{
    if (c->ready == ready || c->closing || c->freeing) return;
    c->ready = ready;
    bf_log(BF_LOG_INFO, "redis[%s] cluster %s%s%s", c->name, ready ? "ready" : "down",
           why ? ": " : "", why ? why : "");
    if (!ready) {
        if (c->o.on_down) c->o.on_down(c->owner, c->o.arg);
    } else {
        if (c->was_ready) c->reconnects++;
        c->was_ready = true;
        if (c->o.on_ready) c->o.on_ready(c->owner, c->o.arg);
    }
}

/* READY: every slot owned by a node whose link is READY. */
static void check_ready(bf_rcluster *c)
{
    for (int i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->owner && !links_ready(c->nodes[i])) {
            set_ready(c, false, "a primary's link is not ready");
            return;
        }
    for (int s = 0; s < BF_SLOT_COUNT; s++)
        if (!c->slots[s]) {
            set_ready(c, false, "slots without an owner");
            return;
        }
    set_ready(c, true, NULL);
    bf__rcluster_sync_subs(c);
}

void bf__rcluster_schedule_refresh(bf_rcluster *c)
{
    if (c->refresh_at > c->now + BF_RCLUSTER_REFRESH_RETRY_MS)
        c->refresh_at = c->now + BF_RCLUSTER_REFRESH_RETRY_MS;
}

static void refresh(bf_rcluster *c);

static void on_node_ready(bf_redis *r, void *arg)
{
    rcl_node *n = arg;
    (void)r;
    bf_rcluster *c = n->c;
    n->checked = !c->o.gate || n->primary;
    if (!c->ready && !c->refreshing && !c->closing && !n->psub) {
        refresh(c); /* the first link up (or back) reads the map at once */
        return;
    }
    check_ready(c);
}

static void on_node_down(bf_redis *r, void *arg)
{
    rcl_node *n = arg;
    (void)r;
    if (n->c->psub == n) n->c->psub = NULL; /* hiredis dropped its subscriptions with it */
    n->psub = false;
    n->checked = false;
    bf__rcluster_schedule_refresh(n->c);
    if (n->owner) set_ready(n->c, false, "a primary's link was lost");
}

static void on_slink_ready(bf_redis *r, void *arg)
{
    (void)r;
    bf__rcluster_sync_subs(((rcl_node *)arg)->c);
}

/* The subscriber link is gone: its channels are subscribed again where their slot lives. */
static void on_slink_down(bf_redis *r, void *arg)
{
    rcl_node *n = arg;
    (void)r;
    for (rcl_sub *s = n->c->subs; s; s = s->next)
        if (s->on == n) s->on = NULL;
    bf__rcluster_schedule_refresh(n->c);
}

/* ROLE's answer on a node's command link in its handshake: the owner's gate runs on a primary
 * only (a replica has no epochs of its own to check, and would refuse the gate's writes). */
static void on_gate_role(redisAsyncContext *ac, void *reply, void *priv)
{
    bf_redis *r = ac->data;
    rcl_node *n = priv;
    if (!r) return; /* the link was reset or freed meanwhile (n may be gone): bf_redis_gate_fn */
    redisReply *rep = reply;
    if (!rep) {
        bf_redis_gate_done(r, false, "connection lost during ROLE");
        return;
    }
    /* an ACL user without ROLE: taken for a primary, the gate then says what it cannot do */
    n->primary = rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
                 rep->element[0]->type != REDIS_REPLY_STRING ||
                 !strcmp(rep->element[0]->str, "master");
    if (!n->primary) {
        bf_redis_gate_done(r, true, NULL);
        return;
    }
    n->c->o.gate(r, ac, n->c->o.gate_arg);
}

static void node_gate(bf_redis *r, redisAsyncContext *ac, void *arg)
{
    rcl_node *n = arg;
    n->primary = false;
    if (redisAsyncCommand(ac, on_gate_role, n, "ROLE") != REDIS_OK)
        bf_redis_gate_done(r, false, "cannot send ROLE");
}

bf_redis *bf__rcluster_node_link(bf_rcluster *c, rcl_node *n, bool sub)
{
    bf_redis_url u = c->url;
    u.kind = BF_REDIS_URL_SINGLE;
    snprintf(u.host, sizeof(u.host), "%s", n->host);
    u.port = n->port;
    u.nseeds = 0;
    char name[320];
    snprintf(name, sizeof(name), "%s%s@%s:%d", c->name, sub ? "/ssub" : "", n->host, n->port);
    bf_redis_opts o = {.url = &u,
                       .name = name,
                       .attach = c->o.attach,
                       .loop = c->o.loop,
                       .on_ready = sub ? on_slink_ready : on_node_ready,
                       .on_down = sub ? on_slink_down : on_node_down,
                       .arg = n,
                       .connect_timeout_ms = c->o.connect_timeout_ms,
                       .command_timeout_ms = c->o.command_timeout_ms,
                       .gate = !sub && c->o.gate ? node_gate : NULL,
                       .gate_arg = n,
                       .cluster_node = true};
    return bf_redis_new(&o);
}

static rcl_node *node_find(bf_rcluster *c, const char *host, int port)
{
    for (int i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->port == port && !strcmp(c->nodes[i]->host, host)) {
            c->nodes[i]->gone = false;
            return c->nodes[i];
        }
    return NULL;
}

/* The node at host:port, created (its link DOWN, connecting on the next tick) when new; NULL past
 * BF_RCLUSTER_NODES_MAX. */
static rcl_node *node_get(bf_rcluster *c, const char *host, int port)
{
    rcl_node *n = node_find(c, host, port);
    if (n) return n;
    if (c->nnodes == BF_RCLUSTER_NODES_MAX || strlen(host) >= sizeof(n->host)) {
        bf_error("redis[%s] cluster: more than %d nodes; %s:%d ignored", c->name,
                 BF_RCLUSTER_NODES_MAX, host, port);
        return NULL;
    }
    n = bf_calloc(1, sizeof(*n));
    n->c = c;
    snprintf(n->host, sizeof(n->host), "%s", host);
    n->port = port;
    n->link = bf__rcluster_node_link(c, n, false);
    c->nodes[c->nnodes++] = n;
    return n;
}

static void node_free(rcl_node *n)
{
    bf_redis_free(n->slink);
    bf_redis_free(n->link);
    free(n);
}

/* Frees nodes marked gone (outside their callbacks: called from the tick). */
static void sweep(bf_rcluster *c)
{
    for (int i = 0; i < c->nnodes;) {
        rcl_node *n = c->nodes[i];
        if (!n->gone) {
            i++;
            continue;
        }
        for (rcl_req *q = c->parked; q; q = q->next)
            if (q->ask == n) q->ask = NULL;
        for (rcl_sub *s = c->subs; s; s = s->next)
            if (s->on == n) s->on = NULL;
        if (c->psub == n) c->psub = NULL;
        c->nodes[i] = c->nodes[--c->nnodes];
        node_free(n);
    }
}

/* ---- the slot map ---------------------------------------------------------------------------- */

/* CLUSTER SLOTS: [[start, end, [host, port, id], [replica]...]...]. */
static void on_slots(redisAsyncContext *ac, void *reply, void *priv)
{
    rcl_node *from = priv;
    bf_rcluster *c = from->c;
    redisReply *rep = reply;
    c->refreshing = false;
    (void)ac;
    if (c->freeing || c->closing) return;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        bf_warn("redis[%s] cluster: CLUSTER SLOTS from %s:%d failed: %s", c->name, from->host,
                from->port, rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "no reply");
        bf__rcluster_schedule_refresh(c);
        return;
    }
    /* 128 KiB: static rather than on the stack; one loop, no threads, and nothing below calls
     * back into another cluster's on_slots */
    static rcl_node *map[BF_SLOT_COUNT];
    memset(map, 0, sizeof(map));
    for (size_t i = 0; i < rep->elements; i++) {
        redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2 ||
            e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        long long a = e->element[0]->integer, b = e->element[1]->integer;
        const char *host = e->element[2]->element[0]->str;
        if (!*host) host = from->host; /* the node does not know its own address: where we asked */
        rcl_node *n = node_get(c, host, (int)e->element[2]->element[1]->integer);
        if (!n || a < 0 || b >= BF_SLOT_COUNT || a > b) continue;
        for (long long s = a; s <= b; s++) map[s] = n;
        /* a node we know listed as a replica: if it is promoted later under the same link, its
         * history is checked again before it serves (the gate ran on it as a replica, or ran on
         * an earlier history of it) */
        for (size_t k = 3; c->o.gate && k < e->elements; k++) {
            redisReply *rr = e->element[k];
            if (rr->type != REDIS_REPLY_ARRAY || rr->elements < 2 ||
                rr->element[0]->type != REDIS_REPLY_STRING ||
                rr->element[1]->type != REDIS_REPLY_INTEGER)
                continue;
            rcl_node *rn = node_find(c, *rr->element[0]->str ? rr->element[0]->str : from->host,
                                     (int)rr->element[1]->integer);
            if (rn) rn->primary = false;
        }
    }
    c->st.refreshes++;
    for (rcl_sub *s = c->subs; s; s = s->next) s->stale = false;
    for (int i = 0; i < c->nnodes; i++) c->nodes[i]->owner = false;
    for (int s = 0; s < BF_SLOT_COUNT; s++) {
        c->slots[s] = map[s];
        if (map[s]) map[s]->owner = true;
    }
    for (int i = 0; i < c->nnodes; i++) {
        rcl_node *n = c->nodes[i];
        n->gone = !n->owner && !n->seed; /* a replica now, or removed: freed by the next tick */
        if (c->o.gate && !n->primary) n->checked = false;
        /* an owner whose link is up but was not gated as this primary: gated again first */
        if (n->owner && !n->gone && !n->checked && bf_redis_ready(n->link)) n->regate = true;
    }
    c->refresh_at = c->now + (uint64_t)c->o.cluster_refresh_ms;
    check_ready(c);
    if (!c->ready) bf__rcluster_schedule_refresh(c);
}

static void refresh(bf_rcluster *c)
{
    /* any READY command link that is not a subscriber; owners first, they know the map best */
    rcl_node *best = NULL;
    for (int i = 0; i < c->nnodes; i++) {
        rcl_node *n = c->nodes[i];
        /* a replica answers CLUSTER SLOTS too: its link need not be gated as a primary */
        if (!n->link || !bf_redis_ready(n->link) || n->gone || n->psub) continue;
        if (!best || (n->owner && links_ready(n) && !(best->owner && links_ready(best)))) best = n;
    }
    if (!best) {
        bf__rcluster_schedule_refresh(c); /* the links reconnect on their own ticks */
        return;
    }
    if (bf_redis_cmd(best->link, on_slots, best, "CLUSTER SLOTS") == 0) c->refreshing = true;
}

/* ---- commands -------------------------------------------------------------------------------- */

static void req_free(rcl_req *q)
{
    free(q->cmd);
    free(q);
}

static void deliver(rcl_req *q, redisAsyncContext *ac, void *reply)
{
    if (q->cb) q->cb(ac, reply, q->priv);
    req_free(q);
}

static void park(rcl_req *q)
{
    bf_rcluster *c = q->c;
    if (!q->deadline) q->deadline = c->now + (uint64_t)c->o.command_timeout_ms;
    q->next = c->parked;
    c->parked = q;
}

/* "MOVED 3999 127.0.0.1:6381": the slot and the node. */
rcl_node *bf__rcluster_redirect_target(bf_rcluster *c, const char *s, int *slot)
{
    bf_resp_redirect r;
    if (bf_resp_redirect_parse(s, &r) || !r.host[0]) return NULL;
    *slot = (int)r.slot;
    return node_get(c, r.host, r.port);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    rcl_req *q = priv;
    bf_rcluster *c = q->c;
    redisReply *rep = reply;
    if (q->broadcast && --q->fanout) {
        if (rep && rep->type == REDIS_REPLY_ERROR && q->cb) { /* the first error is the answer */
            q->cb(ac, reply, q->priv);
            q->cb = NULL;
        }
        return;
    }
    if (!rep || c->freeing || rep->type != REDIS_REPLY_ERROR || q->broadcast) {
        if (!rep && !c->freeing) bf__rcluster_schedule_refresh(c);
        deliver(q, ac, reply);
        return;
    }
    bool moved = !strncmp(rep->str, "MOVED ", 6), ask = !strncmp(rep->str, "ASK ", 4);
    bool again = !strncmp(rep->str, "TRYAGAIN", 8);
    if (!strncmp(rep->str, "CLUSTERDOWN", 11)) bf__rcluster_schedule_refresh(c);
    if (!moved && !ask && !again) {
        deliver(q, ac, reply);
        return;
    }
    if (++q->redirects > (unsigned)c->o.cluster_max_redirects) {
        c->st.redirect_limit_hits++;
        bf_warn("redis[%s] cluster: more than %d redirects for one command (last: %s)", c->name,
                c->o.cluster_max_redirects, rep->str);
        deliver(q, ac, reply);
        return;
    }
    int slot;
    rcl_node *to = moved || ask ? bf__rcluster_redirect_target(c, rep->str, &slot) : NULL;
    if ((moved || ask) && !to) {
        deliver(q, ac, reply);
        return;
    }
    if (moved) {
        c->st.moved++;
        c->slots[slot] = to; /* the map's other slots may have moved too: read it again */
        to->owner = true;
        bf__rcluster_schedule_refresh(c);
    } else if (ask) {
        c->st.asks++;
        q->ask = to;
    } else {
        c->st.tryagains++;
        q->not_before = c->now + BF_RCLUSTER_TRYAGAIN_MS;
        q->deadline = 0;
        park(q);
        return;
    }
    q->deadline = 0;
    dispatch(q);
}

/* Sends q where it belongs now, or parks it until that node's link is READY. */
static void dispatch(rcl_req *q)
{
    bf_rcluster *c = q->c;
    assert(!q->next && !q->broadcast); /* not parked (unpark unlinks first), not a fan-out */
    rcl_node *n = q->ask;
    if (!n && q->slot >= 0) n = c->slots[q->slot];
    if (!n) /* keyless: any READY primary */
        for (int i = 0; i < c->nnodes && !n; i++)
            if (c->nodes[i]->owner && links_ready(c->nodes[i]) && !c->nodes[i]->psub)
                n = c->nodes[i];
    if (!n || !links_ready(n) || c->now < q->not_before) {
        park(q);
        return;
    }
    if (q->ask && bf_redis_cmd(n->link, NULL, NULL, "ASKING")) {
        park(q);
        return;
    }
    q->ask = NULL;
    if (bf_redis_cmd_formatted(n->link, on_reply, q, q->cmd, q->len)) park(q);
}

/* Parked commands whose node is READY (or whose TRYAGAIN delay is over) go; past their deadline
 * they get a NULL reply, as a command whose deadline expired. */
static void unpark(bf_rcluster *c)
{
    rcl_req *list = c->parked;
    c->parked = NULL;
    while (list) {
        rcl_req *q = list;
        list = q->next;
        q->next = NULL;
        if (c->now >= q->deadline) {
            deliver(q, NULL, NULL);
            continue;
        }
        dispatch(q);
    }
}

static int send_broadcast(bf_rcluster *c, rcl_req *q)
{
    q->broadcast = true;
    for (int i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->owner) q->fanout++;
    unsigned sent = 0;
    for (int i = 0; i < c->nnodes; i++) {
        rcl_node *n = c->nodes[i];
        if (!n->owner) continue;
        if (!links_ready(n) || bf_redis_cmd_formatted(n->link, on_reply, q, q->cmd, q->len)) {
            if (!sent) {
                req_free(q);
                return BF_EDISCONNECTED;
            }
            q->fanout -= 1; /* cannot happen while READY; the others still answer */
            continue;
        }
        sent++;
    }
    return 0;
}

/* ---- the interface --------------------------------------------------------------------------- */

int bf_rcluster_send(bf_rcluster *c, redisCallbackFn *cb, void *priv, const char *cmd, size_t len)
{
    assert(!c->freeing);
    bf_resp_arg a[SUB_ARGS_MAX];
    int argc = bf_resp_args(cmd, len, a, SUB_ARGS_MAX);
    if (argc < 1) return BF_EINVAL;
    bool ssub = bf_resp_is(&a[0], "SSUBSCRIBE"), sunsub = bf_resp_is(&a[0], "SUNSUBSCRIBE");
    if ((ssub || sunsub) && argc > SUB_ARGS_MAX) return BF_EINVAL; /* rcluster.h: the limits */
    if (sunsub) { /* the registry forgets the channels even while not ready: nothing to wait for */
        bf__rcluster_sunsubscribe(c, a, argc);
        return 0;
    }
    if (!c->ready || c->closing) return BF_EDISCONNECTED;
    if (ssub) return bf__rcluster_ssubscribe(c, cb, priv, a, argc);
    bool plain_sub = bf_resp_is(&a[0], "SUBSCRIBE") || bf_resp_is(&a[0], "PSUBSCRIBE") ||
                     bf_resp_is(&a[0], "UNSUBSCRIBE") || bf_resp_is(&a[0], "PUNSUBSCRIBE");
    if (plain_sub) { /* one node: PUBLISH reaches every node of a cluster */
        if (!c->psub && (bf_resp_is(&a[0], "UNSUBSCRIBE") || bf_resp_is(&a[0], "PUNSUBSCRIBE")))
            return 0; /* nothing subscribed */
        if (!c->psub)
            for (int i = 0; i < c->nnodes && !c->psub; i++)
                if (c->nodes[i]->owner && links_ready(c->nodes[i])) c->psub = c->nodes[i];
        if (!c->psub) return BF_EDISCONNECTED;
        c->psub->psub = true;
        return bf_redis_cmd_formatted(c->psub->link, cb, priv, cmd, len);
    }
    rcl_req *q = bf_calloc(1, sizeof(*q));
    q->c = c;
    q->cb = cb;
    q->priv = priv;
    q->cmd = bf_malloc(len);
    memcpy(q->cmd, cmd, len);
    q->len = len;
    q->slot = bf_resp_slot_of(a, argc);
    if (bf_resp_is(&a[0], "SCRIPT")) return send_broadcast(c, q);
    rcl_node *n = q->slot >= 0 ? c->slots[q->slot] : NULL;
    if (q->slot >= 0 && (!n || !links_ready(n))) { /* cannot happen while READY */
        req_free(q);
        return BF_EDISCONNECTED;
    }
    dispatch(q);
    return 0;
}

bf_rcluster *bf_rcluster_new(bf_redis *owner, const bf_redis_opts *o)
{
    assert(o->url->kind == BF_REDIS_URL_CLUSTER && o->url->nseeds > 0);
    bf_rcluster *c = bf_calloc(1, sizeof(*c));
    c->owner = owner;
    c->o = *o;
    c->url = *o->url;
    c->o.url = &c->url;
    c->name = bf_strdup(o->name ? o->name : "redis");
    c->o.name = c->name;
    c->subidx = bf_dict_new();
    if (c->o.cluster_max_redirects <= 0) c->o.cluster_max_redirects = 5;
    if (c->o.cluster_refresh_ms <= 0) c->o.cluster_refresh_ms = 5000;
    if (c->o.command_timeout_ms <= 0) c->o.command_timeout_ms = 2000;
    for (int i = 0; i < c->url.nseeds; i++) {
        rcl_node *n = node_get(c, c->url.seeds[i].host, c->url.seeds[i].port);
        if (n) n->seed = true;
    }
    return c;
}

void bf_rcluster_free(bf_rcluster *c)
{
    if (!c) return;
    c->freeing = true;
    for (int i = 0; i < c->nnodes; i++) node_free(c->nodes[i]); /* in-flight callbacks: NULL */
    while (c->parked) {
        rcl_req *q = c->parked;
        c->parked = q->next;
        deliver(q, NULL, NULL);
    }
    while (c->subs) {
        rcl_sub *s = c->subs;
        c->subs = s->next;
        free(s->ch);
        free(s);
    }
    bf_dict_free(c->subidx);
    free(c->name);
    free(c);
}

void bf_rcluster_tick(bf_rcluster *c, uint64_t now_ms)
{
    assert(!c->freeing);
    c->now = now_ms;
    sweep(c);
    for (int i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->regate) { /* outside the link's callbacks */
            c->nodes[i]->regate = false;
            bf_redis_reset(c->nodes[i]->link, "now a primary: gated again before it serves");
        }
    for (int i = 0; i < c->nnodes; i++) {
        bf_redis_tick(c->nodes[i]->link, now_ms);
        if (c->nodes[i]->slink) bf_redis_tick(c->nodes[i]->slink, now_ms);
    }
    if (c->closing) return;
    if (!c->refreshing && now_ms >= c->refresh_at) {
        c->refresh_at = now_ms + BF_RCLUSTER_REFRESH_RETRY_MS; /* until the reply says more */
        refresh(c);
    }
    if (c->parked) unpark(c);
    bf__rcluster_sync_subs(c);
}

bool bf_rcluster_ready(const bf_rcluster *c)
{
    return c->ready && !c->closing;
}

void bf_rcluster_close(bf_rcluster *c)
{
    assert(!c->freeing);
    if (c->closing) return;
    c->closing = true;
    /* commands waiting for a redirect target will never be sent: answered now, as lost */
    while (c->parked) {
        rcl_req *q = c->parked;
        c->parked = q->next;
        deliver(q, NULL, NULL);
    }
    c->ready = false;
    for (int i = 0; i < c->nnodes; i++) {
        bf_redis_close(c->nodes[i]->link);
        /* a shard subscriber link has nothing to flush, and hiredis' graceful disconnect would
         * wait for its reply queue to empty, which on_shard keeps filled: closed hard */
        if (c->nodes[i]->slink) {
            bf_redis_reset(c->nodes[i]->slink, "closing");
            bf_redis_close(c->nodes[i]->slink);
        }
    }
}

bool bf_rcluster_closed(const bf_rcluster *c)
{
    for (int i = 0; i < c->nnodes; i++)
        if (!bf_redis_closed(c->nodes[i]->link) ||
            (c->nodes[i]->slink && !bf_redis_closed(c->nodes[i]->slink)))
            return false;
    return c->closing;
}

void bf_rcluster_reset(bf_rcluster *c, const char *why)
{
    for (int i = 0; i < c->nnodes; i++) {
        bf_redis_reset(c->nodes[i]->link, why);
        if (c->nodes[i]->slink) bf_redis_reset(c->nodes[i]->slink, why);
    }
}

void bf_rcluster_stats(const bf_rcluster *c, bf_redis_cluster_stats *out)
{
    *out = c->st;
    out->nodes = (uint64_t)c->nnodes;
}

uint64_t bf__rcluster_timeouts(const bf_rcluster *c)
{
    uint64_t t = 0;
    for (int i = 0; i < c->nnodes; i++) t += bf_redis_timeouts(c->nodes[i]->link);
    return t;
}

uint64_t bf__rcluster_reconnects(const bf_rcluster *c)
{
    return c->reconnects;
}
