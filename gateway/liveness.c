#include "liveness.h"
#include "alloc.h"
#include "log.h"
#include "redis_keys.h"
#include "scripts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The subscriber link is probed end to end: we PUBLISH to probe:{us} on the command link and
 * expect it back on the subscriber link. A link Redis dropped (output-buffer limit) or that a
 * stalled network left half-open delivers no probe, and is reconnected and resubscribed. */
static void on_probe(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_gateway *gw = priv;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "message")) {
        gw->last_probe_ms = bf_now_ms();
    }
}

void bf_liveness_sub_ready(bf_gateway *gw)
{
    char key[BF_KEY_MAX];
    bf_key(key, gw->cfg.redis_prefix, BF_KEY_PROBE, gw->node_id);
    bf_redis_cmd(gw->sub, on_probe, gw, "SUBSCRIBE %s", key);
    gw->sub_ready_since = gw->last_probe_ms = bf_now_ms();
}

void bf_liveness_probe_tick(bf_gateway *gw, uint64_t now)
{
    /* A loop that was blocked (a burst of work) has not read its sockets yet: libuv runs timers
     * before I/O, so a late probe may be waiting unread. Judge only after a tick that followed
     * another one closely, i.e. after an I/O phase of a responsive loop. */
    bool responsive = now - gw->last_tick_ms < 1000;
    gw->last_tick_ms = now;
    if (!bf_redis_ready(gw->sub)) return;
    /* any fan-out traffic proves the link alive as well as a probe does (and a probe may queue
     * behind a lot of it) */
    uint64_t fanout = bf_hub_stats_get(gw->hub)->fanout_in;
    if (fanout != gw->last_fanout_in) {
        gw->last_fanout_in = fanout;
        gw->last_probe_ms = now;
    }
    bool silent = now - gw->last_probe_ms > (uint64_t)gw->cfg.redis_probe_timeout_ms &&
                  now - gw->sub_ready_since > (uint64_t)gw->cfg.redis_probe_timeout_ms;
    if (!silent || !responsive)
        gw->probe_suspect = false;
    else if (!gw->probe_suspect)
        gw->probe_suspect = true; /* confirm on the next tick */
    else {
        gw->probe_suspect = false;
        gw->stats.probe_failures++;
        bf_warn("redis subscriber link delivered no probe for %llu ms: reconnecting",
                (unsigned long long)(now - gw->last_probe_ms));
        /* both links: a stalled command link would hold heartbeats and presence operations, and
         * reconnecting it re-announces our connections and members (cmd_ready) */
        bf_redis_reset(gw->sub, "liveness probe timed out");
        bf_redis_reset(gw->cmd, "liveness probe timed out");
        return;
    }
    if (now >= gw->next_probe && bf_redis_ready(gw->cmd)) {
        char key[BF_KEY_MAX], n[24];
        bf_key(key, gw->cfg.redis_prefix, BF_KEY_PROBE, gw->node_id);
        snprintf(n, sizeof(n), "%llu", (unsigned long long)++gw->probe_sent);
        bf_redis_cmd(gw->cmd, NULL, NULL, "PUBLISH %s %s", key, n);
        gw->next_probe = now + (uint64_t)gw->cfg.redis_probe_ms;
    }
}

/* The reply's fourth element lists the live routers: the ring the owners are computed from. */
static void on_heartbeat_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_gateway *gw = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 4 ||
        r->element[3]->type != REDIS_REPLY_ARRAY)
        return;
    gw->registered = true;
    redisReply *rs = r->element[3];
    const char **ids = bf_calloc(rs->elements ? rs->elements : 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < rs->elements; i++)
        if (rs->element[i]->type == REDIS_REPLY_STRING) ids[n++] = rs->element[i]->str;
    if (n != bf_owner_routers(gw->owner)) bf_info("%zu live router(s) for channel ownership", n);
    bf_owner_set_routers(gw->owner, ids, n);
    free(ids);
}

void bf_liveness_heartbeat(bf_gateway *gw)
{
    char conns[24];
    snprintf(conns, sizeof(conns), "%llu", (unsigned long long)bf_gw_open_connections(gw));
    bf_heartbeat hb = {.prefix = gw->cfg.redis_prefix,
                       .node_id = gw->node_id,
                       .router = false,
                       .ttl_ms = gw->cfg.heartbeat_ttl_ms,
                       .started_wall_ms = gw->started_wall_ms,
                       .host = gw->cfg.listen.host,
                       .port = gw->cfg.listen.port,
                       .connections = conns,
                       .version = BELFRY_VERSION};
    bf_heartbeat_send(gw->cmd, &hb, on_heartbeat_reply, gw);
}
