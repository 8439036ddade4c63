/* The Pusher HTTP API's read endpoints (see pusher_api.h), answered from Redis so that the figures
 * cover every gateway, as the native GET /channels and /presence do:
 *   GET /apps/{id}/channels[?filter_by_prefix=P&info=user_count]
 *       channels.lua: the union of the live gateways' gwchans sets (channels with connections),
 *       the app's own only; user_count only with a presence- filter, as Pusher: then one
 *       HLEN pusers:{channel} per channel, pipelined after the list (each in its channel's slot,
 *       as Redis Cluster requires; the counts are read just after the list, not with it)
 *   GET /apps/{id}/channels/{name}[?info=user_count,subscription_count]
 *       channel_info.lua: connections on live gateways (on Redis Cluster the per-gateway counts,
 *       summed over the gateways alive in the router's heartbeat view: 503 not_ready until it
 *       has one), users of a presence channel
 *   GET /apps/{id}/channels/{name}/users      presence only: HKEYS pusers: (one entry per user)
 *   POST /apps/{id}/users/{user}/terminate_connections
 *       channels.lua lists the app's channels with connections, then a kick (close 4010) for the
 *       user is published on each one's fan-out (SPUBLISH on Redis Cluster), so every connection
 *       of the user on every gateway is closed; answered once every publish is acknowledged
 */
#include "alloc.h"
#include "apps.h"
#include "channel.h"
#include "err.h"
#include "pusher_api.h"
#include "redis_keys.h"
#include "scripts.h"
#include "wire.h"

#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCOPED_MAX (BF_APP_ID_MAX + 1 + BF_CHANNEL_MAX + 1)

typedef struct q_req {
    bf_router *rt;
    struct evhttp_request *req;
    const bf_app *app;
    bf_pusher_info info;
    char channel[BF_CHANNEL_MAX + 1]; /* bare name (single-channel routes) */
    char filter[BF_CHANNEL_MAX + 1];  /* filter_by_prefix (list route) */
} q_req;

static q_req *q_new(bf_router *rt, struct evhttp_request *req, const bf_app *app)
{
    q_req *q = bf_calloc(1, sizeof(*q));
    q->rt = rt;
    q->req = req;
    q->app = app;
    return q;
}

static void q_free(q_req *q)
{
    free(q);
}

static void reply_obj(q_req *q, json_t *o)
{
    char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    bf__pusher_reply(q->rt, q->req, 200, body);
    free(body);
    json_decref(o);
}

/* True (and replied 503) if r is not a usable reply. */
static bool redis_failed(q_req *q, const redisReply *r, int type)
{
    if (r && r->type == type) return false;
    bf__pusher_error(q->rt, q->req, 503, "redis_error",
                     r && r->type == REDIS_REPLY_ERROR ? r->str : "redis connection lost");
    return true;
}

/* ---- GET /channels/{name} and /channels/{name}/users --------------------------------------- */

static void on_channel(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    q_req *q = priv;
    redisReply *r = reply;
    if (!redis_failed(q, r, REDIS_REPLY_ARRAY)) {
        long long conns = r->elements == 2 ? bf_router_live_connections(q->rt, r->element[0]) : -1;
        long long users = r->elements == 2 && r->element[1]->type == REDIS_REPLY_INTEGER
                              ? r->element[1]->integer
                              : 0;
        if (conns < 0) {
            bf__pusher_error(q->rt, q->req, 503, "redis_error",
                             "unexpected reply from channel_info");
            q_free(q);
            return;
        }
        json_t *o = json_pack("{s:b}", "occupied", conns > 0);
        if (q->info.user_count) json_object_set_new(o, "user_count", json_integer(users));
        if (q->info.subscription_count)
            json_object_set_new(o, "subscription_count", json_integer(conns));
        reply_obj(q, o);
    }
    q_free(q);
}

static void on_users(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    q_req *q = priv;
    redisReply *r = reply;
    if (!redis_failed(q, r, REDIS_REPLY_ARRAY)) {
        json_t *users = json_array();
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING)
                json_array_append_new(users, json_pack("{s:s%}", "id", r->element[i]->str,
                                                       (size_t)r->element[i]->len));
        reply_obj(q, json_pack("{s:o}", "users", users));
    }
    q_free(q);
}

static void handle_channel(bf_router *rt, struct evhttp_request *req, const bf_pusher_ctx *c,
                           const char *name, size_t len, bool users)
{
    char err[BF_ERR_LEN], scoped[SCOPED_MAX];
    char why[BF_ERR_LEN];
    if (bf_channel_validate(name, len, why, sizeof(why))) {
        snprintf(err, sizeof(err), "channel: %.150s", why);
        bf__pusher_error(rt, req, 400, "bad_channel", err);
        return;
    }
    q_req *q = q_new(rt, req, c->app);
    memcpy(q->channel, name, len);
    q->channel[len] = '\0';
    bool presence = bf_channel_type_of(q->channel) == BF_CH_PRESENCE;
    if (bf__pusher_parse_info(evhttp_find_header(c->query, "info"), &q->info, err, sizeof(err))) {
        bf__pusher_error(rt, req, 400, "bad_info", err);
        q_free(q);
        return;
    }
    if ((users || q->info.user_count) && !presence) {
        bf__pusher_error(rt, req, 400, "not_presence",
                         users ? "users can only be listed for presence- channels"
                               : "user_count is only available for presence- channels");
        q_free(q);
        return;
    }
    if (!users && bf_redis_is_cluster(rt->cmd) && !bf_router_ready(rt)) {
        bf__pusher_error(rt, req, 503, "not_ready",
                         "not connected to Redis or not in the ring yet");
        q_free(q);
        return;
    }
    bf_apps_scope(rt->cfg.apps, c->app, name, len, scoped, sizeof(scoped));
    char ku[BF_KEY_MAX];
    bf_key(ku, rt->cfg.redis_prefix, BF_KEY_PUSERS, scoped);
    int rc;
    if (users) {
        rc = bf_redis_cmd(rt->cmd, on_users, q, "HKEYS %s", ku);
    } else {
        bf_script_args a;
        rc = bf_channel_info_args(&a, rt->cfg.redis_prefix, scoped, bf_redis_is_cluster(rt->cmd));
        if (!rc) rc = bf_script_args_send(rt->cmd, &a, on_channel, q);
    }
    if (rc) {
        bf__pusher_error(rt, req, 503, "redis_unavailable", "not connected to Redis; retry later");
        q_free(q);
    }
}

/* ---- GET /channels ------------------------------------------------------------------------- */

/* The user counts of a listed set of channels: one HLEN per channel, the answer once the last
 * reply is in (503 if any failed). */
typedef struct count_req {
    q_req *q;
    json_t *chs; /* bare name -> {"user_count": N} */
    size_t pending;
    bool failed;
    char failure[128];
} count_req;

typedef struct count_one {
    count_req *c;
    json_t *o; /* the channel's object in c->chs (borrowed) */
} count_one;

static void count_done(count_req *c)
{
    if (c->failed) {
        bf__pusher_error(c->q->rt, c->q->req, 503, "redis_error", c->failure);
        json_decref(c->chs);
    } else {
        reply_obj(c->q, json_pack("{s:o}", "channels", c->chs));
    }
    q_free(c->q);
    free(c);
}

static void on_user_count(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    count_one *one = priv;
    count_req *c = one->c;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        json_object_set_new(one->o, "user_count", json_integer(r->integer));
    } else if (!c->failed) {
        c->failed = true;
        snprintf(c->failure, sizeof(c->failure), "%s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "redis connection lost");
    }
    free(one);
    if (--c->pending == 0) count_done(c);
}

static void on_channel_list(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    q_req *q = priv;
    redisReply *r = reply;
    if (redis_failed(q, r, REDIS_REPLY_ARRAY)) {
        q_free(q);
        return;
    }
    json_t *chs = json_object();
    count_req *c = q->info.user_count ? bf_calloc(1, sizeof(*c)) : NULL;
    if (c) {
        c->q = q;
        c->chs = chs;
        c->pending = 1; /* held until every HLEN is sent */
    }
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING) continue;
        const char *bare, *scoped = r->element[i]->str;
        if (bf_apps_unscope(q->rt->cfg.apps, scoped, &bare) != q->app) continue;
        json_t *o = json_object();
        json_object_set_new(chs, bare, o);
        if (!c || c->failed) continue;
        char key[BF_KEY_MAX];
        count_one *one = bf_malloc(sizeof(*one));
        *one = (count_one){c, o};
        c->pending++;
        if (bf_key(key, q->rt->cfg.redis_prefix, BF_KEY_PUSERS, scoped) < 0 ||
            bf_redis_cmd(q->rt->cmd, on_user_count, one, "HLEN %s", key)) {
            c->pending--;
            free(one);
            c->failed = true;
            snprintf(c->failure, sizeof(c->failure), "redis connection lost");
        }
    }
    if (!c) {
        reply_obj(q, json_pack("{s:o}", "channels", chs));
        q_free(q);
    } else if (--c->pending == 0) {
        count_done(c);
    }
}

static void handle_list(bf_router *rt, struct evhttp_request *req, const bf_pusher_ctx *c)
{
    char err[BF_ERR_LEN];
    q_req *q = q_new(rt, req, c->app);
    const char *filter = evhttp_find_header(c->query, "filter_by_prefix");
    if (filter && strlen(filter) > BF_CHANNEL_MAX) {
        bf__pusher_error(rt, req, 400, "bad_filter", "filter_by_prefix is too long");
        q_free(q);
        return;
    }
    snprintf(q->filter, sizeof(q->filter), "%s", filter ? filter : "");
    if (bf__pusher_parse_info(evhttp_find_header(c->query, "info"), &q->info, err, sizeof(err))) {
        bf__pusher_error(rt, req, 400, "bad_info", err);
        q_free(q);
        return;
    }
    if (q->info.user_count && strncmp(q->filter, "presence-", 9)) {
        bf__pusher_error(rt, req, 400, "not_presence",
                         "info=user_count needs filter_by_prefix=presence-");
        q_free(q);
        return;
    }
    if (q->info.subscription_count) {
        bf__pusher_error(rt, req, 400, "bad_info",
                         "subscription_count is available per channel only "
                         "(GET /apps/{id}/channels/{name})");
        q_free(q);
        return;
    }
    /* the scoped form of the filter: the app's scope followed by the filter */
    char match[SCOPED_MAX + 1];
    bool is_default = c->app == bf_apps_default(rt->cfg.apps);
    snprintf(match, sizeof(match), "%s%s%s", is_default ? "" : c->app->id, is_default ? "" : "/",
             q->filter);
    bf_script_args a;
    if (bf_channels_args(&a, rt->cfg.redis_prefix, match, is_default) ||
        bf_script_args_send(rt->cmd, &a, on_channel_list, q)) {
        bf__pusher_error(rt, req, 503, "redis_unavailable", "not connected to Redis; retry later");
        q_free(q);
    }
}

/* ---- POST /users/{user}/terminate_connections ---------------------------------------------- */

#define TERMINATE_REASON "terminated by the application (terminate_connections)"
#define USER_ID_MAX 200

/* One terminate_connections request: its kicks in flight. */
typedef struct term_req {
    q_req *q;
    char user[USER_ID_MAX + 1];
    size_t pending;
    bool failed;
    char failure[128];
} term_req;

static void term_done(term_req *t)
{
    if (t->failed) {
        bf__pusher_error(t->q->rt, t->q->req, 503, "redis_error", t->failure);
    } else {
        t->q->rt->stats.kicks++;
        bf__pusher_reply(t->q->rt, t->q->req, 200, "{}");
    }
    q_free(t->q);
    free(t);
}

static void term_fail(term_req *t, const redisReply *r)
{
    if (t->failed) return;
    t->failed = true;
    snprintf(t->failure, sizeof(t->failure), "%s",
             r && r->type == REDIS_REPLY_ERROR ? r->str : "redis connection lost");
}

static void on_kicked(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    term_req *t = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_INTEGER) term_fail(t, r);
    if (--t->pending == 0) term_done(t);
}

/* The app's channels with connections: a kick on each one's fan-out (the gateways close the
 * user's connections of that channel; one without such a connection ignores it). */
static void on_term_channels(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    term_req *t = priv;
    q_req *q = t->q;
    redisReply *r = reply;
    if (redis_failed(q, r, REDIS_REPLY_ARRAY)) {
        q_free(q);
        free(t);
        return;
    }
    bf_redis *cmd = q->rt->cmd;
    /* a channel's fan-out is a shard channel on Redis Cluster (scripts.h, BF_SHARDED) */
    const char *fmt = bf_redis_is_cluster(cmd) ? "SPUBLISH %s %b" : "PUBLISH %s %b";
    t->pending = 1; /* held until every kick is sent */
    for (size_t i = 0; i < r->elements && !t->failed; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING) continue;
        char key[BF_KEY_MAX], *env;
        size_t len;
        bf_fanout f = {.kind = BF_FAN_KICK,
                       .channel = {e->str, (size_t)e->len},
                       .frame = {TERMINATE_REASON, strlen(TERMINATE_REASON)},
                       .kick_user = {t->user, strlen(t->user)}};
        if (bf_key(key, q->rt->cfg.redis_prefix, BF_KEY_FAN, e->str) < 0 ||
            bf_wire_encode_fanout(&f, &env, &len)) {
            term_fail(t, NULL);
            break;
        }
        t->pending++;
        if (bf_redis_cmd(cmd, on_kicked, t, fmt, key, env, len)) {
            t->pending--;
            term_fail(t, NULL);
        }
        free(env);
    }
    if (--t->pending == 0) term_done(t);
}

static void handle_terminate(bf_router *rt, struct evhttp_request *req, const bf_pusher_ctx *c,
                             const char *user, size_t len)
{
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        bf__pusher_error(rt, req, 405, "method_not_allowed", "use POST");
        return;
    }
    if (!len || len > USER_ID_MAX) {
        bf__pusher_error(rt, req, 400, "bad_user", "user id must be 1-200 bytes");
        return;
    }
    char scope[BF_APP_ID_MAX + 2] = "";
    bool is_default = c->app == bf_apps_default(rt->cfg.apps);
    if (!is_default) snprintf(scope, sizeof(scope), "%s%c", c->app->id, BF_APP_SCOPE_SEP);
    term_req *t = bf_calloc(1, sizeof(*t));
    t->q = q_new(rt, req, c->app);
    memcpy(t->user, user, len);
    t->user[len] = '\0';
    bf_script_args a;
    if (bf_channels_args(&a, rt->cfg.redis_prefix, scope, is_default) ||
        bf_script_args_send(rt->cmd, &a, on_term_channels, t)) {
        bf__pusher_error(rt, req, 503, "redis_unavailable", "not connected to Redis; retry later");
        q_free(t->q);
        free(t);
    }
}

bool bf__pusher_query_route(bf_router *rt, struct evhttp_request *req, const bf_pusher_ctx *c)
{
    const char *rest = c->rest;
    if (!strncmp(rest, "users/", 6)) {
        const char *user = rest + 6, *slash = strchr(user, '/');
        if (!slash || strcmp(slash, "/terminate_connections")) return false;
        handle_terminate(rt, req, c, user, (size_t)(slash - user));
        return true;
    }
    bool list = !strcmp(rest, "channels");
    bool one = !strncmp(rest, "channels/", 9);
    if (!list && !one) return false;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
        bf__pusher_error(rt, req, 405, "method_not_allowed", "use GET");
        return true;
    }
    if (list) {
        handle_list(rt, req, c);
        return true;
    }
    const char *name = rest + 9;
    size_t len = strcspn(name, "/");
    if (!name[len]) {
        handle_channel(rt, req, c, name, len, false);
    } else if (!strcmp(name + len, "/users")) {
        handle_channel(rt, req, c, name, len, true);
    } else {
        return false;
    }
    return true;
}
