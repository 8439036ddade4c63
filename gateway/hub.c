#include "hub.h"
#include "alloc.h"
#include "dict.h"
#include "err.h"
#include "fandone.h"
#include "log.h"
#include "proto.h"
#include "redis_keys.h"
#include "wire.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SUB_NONE, SUB_SUBSCRIBING, SUB_SUBSCRIBED, SUB_UNSUBSCRIBING } sub_state;
static const char *sub_names[] = {"none", "subscribing", "subscribed", "unsubscribing"};

typedef struct bf_hub_chan {
    char *name;
    size_t nlen;
    bf_sub *head;
    size_t nconns; /* subscriptions on head's list */
    sub_state st;
    uint64_t last_seq;     /* the last sequenced message received, or the channel's seq when its
                            * subscription was confirmed (0: not known) */
    bool lapsed;           /* one Redis: the link was lost while subscriptions were ready */
    uint64_t lapse_due_ms; /* lapsed, and Redis has a seq beyond last_seq: its lapsed
                            * connections are closed then unless a message comes first (0: no) */
} bf_hub_chan;

/* How long a lapsed channel waits for one of the messages Redis says were published after the
 * last one it received (see query_seq): past it, they were all published before the subscription
 * was made again, and none will come. Generous: a message published just after the subscription
 * may still be on its way when the answer to the query arrives on the other link. */
#define LAPSE_GRACE_MS 1000

#define RESUBSCRIBED_REASON "resubscribed: reconnect and recover"

struct bf_hub {
    bf_redis *sub;
    bf_redis *cmd;    /* for query_seq; may be NULL */
    size_t lapse_due; /* channels with lapse_due_ms set */
    bool sharded;     /* a cluster:// link: SSUBSCRIBE/SUNSUBSCRIBE (see send_sub) */
    const char *prefix;
    char conn_prefix[128]; /* "<node id>/" */
    size_t conn_prefix_len;
    char socket_prefix[32]; /* "<gateway number>." */
    size_t socket_prefix_len;
    bf_conn_limits limits;
    bf_dict *chans;
    bf_hub_ready_fn ready;
    bf_hub_render_fn render;
    void *arg;
    struct bf_fandone *fandone; /* borrowed, may be NULL */
    bf_hub_stats stats;
};

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *priv);

static void set_sub(bf_hub *h, bf_hub_chan *ch, sub_state st)
{
    (void)h; /* every transition goes through here (asserts, logs): the hub is its context */
    /* a link loss may reset any state to NONE; otherwise only the protocol's own steps */
    assert(st == SUB_NONE || (st == SUB_SUBSCRIBING && ch->st == SUB_NONE) ||
           (st == SUB_SUBSCRIBED && ch->st == SUB_SUBSCRIBING) ||
           (st == SUB_UNSUBSCRIBING && ch->st == SUB_SUBSCRIBED));
    bf_debug("channel %s subscription %s -> %s", ch->name, sub_names[ch->st], sub_names[st]);
    ch->st = st;
}

/* Sharded mode: forgets the channel's shard subscription. The transport drops it from its
 * registry at once, even while the cluster is not ready, and never confirms it: there is no
 * UNSUBSCRIBING step (rcluster.h). */
static void shard_forget(bf_hub *h, const char *name)
{
    char key[BF_KEY_MAX];
    bf_key(key, h->prefix, BF_KEY_FAN, name);
    bf_redis_cmd(h->sub, NULL, NULL, "SUNSUBSCRIBE %s", key);
}

static void undue(bf_hub *h, bf_hub_chan *ch)
{
    if (!ch->lapse_due_ms) return;
    ch->lapse_due_ms = 0;
    h->lapse_due--;
}

static void chan_free(bf_hub *h, bf_hub_chan *ch)
{
    undue(h, ch);
    if (h->sharded) shard_forget(h, ch->name);
    bf_dict_del(h->chans, ch->name, ch->nlen);
    h->stats.channels--;
    free(ch->name);
    free(ch);
}

/* Subscribes (subscribe) or unsubscribes ch. On one Redis: SUBSCRIBE/UNSUBSCRIBE, each confirmed
 * by a push (SUBSCRIBING/UNSUBSCRIBING until then). On Redis Cluster (h->sharded) a channel's
 * fan-out is a shard channel of its slot (sequence.lib.lua SPUBLISHes it): SSUBSCRIBE through the
 * transport's registry, which keeps it on the node owning the slot across moves and failovers,
 * confirmed by an "ssubscribe" push; an unsubscribe frees the channel at once (shard_forget). May
 * free ch. */
static void send_sub(bf_hub *h, bf_hub_chan *ch, bool subscribe)
{
    if (h->sharded && !subscribe) {
        set_sub(h, ch, SUB_NONE);
        chan_free(h, ch); /* only ever unsubscribed when empty */
        return;
    }
    char key[BF_KEY_MAX];
    bf_key(key, h->prefix, BF_KEY_FAN, ch->name);
    const char *verb = subscribe ? (h->sharded ? "SSUBSCRIBE" : "SUBSCRIBE") : "UNSUBSCRIBE";
    if (bf_redis_cmd(h->sub, on_sub_reply, h, "%s %s", verb, key) == 0) {
        set_sub(h, ch, subscribe ? SUB_SUBSCRIBING : SUB_UNSUBSCRIBING);
    } else {
        set_sub(h, ch, SUB_NONE); /* link down: bf_hub_on_ready will subscribe */
    }
}

bf_hub *bf_hub_new(const bf_hub_opts *o)
{
    bf_hub *h = bf_calloc(1, sizeof(*h));
    h->ready = o->ready;
    h->render = o->render;
    h->fandone = o->fandone;
    h->arg = o->arg;
    h->sub = o->sub;
    h->cmd = o->cmd;
    h->sharded = bf_redis_is_cluster(o->sub);
    h->prefix = o->prefix;
    h->limits = o->limits;
    h->conn_prefix_len =
        (size_t)snprintf(h->conn_prefix, sizeof(h->conn_prefix), "%s/", o->node_id);
    h->socket_prefix_len = (size_t)snprintf(h->socket_prefix, sizeof(h->socket_prefix), "%s",
                                            o->socket_prefix ? o->socket_prefix : "");
    h->chans = bf_dict_new();
    return h;
}

static int free_chan_cb(const char *key, void *val, void *arg)
{
    (void)key;
    (void)arg;
    bf_hub_chan *ch = val;
    free(ch->name);
    free(ch);
    return 1;
}

void bf_hub_free(bf_hub *h)
{
    if (!h) return;
    bf_dict_foreach(h->chans, free_chan_cb, NULL);
    bf_dict_free(h->chans);
    free(h);
}

void bf_hub_join(bf_hub *h, bf_sub *c, const char *channel)
{
    assert(!c->chan);
    size_t len = strlen(channel);
    bf_hub_chan *ch = bf_dict_get(h->chans, channel, len);
    if (!ch) {
        ch = bf_calloc(1, sizeof(*ch));
        ch->name = bf_strndup(channel, len);
        ch->nlen = len;
        bf_dict_put(h->chans, ch->name, len, ch);
        h->stats.channels++;
    }
    c->chan = ch;
    c->prev = NULL;
    c->next = ch->head;
    if (ch->head) ch->head->prev = c;
    ch->head = c;
    ch->nconns++;
    if (ch->st == SUB_SUBSCRIBED) {
        c->ready = true;
        if (h->ready) h->ready(c, h->arg);
    }
    if (ch->st == SUB_NONE) send_sub(h, ch, true);
    /* SUBSCRIBING/SUBSCRIBED: nothing to do; UNSUBSCRIBING: resubscribed on its ack */
}

void bf_hub_leave(bf_hub *h, bf_sub *c)
{
    bf_hub_chan *ch = c->chan;
    if (!ch) return;
    if (c->prev)
        c->prev->next = c->next;
    else
        ch->head = c->next;
    if (c->next) c->next->prev = c->prev;
    c->chan = NULL;
    c->prev = c->next = NULL;
    if (--ch->nconns > 0) return;
    if (ch->st == SUB_SUBSCRIBED)
        send_sub(h, ch, false);
    else if (ch->st == SUB_NONE)
        chan_free(h, ch);
    /* SUBSCRIBING: unsubscribed on its ack; UNSUBSCRIBING: freed on its ack */
}

static bool is_user(const bf_sub *s, bf_strview u)
{
    const char *id = bf_sub_user(s);
    return u.len && id && strlen(id) == u.len && !memcmp(id, u.p, u.len);
}

/* If v is "<prefix><n>" (a connection id of this gateway), stores n in *id and returns true. */
static bool local_id(const char *prefix, size_t plen, bf_strview v, uint64_t *id)
{
    if (!plen || v.len <= plen || v.len > plen + 20 || memcmp(v.p, prefix, plen)) return false;
    uint64_t n = 0;
    for (size_t i = plen; i < v.len; i++) {
        char d = v.p[i];
        if (d < '0' || d > '9') return false;
        n = n * 10 + (uint64_t)(d - '0');
    }
    *id = n;
    return true;
}

static bool local_conn_id(const bf_hub *h, bf_strview v, uint64_t *id)
{
    return local_id(h->conn_prefix, h->conn_prefix_len, v, id);
}

static bool excluded(const bf_hub *h, const bf_sub *s, const bf_fanout *m)
{
    const bf_conn *c = s->conn;
    uint64_t id;
    if (is_user(s, m->except_user)) return true;
    if (local_conn_id(h, m->except_conn, &id) && id == c->id) return true;
    return local_id(h->socket_prefix, h->socket_prefix_len, m->exclude_socket, &id) && id == c->id;
}

/* Ends a channel's lapse (see check_lapse): with a gap, its lapsed connections are closed. */
static void end_lapse(bf_hub *h, bf_hub_chan *ch, bool gap)
{
    undue(h, ch);
    ch->lapsed = false;
    for (bf_sub *s = ch->head; s; s = s->next) {
        if (!s->lapsed) continue;
        s->lapsed = false;
        if (!gap || s->conn->close_code) continue;
        h->stats.resubscribe_closes++;
        bf_conn_close(s->conn, BF_CLOSE_DRAIN, RESUBSCRIBED_REASON);
    }
}

/* One Redis: the first sequenced message after a lost link. Redis does not keep pub/sub messages
 * for a subscriber that is gone, so what was published between the loss and the new subscription
 * never came. If the stream resumes past a gap, the connections that were receiving before are
 * closed with 1012 (Pusher: 4200), as on Redis Cluster (on_sub_reply): they reconnect and recover
 * the gap from history (?since=). A seq that is not ahead (a Redis that restarted empty, a
 * failover that lost writes: a new epoch) is left to the epoch check of recovery, as before. */
static void check_lapse(bf_hub *h, bf_hub_chan *ch, uint64_t seq)
{
    bool gap = ch->last_seq && seq > ch->last_seq + 1;
    end_lapse(h, ch, gap);
    if (gap)
        bf_warn("channel %s: seq %llu came after %llu once the Redis link was back; its "
                "connections were closed to recover the gap",
                ch->name, (unsigned long long)seq, (unsigned long long)ch->last_seq);
}

/* One Redis: a channel's subscription was confirmed; its seq is asked on the command link. For a
 * new subscription that is where the stream starts (last_seq, unless a message came first). For
 * a lapsed one it finds the gap of a channel that gets no further message: a seq beyond last_seq
 * means messages were published since; if none of them arrives within LAPSE_GRACE_MS, they were
 * published before the subscription was made again (bf_hub_tick closes the connections). */
typedef struct seq_query {
    bf_hub *h;
    size_t len;
    char name[];
} seq_query;

static void on_seq(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    seq_query *q = priv;
    redisReply *r = reply;
    bf_hub_chan *ch = r ? bf_dict_get(q->h->chans, q->name, q->len) : NULL;
    if (ch && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL)) {
        uint64_t now = r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
        if (!ch->lapsed) {
            if (!ch->last_seq) ch->last_seq = now;
        } else if (ch->last_seq && !ch->lapse_due_ms) {
            if (now <= ch->last_seq) {
                end_lapse(q->h, ch, false); /* nothing was published since (or a new epoch) */
            } else {
                ch->lapse_due_ms = bf_now_ms() + LAPSE_GRACE_MS;
                q->h->lapse_due++;
            }
        }
    }
    free(q);
}

static void query_seq(bf_hub *h, bf_hub_chan *ch)
{
    if (h->sharded || !h->cmd || !bf_redis_ready(h->cmd)) return;
    char key[BF_KEY_MAX];
    if (bf_key(key, h->prefix, BF_KEY_SEQ, ch->name) < 0) return;
    seq_query *q = bf_malloc(sizeof(*q) + ch->nlen + 1);
    q->h = h;
    q->len = ch->nlen;
    memcpy(q->name, ch->name, ch->nlen + 1);
    if (bf_redis_cmd(h->cmd, on_seq, q, "GET %s", key)) free(q);
}

typedef struct due_walk {
    bf_hub *h;
    uint64_t now_ms;
} due_walk;

static int due_cb(const char *key, void *val, void *arg)
{
    (void)key;
    bf_hub_chan *ch = val;
    const due_walk *w = arg;
    bf_hub *h = w->h;
    if (ch->lapse_due_ms && w->now_ms >= ch->lapse_due_ms) {
        bf_warn("channel %s: messages after seq %llu were published while its Redis link was "
                "down and none came since; its connections were closed to recover them",
                ch->name, (unsigned long long)ch->last_seq);
        end_lapse(h, ch, true);
    }
    return 0;
}

void bf_hub_tick(bf_hub *h, uint64_t now_ms)
{
    if (!h->lapse_due) return; /* a lapse is rare: only then are the channels walked */
    due_walk w = {h, now_ms};
    bf_dict_foreach(h->chans, due_cb, &w);
}

static void deliver(bf_hub *h, const char *subject, const char *payload, size_t len)
{
    bf_fanout m;
    h->stats.fanout_in++;
    size_t nlen;
    const char *name = bf_key_strip(subject, h->prefix, BF_KEY_FAN, &nlen);
    if (!name || bf_wire_decode_fanout(payload, len, &m) || m.channel.len != nlen ||
        memcmp(m.channel.p, name, m.channel.len)) {
        h->stats.fanout_bad++;
        /* at most a few lines per burst: the counter carries the volume */
        if (h->stats.fanout_bad < 10 || h->stats.fanout_bad % 1000 == 0)
            bf_warn("dropped malformed fan-out envelope on %s (%llu so far)", subject,
                    (unsigned long long)h->stats.fanout_bad);
        return;
    }
    bf_hub_chan *ch = bf_dict_get(h->chans, name, m.channel.len);
    if (!ch || !ch->head) return;
    uint64_t target = 0;
    if (m.kind == BF_FAN_DIRECT && !local_conn_id(h, m.only_conn, &target)) return;
    if (m.kind == BF_FAN_KICK) {
        for (bf_sub *s = ch->head; s; s = s->next) {
            bf_conn *c = s->conn;
            if (!is_user(s, m.kick_user)) continue;
            h->stats.kicks++;
            bf_info("connection %llu of user %s on %s kicked", (unsigned long long)c->id,
                    bf_sub_user(s), ch->name);
            /* the reason travels in the envelope: keep a copy (at most what a close frame
             * carries), bf_conn_close keeps a pointer */
            size_t rl = m.frame.len < 123 ? m.frame.len : 123;
            if (rl && !c->close_owned) c->close_owned = bf_strndup(m.frame.p, rl);
            bf_conn_close(c, BF_CLOSE_KICKED, rl ? c->close_owned : "kicked by an operator");
        }
        return;
    }
    /* rendered at most once per protocol, when the first subscription of it needs the frame */
    bf_frame *frames[BF_PROTO__COUNT] = {0};
    bool rendered[BF_PROTO__COUNT] = {0};
    uint64_t seq = m.kind == BF_FAN_MESSAGE ? m.seq : 0;
    if (seq && ch->lapsed) check_lapse(h, ch, seq);
    if (seq) ch->last_seq = seq;
    /* a big channel's message is reported once written to every subscriber (fandone.h) */
    bf_frame_watch *done = bf_fandone_begin(h->fandone, ch->name, ch->nlen, seq, ch->nconns);
    for (bf_sub *s = ch->head; s; s = s->next) {
        bf_conn *c = s->conn;
        if (c->close_code) continue; /* closing (check_lapse among others): nothing more goes */
        if (m.kind == BF_FAN_DIRECT ? c->id != target : excluded(h, s, &m)) continue;
        /* a presence subscription's view starts with its presence:here; what was published
         * before it is already reflected there (its seq says as of when) */
        if (seq && seq <= s->skip_upto) continue; /* recovery already sent it */
        if (s->awaiting_here) {
            if (m.kind != BF_FAN_DIRECT) continue;
            s->awaiting_here = false;
        }
        assert(c->proto < BF_PROTO__COUNT);
        if (!rendered[c->proto]) {
            rendered[c->proto] = true;
            frames[c->proto] = h->render(c->proto, &m, ch->name, h->arg);
            h->stats.renders[c->proto]++;
            if (frames[c->proto]) {
                frames[c->proto]->seq = seq;
                if (done) bf_frame_watch_add(frames[c->proto], done);
            }
        }
        bf_frame *f = frames[c->proto];
        if (!f) continue;
        int rc = bf_conn_enqueue(c, f, &h->limits);
        if (rc == 0) {
            h->stats.messages_out++;
        } else if (rc == BF_EFULL) {
            h->stats.slow_consumers++;
            bf_warn("connection %llu on %s closed: slow consumer (queue limit reached)",
                    (unsigned long long)c->id, ch->name);
        }
    }
    for (int i = 0; i < BF_PROTO__COUNT; i++) bf_frame_unref(frames[i]);
    if (done) bf_frame_watch_release(done);
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_hub *h = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    redisReply *kind = r->element[0], *subj = r->element[1];
    if (kind->type != REDIS_REPLY_STRING || subj->type != REDIS_REPLY_STRING) return;
    if (!strcmp(kind->str, "message") || !strcmp(kind->str, "smessage")) {
        redisReply *p = r->element[2];
        if (p->type == REDIS_REPLY_STRING) deliver(h, subj->str, p->str, (size_t)p->len);
        return;
    }
    size_t nlen;
    const char *name = bf_key_strip(subj->str, h->prefix, BF_KEY_FAN, &nlen);
    bf_hub_chan *ch = name ? bf_dict_get(h->chans, name, nlen) : NULL;
    if (!ch) return;
    bool confirmed = !strcmp(kind->str, "subscribe") || !strcmp(kind->str, "ssubscribe");
    /* On Redis Cluster a confirmation of a channel whose connections were already receiving
     * means its shard subscription was made again: moved to the slot's new node (resharding,
     * failover: an "ssubscribe" while SUBSCRIBED), or renewed after the cluster was down. What
     * the channel's new node ran before that reached nobody here, and after a failover its seqs
     * may even repeat (asynchronous replication). Those connections are closed with 1012 (Pusher:
     * 4200) so that they reconnect and recover: every gap goes through the recovery path, never
     * silently. Connections that joined meanwhile start now, as any new one. */
    if (confirmed && h->sharded && ch->st != SUB_UNSUBSCRIBING) {
        for (bf_sub *s = ch->head; s; s = s->next) {
            if (!s->ready || s->conn->close_code) continue;
            h->stats.resubscribe_closes++;
            bf_conn_close(s->conn, BF_CLOSE_DRAIN, RESUBSCRIBED_REASON);
        }
        if (ch->st == SUB_SUBSCRIBED) return;
    }
    if (confirmed && ch->st == SUB_SUBSCRIBING) {
        set_sub(h, ch, SUB_SUBSCRIBED);
        if (ch->nconns == 0) {
            send_sub(h, ch, false); /* may free ch */
            return;
        }
        query_seq(h, ch);
        for (bf_sub *s = ch->head; s; s = s->next) {
            if (s->ready) continue;
            s->ready = true;
            if (h->ready) h->ready(s, h->arg);
        }
    } else if (!strcmp(kind->str, "unsubscribe") && ch->st == SUB_UNSUBSCRIBING) {
        set_sub(h, ch, SUB_NONE);
        if (ch->nconns > 0)
            send_sub(h, ch, true);
        else
            chan_free(h, ch);
    }
}

static int resubscribe_cb(const char *key, void *val, void *arg)
{
    (void)key;
    bf_hub *h = arg;
    bf_hub_chan *ch = val;
    if (ch->nconns == 0) {
        if (h->sharded) shard_forget(h, ch->name);
        undue(h, ch);
        h->stats.channels--;
        free(ch->name);
        free(ch);
        return 1;
    }
    /* sharded: a confirmed subscription is the transport's to keep (reset_cb) */
    if (h->sharded && ch->st == SUB_SUBSCRIBED) return 0;
    set_sub(h, ch, SUB_NONE);
    send_sub(h, ch, true);
    return 0;
}

void bf_hub_on_ready(bf_hub *h)
{
    bf_dict_foreach(h->chans, resubscribe_cb, h);
}

static int reset_cb(const char *key, void *val, void *arg)
{
    (void)key;
    bf_hub *h = arg;
    bf_hub_chan *ch = val;
    /* One Redis: the link is gone, no subscription survives. A cluster link is "down" while any
     * slot lacks a ready owner, yet the shard subscriptions on the other nodes' links go on
     * delivering: the transport's registry keeps every confirmed one and makes it again, with a
     * new confirmation, only where it lapsed (on_sub_reply). A subscription not yet confirmed
     * may not have reached the registry (refused while not ready): sent again on ready. */
    if (h->sharded && ch->st == SUB_SUBSCRIBED) return 0;
    /* one Redis: whatever is published until the channel is subscribed again is lost to it */
    if (!h->sharded && ch->st == SUB_SUBSCRIBED) {
        undue(h, ch); /* asked again when the subscription is confirmed again */
        for (bf_sub *s = ch->head; s; s = s->next) {
            if (!s->ready) continue;
            s->lapsed = true;
            ch->lapsed = true;
        }
    }
    set_sub(h, ch, SUB_NONE);
    return 0;
}

void bf_hub_on_down(bf_hub *h)
{
    bf_dict_foreach(h->chans, reset_cb, h);
}

const bf_hub_stats *bf_hub_stats_get(const bf_hub *h)
{
    return &h->stats;
}

size_t bf_hub_channel_conns(const bf_hub *h, const char *channel)
{
    bf_hub_chan *ch = bf_dict_get(h->chans, channel, strlen(channel));
    return ch ? ch->nconns : 0;
}

typedef struct foreach_ctx {
    void (*fn)(bf_sub *, void *);
    void *arg;
} foreach_ctx;

static int foreach_cb(const char *key, void *val, void *arg)
{
    (void)key;
    foreach_ctx *fc = arg;
    for (bf_sub *s = ((bf_hub_chan *)val)->head; s; s = s->next) fc->fn(s, fc->arg);
    return 0;
}

void bf_hub_foreach_sub(bf_hub *h, void (*fn)(bf_sub *s, void *arg), void *arg)
{
    foreach_ctx fc = {fn, arg};
    bf_dict_foreach(h->chans, foreach_cb, &fc);
}

const char *bf_hub_sub_channel(const bf_sub *s)
{
    return s->chan ? s->chan->name : NULL;
}

typedef struct chan_ctx {
    void (*fn)(const char *, size_t, void *);
    void *arg;
} chan_ctx;

static int chan_cb(const char *key, void *val, void *arg)
{
    (void)key;
    chan_ctx *cc = arg;
    bf_hub_chan *ch = val;
    if (ch->nconns) cc->fn(ch->name, ch->nconns, cc->arg);
    return 0;
}

void bf_hub_foreach_channel(bf_hub *h, void (*fn)(const char *name, size_t nconns, void *arg),
                            void *arg)
{
    chan_ctx cc = {fn, arg};
    bf_dict_foreach(h->chans, chan_cb, &cc);
}
