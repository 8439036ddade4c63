/* The router's native HTTP API: see http_api.h. */
#include "alloc.h"
#include "channel.h"
#include "err.h"
#include "fanout_hold.h"
#include "log.h"
#include "message.h"
#include "http_api.h"
#include "pusher_api.h"
#include "redis_keys.h"
#include "scripts.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bf_http_api {
    bf_http_api_opts o;
};

static void reply_json(struct evhttp_request *req, int status, const char *reason, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    if (body) evbuffer_add(b, body, strlen(body));
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (body) evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, status, reason, b);
    evbuffer_free(b);
}

static void reply_error(bf_http_api *api, struct evhttp_request *req, int status,
                        const char *reason, const char *code, const char *msg)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *body = json_dumps(j, JSON_COMPACT);
    api->o.stats->http_errors++;
    /* NULL only for a message that is not UTF-8 (memory cannot fail: bf_alloc_init) */
    reply_json(req, status, reason,
               body ? body : "{\"error\":{\"code\":\"internal\",\"message\":\"cannot render\"}}");
    free(body);
    json_decref(j);
}

void bf_http_api_retry_headers(struct evhttp_request *req, uint64_t retry_ms)
{
    char s[24], ms[24];
    snprintf(s, sizeof(s), "%llu",
             (unsigned long long)(retry_ms < 1000 ? 1 : (retry_ms + 999) / 1000));
    snprintf(ms, sizeof(ms), "%llu", (unsigned long long)retry_ms);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Retry-After", s);
    evhttp_add_header(h, "X-Belfry-Retry-After-Ms", ms);
}

/* The window's refusal, "FANOUT_BUSY <gateway> <messages> <ms> <left>[ <target>]"
 * (bf_admit in sequence.lib.lua; publish_batch.lua appends the 1-based target). */
typedef struct refusal {
    char gw[128];
    unsigned long long n, ms, target; /* target 0: none named */
    long long left;
    bool parsed; /* false: the tag without the fields */
} refusal;

static bool parse_refusal(const char *err, refusal *r)
{
    static const char tag[] = "FANOUT_BUSY ";
    if (!err || strncmp(err, tag, sizeof(tag) - 1)) return false;
    *r = (refusal){.left = -1};
    int got = sscanf(err + sizeof(tag) - 1, "%127s %llu %llu %lld %llu", r->gw, &r->n, &r->ms,
                     &r->left, &r->target);
    r->parsed = got >= 4;
    if (got < 5) r->target = 0;
    return true;
}

bool bf_http_api_fanout_busy(const char *err, const char *channel, char *out, size_t cap,
                             uint64_t *retry_ms)
{
    refusal r;
    if (!parse_refusal(err, &r)) return false;
    if (!r.parsed) {
        snprintf(out, cap, "channel %s: a gateway is still writing its earlier messages", channel);
        return true;
    }
    snprintf(out, cap,
             "channel %s: gateway %s has not finished writing %llu message(s) to its subscribers "
             "(for %llu ms; --fanout-window)",
             channel, r.gw, r.n, r.ms);
    /* come back when the fan-out should be over, by the gateway's last one */
    if (r.left >= 0) *retry_ms = r.left < 1 ? 1 : r.left > 1000 ? 1000 : (uint64_t)r.left;
    return true;
}

bool bf_http_api_is_fanout_busy(const char *err)
{
    refusal r;
    return parse_refusal(err, &r);
}

size_t bf_http_api_fanout_target(const char *err, size_t ntargets)
{
    refusal r;
    return parse_refusal(err, &r) && r.target >= 1 && r.target <= ntargets ? (size_t)r.target - 1
                                                                           : 0;
}

/* Constant-time comparison, so the key cannot be guessed byte by byte from timings. */
static bool key_equal(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    unsigned char d = (unsigned char)(alen != blen);
    for (size_t i = 0; i < alen; i++) d |= (unsigned char)(a[i] ^ b[i % (blen ? blen : 1)]);
    return d == 0;
}

/* Returns true if the request may use the API; otherwise replies 401. */
static bool authorized(bf_http_api *api, struct evhttp_request *req)
{
    if (!api->o.cfg->api_key) return true; /* --insecure-no-api-key, warned about at start-up */
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!h) {
        reply_error(api, req, 401, "Unauthorized", "unauthorized",
                    "missing Authorization: Bearer <api key> header");
        return false;
    }
    if (strncasecmp(h, "Bearer ", 7) || !key_equal(h + 7, strlen(h + 7), api->o.cfg->api_key)) {
        reply_error(api, req, 401, "Unauthorized", "unauthorized", "wrong API key");
        return false;
    }
    return true;
}

/* ---- channel names: /{endpoint}/{name}[?type=] ---------------------------------------------- */

/* The request's ?type= (NULL if absent) copied into buf. Replies 400 and returns -1 for a
 * malformed query or an over-long value. */
static int query_type(bf_http_api *api, struct evhttp_request *req, char *buf, size_t cap,
                      const char **type)
{
    struct evkeyvalq q;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    *type = NULL;
    if (!query) return 0;
    if (evhttp_parse_query_str(query, &q)) {
        reply_error(api, req, 400, "Bad Request", "bad_query", "malformed query string");
        return -1;
    }
    const char *t = evhttp_find_header(&q, "type");
    int rc = 0;
    if (t && strlen(t) >= cap) {
        reply_error(api, req, 400, "Bad Request", "bad_type",
                    "type must be public, private or presence");
        rc = -1;
    } else if (t) {
        memcpy(buf, t, strlen(t) + 1);
        *type = buf;
    }
    evhttp_clear_headers(&q);
    return rc;
}

/* The channel a URL names, mapped by ?type= exactly as the gateway maps /ws/{name}?type=
 * (bf_channel_resolve): "orders.1?type=private" is private-orders.1. The canonical name goes to
 * out (BF_CHANNEL_MAX + 1 bytes). Replies 400 (bad_channel, bad_type, bad_query) and returns -1
 * otherwise. */
static int resolve_channel(bf_http_api *api, struct evhttp_request *req, const char *name,
                           char *out)
{
    char err[BF_ERR_LEN], tbuf[16];
    const char *type;
    if (bf_channel_validate(name, strlen(name), err, sizeof(err))) {
        reply_error(api, req, 400, "Bad Request", "bad_channel", err);
        return -1;
    }
    if (query_type(api, req, tbuf, sizeof(tbuf), &type)) return -1;
    int rc = bf_channel_resolve(name, strlen(name), type, out, err, sizeof(err));
    if (rc) {
        reply_error(api, req, 400, "Bad Request", rc == BF_ETOOBIG ? "bad_channel" : "bad_type",
                    err);
        return -1;
    }
    return 0;
}

/* ---- POST /broadcast/{channel}[?type=] --------------------------------------------------------
 */

typedef struct publish_ctx {
    bf_http_api *api;
    struct evhttp_request *req;
    char channel[BF_CHANNEL_MAX + 1];
    char *prefix; /* the frame prefix, kept to send it again after a hold (owned) */
    size_t plen;
    uint64_t hold_deadline_ms; /* 0 until first held */
} publish_ctx;

static void publish_ctx_free(publish_ctx *pc)
{
    free(pc->prefix);
    free(pc);
}

static void on_published(long long seq, const char *err, void *arg);

/* The fan-out window's refusal after a hold (or with none): 503 overloaded, retry later. */
static void refuse_busy(publish_ctx *pc, const char *why, uint64_t retry_ms)
{
    bf_http_api *api = pc->api;
    api->o.stats->publishes_refused++;
    api->o.stats->publishes_fanout_busy++;
    bf_http_api_retry_headers(pc->req, retry_ms);
    reply_error(api, pc->req, 503, "Service Unavailable", "overloaded", why);
    publish_ctx_free(pc);
}

static void on_hold(void *arg, bf_fhold_why why)
{
    publish_ctx *pc = arg;
    bf_http_api *api = pc->api;
    if (why == BF_FHOLD_RETRY) {
        if (api->o.publish(api->o.up, pc->channel, pc->prefix, pc->plen, on_published, pc) == 0)
            return;
        reply_error(api, pc->req, 503, "Service Unavailable", "redis_unavailable",
                    "not connected to Redis; retry later");
        publish_ctx_free(pc);
        return;
    }
    char msg[BF_ERR_LEN + BF_CHANNEL_MAX];
    snprintf(msg, sizeof(msg),
             "channel %s: held %s while a gateway was still writing its earlier messages "
             "(--fanout-window, --fanout-hold-ms)",
             pc->channel, why == BF_FHOLD_EXPIRED ? "as long as allowed" : "until shutdown");
    refuse_busy(pc, msg, (uint64_t)api->o.cfg->fanout_retry_ms);
}

static void on_published(long long seq, const char *err, void *arg)
{
    publish_ctx *pc = arg;
    bf_http_api *api = pc->api;
    struct evhttp_request *req = pc->req;
    char why[BF_ERR_LEN];
    uint64_t retry_ms = (uint64_t)api->o.cfg->fanout_retry_ms;
    if (seq > 0) {
        api->o.stats->publishes_http++;
        reply_json(req, 204, "No Content", NULL);
    } else if (bf_http_api_fanout_busy(err, pc->channel, why, sizeof(why), &retry_ms)) {
        bool again = pc->hold_deadline_ms != 0;
        int rc = api->o.hold ? bf_fhold_park(api->o.hold, pc->channel, retry_ms,
                                             &pc->hold_deadline_ms, again, on_hold, pc)
                             : BF_EFULL;
        if (rc == 0) return;
        if (rc == BF_ETIMEDOUT) /* tried again at the end of its hold, and still refused */
            snprintf(why + strlen(why), sizeof(why) - strlen(why),
                     "; held as long as allowed (--fanout-hold-ms)");
        refuse_busy(pc, why, retry_ms);
        return;
    } else {
        reply_error(api, req, 503, "Service Unavailable",
                    strcmp(err, BF_ROUTER_REDIS_LOST) ? "redis_error" : "redis_unavailable", err);
    }
    publish_ctx_free(pc);
}

static void handle_broadcast(bf_http_api *api, struct evhttp_request *req, const char *name)
{
    char err[BF_ERR_LEN], tbuf[16], channel[BF_CHANNEL_MAX + 1];
    const char *qtype;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        reply_error(api, req, 405, "Method Not Allowed", "method_not_allowed",
                    "use POST /broadcast/{channel}");
        return;
    }
    if (!authorized(api, req)) return;
    if (bf_channel_validate(name, strlen(name), err, sizeof(err))) {
        reply_error(api, req, 400, "Bad Request", "bad_channel", err);
        return;
    }
    if (query_type(api, req, tbuf, sizeof(tbuf), &qtype)) return;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > (size_t)api->o.cfg->max_message_bytes) {
        snprintf(err, sizeof(err), "body is %zu bytes; the limit is %lld (--max-message-bytes)",
                 len, api->o.cfg->max_message_bytes);
        reply_error(api, req, 413, "Payload Too Large", "too_large", err);
        return;
    }
    char *prefix;
    size_t plen;
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    /* @roostjs/broadcast publishes a PrivateChannel('orders.1') as POST /broadcast/orders.1 with
     * "type":"private" in the body: the body's type (or ?type=) maps the name as on the WebSocket
     */
    bf_msg_status st = bf_message_parse_publish_named(body, len, name, qtype, channel, &prefix,
                                                      &plen, err, sizeof(err));
    if (st != BF_MSG_OK) {
        const char *code = st == BF_MSG_BAD_JSON      ? "bad_json"
                           : st == BF_MSG_BAD_EVENT   ? "bad_event"
                           : st == BF_MSG_BAD_CHANNEL ? "bad_channel"
                                                      : "bad_type";
        reply_error(api, req, 400, "Bad Request", code, err);
        return;
    }
    uint64_t retry_ms;
    const char *why = api->o.overloaded(api->o.up, &retry_ms);
    if (why) {
        free(prefix);
        api->o.stats->publishes_refused++;
        bf_http_api_retry_headers(req, retry_ms);
        reply_error(api, req, 503, "Service Unavailable", "overloaded", why);
        return;
    }
    publish_ctx *pc = bf_malloc(sizeof(*pc));
    *pc = (publish_ctx){.api = api, .req = req, .prefix = prefix, .plen = plen};
    snprintf(pc->channel, sizeof(pc->channel), "%s", channel);
    if (api->o.publish(api->o.up, channel, prefix, plen, on_published, pc)) {
        publish_ctx_free(pc); /* the callback is not called */
        reply_error(api, req, 503, "Service Unavailable", "redis_unavailable",
                    "not connected to Redis; retry later");
    }
}

/* ---- GET /presence/{channel}, GET /channels/{channel} --------------------------------------- */

typedef struct read_ctx {
    bf_http_api *api;
    struct evhttp_request *req;
} read_ctx;

/* A NULL reply means the link was lost or torn down (--redis-timeout) while the command waited:
 * redis_unavailable, like a request that found the link down; an error reply is redis_error. */
static void reply_redis_failure(read_ctx *rc, const redisReply *r)
{
    if (!r)
        reply_error(rc->api, rc->req, 503, "Service Unavailable", "redis_unavailable",
                    BF_ROUTER_REDIS_LOST);
    else
        reply_error(rc->api, rc->req, 503, "Service Unavailable", "redis_error",
                    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply from Redis");
}

/* presence_members.lua -> {"members":[...]}: the script applies the rule (one member per user,
 * the earliest joinedAt, ordered by it; presence.lib.lua); this only renders its list. */
static void on_presence(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    read_ctx *rc = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        reply_redis_failure(rc, r);
        free(rc);
        return;
    }
    json_t *members = json_array();
    for (size_t i = 0; i < r->elements; i += 2) {
        const redisReply *v = r->element[i];
        json_t *m = v->type == REDIS_REPLY_STRING ? json_loadb(v->str, v->len, 0, NULL) : NULL;
        if (m) json_array_append_new(members, m);
    }
    json_t *out = json_pack("{s:o}", "members", members);
    char *body = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (body)
        reply_json(rc->req, 200, "OK", body);
    else /* members are JSON Redis holds from our own scripts: not expected */
        reply_error(rc->api, rc->req, 500, "Internal Server Error", "internal",
                    "cannot render the members");
    free(body);
    json_decref(out);
    free(rc);
}

static void on_channel_info(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    read_ctx *rc = priv;
    redisReply *r = reply;
    long long conns = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_INTEGER)
        conns = rc->api->o.live_connections(rc->api->o.up, r->element[0]);
    if (conns < 0) {
        reply_redis_failure(rc, r);
        free(rc);
        return;
    }
    long long users = r->element[1]->integer;
    char body[256];
    snprintf(body, sizeof(body),
             "{\"occupied\":%s,\"subscription_count\":%lld,\"user_count\":%lld}",
             conns > 0 ? "true" : "false", conns, users);
    reply_json(rc->req, 200, "OK", body);
    free(rc);
}

/* The common checks of the GET endpoints: method, API key, channel name (resolved with ?type=
 * into channel, BF_CHANNEL_MAX + 1 bytes). Replies on failure. */
static bool read_request_ok(bf_http_api *api, struct evhttp_request *req, const char *name,
                            char *channel)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
        reply_error(api, req, 405, "Method Not Allowed", "method_not_allowed", "use GET");
        return false;
    }
    if (!authorized(api, req)) return false;
    return resolve_channel(api, req, name, channel) == 0;
}

static void handle_read(bf_http_api *api, struct evhttp_request *req, const char *name,
                        bool presence)
{
    char channel[BF_CHANNEL_MAX + 1];
    if (!read_request_ok(api, req, name, channel)) return;
    /* on a cluster the occupancy counts the gateways alive in the router's view: empty before
     * its first heartbeat (channel_info.lua) */
    const char *why =
        presence || !bf_redis_is_cluster(api->o.cmd) ? NULL : api->o.not_ready(api->o.up);
    if (why) {
        reply_error(api, req, 503, "Service Unavailable", "not_ready", why);
        return;
    }
    read_ctx *rc = bf_calloc(1, sizeof(*rc));
    rc->api = api;
    rc->req = req;
    int r;
    if (presence) {
        bf_script_args a;
        r = bf_presence_members_args(&a, api->o.cfg->redis_prefix, channel);
        if (!r) r = bf_script_args_send(api->o.cmd, &a, on_presence, rc);
    } else {
        bf_script_args a;
        r = bf_channel_info_args(&a, api->o.cfg->redis_prefix, channel,
                                 bf_redis_is_cluster(api->o.cmd));
        if (!r) r = bf_script_args_send(api->o.cmd, &a, on_channel_info, rc);
    }
    if (r) {
        free(rc);
        reply_error(api, req, 503, "Service Unavailable", "redis_unavailable",
                    "not connected to Redis; retry later");
    }
}

/* ---- GET /history/{channel}?since=N&limit=L -------------------------------------------------- */

#define HISTORY_LIMIT_MAX 1000

static void on_history(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    read_ctx *rc = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 4 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[2]->type != REDIS_REPLY_INTEGER) {
        reply_redis_failure(rc, r);
        free(rc);
        return;
    }
    json_t *msgs = json_array();
    for (size_t i = 4; i < r->elements; i++) {
        json_t *f = json_loadb(r->element[i]->str, (size_t)r->element[i]->len, 0, NULL);
        if (!f) continue;
        json_array_append_new(msgs, json_pack("{s:O?,s:O?,s:O?}", "seq", json_object_get(f, "seq"),
                                              "event", json_object_get(f, "event"), "data",
                                              json_object_get(f, "data")));
        json_decref(f);
    }
    json_t *out = json_pack("{s:s,s:I,s:b,s:o}", "epoch", r->element[0]->str, "seq",
                            (json_int_t)r->element[1]->integer, "recovered",
                            (int)r->element[2]->integer, "messages", msgs);
    char *body = out ? json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (body) /* out is NULL for an epoch that is not UTF-8: not expected from our scripts */
        reply_json(rc->req, 200, "OK", body);
    else
        reply_error(rc->api, rc->req, 500, "Internal Server Error", "internal",
                    "cannot render the history");
    free(body);
    json_decref(out);
    free(rc);
}

static void handle_history(bf_http_api *api, struct evhttp_request *req, const char *name)
{
    char err[BF_ERR_LEN], channel[BF_CHANNEL_MAX + 1];
    if (!read_request_ok(api, req, name, channel)) return;
    struct evkeyvalq q;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (evhttp_parse_query_str(query ? query : "", &q)) {
        reply_error(api, req, 400, "Bad Request", "bad_query", "malformed query string");
        return;
    }
    const char *since = evhttp_find_header(&q, "since"), *limit = evhttp_find_header(&q, "limit");
    const char *epoch = evhttp_find_header(&q, "epoch");
    char *end;
    long long s = since ? strtoll(since, &end, 10) : 0;
    long long l = limit ? strtoll(limit, &end, 10) : 100;
    bool bad_since = since && (!*since || strspn(since, "0123456789") != strlen(since));
    bool bad_limit = limit && (!*limit || strspn(limit, "0123456789") != strlen(limit) || l < 1 ||
                               l > HISTORY_LIMIT_MAX);
    char sbuf[24];
    snprintf(sbuf, sizeof(sbuf), "%lld", s);
    /* without an epoch, "since" is taken in whatever epoch the channel is in now */
    bool any_epoch = !epoch;
    char *epoch_copy = epoch ? bf_strdup(epoch) : NULL; /* q's values go with it */
    evhttp_clear_headers(&q);
    if (bad_since || bad_limit) {
        snprintf(err, sizeof(err),
                 bad_since ? "since must be a non-negative integer"
                           : "limit must be an integer from 1 to %d",
                 HISTORY_LIMIT_MAX);
        reply_error(api, req, 400, "Bad Request", "bad_query", err);
        free(epoch_copy);
        return;
    }
    read_ctx *rc = bf_calloc(1, sizeof(*rc));
    rc->api = api;
    rc->req = req;
    /* no since: everything retained; otherwise what followed it, in the given epoch or (none
     * given) in the channel's current one ("*" tells the script so) */
    bf_history h = {.prefix = api->o.cfg->redis_prefix,
                    .channel = channel,
                    .since = since ? sbuf : "*",
                    .epoch = any_epoch ? "*" : epoch_copy,
                    .limit = l};
    bf_script_args a;
    int r = bf_history_args(&a, &h);
    if (!r) r = bf_script_args_send(api->o.cmd, &a, on_history, rc);
    free(epoch_copy); /* the command was copied */
    if (r) {
        free(rc);
        reply_error(api, req, 503, "Service Unavailable", "redis_unavailable",
                    "not connected to Redis; retry later");
    }
}

/* ---- health and metrics ------------------------------------------------------------------ */

static void handle_metrics(bf_http_api *api, struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    api->o.metrics(api->o.up, b);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void route(struct evhttp_request *req, void *arg)
{
    bf_http_api *api = arg;
    api->o.stats->http_requests++;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
    size_t plen = 0;
    char *path = raw ? evhttp_uridecode(raw, 0, &plen) : NULL;
    if (!path || strlen(path) != plen) {
        reply_error(api, req, 400, "Bad Request", "bad_path", "malformed request path");
        free(path);
        return;
    }
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
    if (!strncmp(path, "/broadcast/", 11)) {
        handle_broadcast(api, req, path + 11);
    } else if (!strncmp(path, "/presence/", 10)) {
        handle_read(api, req, path + 10, true);
    } else if (!strncmp(path, "/channels/", 10)) {
        handle_read(api, req, path + 10, false);
    } else if (!strncmp(path, "/history/", 9)) {
        handle_history(api, req, path + 9);
    } else if (!strcmp(path, "/broadcast")) {
        reply_error(api, req, 400, "Bad Request", "bad_channel",
                    "missing channel: use POST /broadcast/{channel}");
    } else if (!strcmp(path, "/healthz") || !strcmp(path, "/readyz") || !strcmp(path, "/metrics")) {
        if (!get) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
            reply_error(api, req, 405, "Method Not Allowed", "method_not_allowed", "use GET");
        } else if (!strcmp(path, "/healthz")) {
            reply_json(req, 200, "OK", "{\"status\":\"ok\"}");
        } else if (!strcmp(path, "/readyz")) {
            const char *why = api->o.not_ready(api->o.up);
            if (!why)
                reply_json(req, 200, "OK", "{\"status\":\"ready\"}");
            else
                reply_error(api, req, 503, "Service Unavailable", "not_ready", why);
        } else {
            handle_metrics(api, req);
        }
    } else if (!api->o.other(api->o.up, req, path)) {
        reply_error(api, req, 404, "Not Found", "not_found", "no such route");
    }
    free(path);
}

bf_http_api *bf_http_api_new(const bf_http_api_opts *o)
{
    bf_http_api *api = bf_calloc(1, sizeof(*api));
    api->o = *o;
    struct evhttp *http = o->http;
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                         EVHTTP_REQ_PATCH);
    /* bodies up to the limit get our JSON 413; far larger ones are refused by libevent itself
     * (its own 413) before they are read into memory */
    long long body_max = o->cfg->max_message_bytes;
    /* a Pusher batch: 10 events whose data may double in size when JSON-escaped */
    if (body_max < 2 * (BF_PUSHER_MAX_BATCH + 1) * o->cfg->max_event_bytes)
        body_max = 2 * (BF_PUSHER_MAX_BATCH + 1) * o->cfg->max_event_bytes;
    evhttp_set_max_body_size(http, (ev_ssize_t)body_max + 65536);
    evhttp_set_max_headers_size(http, 16384);
    evhttp_set_timeout(http, 30);
    evhttp_set_gencb(http, route, api);
    return api;
}

void bf_http_api_free(bf_http_api *api)
{
    free(api);
}
