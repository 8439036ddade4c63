#include "pusher_api.h"
#include "http_api.h"
#include "fanout_hold.h"
#include "alloc.h"
#include "apps.h"
#include "channel.h"
#include "err.h"
#include "log.h"
#include "message.h"
#include "pusher_auth.h"
#include "redis_keys.h"
#include "scripts.h"
#include "webhooks.h"

#include <assert.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCOPED_MAX (BF_APP_ID_MAX + 1 + BF_CHANNEL_MAX + 1)
#define SERVER_TO_USER "#server-to-user-"

/* ---- replies ----------------------------------------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    default:
        return "Service Unavailable";
    }
}

void bf__pusher_reply(bf_router *rt, struct evhttp_request *req, int status, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (status >= 400) rt->stats.http_errors++;
    evhttp_send_reply(req, status, reason(status), b);
    evbuffer_free(b);
}

void bf__pusher_error(bf_router *rt, struct evhttp_request *req, int status, const char *code,
                      const char *msg)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *body = json_dumps(j, JSON_COMPACT);
    if (status == 401)
        rt->stats.pusher_auth_failures++;
    else if (status == 413)
        rt->stats.pusher_too_large++;
    else if (status == 400 || status == 404 || status == 405)
        rt->stats.pusher_rejected++;
    bf__pusher_reply(rt, req, status, body);
    free(body);
    json_decref(j);
}

int bf__pusher_parse_info(const char *s, bf_pusher_info *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    while (s && *s) {
        size_t n = strcspn(s, ",");
        if (n == 10 && !strncmp(s, "user_count", n))
            out->user_count = true;
        else if (n == 18 && !strncmp(s, "subscription_count", n))
            out->subscription_count = true;
        else if (n == 5 && !strncmp(s, "cache", n))
            out->cache = true;
        else if (n) {
            snprintf(err, errlen,
                     "unknown info attribute '%.*s' (user_count, subscription_count, cache)",
                     (int)(n > 40 ? 40 : n), s);
            return -1;
        }
        s += n + (s[n] == ',');
    }
    return 0;
}

/* ---- request validation ------------------------------------------------------------------ */

/* One event of a request, validated and rendered. */
typedef struct event_in {
    char *prefix; /* malloc'd frame prefix  {"event":N,"data":D,"seq": */
    size_t prefix_len;
    char *data_raw; /* malloc'd: the data string as sent */
    size_t data_raw_len;
    char socket_id[BF_PUSHER_SOCKET_MAX + 1];
    bf_pusher_info info;
    size_t first, count; /* its targets: [first, first + count) */
} event_in;

typedef struct pub_req {
    bf_router *rt;
    struct evhttp_request *req;
    bool batch;
    event_in *ev;
    size_t nev;
    bf_pub_target *targets;
    char (*scoped)[SCOPED_MAX];
    char (*bare)[BF_CHANNEL_MAX + 1];
    size_t ntargets;
    long long (*info)[2]; /* per target: subscription_count, user_count (-1: not asked) */
    size_t info_pending;
    uint64_t hold_deadline_ms; /* held by the fan-out window (fanout_hold.h): 0 until first */
} pub_req;

static void pub_req_free(pub_req *p)
{
    for (size_t i = 0; i < p->nev; i++) {
        free(p->ev[i].prefix);
        free(p->ev[i].data_raw);
    }
    free(p->ev);
    free(p->targets);
    free(p->scoped);
    free(p->bare);
    free(p->info);
    free(p);
}

static bool socket_id_ok(const char *s)
{
    size_t a = strspn(s, "0123456789");
    if (!a || s[a] != '.') return false;
    size_t b = strspn(s + a + 1, "0123456789");
    return b && !s[a + 1 + b];
}

/* Checks a Pusher event name: 1..200 bytes, none of the names the servers emit themselves. */
static int check_name(const char *name, size_t len, char *err, size_t errlen)
{
    if (!len || len > BF_PUSHER_MAX_NAME) {
        snprintf(err, errlen, "event name must be 1-%d bytes", BF_PUSHER_MAX_NAME);
        return -1;
    }
    if (!strncmp(name, "pusher:", 7) || !strncmp(name, "pusher_internal:", 16)) {
        snprintf(err, errlen, "event names starting pusher: or pusher_internal: are reserved");
        return -1;
    }
    return bf_message_check_event(name, len, err, errlen) ? -1 : 0;
}

/* A channel an event may go to: a channel name, or #server-to-user-{id} — the channel of the
 * connections signed in as that user (pusher:signin; the SDKs' sendToUser), id 1..128 bytes. */
static int channel_check(const char *name, size_t len, char *why, size_t whylen)
{
    size_t pl = sizeof(SERVER_TO_USER) - 1;
    if (len < pl || strncmp(name, SERVER_TO_USER, pl))
        return bf_channel_validate(name, len, why, whylen);
    if (len == pl || len - pl > BF_PUSHER_USER_MAX) {
        snprintf(why, whylen, "the user id of #server-to-user- must be 1-%d bytes",
                 BF_PUSHER_USER_MAX);
        return BF_EINVAL;
    }
    return bf_channel_validate(name + pl, len - pl, why, whylen);
}

/* Renders the native frame prefix: data is the string parsed when it is JSON, else the string. */
static char *render_prefix(const char *name, const char *data, size_t dlen, size_t *plen)
{
    json_t *parsed = json_loadb(data, dlen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    json_t *dv = parsed ? parsed : json_stringn(data, dlen);
    json_t *ev = json_string(name);
    char *dj = dv ? json_dumps(dv, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *ej = ev ? json_dumps(ev, JSON_ENCODE_ANY) : NULL;
    char *out = NULL;
    if (dj && ej) {
        size_t cap = strlen(dj) + strlen(ej) + 32;
        out = bf_malloc(cap);
        *plen = (size_t)snprintf(out, cap, "{\"event\":%s,\"data\":%s,\"seq\":", ej, dj);
    }
    free(dj);
    free(ej);
    json_decref(dv);
    json_decref(ev);
    return out;
}

/* Validates one event object into e, appending its channels to p's targets. Returns the HTTP
 * status (200 on success) with err filled otherwise. */
static int parse_event(bf_router *rt, const bf_app *app, json_t *o, bool batch, event_in *e,
                       pub_req *p, char *err, size_t errlen)
{
    if (!json_is_object(o)) {
        snprintf(err, errlen,
                 batch ? "every batch entry must be an object" : "body must be a JSON object");
        return 400;
    }
    json_t *name = json_object_get(o, "name"), *data = json_object_get(o, "data");
    json_t *channels = json_object_get(o, "channels"), *channel = json_object_get(o, "channel");
    json_t *sock = json_object_get(o, "socket_id"), *info = json_object_get(o, "info");
    if (!json_is_string(name)) {
        snprintf(err, errlen, "\"name\" must be a string");
        return 400;
    }
    if (check_name(json_string_value(name), json_string_length(name), err, errlen)) return 400;
    if (!data) {
        snprintf(err, errlen, "missing \"data\"");
        return 400;
    }
    /* data is a string by the protocol; any other JSON value is taken as its JSON text */
    if (json_is_string(data)) {
        e->data_raw_len = json_string_length(data);
        e->data_raw = bf_malloc(e->data_raw_len + 1);
        memcpy(e->data_raw, json_string_value(data), e->data_raw_len + 1);
    } else {
        e->data_raw = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        e->data_raw_len = e->data_raw ? strlen(e->data_raw) : 0;
    }
    if (e->data_raw_len > (size_t)rt->cfg.max_event_bytes) {
        snprintf(err, errlen, "event data is %zu bytes; the limit is %lld (--max-event-bytes)",
                 e->data_raw_len, rt->cfg.max_event_bytes);
        return 413;
    }
    if (sock && !json_is_null(sock)) {
        if (!json_is_string(sock) || json_string_length(sock) > BF_PUSHER_SOCKET_MAX ||
            !socket_id_ok(json_string_value(sock))) {
            snprintf(err, errlen, "\"socket_id\" must look like 123.456");
            return 400;
        }
        snprintf(e->socket_id, sizeof(e->socket_id), "%s", json_string_value(sock));
    }
    if (info && !json_is_null(info)) {
        if (!json_is_string(info) ||
            bf__pusher_parse_info(json_string_value(info), &e->info, err, errlen)) {
            if (!json_is_string(info)) snprintf(err, errlen, "\"info\" must be a string");
            return 400;
        }
    }
    size_t n;
    if (batch || (channel && !channels)) {
        if (!json_is_string(channel)) {
            snprintf(err, errlen, "\"channel\" must be a string");
            return 400;
        }
        n = 1;
    } else {
        if (channel) {
            snprintf(err, errlen, "give \"channels\" or \"channel\", not both");
            return 400;
        }
        if (!json_is_array(channels) || !json_array_size(channels)) {
            snprintf(err, errlen, "\"channels\" must be a non-empty array of channel names");
            return 400;
        }
        n = json_array_size(channels);
        if (n > BF_PUSHER_MAX_CHANNELS) {
            snprintf(err, errlen, "%zu channels; at most %d per event", n, BF_PUSHER_MAX_CHANNELS);
            return 400;
        }
    }
    e->first = p->ntargets;
    for (size_t i = 0; i < n; i++) {
        json_t *c = channels && !batch ? json_array_get(channels, i) : channel;
        if (!json_is_string(c)) {
            snprintf(err, errlen, "channel names must be strings");
            return 400;
        }
        const char *cn = json_string_value(c);
        size_t cl = json_string_length(c);
        char why[BF_ERR_LEN];
        if (strlen(cn) != cl || channel_check(cn, cl, why, sizeof(why))) {
            snprintf(err, errlen, "channel '%.64s': %.150s", cn,
                     strlen(cn) != cl ? "contains a NUL byte" : why);
            return 400;
        }
        /* the same channel twice in one event is published once */
        bool dup = false;
        for (size_t k = e->first; k < p->ntargets && !dup; k++) dup = !strcmp(p->bare[k], cn);
        if (dup) continue;
        size_t t = p->ntargets++;
        memcpy(p->bare[t], cn, cl + 1);
        if (bf_apps_scope(rt->cfg.apps, app, cn, cl, p->scoped[t], SCOPED_MAX)) {
            snprintf(err, errlen, "channel '%.64s': name too long", cn);
            return 400;
        }
        p->targets[t].channel = p->scoped[t];
        p->targets[t].msg = (size_t)(e - p->ev);
    }
    e->count = p->ntargets - e->first;
    e->prefix =
        render_prefix(json_string_value(name), e->data_raw, e->data_raw_len, &e->prefix_len);
    if (!e->prefix) {
        snprintf(err, errlen, "cannot render the event");
        return 400;
    }
    return 200;
}

/* ---- answering ---------------------------------------------------------------------------- */

static json_t *info_object(const pub_req *p, size_t t, const bf_pusher_info *want)
{
    json_t *o = json_object();
    if (want->subscription_count)
        json_object_set_new(o, "subscription_count", json_integer(p->info[t][0]));
    if (want->user_count && p->info[t][1] >= 0)
        json_object_set_new(o, "user_count", json_integer(p->info[t][1]));
    return o;
}

static void answer(pub_req *p)
{
    json_t *out = json_object();
    bool any = false;
    for (size_t i = 0; i < p->nev; i++)
        any |= p->ev[i].info.subscription_count || p->ev[i].info.user_count;
    if (any && p->batch) {
        json_t *arr = json_array();
        for (size_t i = 0; i < p->nev; i++)
            json_array_append_new(arr, p->ev[i].count
                                           ? info_object(p, p->ev[i].first, &p->ev[i].info)
                                           : json_object());
        json_object_set_new(out, "batch", arr);
    } else if (any) {
        json_t *chs = json_object();
        for (size_t t = 0; t < p->ntargets; t++)
            json_object_set_new(chs, p->bare[t], info_object(p, t, &p->ev[0].info));
        json_object_set_new(out, "channels", chs);
    }
    char *body = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    bf__pusher_reply(p->rt, p->req, 200, body);
    free(body);
    json_decref(out);
    pub_req_free(p);
}

typedef struct info_call {
    pub_req *p;
    size_t t;
} info_call;

static void on_info(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    info_call *ic = priv;
    pub_req *p = ic->p;
    redisReply *r = reply;
    long long conns = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_INTEGER)
        conns = bf_router_live_connections(p->rt, r->element[0]);
    if (conns >= 0) {
        p->info[ic->t][0] = conns;
        if (p->info[ic->t][1] >= 0) p->info[ic->t][1] = r->element[1]->integer;
    }
    free(ic);
    assert(p->info_pending > 0);
    if (--p->info_pending == 0) answer(p);
}

/* After the publish: one channel_info.lua call per target whose event asked for info (the
 * figures include the publish's own effects: none, the publish changes no membership). */
static void ask_info(pub_req *p)
{
    bf_router *rt = p->rt;
    p->info = bf_calloc(p->ntargets ? p->ntargets : 1, sizeof(*p->info));
    for (size_t i = 0; i < p->nev; i++) {
        const event_in *e = &p->ev[i];
        if (!e->info.subscription_count && !e->info.user_count) continue;
        for (size_t t = e->first; t < e->first + e->count; t++) {
            /* user_count exists only for presence channels; -1 leaves it out */
            p->info[t][1] = bf_channel_type_of(p->bare[t]) == BF_CH_PRESENCE ? 0 : -1;
            bf_script_args a;
            if (bf_channel_info_args(&a, rt->cfg.redis_prefix, p->scoped[t],
                                     bf_redis_is_cluster(rt->cmd)))
                continue;
            info_call *ic = bf_malloc(sizeof(*ic));
            ic->p = p;
            ic->t = t;
            p->info_pending++;
            if (bf_script_args_send(rt->cmd, &a, on_info, ic)) {
                p->info_pending--;
                free(ic);
            }
        }
    }
    if (p->info_pending == 0) answer(p);
}

static void on_published(redisAsyncContext *ac, void *reply, void *priv);

/* Sends the request's publish_batch.lua call(s). Returns 0, or non-zero when nothing was sent
 * (the callback is then not called). */
static int send_batch(pub_req *p)
{
    bf_router *rt = p->rt;
    bf_pub_msg *msgs = bf_calloc(p->nev, sizeof(*msgs));
    for (size_t i = 0; i < p->nev; i++)
        msgs[i] = (bf_pub_msg){.prefix = p->ev[i].prefix,
                               .prefix_len = p->ev[i].prefix_len,
                               .data_raw = p->ev[i].data_raw,
                               .data_raw_len = p->ev[i].data_raw_len,
                               .exclude_socket = p->ev[i].socket_id};
    bf_publish_batch pb = {.prefix = rt->cfg.redis_prefix,
                           .history_size = rt->cfg.history_size,
                           .history_ttl_ms = rt->cfg.history_ttl_s * 1000,
                           .fw = {rt->cfg.fanout_window, rt->cfg.fanout_stale_ms},
                           .msgs = msgs,
                           .nmsgs = p->nev,
                           .targets = p->targets,
                           .ntargets = p->ntargets};
    int rc = bf_publish_batch_send(rt->cmd, &pb, on_published, p);
    free(msgs);
    return rc;
}

static void refuse_busy(pub_req *p, const char *why, uint64_t retry_ms)
{
    p->rt->stats.publishes_refused++;
    p->rt->stats.publishes_fanout_busy++;
    bf_http_api_retry_headers(p->req, retry_ms);
    bf__pusher_error(p->rt, p->req, 503, "overloaded", why);
    pub_req_free(p);
}

static void on_hold(void *arg, bf_fhold_why why)
{
    pub_req *p = arg;
    if (why == BF_FHOLD_RETRY) {
        if (send_batch(p) == 0) return;
        bf__pusher_error(p->rt, p->req, 503, "redis_unavailable",
                         "not connected to Redis; retry later");
        pub_req_free(p);
        return;
    }
    char msg[BF_ERR_LEN];
    snprintf(msg, sizeof(msg),
             "held %s while a gateway was still writing earlier messages of a channel of the "
             "request (--fanout-window, --fanout-hold-ms)",
             why == BF_FHOLD_EXPIRED ? "as long as allowed" : "until shutdown");
    refuse_busy(p, msg, (uint64_t)p->rt->cfg.fanout_retry_ms);
}

static void on_published(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    pub_req *p = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != p->ntargets) {
        const char *e = !r                             ? "redis connection lost"
                        : r->type == REDIS_REPLY_ERROR ? r->str
                                                       : "unexpected reply from publish script";
        char why[BF_ERR_LEN];
        uint64_t retry_ms = (uint64_t)p->rt->cfg.fanout_retry_ms;
        size_t t = bf_http_api_fanout_target(e, p->ntargets);
        if (bf_http_api_fanout_busy(e, p->bare[t], why, sizeof(why), &retry_ms)) {
            bool again = p->hold_deadline_ms != 0;
            int rc = p->rt->fhold ? bf_fhold_park(p->rt->fhold, p->scoped[t], retry_ms,
                                                  &p->hold_deadline_ms, again, on_hold, p)
                                  : BF_EFULL;
            if (rc == 0) return;
            if (rc == BF_ETIMEDOUT) /* tried again at the end of its hold, still refused */
                snprintf(why + strlen(why), sizeof(why) - strlen(why),
                         "; held as long as allowed (--fanout-hold-ms)");
            refuse_busy(p, why, retry_ms);
            return;
        }
        p->rt->stats.publish_failures++;
        bf_warn("Pusher API publish to %zu channel(s) failed: %s", p->ntargets, e);
        bf__pusher_error(p->rt, p->req, 503, "redis_error", e);
        pub_req_free(p);
        return;
    }
    p->rt->stats.pusher_channel_publishes += p->ntargets;
    ask_info(p);
}

static void handle_publish(bf_router *rt, struct evhttp_request *req, const bf_app *app,
                           const char *body, size_t len, bool batch)
{
    char err[BF_ERR_LEN] = "";
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, sizeof(err), "body is not valid JSON: %s (at byte %d)", jerr.text,
                 jerr.position);
        bf__pusher_error(rt, req, 400, "bad_json", err);
        return;
    }
    json_t *items = root;
    size_t nev = 1;
    if (batch) {
        items = json_is_object(root) ? json_object_get(root, "batch") : NULL;
        if (!json_is_array(items) || !json_array_size(items)) {
            bf__pusher_error(rt, req, 400, "bad_request",
                             "body must be {\"batch\":[...]} with at least one event");
            json_decref(root);
            return;
        }
        nev = json_array_size(items);
        if (nev > BF_PUSHER_MAX_BATCH) {
            snprintf(err, sizeof(err), "%zu events; at most %d per batch", nev,
                     BF_PUSHER_MAX_BATCH);
            bf__pusher_error(rt, req, 400, "too_many_events", err);
            json_decref(root);
            return;
        }
    }
    size_t cap = batch ? nev : BF_PUSHER_MAX_CHANNELS;
    pub_req *p = bf_calloc(1, sizeof(*p));
    p->rt = rt;
    p->req = req;
    p->batch = batch;
    p->ev = bf_calloc(nev, sizeof(*p->ev));
    p->targets = bf_calloc(cap, sizeof(*p->targets));
    p->scoped = bf_calloc(cap, sizeof(*p->scoped));
    p->bare = bf_calloc(cap, sizeof(*p->bare));
    int status = 200;
    for (size_t i = 0; i < nev && status == 200; i++) {
        p->nev = i + 1;
        status = parse_event(rt, app, batch ? json_array_get(items, i) : root, batch, &p->ev[i], p,
                             err, sizeof(err));
    }
    json_decref(root);
    if (status != 200) {
        bf__pusher_error(rt, req, status,
                         status == 413                      ? "too_large"
                         : strstr(err, "channels; at most") ? "too_many_channels"
                         : strstr(err, "channel '")         ? "bad_channel"
                                                            : "bad_request",
                         err);
        pub_req_free(p);
        return;
    }
    /* on a cluster an event's info counts the gateways alive in the router's heartbeat view,
     * which it has once ready: refused before publishing rather than answered with a wrong count */
    bool info = false;
    for (size_t i = 0; i < p->nev; i++)
        info |= p->ev[i].info.subscription_count || p->ev[i].info.user_count;
    if (info && bf_redis_is_cluster(rt->cmd) && !bf_router_ready(rt)) {
        bf__pusher_error(rt, req, 503, "not_ready",
                         "not connected to Redis or not in the ring yet");
        pub_req_free(p);
        return;
    }
    uint64_t retry_ms;
    const char *why = bf_router_overloaded(rt, &retry_ms);
    if (why) {
        rt->stats.publishes_refused++;
        bf_http_api_retry_headers(req, retry_ms);
        bf__pusher_error(rt, req, 503, "overloaded", why);
        pub_req_free(p);
        return;
    }
    if (send_batch(p)) {
        bf__pusher_error(rt, req, 503, "redis_unavailable", "not connected to Redis; retry later");
        pub_req_free(p);
    }
}

/* ---- routing ------------------------------------------------------------------------------ */

static const char *method_name(enum evhttp_cmd_type c)
{
    switch (c) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "OTHER";
    }
}

bool bf_pusher_api_route(bf_router *rt, struct evhttp_request *req, const char *path)
{
    const char *apps = strstr(path, "/apps/");
    if (!apps) return false;
    rt->stats.pusher_requests++;
    const char *id = apps + 6;
    size_t idlen = strcspn(id, "/");
    const char *rest = id[idlen] ? id + idlen + 1 : id + idlen;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    bool is_events = !strcmp(rest, "events"), is_batch = !strcmp(rest, "batch_events");

    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    char err[BF_ERR_LEN];
    bf_pauth_request ar = {.method = method_name(cmd),
                           .path = path,
                           .app_id = id,
                           .app_id_len = idlen,
                           .query = uri ? evhttp_uri_get_query(uri) : NULL,
                           .body = body,
                           .body_len = len,
                           .now_s = (long long)time(NULL),
                           .max_skew_s = rt->cfg.pusher_timestamp_skew_s};
    const bf_app *app = NULL;
    bf_pauth_result res = bf_pusher_auth_check(rt->cfg.apps, &ar, &app, err, sizeof(err));
    if (res != BF_PAUTH_OK) {
        bf__pusher_error(rt, req, bf_pusher_auth_status(res), bf_pusher_auth_code(res), err);
        return true;
    }
    if (is_events || is_batch) {
        if (cmd != EVHTTP_REQ_POST) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
            bf__pusher_error(rt, req, 405, "method_not_allowed", "use POST");
            return true;
        }
        handle_publish(rt, req, app, body, len, is_batch);
        return true;
    }
    struct evkeyvalq q;
    if (evhttp_parse_query_str(ar.query ? ar.query : "", &q)) {
        bf__pusher_error(rt, req, 400, "bad_query", "malformed query string");
        return true;
    }
    bf_pusher_ctx c = {.app = app, .rest = rest, .query = &q};
    if (!bf__pusher_query_route(rt, req, &c))
        bf__pusher_error(rt, req, 404, "not_found", "no such Pusher API route");
    evhttp_clear_headers(&q);
    return true;
}

void bf_pusher_api_metrics(const bf_router *rt, struct evbuffer *b)
{
    const bf_rt_stats *s = &rt->stats;
#define C(name, help, v)                                                                           \
    evbuffer_add_printf(b, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n",   \
                        (unsigned long long)(v))
    C("belfry_router_pusher_requests_total", "Pusher HTTP API requests.", s->pusher_requests);
    C("belfry_router_pusher_channel_publishes_total",
      "Channel publishes sequenced through the Pusher HTTP API (one per event and channel).",
      s->pusher_channel_publishes);
    C("belfry_router_pusher_auth_failures_total",
      "Pusher HTTP API requests refused by authentication (401).", s->pusher_auth_failures);
    C("belfry_router_pusher_rejected_total",
      "Pusher HTTP API requests refused as malformed or over a count limit (400, 404, 405).",
      s->pusher_rejected);
    C("belfry_router_pusher_too_large_total",
      "Pusher HTTP API events refused for data over --max-event-bytes (413).", s->pusher_too_large);
#undef C
    bf_webhooks_metrics(rt->webhooks, b);
}
