/* The lws protocol callback: WebSocket clients on /ws/{channel} and the plain HTTP routes
 * (/healthz, /readyz, /metrics) on the same port. Upgrades are validated before they happen, in
 * LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, so a bad request gets a real HTTP status and a JSON body. */
#include "alloc.h"
#include "auth.h"
#include "channel.h"
#include "client_msg.h"
#include "clock.h"
#include "connlimits.h"
#include "err.h"
#include "gateway.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "proto.h"
#include "proto_pusher.h"
#include "recovery.h"
#include "rxguard.h"
#include "static.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define WS_PATH "/ws/"

static bf_gateway *gw_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- HTTP replies ------------------------------------------------------------------------ */

/* Writes a complete response. Returns 0, or -1 if the headers could not be written. */
static int http_reply(struct lws *wsi, unsigned status, const char *ctype, const char *body,
                      size_t len)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof(hdr) - 1;
    if (lws_add_http_common_headers(wsi, status, ctype, (lws_filepos_t)len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    /* small bodies (every JSON error, the out-of-memory reply included) need no allocation */
    unsigned char small[LWS_PRE + 512];
    unsigned char *b = len < sizeof(small) - LWS_PRE ? small : bf_malloc(LWS_PRE + len + 1);
    memcpy(b + LWS_PRE, body, len);
    int n = lws_write(wsi, b + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
    if (b != small) free(b);
    return n < 0 ? -1 : 0;
}

static int http_error(struct lws *wsi, unsigned status, const char *code, const char *msg)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *body = json_dumps(j, JSON_COMPACT);
    if (!body) { /* a code or message that is not UTF-8: never from our callers */
        json_decref(j);
        static const char internal[] = "{\"error\":{\"code\":\"internal\",\"message\":"
                                       "\"cannot render the error\"}}";
        return http_reply(wsi, 500, "application/json", internal, sizeof(internal) - 1);
    }
    int rc = http_reply(wsi, status, "application/json", body, strlen(body));
    free(body);
    json_decref(j);
    return rc;
}

/* ---- request parsing --------------------------------------------------------------------- */

typedef struct ws_request {
    char channel[BF_CHANNEL_MAX + 1];
    bf_channel_type type;
    bf_auth_result auth;
    int recover; /* BF_RECOVER_* */
    uint64_t since;
    char epoch[40];
    /* Pusher (/app/{key}): refusals are close codes after the upgrade, which is what pusher-js
     * acts on (4001 gives up, 4100 backs off), rather than HTTP statuses */
    uint8_t proto;     /* bf_proto_id */
    const bf_app *app; /* borrowed from the configuration; NULL: refused */
    uint16_t refuse_code;
    const char *refuse_reason; /* static */
} ws_request;

/* lws 4.1's lws_get_urlarg_by_name() gives up at the first query argument longer than its
 * buffer, so a JWT in ?token= would hide every argument after it (type=, userId=, recover=, ...)
 * — and ?x=<long>&type=private would open the public channel. Arguments are looked up with a
 * buffer as large as the whole query, and the value copied out: NULL if absent or not shorter
 * than cap. */
static const char *urlarg(struct lws *wsi, const char *name, char *out, size_t cap)
{
    int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
    if (total <= 0) return NULL;
    char *all = bf_malloc((size_t)total + 1);
    const char *v = lws_get_urlarg_by_name(wsi, name, all, total + 1);
    size_t n = v ? strlen(v) : 0;
    const char *r = NULL;
    if (v && n < cap) {
        memcpy(out, v, n + 1);
        r = out;
    }
    explicit_bzero(all, (size_t)total + 1); /* it may hold the token */
    free(all);
    return r;
}

/* ?recover=1, or ?since=N&epoch=E (epoch may be omitted only with since=0). */
static int parse_recovery(struct lws *wsi, ws_request *rq, char *msg, size_t msglen)
{
    char buf[64];
    const char *rec = urlarg(wsi, "recover=", buf, sizeof(buf));
    if (rec) rq->recover = strcmp(rec, "0") ? BF_RECOVER_POSITION : BF_RECOVER_NONE;
    const char *since = urlarg(wsi, "since=", buf, sizeof(buf));
    if (since) {
        if (!*since || strlen(since) > 19 || strspn(since, "0123456789") != strlen(since)) {
            snprintf(msg, msglen, "since must be a non-negative integer");
            return -1;
        }
        rq->since = strtoull(since, NULL, 10);
        rq->recover = BF_RECOVER_SINCE;
    }
    char ebuf[64];
    const char *epoch = urlarg(wsi, "epoch=", ebuf, sizeof(ebuf));
    if (epoch) {
        if (!since || !*epoch || strlen(epoch) >= sizeof(rq->epoch) ||
            strspn(epoch, "0123456789abcdef") != strlen(epoch)) {
            snprintf(msg, msglen, "epoch must be the hex id from belfry:subscribed, with since");
            return -1;
        }
        snprintf(rq->epoch, sizeof(rq->epoch), "%s", epoch);
    } else if (since && rq->since > 0) {
        snprintf(msg, msglen, "since needs the epoch it belongs to (epoch=)");
        return -1;
    }
    return 0;
}

/* The token from "Authorization: Bearer" or ?token=; the header wins. Never logged. */
static const char *get_token(struct lws *wsi, char *buf, size_t cap)
{
    int n = lws_hdr_copy(wsi, buf, (int)cap, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && !strncasecmp(buf, "Bearer ", 7)) {
        memmove(buf, buf + 7, (size_t)n - 6);
        return buf;
    }
    return urlarg(wsi, "token=", buf, cap);
}

/* Checks the Origin header against --allowed-origins. No Origin (non-browser) is allowed. */
static bool origin_allowed(struct lws *wsi, const char *allowed)
{
    char origin[512];
    if (!allowed || !strcmp(allowed, "*")) return true;
    int n = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
    if (n <= 0) return lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0;
    const char *p = allowed;
    while (*p) {
        size_t l = strcspn(p, ",");
        while (l && *p == ' ') {
            p++;
            l--;
        }
        size_t t = l;
        while (t && p[t - 1] == ' ') t--;
        if ((t == 1 && *p == '*') || (t == (size_t)n && !strncmp(p, origin, t))) return true;
        p += l;
        if (*p == ',') p++;
    }
    return false;
}

/* Authorizes a parsed private/presence request. Returns the HTTP status to refuse with, or 0. */
static unsigned authorize(struct lws *wsi, bf_gateway *gw, ws_request *rq, const char **code,
                          char *msg, size_t msglen)
{
    char tokbuf[BF_TOKEN_MAX + 16], userbuf[BF_USER_MAX + 16];
    if (rq->type == BF_CH_PUBLIC) return 0;
    const char *token = get_token(wsi, tokbuf, sizeof(tokbuf));
    const char *user = urlarg(wsi, "userId=", userbuf, sizeof(userbuf));
    bf_auth_opts ao = {gw->cfg.jwt_secret, gw->cfg.insecure_any_token, gw->cfg.jwt_leeway_s};
    bf_auth_status st = bf_auth_check(&ao, token, rq->channel, rq->type, user,
                                      (long long)time(NULL), &rq->auth, msg, msglen);
    memset(tokbuf, 0, sizeof(tokbuf));
    switch (st) {
    case BF_AUTH_OK:
        return 0;
    case BF_AUTH_MISSING:
        *code = "unauthorized";
        return 401;
    case BF_AUTH_UNCONFIGURED:
        *code = "auth_unconfigured";
        return 503;
    case BF_AUTH_NOT_GRANTED:
        *code = "forbidden";
        return 403;
    case BF_AUTH_INVALID:
        break;
    }
    *code = "forbidden";
    return 403;
}

/* Validates a /ws/{channel}[?type=] request. On failure fills status/code/msg and returns -1. */
static int parse_ws_request(struct lws *wsi, ws_request *rq, unsigned *status, const char **code,
                            char *msg, size_t msglen)
{
    char uri[512], typebuf[64];
    memset(rq, 0, sizeof(*rq));
    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    if (n < 0) {
        *status = 400;
        *code = "bad_channel";
        snprintf(msg, msglen, "request path is too long (channel names are 1-%d bytes)",
                 BF_CHANNEL_MAX);
        return -1;
    }
    if (n <= (int)strlen(WS_PATH) - 1 || strncmp(uri, WS_PATH, strlen(WS_PATH))) {
        *status = 404;
        *code = "not_found";
        snprintf(msg, msglen, "WebSocket endpoint is /ws/{channel}");
        return -1;
    }
    const char *name = uri + strlen(WS_PATH);
    const char *type = urlarg(wsi, "type=", typebuf, sizeof(typebuf));
    if (bf_channel_resolve(name, strlen(name), type, rq->channel, msg, msglen)) {
        *status = 400;
        *code = "bad_channel";
        return -1;
    }
    rq->type = bf_channel_type_of(rq->channel);
    if (parse_recovery(wsi, rq, msg, msglen)) {
        *status = 400;
        *code = "bad_recovery";
        return -1;
    }
    return 0;
}

/* /app/{key}: which app, and whether it is refused (with a close code, see ws_request). */
static void parse_pusher_request(struct lws *wsi, bf_gateway *gw, const char *uri, ws_request *rq)
{
    memset(rq, 0, sizeof(*rq));
    rq->proto = BF_PROTO_PUSHER;
    const char *key = uri + strlen(BF_PUSHER_PATH), *why = NULL;
    size_t klen = strcspn(key, "/?");
    rq->app = bf_pusher_app_for_key(gw, key, klen, &why);
    if (!rq->app) {
        rq->refuse_code = BF_PUSHER_CLOSE_APP_UNKNOWN;
        rq->refuse_reason = why;
        gw->stats.auth_failures[BF_GW_AUTH_NOT_GRANTED]++;
        bf_info("pusher connection for key \"%.*s\" refused with 4001: %s",
                (int)(klen > 64 ? 64 : klen), key, why);
        return;
    }
    char ip[64], msg[BF_ERR_LEN];
    const char *code;
    const char *peer =
        gw->cfg.max_connections_per_ip ? lws_get_peer_simple(wsi, ip, sizeof(ip)) : NULL;
    if (bf_connlimits_check(gw->connlimits, peer, NULL, &code, msg, sizeof(msg))) {
        rq->app = NULL;
        rq->refuse_code = BF_PUSHER_CLOSE_OVER_CAPACITY;
        rq->refuse_reason = !strcmp(code, "gateway_full") ? "over capacity; try again later"
                                                          : "too many connections; try later";
        bf_debug("pusher connection refused with 4100: %s", msg);
    }
}

static bool is_pusher_path(struct lws *wsi)
{
    char uri[512];
    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    return n >= (int)strlen(BF_PUSHER_PATH) &&
           !strncmp(uri, BF_PUSHER_PATH, strlen(BF_PUSHER_PATH));
}

static int confirm_upgrade(struct lws *wsi, const char *upgrade)
{
    bf_gateway *gw = gw_of(wsi);
    ws_request rq;
    unsigned status = 0;
    const char *code = NULL;
    char msg[BF_ERR_LEN];
    if (!upgrade || strcmp(upgrade, "websocket")) {
        status = 400;
        code = "bad_upgrade";
        snprintf(msg, sizeof(msg), "only WebSocket upgrades are supported");
    } else if (gw->draining) {
        status = 503;
        code = "draining";
        snprintf(msg, sizeof(msg), "this gateway is shutting down; connect to another one");
    } else if (!bf_gateway_ready(gw)) {
        status = 503;
        code = "not_ready";
        snprintf(msg, sizeof(msg), "this gateway is not connected to Redis; try again shortly");
    } else if (!origin_allowed(wsi, gw->cfg.allowed_origins)) {
        status = 403;
        code = "origin_forbidden";
        snprintf(msg, sizeof(msg), "this Origin may not connect (see --allowed-origins)");
        gw->stats.auth_failures[BF_GW_AUTH_ORIGIN]++;
    } else if (is_pusher_path(wsi)) {
        char uri[512];
        if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0) {
            status = 400;
            code = "bad_path";
            snprintf(msg, sizeof(msg), "request path is too long");
        } else {
            ws_request *keep = bf_malloc(sizeof(*keep));
            parse_pusher_request(wsi, gw, uri, keep);
            free(lws_get_opaque_user_data(wsi));
            lws_set_opaque_user_data(wsi, keep);
            return 0;
        }
    } else if (parse_ws_request(wsi, &rq, &status, &code, msg, sizeof(msg)) == 0) {
        status = authorize(wsi, gw, &rq, &code, msg, sizeof(msg));
        if (status) {
            bf_gw_count_auth_failure(gw, rq.auth.reason);
        } else {
            /* the peer address costs a getpeername(): only the per-IP limit needs it */
            char ip[64];
            const char *peer =
                gw->cfg.max_connections_per_ip ? lws_get_peer_simple(wsi, ip, sizeof(ip)) : NULL;
            status = bf_connlimits_check(gw->connlimits, peer,
                                         rq.auth.user_id[0] ? rq.auth.user_id : NULL, &code, msg,
                                         sizeof(msg));
            if (!status) {
                /* the verified request waits on the wsi for ESTABLISHED, so that a token is
                 * verified once per connection (~10 µs each); freed there or at WSI_DESTROY */
                ws_request *keep = bf_malloc(sizeof(*keep));
                *keep = rq;
                free(lws_get_opaque_user_data(wsi));
                lws_set_opaque_user_data(wsi, keep);
                return 0;
            }
        }
    }
    gw->stats.rejected_total++;
    bf_debug("upgrade refused with %u: %s", status, msg);
    http_error(wsi, status, code, msg);
    return 1; /* > 0: the response is written, no upgrade */
}

/* ---- plain HTTP routes ------------------------------------------------------------------- */

static int serve_metrics(struct lws *wsi, bf_gateway *gw)
{
    size_t len;
    char *text = bf_metrics_render(gw, &len);
    if (!text) { /* open_memstream failed: answer without allocating */
        static const char oom[] = "{\"error\":{\"code\":\"out_of_memory\",\"message\":"
                                  "\"out of memory rendering the metrics\"}}";
        return http_reply(wsi, 503, "application/json", oom, sizeof(oom) - 1);
    }
    int rc = http_reply(wsi, 200, "text/plain; version=0.0.4", text, len);
    free(text);
    return rc;
}

static int serve_http(struct lws *wsi, const char *path)
{
    bf_gateway *gw = gw_of(wsi);
    const bf_static_file *sf;
    int rc;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
        rc = http_error(wsi, 405, "method_not_allowed", "only GET is served here");
    } else if (!strcmp(path, "/healthz")) {
        rc = http_reply(wsi, 200, "application/json", "{\"status\":\"ok\"}", 15);
    } else if (!strcmp(path, "/readyz")) {
        if (bf_gateway_ready(gw))
            rc = http_reply(wsi, 200, "application/json", "{\"status\":\"ready\"}", 18);
        else
            rc = http_error(wsi, 503, "not_ready",
                            gw->draining ? "draining" : "not connected to Redis");
    } else if (!strcmp(path, "/metrics")) {
        rc = serve_metrics(wsi, gw);
    } else if ((sf = bf_static_lookup(path))) {
        rc = http_reply(wsi, 200, sf->content_type, sf->data, sf->len);
    } else if (!strncmp(path, WS_PATH, strlen(WS_PATH)) ||
               !strncmp(path, BF_PUSHER_PATH, strlen(BF_PUSHER_PATH))) {
        rc = http_error(wsi, 426, "upgrade_required", "this endpoint needs a WebSocket upgrade");
    } else {
        rc = http_error(wsi, 404, "not_found", "no such route");
    }
    if (rc) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- WebSocket connections --------------------------------------------------------------- */

static int on_receive(struct lws *wsi, bf_gateway *gw, bf_conn *c, const char *in, size_t len)
{
    if (lws_frame_is_binary(wsi)) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                         (unsigned char *)"binary frames are not supported", 31);
        return -1;
    }
    /* closing (kicked, slow consumer): what it still sends is not answered, so a flood costs
     * no work until the close completes */
    if (c->close_code) return 0;
    size_t max = (size_t)gw->cfg.max_message_bytes;
    bool first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
    if (first && final && !c->rxlen) {
        if (len > max) goto too_big;
        bf_proto_on_message(gw, c, in, len);
        return 0;
    }
    if (c->rxlen + len > max) goto too_big;
    if (c->rxlen + len + 1 > c->rxcap) { /* geometric: many tiny fragments cost no copying storm */
        size_t cap = c->rxcap ? c->rxcap * 2 : 1024;
        while (cap < c->rxlen + len + 1) cap *= 2;
        if (cap > max + 1) cap = max + 1;
        c->rx = bf_realloc(c->rx, cap);
        c->rxcap = cap;
    }
    memcpy(c->rx + c->rxlen, in, len);
    c->rxlen += len;
    if (final) {
        bf_proto_on_message(gw, c, c->rx, c->rxlen);
        free(c->rx);
        c->rx = NULL;
        c->rxlen = c->rxcap = 0;
    }
    return 0;
too_big:
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"message too big",
                     15);
    return -1;
}

static int on_established(struct lws *wsi, bf_gateway *gw, bf_conn *c)
{
    ws_request rq;
    unsigned status;
    const char *code;
    char msg[BF_ERR_LEN];
    memset(c, 0, sizeof(*c));
    /* confirm_upgrade left the request it verified; without it (never expected), check again */
    ws_request *kept = lws_get_opaque_user_data(wsi);
    lws_set_opaque_user_data(wsi, NULL);
    if (kept && kept->proto == BF_PROTO_PUSHER) {
        bf_pusher_on_established(gw, c, wsi, kept->app, kept->refuse_code, kept->refuse_reason);
        free(kept);
        bf_rxguard_watch(lws_get_socket_fd(wsi), c); /* RFC 6455 framing: every protocol */
        return 0;
    }
    if (kept) {
        rq = *kept;
        free(kept);
    } else if (is_pusher_path(wsi)) {
        return -1; /* never expected: confirm_upgrade always leaves a Pusher request */
    } else if (parse_ws_request(wsi, &rq, &status, &code, msg, sizeof(msg)) ||
               authorize(wsi, gw, &rq, &code, msg, sizeof(msg))) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)"unauthorized",
                         12);
        return -1;
    }
    bf_conn_init(c, wsi, ++gw->next_conn_id, &gw->batch);
    bf_conn_list_add(&gw->conns, c);
    c->last_rx_ms = bf_now_ms();
    c->proto = BF_PROTO_NATIVE;
    c->type = rq.type;
    bf_sub *s = bf_conn_sub_add(c, rq.type);
    c->recover = (uint8_t)rq.recover;
    c->since = rq.since;
    if (rq.epoch[0]) c->epoch = bf_strdup(rq.epoch);
    if (c->recover) bf_conn_hold(c); /* nothing goes out before belfry:subscribed */
    if (rq.auth.user_id[0]) c->user_id = bf_strdup(rq.auth.user_id);
    if (gw->cfg.max_connections_per_ip) {
        char ip[64];
        const char *peer = lws_get_peer_simple(wsi, ip, sizeof(ip));
        if (peer) c->ip = bf_strdup(peer);
    }
    bf_connlimits_count(gw->connlimits, c->ip, c->user_id, 1);
    if (rq.type == BF_CH_PRESENCE) {
        json_t *info = json_loads(rq.auth.info, 0, NULL);
        json_t *member = json_pack("{s:s,s:I,s:o}", "id", rq.auth.user_id, "joinedAt",
                                   (json_int_t)bf_wall_ms(), "info", info ? info : json_object());
        s->info = json_dumps(member, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(member);
        /* the user id and info were checked as UTF-8 JSON by auth.c: this cannot fail */
        if (!s->info) s->info = bf_strdup("{}");
    }
    gw->stats.connections[c->type]++;
    gw->stats.accepted_total++;
    bf_hub_join(gw->hub, s, rq.channel);
    bf_conncount_add(gw->conncount, rq.channel, 1);
    bf_rxguard_watch(lws_get_socket_fd(wsi), c); /* RFC 6455 framing lws 4.1.6 lets pass */
    bf_debug("connection %llu joined %s", (unsigned long long)c->id, rq.channel);
    return 0;
}

static void on_closed(bf_gateway *gw, bf_conn *c)
{
    if (!c->wsi) return; /* never established */
    bf_rxguard_unwatch(lws_get_socket_fd(c->wsi));
    bf_recovery_cancel(c);
    bf_proto_on_close(gw, c);
    for (bf_sub *s = c->subs; s; s = s->cnext) {
        const char *ch = bf_hub_sub_channel(s);
        if (!ch) continue;
        bf_conncount_add(gw->conncount, ch, -1);
        if (s->presence_joined) bf_gw_presence_op(gw, s, BF_OP_LEAVE);
        bf_hub_leave(gw->hub, s);
    }
    bf_connlimits_count(gw->connlimits, c->ip, c->user_id, -1);
    bf_conn_deinit(c);
    if (c->proto == BF_PROTO_NATIVE) gw->stats.connections[c->type]--;
    gw->stats.closed_total++;
    c->wsi = NULL;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    bf_gateway *gw = gw_of(wsi);
    bf_conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi, in);
    case LWS_CALLBACK_HTTP:
        return serve_http(wsi, in ? in : "");
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(wsi, gw, c);
    case LWS_CALLBACK_RECEIVE:
        c->last_rx_ms = bf_now_ms();
        c->ping_sent_ms = 0;
        return on_receive(wsi, gw, c, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        c->last_rx_ms = bf_now_ms();
        c->ping_sent_ms = 0;
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return bf_conn_on_writeable(c);
    case LWS_CALLBACK_CLOSED:
        on_closed(gw, c);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY: /* a verified request whose upgrade never completed */
        free(lws_get_opaque_user_data(wsi));
        lws_set_opaque_user_data(wsi, NULL);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols bf_gw_protocols[] = {
    {"belfry", callback, sizeof(bf_conn), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};
