#include "conncount.h"
#include "alloc.h"
#include "dict.h"
#include "err.h"
#include "log.h"
#include "redis_keys.h"
#include "scripts.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A pending change is stored in the dict's value pointer as (v << 1 | absolute): a delta v, or
 * "the count is v". A zero delta is no change and has no entry, so NULL means none. */
struct bf_conncount {
    char *prefix, *node_id;
    bf_dict *pending;
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
    return cc;
}

void bf_conncount_free(bf_conncount *cc)
{
    if (!cc) return;
    bf_dict_free(cc->pending);
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

/* One script call's arguments: gwchans, gwknown, n conns keys, then the node id and n
 * (change, channel) pairs. Keys and changes are formatted into fixed slots. */
typedef struct batch {
    bf_conncount *cc;
    bf_redis *r;
    int n, calls;
    char gwchans[BF_KEY_MAX], gwknown[BF_KEY_MAX];
    char keys[BF_CONNCOUNT_BATCH][BF_KEY_MAX];
    char changes[BF_CONNCOUNT_BATCH][24];
    const char *channels[BF_CONNCOUNT_BATCH]; /* the dict's keys: entries stay until sent */
} batch;

/* Counts are best effort between reconnections (a reconnection sets them all again), but a
 * script error is a bug worth seeing. */
static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac, (void)priv;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR) bf_warn("conns.lua failed: %s", r->str);
}

static void send_batch(batch *b)
{
    if (!b->n) return;
    const char *argv[2 + 3 * BF_CONNCOUNT_BATCH + 1];
    int k = 0;
    argv[k++] = b->gwchans;
    argv[k++] = b->gwknown;
    for (int i = 0; i < b->n; i++) argv[k++] = b->keys[i];
    argv[k++] = b->cc->node_id;
    for (int i = 0; i < b->n; i++) {
        argv[k++] = b->changes[i];
        argv[k++] = b->channels[i];
    }
    int rc = bf_script_call(b->r, BF_SCRIPT_CONNS, on_reply, NULL, 2 + b->n, k, argv, NULL);
    if (rc == 0)
        b->calls++;
    else if (rc != BF_EDISCONNECTED)
        bf_warn("cannot send %d connection counts to Redis: %s", b->n, bf_strerror(rc));
    b->n = 0;
}

static int collect(const char *key, void *val, void *arg)
{
    batch *b = arg;
    if (bf_key(b->keys[b->n], b->cc->prefix, BF_KEY_CONNS, key) < 0) return 0;
    intptr_t v = value_of(val);
    snprintf(b->changes[b->n], sizeof(b->changes[0]), is_absolute(val) ? "=%lld" : "%lld",
             (long long)v);
    b->channels[b->n] = key;
    if (++b->n == BF_CONNCOUNT_BATCH) send_batch(b);
    return 0;
}

int bf_conncount_flush(bf_conncount *cc, bf_redis *r)
{
    /* kept while Redis is away: sent after the reconnection (which also re-sets every count) */
    if (!bf_dict_size(cc->pending) || !bf_redis_ready(r)) return 0;
    batch *b = bf_malloc(sizeof(*b));
    b->cc = cc;
    b->r = r;
    b->n = b->calls = 0;
    bf_key(b->gwchans, cc->prefix, BF_KEY_GWCHANS, cc->node_id);
    bf_key(b->gwknown, cc->prefix, BF_KEY_GWKNOWN, NULL);
    bf_dict_foreach(cc->pending, collect, b);
    send_batch(b);
    bf_conncount_discard(cc);
    int calls = b->calls;
    free(b);
    return calls;
}
