#include "conncount.h"
#include "alloc.h"
#include "dict.h"
#include "err.h"
#include "log.h"
#include "redis_keys.h"
#include "scripts.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A pending change is stored in the dict's value pointer as (v << 1 | absolute): a delta v, or
 * "the count is v". A zero delta is no change and has no entry, so NULL means none. */
struct bf_conncount {
    char *prefix, *node_id;
    bf_dict *pending;
    int inflight;  /* bf_conns_send calls not yet answered */
    bool tracking; /* bf_conncount_mark was called: sent channels go into sent */
    bf_dict *sent; /* channels sent since the mark (keys only) */
};

static void *encode(intptr_t v, int absolute)
{
    return (void *)(uintptr_t)(((uintptr_t)v << 1) | (uintptr_t)absolute);
}

static intptr_t value_of(const void *p)
{
    return (intptr_t)(uintptr_t)p >> 1;
}

static int is_absolute(const void *p)
{
    return (int)((uintptr_t)p & 1);
}

bf_conncount *bf_conncount_new(const char *prefix, const char *node_id)
{
    bf_conncount *cc = bf_calloc(1, sizeof(*cc));
    cc->prefix = bf_strdup(prefix);
    cc->node_id = bf_strdup(node_id);
    cc->pending = bf_dict_new();
    cc->sent = bf_dict_new();
    return cc;
}

void bf_conncount_free(bf_conncount *cc)
{
    if (!cc) return;
    bf_dict_free(cc->pending);
    bf_dict_free(cc->sent);
    free(cc->prefix);
    free(cc->node_id);
    free(cc);
}

void bf_conncount_add(bf_conncount *cc, const char *channel, int delta)
{
    size_t len = strlen(channel);
    void *p = bf_dict_get(cc->pending, channel, len);
    intptr_t v = value_of(p) + delta;
    if (v == 0 && !is_absolute(p))
        bf_dict_del(cc->pending, channel, len);
    else
        bf_dict_put(cc->pending, channel, len, encode(v, is_absolute(p)));
}

void bf_conncount_set(bf_conncount *cc, const char *channel, size_t n)
{
    bf_dict_put(cc->pending, channel, strlen(channel), encode((intptr_t)n, 1));
}

static int drop(const char *key, void *val, void *arg)
{
    (void)key, (void)val, (void)arg;
    return 1;
}

void bf_conncount_discard(bf_conncount *cc)
{
    bf_dict_foreach(cc->pending, drop, NULL);
}

/* One script call's changes (conns.lua through bf_conns_send); the channel names are the dict's
 * keys, whose entries stay until sent. */
typedef struct batch {
    bf_conncount *cc;
    bf_redis *r;
    int n, calls;
    bf_conns_change changes[BF_CONNCOUNT_BATCH];
} batch;

/* Counts are best effort between reconnections (a reconnection sets them all again), but a
 * script error is a bug worth seeing. */
static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_conncount *cc = priv;
    redisReply *r = reply;
    assert(cc->inflight > 0);
    cc->inflight--;
    if (r && r->type == REDIS_REPLY_ERROR) bf_warn("conns.lua failed: %s", r->str);
}

static void send_batch(batch *b)
{
    if (!b->n) return;
    bf_conncount *cc = b->cc;
    int rc = bf_conns_send(b->r, cc->prefix, cc->node_id, b->changes, (size_t)b->n, on_reply, cc);
    if (rc == 0) {
        b->calls++;
        cc->inflight++;
        if (cc->tracking)
            for (int i = 0; i < b->n; i++)
                bf_dict_put(cc->sent, b->changes[i].channel, strlen(b->changes[i].channel),
                            (void *)1);
    } else if (rc != BF_EDISCONNECTED)
        bf_warn("cannot send %d connection counts to Redis: %s", b->n, bf_strerror(rc));
    b->n = 0;
}

static int collect(const char *key, void *val, void *arg)
{
    batch *b = arg;
    b->changes[b->n] =
        (bf_conns_change){.channel = key, .value = value_of(val), .absolute = is_absolute(val)};
    if (++b->n == BF_CONNCOUNT_BATCH) send_batch(b);
    return 0;
}

int bf_conncount_flush(bf_conncount *cc, bf_redis *r)
{
    /* kept while Redis is away: sent after the reconnection (which also re-sets every count) */
    if (!bf_dict_size(cc->pending) || !bf_redis_ready(r)) return 0;
    /* on a cluster a call's steps are not ordered against the next call's (scripts.h): a
     * channel's next change waits until the previous call has answered, adding up meanwhile */
    if (cc->inflight && bf_redis_is_cluster(r)) return 0;
    batch *b = bf_malloc(sizeof(*b));
    b->cc = cc;
    b->r = r;
    b->n = b->calls = 0;
    bf_dict_foreach(cc->pending, collect, b);
    send_batch(b);
    bf_conncount_discard(cc);
    int calls = b->calls;
    free(b);
    return calls;
}

bool bf_conncount_busy(const bf_conncount *cc)
{
    return cc->inflight > 0;
}

void bf_conncount_mark(bf_conncount *cc)
{
    bf_dict_foreach(cc->sent, drop, NULL);
    cc->tracking = true;
}

void bf_conncount_unmark(bf_conncount *cc)
{
    bf_dict_foreach(cc->sent, drop, NULL);
    cc->tracking = false;
}

bool bf_conncount_changed(const bf_conncount *cc, const char *channel)
{
    size_t len = strlen(channel);
    return bf_dict_get(cc->pending, channel, len) || bf_dict_get(cc->sent, channel, len);
}
