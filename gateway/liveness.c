#include "liveness.h"
#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "redis_keys.h"
#include "scripts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bf_liveness {
    bf_liveness_deps d;
    uint64_t probe_sent, next_probe, last_probe_ms, sub_ready_since, last_tick_ms;
    bool probe_suspect;
    uint64_t last_fanout_in;
    uint64_t next_heartbeat;
    bool registered;
    uint64_t probe_failures;
};

bf_liveness *bf_liveness_new(const bf_liveness_deps *d)
{
    bf_liveness *lv = bf_calloc(1, sizeof(*lv));
    lv->d = *d;
    return lv;
}

void bf_liveness_free(bf_liveness *lv)
{
    free(lv);
}

/* The subscriber link is probed end to end: we PUBLISH to probe:{us} on the command link and
 * expect it back on the subscriber link. A link Redis dropped (output-buffer limit) or that a
 * stalled network left half-open delivers no probe, and is reconnected and resubscribed. */
static void on_probe(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_liveness *lv = priv;
    if (bf_redis_message(reply)) lv->last_probe_ms = bf_now_ms();
}

void bf_liveness_sub_ready(bf_liveness *lv)
{
    char key[BF_KEY_MAX];
    bf_key(key, lv->d.prefix, BF_KEY_PROBE, lv->d.node_id);
    bf_redis_cmd(lv->d.sub, on_probe, lv, "SUBSCRIBE %s", key);
    lv->sub_ready_since = lv->last_probe_ms = bf_now_ms();
}

void bf_liveness_cmd_ready(bf_liveness *lv)
{
    lv->next_heartbeat = 0; /* announce ourselves at once */
}

void bf_liveness_cmd_down(bf_liveness *lv)
{
    lv->registered = false;
}

bool bf_liveness_registered(const bf_liveness *lv)
{
    return lv->registered;
}

uint64_t bf_liveness_probe_failures(const bf_liveness *lv)
{
    return lv->probe_failures;
}

void bf_liveness_probe_tick(bf_liveness *lv, uint64_t now)
{
    /* A loop that was blocked (a burst of work) has not read its sockets yet: libuv runs timers
     * before I/O, so a late probe may be waiting unread. Judge only after a tick that followed
     * another one closely, i.e. after an I/O phase of a responsive loop. */
    bool responsive = now - lv->last_tick_ms < 1000;
    lv->last_tick_ms = now;
    if (!bf_redis_ready(lv->d.sub)) return;
    /* any fan-out traffic proves the link alive as well as a probe does (and a probe may queue
     * behind a lot of it) */
    uint64_t fanout = bf_hub_stats_get(lv->d.hub)->fanout_in;
    if (fanout != lv->last_fanout_in) {
        lv->last_fanout_in = fanout;
        lv->last_probe_ms = now;
    }
    bool silent = now - lv->last_probe_ms > lv->d.probe_timeout_ms &&
                  now - lv->sub_ready_since > lv->d.probe_timeout_ms;
    if (!silent || !responsive)
        lv->probe_suspect = false;
    else if (!lv->probe_suspect)
        lv->probe_suspect = true; /* confirm on the next tick */
    else {
        lv->probe_suspect = false;
        lv->probe_failures++;
        bf_warn("redis subscriber link delivered no probe for %llu ms: reconnecting",
                (unsigned long long)(now - lv->last_probe_ms));
        /* both links: a stalled command link would hold heartbeats and presence operations, and
         * reconnecting it re-announces our connections and members (the gateway's cmd_ready) */
        bf_redis_reset(lv->d.sub, "liveness probe timed out");
        bf_redis_reset(lv->d.cmd, "liveness probe timed out");
        return;
    }
    if (now >= lv->next_probe && bf_redis_ready(lv->d.cmd)) {
        char key[BF_KEY_MAX], n[24];
        bf_key(key, lv->d.prefix, BF_KEY_PROBE, lv->d.node_id);
        snprintf(n, sizeof(n), "%llu", (unsigned long long)++lv->probe_sent);
        bf_redis_cmd(lv->d.cmd, NULL, NULL, "PUBLISH %s %s", key, n);
        lv->next_probe = now + lv->d.probe_ms;
    }
}

/* The reply's fourth element lists the live routers: the ring the owners are computed from; the
 * fifth says whether one of them runs the fan-out window. */
static void on_heartbeat_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_liveness *lv = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 4 ||
        r->element[3]->type != REDIS_REPLY_ARRAY)
        return;
    lv->registered = true;
    redisReply *rs = r->element[3];
    const char **ids = bf_calloc(rs->elements ? rs->elements : 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < rs->elements; i++)
        if (rs->element[i]->type == REDIS_REPLY_STRING) ids[n++] = rs->element[i]->str;
    if (n != bf_owner_routers(lv->d.owner)) bf_info("%zu live router(s) for channel ownership", n);
    bf_owner_set_routers(lv->d.owner, ids, n);
    free(ids);
    if (lv->d.fanout_wanted && r->elements >= 5 && r->element[4]->type == REDIS_REPLY_INTEGER)
        lv->d.fanout_wanted(r->element[4]->integer != 0, lv->d.arg);
}

void bf_liveness_heartbeat_tick(bf_liveness *lv, uint64_t now)
{
    if (now < lv->next_heartbeat || !bf_redis_ready(lv->d.cmd)) return;
    char conns[24];
    snprintf(conns, sizeof(conns), "%llu", (unsigned long long)lv->d.connections(lv->d.arg));
    bf_heartbeat hb = {.prefix = lv->d.prefix,
                       .node_id = lv->d.node_id,
                       .router = false,
                       .ttl_ms = lv->d.heartbeat_ttl_ms,
                       .started_wall_ms = lv->d.started_wall_ms,
                       .host = lv->d.host,
                       .port = lv->d.port,
                       .connections = conns,
                       .version = BELFRY_VERSION};
    bf_heartbeat_send(lv->d.cmd, &hb, on_heartbeat_reply, lv);
    lv->next_heartbeat = now + lv->d.heartbeat_ms;
}
