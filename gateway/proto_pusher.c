/* The Pusher protocol's connection handling (see proto_pusher.h). */
#include "proto_pusher.h"
#include "alloc.h"
#include "connlimits.h"
#include "err.h"
#include "log.h"
#include "proto.h"
#include "pusher_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-connection state (c->pstate). */
typedef struct pusher_conn {
    const bf_app *app; /* borrowed from the configuration */
} pusher_conn;

static const bf_app *app_of(const bf_conn *c)
{
    return c->pstate ? ((const pusher_conn *)c->pstate)->app : NULL;
}

const bf_app *bf_pusher_app_for_key(const bf_gateway *gw, const char *key, size_t len,
                                    const char **why)
{
    const bf_apps *apps = gw->cfg.apps;
    if (!apps || bf_apps_count(apps) == 0) {
        if (gw->cfg.insecure_any_token) return bf_apps_default(apps);
        *why = "no apps are configured (--app ID:KEY:SECRET): nothing to authenticate against";
        return NULL;
    }
    const bf_app *app = bf_apps_by_key(apps, key, len);
    if (!app) *why = "unknown app key";
    return app;
}

void bf_pusher_socket_id(const bf_gateway *gw, const bf_conn *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s%llu", gw->socket_prefix, (unsigned long long)c->id);
}

/* The bare (client-side) name of a scoped channel name. */
static const char *bare(const char *scoped)
{
    const char *sep = strchr(scoped, BF_APP_SCOPE_SEP);
    return sep ? sep + 1 : scoped;
}

/* Sends and frees text (rendered JSON, so NUL-free). */
static void send_frame(bf_gateway *gw, bf_conn *c, char *text)
{
    if (!text) return; /* out of memory rendering it: jansson returned NULL */
    bf_gw_send_text(gw, c, text, strlen(text));
    free(text);
}

static void send_error(bf_gateway *gw, bf_conn *c, int code, const char *message)
{
    size_t len;
    gw->stats.client_errors_total++;
    send_frame(gw, c, bf_pusher_error(code, message, &len));
}

static void subscription_error(bf_gateway *gw, bf_conn *c, const char *channel, const char *type,
                               const char *error, int status)
{
    size_t len;
    gw->stats.client_errors_total++;
    gw->stats.pusher_subscription_errors++;
    send_frame(gw, c, bf_pusher_subscription_error(channel, type, error, status, &len));
}

void bf_pusher_on_established(bf_gateway *gw, bf_conn *c, struct lws *wsi, const bf_app *app,
                              uint16_t refuse_code, const char *refuse_reason)
{
    bf_conn_init(c, wsi, ++gw->next_conn_id, &gw->batch);
    bf_conn_list_add(&gw->conns, c);
    c->last_rx_ms = bf_now_ms();
    c->proto = BF_PROTO_PUSHER;
    gw->stats.pusher_connections++;
    gw->stats.accepted_total++;
    if (!app) {
        bf_conn_close(c, refuse_code, refuse_reason);
        return;
    }
    pusher_conn *pc = bf_calloc(1, sizeof(*pc));
    pc->app = app;
    c->pstate = pc;
    if (gw->cfg.max_connections_per_ip) {
        char ip[64];
        const char *peer = lws_get_peer_simple(wsi, ip, sizeof(ip));
        if (peer) c->ip = bf_strdup(peer);
    }
    bf_connlimits_count(gw, c->ip, NULL, 1);
    char sid[64], data[160];
    size_t len;
    bf_pusher_socket_id(gw, c, sid, sizeof(sid));
    int n = snprintf(data, sizeof(data), "{\"socket_id\":\"%s\",\"activity_timeout\":%lld}", sid,
                     gw->cfg.activity_timeout_s);
    send_frame(gw, c,
               bf_pusher_frame("pusher:connection_established", NULL, data, (size_t)n, &len));
    bf_debug("pusher connection %llu (socket %s) for app %s", (unsigned long long)c->id, sid,
             app->id);
}

void bf_pusher_on_close(bf_gateway *gw, bf_conn *c)
{
    free(c->pstate);
    c->pstate = NULL;
    gw->stats.pusher_connections--;
}

static bf_sub *find_sub(bf_conn *c, const char *name)
{
    for (bf_sub *s = c->subs; s; s = s->cnext) {
        const char *ch = bf_hub_sub_channel(s);
        if (ch && !strcmp(bare(ch), name)) return s;
    }
    return NULL;
}

static void subscribe(bf_gateway *gw, bf_conn *c, const bf_pusher_msg *m)
{
    const char *name = m->channel;
    if (find_sub(c, name)) return; /* already subscribed: Pusher ignores it too */
    if (c->nsubs >= (uint32_t)gw->cfg.max_channels_per_connection) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "this connection holds its maximum of %lld channels "
                 "(--max-channels-per-connection)",
                 gw->cfg.max_channels_per_connection);
        gw->stats.pusher_limit_rejections[BF_PUSHER_LIMIT_CHANNELS]++;
        subscription_error(gw, c, name, "LimitReached", msg, 429);
        return;
    }
    bf_channel_type type = bf_channel_type_of(name);
    if (name[0] == '#' || type != BF_CH_PUBLIC) {
        subscription_error(gw, c, name, "AuthError",
                           "private, presence and server-to-user channels are not supported yet",
                           403);
        return;
    }
    char scoped[BF_CHANNEL_MAX + BF_APP_ID_MAX + 2];
    if (bf_apps_scope(gw->cfg.apps, app_of(c), name, strlen(name), scoped, sizeof(scoped))) {
        subscription_error(gw, c, name, "InvalidChannel", "channel name too long", 400);
        return;
    }
    bf_sub *s = bf_conn_sub_add(c, type);
    bf_hub_join(gw->hub, s, scoped);
    bf_conncount_add(gw->conncount, scoped, 1);
}

static void unsubscribe(bf_gateway *gw, bf_conn *c, const char *name)
{
    bf_sub *s = find_sub(c, name);
    if (!s) return;
    const char *ch = bf_hub_sub_channel(s);
    bf_conncount_add(gw->conncount, ch, -1);
    if (s->presence_joined) bf_gw_presence_op(gw, s, BF_OP_LEAVE);
    bf_hub_leave(gw->hub, s);
    bf_conn_sub_free(c, s);
}

void bf_pusher_on_message(bf_gateway *gw, bf_conn *c, const char *msg, size_t len)
{
    gw->stats.client_messages_total++;
    if (!c->pstate) return; /* refused, closing */
    bf_pusher_msg m;
    size_t n;
    switch (bf_pusher_msg_parse(msg, len, &m)) {
    case BF_PMSG_PING:
        send_frame(gw, c, bf_pusher_frame("pusher:pong", NULL, "{}", 2, &n));
        break;
    case BF_PMSG_PONG:
        break; /* the receive itself counted as activity */
    case BF_PMSG_SUBSCRIBE:
        subscribe(gw, c, &m);
        break;
    case BF_PMSG_UNSUBSCRIBE:
        unsubscribe(gw, c, m.channel);
        break;
    case BF_PMSG_SIGNIN:
        send_error(gw, c, 0, "pusher:signin is not supported yet");
        break;
    case BF_PMSG_CLIENT_EVENT:
        send_error(gw, c, 0, "client events are not supported yet");
        break;
    case BF_PMSG_ERROR:
        send_error(gw, c, 0, m.message);
        break;
    }
    bf_pusher_msg_free(&m);
}

void bf_pusher_on_ready(bf_gateway *gw, bf_sub *s)
{
    size_t len;
    const char *ch = bare(bf_hub_sub_channel(s));
    send_frame(gw, s->conn,
               bf_pusher_frame("pusher_internal:subscription_succeeded", ch, "{}", 2, &len));
}

bf_frame *bf_pusher_render_frame(const bf_fanout *m, const char *channel)
{
    size_t len;
    char *text = bf_pusher_render(m, bare(channel), &len);
    if (!text) return NULL;
    bf_frame *f = bf_frame_new(text, len);
    free(text);
    return f;
}

uint16_t bf_pusher_close_code(uint16_t code)
{
    switch (code) {
    case BF_CLOSE_DRAIN:
    case 1011: /* internal error */
        return BF_PUSHER_CLOSE_RECONNECT;
    case BF_CLOSE_PING_TIMEOUT:
        return BF_PUSHER_CLOSE_PONG_TIMEOUT;
    case BF_CLOSE_SLOW_CONSUMER:
        return BF_PUSHER_CLOSE_OVER_CAPACITY;
    case BF_CLOSE_KICKED:
        return BF_PUSHER_CLOSE_UNAUTHORIZED;
    }
    return code;
}
