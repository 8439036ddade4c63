/* The Pusher protocol's connection handling (see proto_pusher.h). */
#include "proto_pusher.h"
#include "alloc.h"
#include "connlimits.h"
#include "err.h"
#include "log.h"
#include "proto.h"
#include "pusher_auth.h"
#include "pusher_msg.h"
#include "auth.h"
#include "redis_keys.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

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
    if (c->pstate) free(((pusher_conn *)c->pstate)->user);
    free(c->pstate);
    c->pstate = NULL;
    gw->stats.pusher_connections--;
}

/* A presence subscription waiting for its member-limit check (s->pending). */
typedef struct member_check {
    bf_sub *s; /* first: cleared by bf_conn_sub_free when the subscription goes first */
    bf_gateway *gw;
    long long exists;   /* HEXISTS' answer, -1 if it failed */
    bool second_failed; /* HLEN could not be sent: HEXISTS' callback finishes */
    char scoped[BF_CHANNEL_MAX + BF_APP_ID_MAX + 2];
} member_check;

static const char *sub_name(const bf_sub *s)
{
    const char *ch = bf_hub_sub_channel(s);
    if (!ch && s->pending) ch = ((const member_check *)s->pending)->scoped;
    return ch ? bare(ch) : NULL;
}

static bf_sub *find_sub(bf_conn *c, const char *name)
{
    for (bf_sub *s = c->subs; s; s = s->cnext) {
        const char *ch = sub_name(s);
        if (ch && !strcmp(ch, name)) return s;
    }
    return NULL;
}

static void join(bf_gateway *gw, bf_sub *s, const char *scoped)
{
    bf_hub_join(gw->hub, s, scoped);
    bf_conncount_add(gw->conncount, scoped, 1);
}

/* The member-limit check's end: join, or refuse with 403 (503 when Redis did not answer). */
static void member_check_done(member_check *q, long long members)
{
    bf_sub *s = q->s;
    bf_gateway *gw = q->gw;
    if (s) {
        s->pending = NULL;
        const char *name = bare(q->scoped);
        if (members < 0 || q->exists < 0) {
            subscription_error(gw, s->conn, name, "PresenceUnavailable",
                               "cannot check the presence channel right now; try again", 503);
            bf_conn_sub_free(s->conn, s);
        } else if (!q->exists && members >= gw->cfg.max_presence_members) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "this presence channel holds its maximum of %lld members "
                     "(--max-presence-members)",
                     gw->cfg.max_presence_members);
            gw->stats.pusher_limit_rejections[BF_PUSHER_LIMIT_PRESENCE_MEMBERS]++;
            subscription_error(gw, s->conn, name, "LimitReached", msg, 403);
            bf_conn_sub_free(s->conn, s);
        } else {
            join(gw, s, q->scoped);
        }
    }
    free(q);
}

static long long int_reply(void *reply)
{
    redisReply *r = reply;
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
}

static void on_hexists(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    member_check *q = priv;
    q->exists = int_reply(reply);
    if (q->second_failed) member_check_done(q, -1);
}

static void on_hlen(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    member_check_done(priv, int_reply(reply));
}

/* Is the user a member already (a second tab joins at any size), and how many members are
 * there: two pipelined commands on the command link, answered in order. */
static void check_members(bf_gateway *gw, bf_sub *s, const char *scoped)
{
    member_check *q = bf_calloc(1, sizeof(*q));
    q->s = s;
    q->gw = gw;
    snprintf(q->scoped, sizeof(q->scoped), "%s", scoped);
    s->pending = q;
    char key[BF_KEY_MAX];
    bf_key(key, gw->cfg.redis_prefix, BF_KEY_PUSERS, scoped);
    const char *user = bf_sub_user(s);
    if (bf_redis_cmd(gw->cmd, on_hexists, q, "HEXISTS %s %s", key, user)) {
        q->exists = -1;
        member_check_done(q, -1);
        return;
    }
    if (bf_redis_cmd(gw->cmd, on_hlen, q, "HLEN %s", key)) q->second_failed = true;
}

/* channel_data {"user_id": string or integer, "user_info"?: any}: the member JSON the presence
 * scripts store ({"id","joinedAt","info"}) into *member and the user id into *user (both
 * malloc'd), or a message for the client. */
static const char *parse_channel_data(const char *cd, char **user, char **member)
{
    json_t *root = json_loads(cd, JSON_REJECT_DUPLICATES, NULL);
    const char *err = NULL;
    json_t *uid = json_object_get(root, "user_id"), *info = json_object_get(root, "user_info");
    char num[32];
    const char *id = NULL;
    if (json_is_string(uid))
        id = json_string_value(uid);
    else if (json_is_integer(uid)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(uid));
        id = num;
    }
    char *infotext = info ? json_dumps(info, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!json_is_object(root))
        err = "channel_data must be a JSON object";
    else if (!id || !*id)
        err = "channel_data needs a user_id (a non-empty string or an integer)";
    else if (strlen(id) > BF_USER_MAX)
        err = "user_id is longer than 128 bytes";
    else if (infotext && strlen(infotext) > BF_AUTH_INFO_MAX)
        err = "user_info is larger than 1 KiB";
    if (!err) {
        json_t *m = json_pack("{s:s,s:I,s:o}", "id", id, "joinedAt", (json_int_t)wall_ms(), "info",
                              info ? json_incref(info) : json_object());
        *member = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(m);
        *user = bf_strdup(id);
    }
    free(infotext);
    json_decref(root);
    return err;
}

/* Checks the subscription's signature; answers subscription_error (401/403) and counts the
 * failure when it does not hold. channel_data: presence only. */
static bool authorised(bf_gateway *gw, bf_conn *c, const bf_pusher_msg *m, const char *channel_data)
{
    char sid[64];
    const char *why = NULL;
    bf_pusher_socket_id(gw, c, sid, sizeof(sid));
    bf_pauth_status st =
        bf_pusher_auth_channel(app_of(c), sid, m->channel, channel_data, m->auth, &why);
    if (st == BF_PAUTH_OK) return true;
    static const char *const reasons[] = {"", "missing", "malformed", "signature", "signature"};
    bf_gw_count_auth_failure(gw, reasons[st]);
    subscription_error(gw, c, m->channel, "AuthError", why, bf_pusher_auth_http_status(st));
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
        subscription_error(gw, c, name, "LimitReached", msg, 429);
        return;
    }
    bf_channel_type type = bf_channel_type_of(name);
    if (name[0] == '#') {
        /* #server-to-user-{id}: only the connection signed in as that user, no auth string */
        const char *signed_in = ((pusher_conn *)c->pstate)->user;
        if (!signed_in || strcmp(name + strlen(SERVER_TO_USER), signed_in)) {
            gw->stats.auth_failures[BF_GW_AUTH_NOT_GRANTED]++;
            subscription_error(gw, c, name, "AuthError",
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
            subscription_error(gw, c, name, "InvalidChannelData",
                               "presence channels need channel_data (user_id, user_info)", 400);
            return;
        }
        if (!authorised(gw, c, m, m->channel_data)) return;
        const char *err = parse_channel_data(m->channel_data, &user, &member);
        if (err) {
            subscription_error(gw, c, name, "InvalidChannelData", err, 400);
            return;
        }
    }
    if (type == BF_CH_PRIVATE && !authorised(gw, c, m, NULL)) return;
    char scoped[BF_CHANNEL_MAX + BF_APP_ID_MAX + 2];
    if (bf_apps_scope(gw->cfg.apps, app_of(c), name, strlen(name), scoped, sizeof(scoped))) {
        subscription_error(gw, c, name, "InvalidChannel", "channel name too long", 400);
        free(user);
        free(member);
        return;
    }
    bf_sub *s = bf_conn_sub_add(c, type);
    if (type != BF_CH_PRESENCE) {
        join(gw, s, scoped);
        return;
    }
    s->user_id = user;
    s->info = member;
    check_members(gw, s, scoped);
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
        send_error(gw, c, 0, "client events need a subscription to their channel");
        return;
    }
    if (s->type == BF_CH_PUBLIC) {
        send_error(gw, c, 0, "client events are allowed on private and presence channels only");
        return;
    }
    if (m->data_len > BF_PUSHER_CLIENT_DATA_MAX) {
        send_error(gw, c, 0, "client event data is larger than 10 KiB");
        return;
    }
    if (!rate_ok(gw, c)) {
        gw->stats.whispers_limited++;
        gw->stats.pusher_limit_rejections[BF_PUSHER_LIMIT_CLIENT_EVENT_RATE]++;
        char msg[128];
        snprintf(msg, sizeof(msg), "more than %lld client events per second (--client-event-rate)",
                 gw->cfg.client_event_rate);
        send_error(gw, c, BF_PUSHER_ERR_CLIENT_RATE, msg);
        return;
    }
    size_t len;
    const char *user = s->type == BF_CH_PRESENCE ? bf_sub_user(s) : NULL;
    char *frame = bf_pusher_whisper_frame(m->event, m->data, m->data_len, user, &len);
    if (!frame) {
        send_error(gw, c, 0, "cannot relay this event");
        return;
    }
    char conn_id[160];
    bf_gw_conn_id(gw, c, conn_id, sizeof(conn_id));
    bf_fanout f = {.kind = BF_FAN_EPHEMERAL,
                   .channel = {ch, strlen(ch)},
                   .frame = {frame, len},
                   .except_conn = {conn_id, strlen(conn_id)}};
    if (bf_gw_fanout(gw, &f) == 0)
        gw->stats.whispers_total++;
    else
        send_error(gw, c, 0, "cannot relay right now (no Redis); try again");
    free(frame);
}

/* pusher:signin {auth, user_data}: signed over socket_id::user::user_data. */
static void signin(bf_gateway *gw, bf_conn *c, const bf_pusher_msg *m)
{
    pusher_conn *pc = c->pstate;
    char sid[64];
    const char *why = NULL;
    bf_pusher_socket_id(gw, c, sid, sizeof(sid));
    bf_pauth_status st = bf_pusher_auth_user(pc->app, sid, m->user_data, m->auth, &why);
    char *user = st == BF_PAUTH_OK ? bf_pusher_signin_user(m->user_data, &why) : NULL;
    if (!user) {
        bf_gw_count_auth_failure(gw, st == BF_PAUTH_MISSING ? "missing" : "signature");
        send_error(gw, c, 0, why);
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
    json_t *d = json_pack("{s:s}", "user_data", m->user_data);
    char *data = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    size_t len;
    if (data)
        send_frame(gw, c, bf_pusher_frame("pusher:signin_success", NULL, data, strlen(data), &len));
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
        signin(gw, c, &m);
        break;
    case BF_PMSG_CLIENT_EVENT:
        client_event(gw, c, &m);
        break;
    case BF_PMSG_ERROR:
        send_error(gw, c, 0, m.message);
        break;
    }
    bf_pusher_msg_free(&m);
}

/* Cache channels: the last event from the channel's history after subscription_succeeded, or
 * pusher:cache_miss when it holds none. */
typedef struct cache_req {
    bf_sub *s; /* first: cleared by bf_conn_sub_free */
    bf_gateway *gw;
} cache_req;

#define CACHE_SCAN 16 /* history entries looked at for the last event (presence events skipped) */

static void on_cache(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    cache_req *q = priv;
    bf_sub *s = q->s;
    bf_gateway *gw = q->gw;
    redisReply *r = reply;
    free(q);
    if (!s) return;
    s->pending = NULL;
    const char *name = bare(bf_hub_sub_channel(s));
    char *out = NULL;
    size_t len;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && !out; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
        redisReply *kv = e->element[1];
        if (kv->type != REDIS_REPLY_ARRAY || kv->elements < 2) continue;
        redisReply *frame = kv->element[1];
        if (frame->type != REDIS_REPLY_STRING || strstr(frame->str, "\"event\":\"presence:"))
            continue;
        bf_fanout m = {.kind = BF_FAN_MESSAGE, .seq = 1, .frame = {frame->str, (size_t)frame->len}};
        out = bf_pusher_render(&m, name, &len);
    }
    if (!out) out = bf_pusher_frame("pusher:cache_miss", name, NULL, 0, &len);
    send_frame(gw, s->conn, out);
}

static void cache_lookup(bf_gateway *gw, bf_sub *s)
{
    bf_seq_keys k;
    if (bf_key_seq_keys(&k, gw->cfg.redis_prefix, bf_hub_sub_channel(s))) return;
    cache_req *q = bf_calloc(1, sizeof(*q));
    q->s = s;
    q->gw = gw;
    if (bf_redis_cmd(gw->cmd, on_cache, q, "XREVRANGE %s + - COUNT %d", k.hist, CACHE_SCAN)) {
        free(q);
        size_t len;
        send_frame(
            gw, s->conn,
            bf_pusher_frame("pusher:cache_miss", bare(bf_hub_sub_channel(s)), NULL, 0, &len));
        return;
    }
    s->pending = q;
}

void bf_pusher_on_ready(bf_gateway *gw, bf_sub *s)
{
    const char *ch = bare(bf_hub_sub_channel(s));
    if (s->type == BF_CH_PRESENCE) {
        /* its presence:here, rendered as subscription_succeeded with the members, follows */
        if (!s->presence_joined) bf_gw_presence_op(gw, s, BF_OP_JOIN);
    } else {
        size_t len;
        send_frame(gw, s->conn,
                   bf_pusher_frame("pusher_internal:subscription_succeeded", ch, "{}", 2, &len));
    }
    if (bf_pusher_is_cache_channel(ch)) cache_lookup(gw, s);
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
