/* The gateway's services to ws.c and the protocol modules (declared in gateway.h): connection
 * ids, the fan-out PUBLISH, presence operations towards the owners and the counters they share.
 * gateway.c keeps the lifecycle (start, tick, drain, stop). */
#include "gateway.h"
#include "err.h"
#include "redis_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t bf_gw_open_connections(const bf_gateway *gw)
{
    return gw->stats.connections[0] + gw->stats.connections[1] + gw->stats.connections[2] +
           gw->stats.pusher_connections;
}

const char *const bf_gw_auth_reason_names[] = {
#define BF_GW_AUTH_NAME(n, s) s,
    BF_GW_AUTH_REASONS(BF_GW_AUTH_NAME)
#undef BF_GW_AUTH_NAME
};

void bf_gw_count_auth_failure(bf_gateway *gw, const char *reason)
{
    for (int i = 0; i < BF_GW_AUTH__COUNT; i++) {
        if (reason && !strcmp(reason, bf_gw_auth_reason_names[i])) {
            gw->stats.auth_failures[i]++;
            return;
        }
    }
    gw->stats.auth_failures[BF_GW_AUTH_MALFORMED]++;
}

const char *bf_gw_conn_channel(const bf_conn *c)
{
    return c->subs ? bf_hub_sub_channel(c->subs) : NULL;
}

void bf_gw_foreach_conn(bf_gateway *gw, void (*fn)(bf_conn *c, void *arg), void *arg)
{
    for (bf_conn *c = gw->conns, *next; c; c = next) {
        next = c->alink.next;
        fn(c, arg);
    }
}

void bf_gw_conn_id(const bf_gateway *gw, const bf_conn *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%llu", gw->node_id, (unsigned long long)c->id);
}

int bf_gw_fanout(bf_gateway *gw, const bf_fanout *m)
{
    char key[BF_KEY_MAX], *env;
    size_t len;
    char name[BF_CHANNEL_MAX + 1];
    snprintf(name, sizeof(name), "%.*s", (int)m->channel.len, m->channel.p);
    bf_key(key, gw->cfg.redis_prefix, BF_KEY_FAN, name);
    if (bf_wire_encode_fanout(m, &env, &len)) return BF_ENOMEM;
    /* a channel's fan-out is a shard channel on Redis Cluster (scripts.h, BF_SHARDED) */
    int rc = bf_redis_cmd(gw->cmd, NULL, NULL,
                          bf_redis_is_cluster(gw->cmd) ? "SPUBLISH %s %b" : "PUBLISH %s %b", key,
                          env, len);
    free(env);
    return rc;
}

void bf_gw_presence_op(bf_gateway *gw, bf_sub *s, bf_inbox_op op)
{
    bf_conn *c = s->conn;
    const char *ch = bf_hub_sub_channel(s), *user = bf_sub_user(s);
    char conn_id[160];
    if (!ch || !user) return;
    bf_gw_conn_id(gw, c, conn_id, sizeof(conn_id));
    bf_inbox m = {.op = op,
                  .channel = {ch, strlen(ch)},
                  .conn_id = {conn_id, strlen(conn_id)},
                  .user_id = {user, strlen(user)}};
    if (op != BF_OP_LEAVE && s->info) m.payload = (bf_strview){s->info, strlen(s->info)};
    bf_owner_send(gw->owner, &m);
    if (op != BF_OP_LEAVE) s->presence_joined = true;
    /* a recovering client takes presence:here in sequence order, like any frame */
    if (op == BF_OP_JOIN && !c->recover) s->awaiting_here = true;
}
