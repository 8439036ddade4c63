/* The Pusher protocol's connection handling (see proto_pusher.h). */
#include "proto_pusher.h"
#include "alloc.h"
#include "connlimits.h"
#include "err.h"
#include "log.h"
#include "proto.h"
#include "scripts.h"
#include "pusher_sig.h"
#include "pusher_msg.h"
#include "pusher_subs.h"
#include "auth.h"
#include "redis_keys.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* Per-connection state (c->pstate). */
typedef struct pusher_conn {
    const bf_app *app; /* borrowed from the configuration */
    char *user;        /* the signed-in user id (pusher:signin), or NULL; owned */
} pusher_conn;

#define SERVER_TO_USER "#server-to-user-"

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

/* ---- shared with pusher_subs.c (pusher_subs.h) ---- */

/* The bare (client-side) name of a scoped channel name. */
const char *bf__pusher_bare(const char *scoped)
{
    const char *sep = strchr(scoped, BF_APP_SCOPE_SEP);
    return sep ? sep + 1 : scoped;
}

/* Sends and frees text (rendered JSON, so NUL-free). */
void bf__pusher_send(bf_gateway *gw, bf_conn *c, char *text)
{
    if (!text) return; /* out of memory rendering it: jansson returned NULL */
    bf_gw_send_text(gw, c, text, strlen(text));
    free(text);
}

void bf__pusher_error(bf_gateway *gw, bf_conn *c, int code, const char *message)
{
    size_t len;
    gw->stats.client_errors_total++;
    bf__pusher_send(gw, c, bf_pusher_error(code, message, &len));
}

void bf__pusher_subscription_error(bf_gateway *gw, bf_conn *c, const char *channel,
                                   const char *type, const char *error, int status)
{
    size_t len;
    gw->stats.client_errors_total++;
    gw->stats.pusher_subscription_errors++;
    bf__pusher_send(gw, c, bf_pusher_subscription_error(channel, type, error, status, &len));
}

void bf_pusher_on_established(bf_gateway *gw, bf_conn *c, struct lws *wsi, const bf_app *app,
                              uint16_t refuse_code, const char *refuse_reason)
{
    bf_conn_init(c, wsi, ++gw->next_conn_id, &gw->batch);
    bf_conn_list_add(&gw->conns, c);
    c->last_rx_ms = bf_now_ms();
    c->proto = BF_PROTO_PUSHER;
    gw->stats.pusher_connections++;
    if (!app) {
        gw->stats.rejected_total++;
        bf_conn_close(c, refuse_code, refuse_reason);
        return;
    }
    gw->stats.accepted_total++;
    pusher_conn *pc = bf_calloc(1, sizeof(*pc));
    pc->app = app;
    c->pstate = pc;
    if (gw->cfg.max_connections_per_ip) {
        char ip[64];
        const char *peer = lws_get_peer_simple(wsi, ip, sizeof(ip));
        if (peer) c->ip = bf_strdup(peer);
    }
    bf_connlimits_count(gw->connlimits, c->ip, NULL, 1);
    char sid[64], data[160];
    size_t len;
    bf_pusher_socket_id(gw, c, sid, sizeof(sid));
    int n = snprintf(data, sizeof(data), "{\"socket_id\":\"%s\",\"activity_timeout\":%lld}", sid,
                     gw->cfg.activity_timeout_s);
    bf__pusher_send(gw, c,
                    bf_pusher_frame("pusher:connection_established", NULL, data, (size_t)n, &len));
    bf_debug("pusher connection %llu (socket %s) for app %s", (unsigned long long)c->id, sid,
             app->id);
}

void bf_pusher_on_close(bf_gateway *gw, bf_conn *c)
{
    if (c->pstate) free(((pusher_conn *)c->pstate)->user);
    free(c->pstate);
    c->pstate = NULL;
    gw->stats.pusher_connections--;
}

static const char *sub_name(const bf_sub *s)
{
    const char *ch = bf_hub_sub_channel(s);
    if (!ch) ch = bf__pusher_pending_channel(s);
    return ch ? bf__pusher_bare(ch) : NULL;
}

static bf_sub *find_sub(bf_conn *c, const char *name)
{
    for (bf_sub *s = c->subs; s; s = s->cnext) {
        const char *ch = sub_name(s);
        if (ch && !strcmp(ch, name)) return s;
    }
    return NULL;
}

void bf__pusher_join(bf_gateway *gw, bf_sub *s, const char *scoped)
{
    bf_hub_join(gw->hub, s, scoped);
    bf_conncount_add(gw->conncount, scoped, 1);
}

/* Checks the subscription's signature; answers subscription_error (401/403) and counts the
 * failure when it does not hold. channel_data: presence only. */
static bool authorised(bf_gateway *gw, bf_conn *c, const bf_pusher_msg *m, const char *channel_data)
{
    char sid[64];
    const char *why = NULL;
    bf_pusher_socket_id(gw, c, sid, sizeof(sid));
    bf_psig_status st =
        bf_pusher_sig_channel(app_of(c), sid, m->channel, channel_data, m->auth, &why);
    if (st == BF_PSIG_OK) return true;
    static const char *const reasons[] = {"", "missing", "malformed", "signature", "signature"};
    bf_gw_count_auth_failure(gw, reasons[st]);
    bf__pusher_subscription_error(gw, c, m->channel, "AuthError", why,
                                  bf_pusher_sig_http_status(st));
    bf_debug("pusher connection %llu: subscription to %s refused: %s", (unsigned long long)c->id,
             m->channel, why);
    return false;
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
        bf__pusher_subscription_error(gw, c, name, "LimitReached", msg, 429);
        return;
    }
    bf_channel_type type = bf_channel_type_of(name);
    if (name[0] == '#') {
        /* #server-to-user-{id}: only the connection signed in as that user, no auth string */
        const char *signed_in = ((pusher_conn *)c->pstate)->user;
        if (!signed_in || strcmp(name + strlen(SERVER_TO_USER), signed_in)) {
            gw->stats.auth_failures[BF_GW_AUTH_NOT_GRANTED]++;
            bf__pusher_subscription_error(gw, c, name, "AuthError",
                                          signed_in ? "this is another user's channel"
                                                    : "sign in (pusher:signin) as this user first",
                                          403);
            return;
        }
        type = BF_CH_PUBLIC;
    }
    char *user = NULL, *member = NULL;
    if (type == BF_CH_PRESENCE) {
        if (!m->channel_data) {
            bf__pusher_subscription_error(
                gw, c, name, "InvalidChannelData",
                "presence channels need channel_data (user_id, user_info)", 400);
            return;
        }
        if (!authorised(gw, c, m, m->channel_data)) return;
        const char *err = bf__pusher_channel_data(m->channel_data, &user, &member);
        if (err) {
            bf__pusher_subscription_error(gw, c, name, "InvalidChannelData", err, 400);
            return;
        }
    }
    if (type == BF_CH_PRIVATE && !authorised(gw, c, m, NULL)) return;
    char scoped[BF_CHANNEL_MAX + BF_APP_ID_MAX + 2];
    if (bf_apps_scope(gw->cfg.apps, app_of(c), name, strlen(name), scoped, sizeof(scoped))) {
        bf__pusher_subscription_error(gw, c, name, "InvalidChannel", "channel name too long", 400);
        free(user);
        free(member);
        return;
    }
    bf_sub *s = bf_conn_sub_add(c, type);
    if (type != BF_CH_PRESENCE) {
        bf__pusher_join(gw, s, scoped);
        return;
    }
    s->user_id = user;
    s->info = member;
    bf__pusher_check_members(gw, s, scoped);
}

static void unsubscribe(bf_gateway *gw, bf_conn *c, const char *name)
{
    bf_sub *s = find_sub(c, name);
    if (!s) return;
    const char *ch = bf_hub_sub_channel(s);
    if (!ch) { /* still checking its member limit */
        bf_conn_sub_free(c, s);
        return;
    }
    bf_conncount_add(gw->conncount, ch, -1);
    if (s->presence_joined) bf_gw_presence_op(gw, s, BF_OP_LEAVE);
    bf_hub_leave(gw->hub, s);
    bf_conn_sub_free(c, s);
}

/* A token bucket of --client-event-rate per second, as deep as one second's worth. */
static bool rate_ok(bf_gateway *gw, bf_conn *c)
{
    uint64_t now = bf_now_ms();
    double rate = (double)gw->cfg.client_event_rate;
    if (!c->wlast_ms)
        c->wtokens = rate;
    else
        c->wtokens += (double)(now - c->wlast_ms) * rate / 1000.0;
    if (c->wtokens > rate) c->wtokens = rate;
    c->wlast_ms = now;
    if (c->wtokens < 1.0) return false;
    c->wtokens -= 1.0;
    return true;
}

/* client-* on a private or presence channel the sender has joined: relayed as a native whisper
 * (so native clients of the default app get it too) through the channel's fan-out subject,
 * never back to the sender; user_id on presence channels. */
static void client_event(bf_gateway *gw, bf_conn *c, const bf_pusher_msg *m)
{
    bf_sub *s = find_sub(c, m->channel);
    const char *ch = s ? bf_hub_sub_channel(s) : NULL;
    if (!ch || !s->ready || (s->type == BF_CH_PRESENCE && !s->presence_joined)) {
        bf__pusher_error(gw, c, 0, "client events need a subscription to their channel");
        return;
    }
    if (s->type == BF_CH_PUBLIC) {
        bf__pusher_error(gw, c, 0,
                         "client events are allowed on private and presence channels only");
        return;
    }
    if (m->data_len > BF_PUSHER_CLIENT_DATA_MAX) {
        bf__pusher_error(gw, c, 0, "client event data is larger than 10 KiB");
        return;
    }
    if (!rate_ok(gw, c)) {
        gw->stats.whispers_limited++;
        gw->stats.pusher_limit_rejections[BF_PUSHER_LIMIT_CLIENT_EVENT_RATE]++;
        char msg[128];
        snprintf(msg, sizeof(msg), "more than %lld client events per second (--client-event-rate)",
                 gw->cfg.client_event_rate);
        bf__pusher_error(gw, c, BF_PUSHER_ERR_CLIENT_RATE, msg);
        return;
    }
    size_t len;
    const char *user = s->type == BF_CH_PRESENCE ? bf_sub_user(s) : NULL;
    char *frame = bf_pusher_whisper_frame(m->event, m->data, m->data_len, user, &len);
    if (!frame) {
        bf__pusher_error(gw, c, 0, "cannot relay this event");
        return;
    }
    char conn_id[160];
    bf_gw_conn_id(gw, c, conn_id, sizeof(conn_id));
    bf_fanout f = {.kind = BF_FAN_EPHEMERAL,
                   .channel = {ch, strlen(ch)},
                   .frame = {frame, len},
                   .except_conn = {conn_id, strlen(conn_id)}};
    if (bf_gw_fanout(gw, &f) == 0) {
        gw->stats.whispers_total++;
        char sid[64]; /* the client_event webhook, when a router delivers them (webhooks.h) */
        bf_pusher_socket_id(gw, c, sid, sizeof(sid));
        bf_webhook_event we = {.prefix = gw->cfg.redis_prefix,
                               .name = "client_event",
                               .channel = ch,
                               .event = m->event,
                               .data = m->data,
                               .data_len = m->data_len,
                               .socket_id = sid,
                               .user_id = user};
        bf_webhook_event_send(gw->cmd, &we);
    } else {
        bf__pusher_error(gw, c, 0, "cannot relay right now (no Redis); try again");
    }
    free(frame);
}

/* pusher:signin {auth, user_data}: signed over socket_id::user::user_data. */
static void signin(bf_gateway *gw, bf_conn *c, const bf_pusher_msg *m)
{
    pusher_conn *pc = c->pstate;
    char sid[64];
    const char *why = NULL;
    bf_pusher_socket_id(gw, c, sid, sizeof(sid));
    bf_psig_status st = bf_pusher_sig_user(pc->app, sid, m->user_data, m->auth, &why);
    char *user = st == BF_PSIG_OK ? bf_pusher_signin_user(m->user_data, &why) : NULL;
    if (!user) {
        bf_gw_count_auth_failure(gw, st == BF_PSIG_MISSING ? "missing" : "signature");
        bf__pusher_error(gw, c, 0, why);
        return;
    }
    if (pc->user && strcmp(pc->user, user)) {
        /* another identity on the same socket: its #server-to-user channel must go */
        char old[sizeof(SERVER_TO_USER) + 128];
        snprintf(old, sizeof(old), "%s%s", SERVER_TO_USER, pc->user);
        unsubscribe(gw, c, old);
    }
    free(pc->user);
    pc->user = user;
    /* the connection acts as this user from now on: kicks of the user (the HTTP API's
     * terminate_connections) close it, on whichever channel they arrive */
    free(c->user_id);
    c->user_id = bf_strdup(user);
    json_t *d = json_pack("{s:s}", "user_data", m->user_data);
    char *data = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    size_t len;
    if (data)
        bf__pusher_send(gw, c,
                        bf_pusher_frame("pusher:signin_success", NULL, data, strlen(data), &len));
    free(data);
}

void bf_pusher_on_message(bf_gateway *gw, bf_conn *c, const char *msg, size_t len)
{
    gw->stats.client_messages_total++;
    if (!c->pstate) return; /* refused, closing */
    bf_pusher_msg m;
    size_t n;
    switch (bf_pusher_msg_parse(msg, len, &m)) {
    case BF_PMSG_PING:
        bf__pusher_send(gw, c, bf_pusher_frame("pusher:pong", NULL, "{}", 2, &n));
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
        signin(gw, c, &m);
        break;
    case BF_PMSG_CLIENT_EVENT:
        client_event(gw, c, &m);
        break;
    case BF_PMSG_ERROR:
        bf__pusher_error(gw, c, 0, m.message);
        break;
    }
    bf_pusher_msg_free(&m);
}

void bf_pusher_on_ready(bf_gateway *gw, bf_sub *s)
{
    const char *ch = bf__pusher_bare(bf_hub_sub_channel(s));
    if (s->type == BF_CH_PRESENCE) {
        /* its presence:here, rendered as subscription_succeeded with the members, follows */
        if (!s->presence_joined) bf_gw_presence_op(gw, s, BF_OP_JOIN);
    } else {
        size_t len;
        bf__pusher_send(
            gw, s->conn,
            bf_pusher_frame("pusher_internal:subscription_succeeded", ch, "{}", 2, &len));
    }
    if (bf_pusher_is_cache_channel(ch)) bf__pusher_cache_lookup(gw, s);
}

bf_frame *bf_pusher_render_frame(const bf_fanout *m, const char *channel)
{
    size_t len;
    char *text = bf_pusher_render(m, bf__pusher_bare(channel), &len);
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
