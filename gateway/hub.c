#include "hub.h"
#include "alloc.h"
#include "dict.h"
#include "err.h"
#include "log.h"
#include "redis_keys.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

typedef enum { SUB_NONE, SUB_SUBSCRIBING, SUB_SUBSCRIBED, SUB_UNSUBSCRIBING } sub_state;
static const char *sub_names[] = {"none", "subscribing", "subscribed", "unsubscribing"};

typedef struct bf_hub_chan {
    char *name;
    size_t nlen;
    bf_conn *head;
    size_t nconns;
    sub_state st;
} bf_hub_chan;

struct bf_hub {
    bf_redis *sub;
    const char *prefix;
    char conn_prefix[128]; /* "<node id>/" */
    size_t conn_prefix_len;
    bf_conn_limits limits;
    bf_dict *chans;
    size_t subscribed;
    bf_hub_stats stats;
};

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *priv);

static void set_sub(bf_hub *h, bf_hub_chan *ch, sub_state st)
{
    bf_debug("channel %s subscription %s -> %s", ch->name, sub_names[ch->st], sub_names[st]);
    if (ch->st == SUB_SUBSCRIBED) h->subscribed--;
    if (st == SUB_SUBSCRIBED) h->subscribed++;
    ch->st = st;
}

static void send_sub(bf_hub *h, bf_hub_chan *ch, const char *verb)
{
    char key[BF_KEY_MAX];
    bf_key(key, h->prefix, BF_KEY_FAN, ch->name);
    if (bf_redis_cmd(h->sub, on_sub_reply, h, "%s %s", verb, key) == 0) {
        set_sub(h, ch, verb[0] == 'S' ? SUB_SUBSCRIBING : SUB_UNSUBSCRIBING);
    } else {
        set_sub(h, ch, SUB_NONE); /* link down: bf_hub_on_ready will subscribe */
    }
}

static void chan_free(bf_hub *h, bf_hub_chan *ch)
{
    bf_dict_del(h->chans, ch->name, ch->nlen);
    h->stats.channels--;
    free(ch->name);
    free(ch);
}

bf_hub *bf_hub_new(bf_redis *sub, const char *prefix, const char *node_id,
                   const bf_conn_limits *limits)
{
    bf_hub *h = bf_calloc(1, sizeof(*h));
    h->sub = sub;
    h->prefix = prefix;
    h->limits = *limits;
    h->conn_prefix_len = (size_t)snprintf(h->conn_prefix, sizeof(h->conn_prefix), "%s/", node_id);
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

void bf_hub_join(bf_hub *h, bf_conn *c, const char *channel)
{
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
    if (ch->st == SUB_NONE) send_sub(h, ch, "SUBSCRIBE");
    /* SUBSCRIBING/SUBSCRIBED: nothing to do; UNSUBSCRIBING: resubscribed on its ack */
}

void bf_hub_leave(bf_hub *h, bf_conn *c)
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
        send_sub(h, ch, "UNSUBSCRIBE");
    else if (ch->st == SUB_NONE)
        chan_free(h, ch);
    /* SUBSCRIBING: unsubscribed on its ack; UNSUBSCRIBING: freed on its ack */
}

static bool excluded(const bf_hub *h, const bf_conn *c, const bf_fanout *m)
{
    if (m->exclude_user.len && c->user_id && strlen(c->user_id) == m->exclude_user.len &&
        !memcmp(c->user_id, m->exclude_user.p, m->exclude_user.len))
        return true;
    if (m->exclude_conn.len > h->conn_prefix_len &&
        !memcmp(m->exclude_conn.p, h->conn_prefix, h->conn_prefix_len)) {
        uint64_t id = 0;
        for (size_t i = h->conn_prefix_len; i < m->exclude_conn.len; i++) {
            char d = m->exclude_conn.p[i];
            if (d < '0' || d > '9') return false;
            id = id * 10 + (uint64_t)(d - '0');
        }
        return id == c->id;
    }
    return false;
}

static void deliver(bf_hub *h, const char *subject, const char *payload, size_t len)
{
    bf_fanout m;
    h->stats.fanout_in++;
    const char *name = bf_key_strip(subject, h->prefix, BF_KEY_FAN);
    if (!name || bf_wire_decode_fanout(payload, len, &m) || m.channel.len != strlen(name) ||
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
    bf_frame *f = bf_frame_new(m.frame.p, m.frame.len);
    for (bf_conn *c = ch->head; c; c = c->next) {
        if (excluded(h, c, &m)) continue;
        int rc = bf_conn_enqueue(c, f, &h->limits);
        if (rc == 0) {
            h->stats.messages_out++;
        } else if (rc == BF_EFULL) {
            h->stats.slow_consumers++;
            bf_warn("connection %llu on %s closing: slow consumer (%u messages queued)",
                    (unsigned long long)c->id, ch->name, c->qlen);
        }
    }
    bf_frame_unref(f);
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_hub *h = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    redisReply *kind = r->element[0], *subj = r->element[1];
    if (kind->type != REDIS_REPLY_STRING || subj->type != REDIS_REPLY_STRING) return;
    if (!strcmp(kind->str, "message")) {
        redisReply *p = r->element[2];
        if (p->type == REDIS_REPLY_STRING) deliver(h, subj->str, p->str, (size_t)p->len);
        return;
    }
    const char *name = bf_key_strip(subj->str, h->prefix, BF_KEY_FAN);
    bf_hub_chan *ch = name ? bf_dict_get(h->chans, name, strlen(name)) : NULL;
    if (!ch) return;
    if (!strcmp(kind->str, "subscribe") && ch->st == SUB_SUBSCRIBING) {
        set_sub(h, ch, SUB_SUBSCRIBED);
        if (ch->nconns == 0) send_sub(h, ch, "UNSUBSCRIBE");
    } else if (!strcmp(kind->str, "unsubscribe") && ch->st == SUB_UNSUBSCRIBING) {
        set_sub(h, ch, SUB_NONE);
        if (ch->nconns > 0)
            send_sub(h, ch, "SUBSCRIBE");
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
        h->stats.channels--;
        free(ch->name);
        free(ch);
        return 1;
    }
    ch->st = SUB_NONE;
    send_sub(h, ch, "SUBSCRIBE");
    return 0;
}

void bf_hub_on_ready(bf_hub *h)
{
    bf_dict_foreach(h->chans, resubscribe_cb, h);
}

static int reset_cb(const char *key, void *val, void *arg)
{
    (void)key;
    (void)arg;
    ((bf_hub_chan *)val)->st = SUB_NONE;
    return 0;
}

void bf_hub_on_down(bf_hub *h)
{
    bf_dict_foreach(h->chans, reset_cb, h);
    h->subscribed = 0;
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

size_t bf_hub_subscribed(const bf_hub *h)
{
    return h->subscribed;
}

typedef struct foreach_ctx {
    void (*fn)(bf_conn *, void *);
    void *arg;
} foreach_ctx;

static int foreach_cb(const char *key, void *val, void *arg)
{
    (void)key;
    foreach_ctx *fc = arg;
    for (bf_conn *c = ((bf_hub_chan *)val)->head; c; c = c->next) fc->fn(c, fc->arg);
    return 0;
}

void bf_hub_foreach_conn(bf_hub *h, void (*fn)(bf_conn *c, void *arg), void *arg)
{
    foreach_ctx fc = {fn, arg};
    bf_dict_foreach(h->chans, foreach_cb, &fc);
}
