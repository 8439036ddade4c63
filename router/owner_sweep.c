/* The owner's sweep pass (owner_ops.h, bf_owner_ops_sweep): the pending presence operations of
 * the channels this router owns, and what dead gateways left in them. */
#include "alloc.h"
#include "channel.h"
#include "log.h"
#include "owner_ops_int.h"
#include "redis_keys.h"
#include "scripts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sweeping dead gateways --------------------------------------------------------------- */

typedef struct sweep_ctx {
    bf_owner_ops *o;
    char gw[128];
} sweep_ctx;

/* sweep.lua's arguments for channel and the dead gateway gw; cluster: its single-slot form (the
 * channel's keys only, the gateway's index entries left to sweep_index.lua). */
static int sweep_args(bf_owner_ops *o, bf_script_args *a, const char *gw, const char *channel,
                      bool cluster)
{
    bf_sweep sw = {.prefix = o->prefix,
                   .channel = channel,
                   .gateway = gw,
                   .ring_epoch = bf_ring_epoch(o->ring),
                   .history_size = o->history_size,
                   .history_ttl_ms = o->history_ttl_ms,
                   .cluster = cluster};
    return bf_sweep_args(a, &sw);
}

/* sweep.lua answered the error err: STALE (the channel's fence or the ring epoch is newer than
 * our ring) asks the router for a fresher ring; anything else is logged. */
static void sweep_failed(bf_owner_ops *o, const char *err)
{
    if (strstr(err, "STALE"))
        bf__owner_ops_stale(o);
    else
        bf_warn("sweep failed: %s", err);
}

static void on_sweep_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_owner_ops *o = priv;
    redisReply *r = reply;
    if (!r) return;
    if (r->type == REDIS_REPLY_ERROR) {
        sweep_failed(o, r->str);
        return;
    }
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
        o->stats.sweep_leaves += (uint64_t)r->integer;
}

/* ---- Redis Cluster: a sweep in three calls, each sent from the previous one's reply ---------
 * sweep_index.lua checks the gateway is dead (the cluster-wide slot), sweep.lua removes what it
 * left in the channel (the channel's slot, fenced by owner:{channel}), sweep_index.lua removes the
 * channel from the gateway's index entries (gwchans, gwpres if no operation is pending, gwknown).
 * A crash between the steps leaves index entries of a swept channel: swept again (idempotent). */

typedef struct cl_sweep {
    bf_owner_ops *o;
    char gw[128];
    char channel[BF_CHANNEL_MAX + 1];
} cl_sweep;

/* Sends the next call of cs (its arguments in a, when built is 0) with cs as its context; if it
 * was not built or not sent, the sweep of this channel ends here: cs is freed, false returned. */
static bool cl_next(cl_sweep *cs, int built, bf_script_args *a, redisCallbackFn *next)
{
    if (built == 0 && bf_script_args_send(cs->o->cmd, a, next, cs) == 0) return true;
    free(cs);
    return false;
}

static void on_cl_index(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    cl_sweep *cs = priv;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR)
        bf_warn("sweep of %s's index entries failed: %s", cs->gw, r->str);
    free(cs);
}

static void on_cl_swept(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    cl_sweep *cs = priv;
    bf_owner_ops *o = cs->o;
    redisReply *r = reply;
    bf_script_args a;
    if (r && r->type == REDIS_REPLY_ERROR) {
        sweep_failed(o, r->str);
    } else if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
               r->element[0]->type == REDIS_REPLY_INTEGER &&
               r->element[1]->type == REDIS_REPLY_INTEGER) {
        if (r->element[0]->integer > 0) o->stats.sweep_leaves += (uint64_t)r->element[0]->integer;
        cl_next(
            cs,
            bf_sweep_index_args(&a, o->prefix, cs->gw, cs->channel, r->element[1]->integer == 1),
            &a, on_cl_index);
        return;
    } else if (r) {
        bf_warn("sweep failed: unexpected reply");
    }
    free(cs);
}

static void on_cl_checked(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    cl_sweep *cs = priv;
    bf_owner_ops *o = cs->o;
    redisReply *r = reply;
    bf_script_args a;
    /* dead on the Redis clock, and still ours */
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0 && o->in_ring &&
        bf__owner_ops_owns(o, cs->channel)) {
        if (cl_next(cs, sweep_args(o, &a, cs->gw, cs->channel, true), &a, on_cl_swept))
            o->stats.sweeps++;
        return;
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        bf_warn("sweep: liveness check of %s failed: %s", cs->gw, r->str);
    }
    free(cs);
}

static void sweep_channel_cluster(bf_owner_ops *o, const char *gw, const char *channel)
{
    bf_script_args a;
    cl_sweep *cs = bf_calloc(1, sizeof(*cs));
    cs->o = o;
    snprintf(cs->gw, sizeof(cs->gw), "%s", gw);
    snprintf(cs->channel, sizeof(cs->channel), "%s", channel);
    cl_next(cs, bf_sweep_index_args(&a, o->prefix, gw, NULL, false), &a, on_cl_checked);
}

static void sweep_channel(bf_owner_ops *o, const char *gw, const char *channel)
{
    if (bf_redis_is_cluster(o->cmd)) {
        sweep_channel_cluster(o, gw, channel);
        return;
    }
    bf_script_args a;
    if (sweep_args(o, &a, gw, channel, false)) return;
    if (bf_script_args_send(o->cmd, &a, on_sweep_reply, o) == 0) o->stats.sweeps++;
}

static void on_gwchans(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    sweep_ctx *sc = priv;
    bf_owner_ops *o = sc->o;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ARRAY && o->in_ring) {
        if (r->elements == 0) {
            /* nothing left anywhere: forget the gateway (it re-adds itself if it comes back) */
            char kgk[BF_KEY_MAX];
            bf_key(kgk, o->prefix, BF_KEY_GWKNOWN, NULL);
            bf_redis_cmd(o->cmd, NULL, NULL, "SREM %s %s", kgk, sc->gw);
        }
        for (size_t i = 0; i < r->elements; i++) {
            const char *ch = r->element[i]->str;
            if (r->element[i]->type != REDIS_REPLY_STRING) continue;
            if (bf__owner_ops_owns(o, ch)) sweep_channel(o, sc->gw, ch);
        }
    }
    free(sc);
}

/* Counts the active channels (those with connections on some gateway) this router owns. */
static void on_all_channels(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_owner_ops *o = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY) return;
    uint64_t n = 0;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING && bf__owner_ops_owns(o, r->element[i]->str))
            n++;
    o->stats.owned_channels = n;
}

static void count_owned(bf_owner_ops *o, redisReply *gateways)
{
    size_t n = gateways->elements;
    const char **argv = bf_calloc(n + 1, sizeof(char *));
    char(*keys)[BF_KEY_MAX] = bf_calloc(n ? n : 1, BF_KEY_MAX);
    argv[0] = "SUNION";
    for (size_t i = 0; i < n; i++) {
        bf_key(keys[i], o->prefix, BF_KEY_GWCHANS, gateways->element[i]->str);
        argv[i + 1] = keys[i];
    }
    if (n)
        bf_redis_cmdargv(o->cmd, on_all_channels, o, (int)n + 1, argv, NULL);
    else
        o->stats.owned_channels = 0;
    free(keys);
    free(argv);
}

static void on_gwknown(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_owner_ops *o = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || !o->in_ring) return;
    /* every few passes, also refresh the owned-channels gauge (one SUNION of all gateways'
     * channel sets: proportional to the number of active channels) */
    if (o->stats.sweep_passes++ % 5 == 0) count_owned(o, r);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || (size_t)e->len >= sizeof(((sweep_ctx *)0)->gw))
            continue;
        if (bf__owner_ops_gateway_alive(o, e->str)) continue;
        sweep_ctx *sc = bf_calloc(1, sizeof(*sc));
        sc->o = o;
        memcpy(sc->gw, e->str, (size_t)e->len + 1);
        /* the channels where it counted connections, and those where it may hold presence
         * entries (a count can reach 0 before the last presence leave is applied) */
        char kgc[BF_KEY_MAX], kgp[BF_KEY_MAX];
        bf_key(kgc, o->prefix, BF_KEY_GWCHANS, sc->gw);
        bf_key(kgp, o->prefix, BF_KEY_GWPRES, sc->gw);
        if (bf_redis_cmd(o->cmd, on_gwchans, sc, "SUNION %s %s", kgc, kgp)) free(sc);
    }
}

/* The channels with pending presence operations: each router applies those of the channels it
 * owns, so operations whose nudge was lost (its router died, or none was alive) are applied
 * within one sweep interval of the ring knowing a live owner. */
static void on_ppending(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_owner_ops *o = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || !o->in_ring || o->stopping) return;
    o->stats.pending_channels = r->elements;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || (size_t)e->len > BF_CHANNEL_MAX) continue;
        if (bf__owner_ops_owns(o, e->str)) bf__owner_ops_apply(o, e->str);
    }
}

void bf_owner_ops_sweep(bf_owner_ops *o)
{
    char kgk[BF_KEY_MAX], kpp[BF_KEY_MAX];
    if (!o->in_ring) return;
    bf_key(kpp, o->prefix, BF_KEY_PPENDING, NULL);
    bf_redis_cmd(o->cmd, on_ppending, o, "SMEMBERS %s", kpp);
    bf_key(kgk, o->prefix, BF_KEY_GWKNOWN, NULL);
    bf_redis_cmd(o->cmd, on_gwknown, o, "SMEMBERS %s", kgk);
}
