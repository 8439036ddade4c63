#include "clock.h"
#include "router.h"
#include "alloc.h"
#include "apps.h"
#include "channel.h"
#include "err.h"
#include "log.h"
#include "message.h"
#include "http_api.h"
#include "metrics.h"
#include "fanout_hold.h"
#include "overload.h"
#include "owner_ops.h"
#include "pusher_api.h"
#include "redis_keys.h"
#include "scripts.h"
#include "webhooks.h"

#include <event2/keyvalq_struct.h>
#include <hiredis/adapters/libevent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static int attach_event(redisAsyncContext *ac, void *base)
{
    return redisLibeventAttach(ac, base);
}

bool bf_router_ready(const bf_router *rt)
{
    return !rt->stopping && bf_redis_ready(rt->sub) && bf_redis_ready(rt->cmd) && rt->in_ring;
}

long long bf_router_live_connections(const bf_router *rt, const redisReply *counts)
{
    if (counts && counts->type == REDIS_REPLY_INTEGER) return counts->integer; /* one Redis */
    return bf_owner_ops_live_connections(rt->owner_ops, counts);
}

bool bf_router_owns(const bf_router *rt, const char *channel)
{
    const char *o = bf_ring_owner(rt->ring, channel, strlen(channel));
    return o && !strcmp(o, rt->node_id);
}

/* ---- publishing -------------------------------------------------------------------------- */

typedef struct pub_ctx {
    bf_router *rt;
    bf_publish_cb cb;
    void *arg;
} pub_ctx;

static void on_publish_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    pub_ctx *pc = priv;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
        if (pc->cb) pc->cb(r->integer, NULL, pc->arg);
    } else {
        const char *e = !r                             ? BF_ROUTER_REDIS_LOST
                        : r->type == REDIS_REPLY_ERROR ? r->str
                                                       : "unexpected reply from publish script";
        if (!bf_http_api_is_fanout_busy(e)) { /* the window's refusal is the caller's to count */
            pc->rt->stats.publish_failures++;
            bf_warn("publish failed: %s", e);
        }
        if (pc->cb) pc->cb(0, e, pc->arg);
    }
    free(pc);
}

int bf_router_publish(bf_router *rt, const char *channel, const char *prefix, size_t prefix_len,
                      bool fenced, bf_publish_cb cb, void *arg)
{
    bf_publish p = {.prefix = rt->cfg.redis_prefix,
                    .channel = channel,
                    .frame_prefix = prefix,
                    .frame_prefix_len = prefix_len,
                    .fenced = fenced,
                    .ring_epoch = fenced ? bf_ring_epoch(rt->ring) : 0,
                    .history_size = rt->cfg.history_size,
                    .history_ttl_ms = rt->cfg.history_ttl_s * 1000,
                    .cluster = bf_redis_is_cluster(rt->cmd),
                    /* Redis ingress has nobody to refuse to: never windowed */
                    .fw = {fenced ? 0 : rt->cfg.fanout_window, rt->cfg.fanout_stale_ms}};
    bf_script_args a;
    if (bf_publish_args(&a, &p)) return BF_EINVAL; /* the channel was validated: not expected */
    pub_ctx *pc = bf_malloc(sizeof(*pc));
    pc->rt = rt;
    pc->cb = cb;
    pc->arg = arg;
    int rc = bf_script_args_send(rt->cmd, &a, on_publish_reply, pc);
    if (rc) free(pc);
    return rc;
}

/* A fenced ingress publish refused for a stale epoch is dropped (Redis ingress is at-most-once):
 * another router may own the channel now, and it must never be sequenced twice. */
static void on_ingress_published(long long seq, const char *err, void *arg)
{
    bf_router *rt = arg;
    if (seq > 0) return;
    if (err && strstr(err, "STALE")) {
        rt->stats.ingress_stale++;
        bf_router_refresh_ring(rt);
    }
}

static void ingress_drop(bf_router *rt, const char *channel, const char *why)
{
    rt->stats.ingress_malformed++;
    /* logged once per power of two: a flood cannot flood the log */
    uint64_t n = rt->stats.ingress_malformed;
    if ((n & (n - 1)) == 0)
        bf_warn("dropped Redis ingress message on '%.64s': %s (%llu dropped so far)", channel, why,
                (unsigned long long)n);
}

static void on_ingress(bf_router *rt, const char *subject, const char *payload, size_t len)
{
    size_t clen; /* a subject: the channel runs to the end of it, NUL-terminated */
    const char *channel = bf_key_strip(subject, rt->cfg.redis_prefix, BF_KEY_PUBLISH, &clen);
    char err[BF_ERR_LEN];
    /* "APPID/name" publishes to another app's channel (its scoped name, apps.h) */
    const char *bare = NULL;
    const bf_app *app = channel ? bf_apps_unscope(rt->cfg.apps, channel, &bare) : NULL;
    if (!channel || !app || bf_channel_validate(bare, strlen(bare), err, sizeof(err))) {
        ingress_drop(rt, channel ? channel : subject,
                     channel && !app ? "unknown app in channel name" : "invalid channel name");
        return;
    }
    if (bf_ring_size(rt->ring) == 0 || !rt->in_ring) {
        rt->stats.ingress_no_ring++;
        return;
    }
    if (!bf_router_owns(rt, channel)) {
        rt->stats.ingress_not_owner++;
        return;
    }
    if (len > (size_t)rt->cfg.max_message_bytes) {
        ingress_drop(rt, channel, "payload over --max-message-bytes");
        return;
    }
    char *prefix;
    size_t plen;
    if (bf_message_parse_publish(payload, len, bf_channel_type_of(bare), &prefix, &plen, err,
                                 sizeof(err)) != BF_MSG_OK) {
        ingress_drop(rt, channel, err);
        return;
    }
    if (bf_router_publish(rt, channel, prefix, plen, true, on_ingress_published, rt) == 0)
        rt->stats.publishes_redis++;
    else
        rt->stats.publish_failures++;
    free(prefix);
}

static void on_inbox_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    const redisReply *m = bf_redis_message(reply);
    if (!m) return;
    bf_router *rt = priv;
    bf_owner_ops_on_inbox(rt->owner_ops, m->str, (size_t)m->len);
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_router *rt = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4) return;
    if (r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "pmessage")) return;
    if (r->element[2]->type != REDIS_REPLY_STRING || r->element[3]->type != REDIS_REPLY_STRING)
        return;
    on_ingress(rt, r->element[2]->str, r->element[3]->str, (size_t)r->element[3]->len);
}

/* A gateway's backlog report (gateway/backlog.h). */
static void on_backlog_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    const redisReply *m = bf_redis_message(reply);
    if (!m) return;
    bf_router *rt = priv;
    if (bf_overload_report(rt->overload, m->str, (size_t)m->len, bf_now_ms()))
        bf_debug("ignored a malformed backlog report");
}

/* A gateway wrote a message of the channel named (fandone.lua): its held publishes go again. */
static void on_fdone_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    const redisReply *m = bf_redis_message(reply);
    bf_router *rt = priv;
    if (m && rt->fhold) bf_fhold_wake(rt->fhold, m->str, (size_t)m->len);
}

static void sub_ready(bf_redis *r, void *arg)
{
    bf_router *rt = arg;
    if (rt->fhold) {
        char fd[BF_KEY_MAX];
        bf_key(fd, rt->cfg.redis_prefix, BF_KEY_FDONE_NOTICE, NULL);
        bf_redis_cmd(r, on_fdone_reply, rt, "SUBSCRIBE %s", fd);
    }
    if (rt->cfg.overload_silence_ms) {
        char bk[BF_KEY_MAX];
        bf_key(bk, rt->cfg.redis_prefix, BF_KEY_BACKLOG, NULL);
        bf_redis_cmd(r, on_backlog_reply, rt, "SUBSCRIBE %s", bk);
    }
    char pat[BF_KEY_MAX];
    bf_key_publish_pattern(pat, rt->cfg.redis_prefix);
    bf_redis_cmd(r, on_sub_reply, rt, "PSUBSCRIBE %s", pat);
    char inbox[BF_KEY_MAX];
    bf_key(inbox, rt->cfg.redis_prefix, BF_KEY_INBOX, rt->node_id);
    bf_redis_cmd(r, on_inbox_reply, rt, "SUBSCRIBE %s", inbox);
}

/* ---- membership -------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Collects the string elements of an array reply, sorted. Caller frees the array only. */
static const char **sorted_ids(const redisReply *arr, size_t *n)
{
    const char **ids = bf_calloc(arr->elements ? arr->elements : 1, sizeof(char *));
    size_t m = 0;
    for (size_t i = 0; i < arr->elements; i++)
        if (arr->element[i]->type == REDIS_REPLY_STRING) ids[m++] = arr->element[i]->str;
    qsort(ids, m, sizeof(char *), cmp_str);
    *n = m;
    return ids;
}

static void set_gateways(bf_router *rt, const redisReply *arr)
{
    size_t n;
    const char **ids = sorted_ids(arr, &n);
    bf_owner_ops_set_gateways(rt->owner_ops, ids, n);
    bf_overload_set_live(rt->overload, ids, n);
    free(ids);
}

static void on_heartbeat_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_router *rt = priv;
    redisReply *r = reply;
    rt->heartbeat_in_flight = false;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 4 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_ARRAY ||
        r->element[3]->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR) bf_warn("heartbeat failed: %s", r->str);
        return;
    }
    set_gateways(rt, r->element[3]);
    uint64_t epoch = (uint64_t)r->element[0]->integer;
    size_t n;
    const char **ids = sorted_ids(r->element[1], &n);
    bool self = false;
    for (size_t i = 0; i < n; i++) self |= !strcmp(ids[i], rt->node_id);
    rt->in_ring = self;
    bf_owner_ops_set_in_ring(rt->owner_ops, self);
    bool same = epoch == bf_ring_epoch(rt->ring) && n == bf_ring_size(rt->ring);
    for (size_t i = 0; same && i < n; i++) same = !strcmp(ids[i], bf_ring_member(rt->ring, i));
    if (!same) {
        char list[1024] = "";
        size_t off = 0;
        for (size_t i = 0; i < n && off < sizeof(list) - 1; i++)
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? "," : "", ids[i]);
        bf_ring_set(rt->ring, ids, n, epoch);
        bf_info("ring epoch %llu: %zu router(s) [%s]%s", (unsigned long long)epoch, n, list,
                self ? "" : " (this router is not a member yet)");
    }
    free(ids);
}

static void on_client_list(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_router *rt = priv;
    redisReply *r = reply;
    bool ok = r && r->type == REDIS_REPLY_STRING;
    bf_overload_clients(rt->overload, ok ? r->str : NULL, bf_now_ms());
}

const char *bf_router_overloaded(bf_router *rt, uint64_t *retry_ms)
{
    /* without Redis a publish fails as redis_unavailable, which says what is wrong: a gateway's
     * backlog report from before is beside the point */
    if (!rt->cfg.overload_silence_ms || !bf_redis_ready(rt->cmd)) return NULL;
    uint64_t now = bf_now_ms();
    /* a silent gateway: does Redis still hold its subscriber link (stopped) or not (dead)? */
    if (bf_overload_want_clients(rt->overload, now) &&
        bf_redis_cmd(rt->cmd, on_client_list, rt, "CLIENT LIST TYPE pubsub"))
        bf_overload_clients(rt->overload, NULL, now);
    return bf_overload_check(rt->overload, now, retry_ms);
}

void bf_router_refresh_ring(bf_router *rt)
{
    rt->next_heartbeat = 0;
}

/* bf_owner_ops' callback up: an answer showed our ring may be stale. */
static void ring_stale(void *arg)
{
    bf_router_refresh_ring(arg);
}

static void heartbeat(bf_router *rt)
{
    bf_heartbeat hb = {.prefix = rt->cfg.redis_prefix,
                       .node_id = rt->node_id,
                       .router = true,
                       .ttl_ms = rt->cfg.heartbeat_ttl_ms,
                       .started_wall_ms = rt->started_wall_ms,
                       .host = rt->cfg.listen.host,
                       .port = rt->cfg.listen.port,
                       .version = BELFRY_VERSION,
                       .fanout_window = rt->cfg.fanout_window > 0};
    if (bf_heartbeat_send(rt->cmd, &hb, on_heartbeat_reply, rt) == 0)
        rt->heartbeat_in_flight = true;
}

static void cmd_ready(bf_redis *r, void *arg)
{
    bf_router *rt = arg;
    bf_scripts_load(r);
    /* belfryctl --app learns from it whether an app's channels are scoped (apps.h) */
    char key[BF_KEY_MAX];
    bf_key(key, rt->cfg.redis_prefix, BF_KEY_APPS_DEFAULT, NULL);
    bf_redis_cmd(r, NULL, NULL, "SET %s %s", key, bf_apps_default(rt->cfg.apps)->id);
    bf_webhooks_on_ready(rt->webhooks);
    rt->next_heartbeat = 0;
}

static void cmd_down(bf_redis *r, void *arg)
{
    (void)r;
    bf_router *rt = arg;
    rt->in_ring = false; /* we cannot know the membership while cut off */
    bf_owner_ops_set_in_ring(rt->owner_ops, false);
    rt->heartbeat_in_flight = false;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void stop(bf_router *rt, const char *why)
{
    if (rt->stopping) return;
    rt->stopping = true;
    bf_owner_ops_stop(rt->owner_ops);
    bf_info("%s: leaving the ring and stopping", why);
    bf_leave l = {.prefix = rt->cfg.redis_prefix, .node_id = rt->node_id, .router = true};
    bf_script_args a;
    if (!bf_leave_args(&a, &l)) bf_script_args_send(rt->cmd, &a, NULL, NULL);
    /* give the leave command a moment to be written, then end the loop */
    struct timeval tv = {0, 200000};
    event_base_loopexit(rt->base, &tv);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    stop(arg, fd == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bf_router *rt = arg;
    uint64_t now = bf_now_ms();
    bf_redis_tick(rt->sub, now);
    bf_redis_tick(rt->cmd, now);
    if (!rt->stopping && now >= rt->next_heartbeat && !rt->heartbeat_in_flight &&
        bf_redis_ready(rt->cmd)) {
        heartbeat(rt);
        rt->next_heartbeat = now + (uint64_t)rt->cfg.heartbeat_ms;
    }
    bf_owner_ops_tick(rt->owner_ops, now);
    uint64_t retry_ms;
    bf_router_overloaded(rt, &retry_ms); /* asks Redis about a silent gateway, keeps the gauge */
    if (!rt->stopping) bf_webhooks_tick(rt->webhooks, now);
    if (!rt->stopping && now >= rt->next_sweep && bf_redis_ready(rt->cmd)) {
        bf_owner_ops_sweep(rt->owner_ops);
        rt->next_sweep = now + (uint64_t)rt->cfg.sweep_interval_ms;
    }
}

/* ---- the HTTP API's callbacks up (http_api.h) --------------------------------------------- */

static const char *http_overloaded(void *up, uint64_t *retry_ms)
{
    return bf_router_overloaded(up, retry_ms);
}

static int http_publish(void *up, const char *channel, const char *prefix, size_t prefix_len,
                        bf_publish_cb cb, void *arg)
{
    return bf_router_publish(up, channel, prefix, prefix_len, false, cb, arg);
}

static const char *http_not_ready(void *up)
{
    bf_router *rt = up;
    if (bf_router_ready(rt)) return NULL;
    return rt->stopping ? "stopping" : "not connected to Redis or not in the ring yet";
}

static long long http_live_connections(void *up, const redisReply *counts)
{
    return bf_router_live_connections(up, counts);
}

static void http_metrics(void *up, struct evbuffer *b)
{
    bf_router *rt = up;
    bf_rt_metrics m = {
        .stats = &rt->stats,
        .owner = bf_owner_ops_stats_get(rt->owner_ops),
        .ring = rt->ring,
        .sub = rt->sub,
        .cmd = rt->cmd,
        .failover = &rt->failover,
        .ready = bf_router_ready(rt),
        .gateways_behind = bf_overload_behind(rt->overload),
        .hold = rt->fhold ? bf_fhold_stats_get(rt->fhold) : NULL,
    };
    bf_rt_metrics_render(b, &m);
    bf_pusher_api_metrics(rt, b);
}

static bool http_other(void *up, struct evhttp_request *req, const char *path)
{
    return bf_pusher_api_route(up, req, path);
}

int bf_router_start(bf_router *rt, struct event_base *base, char *err, size_t errlen)
{
    rt->started_wall_ms = bf_wall_ms();
    rt->base = base;
    rt->ring = bf_ring_new();
    bf_redis_opts ro = {.url = &rt->cfg.redis,
                        .attach = attach_event,
                        .loop = base,
                        .arg = rt,
                        .command_timeout_ms = (int)rt->cfg.redis_timeout_ms,
                        .sentinel_timeout_ms = (int)rt->cfg.redis_sentinel_timeout_ms,
                        .cluster_max_redirects = (int)rt->cfg.redis_cluster_max_redirects,
                        .cluster_refresh_ms = (int)rt->cfg.redis_cluster_refresh_ms};
    ro.name = "sub";
    ro.on_ready = sub_ready;
    rt->sub = bf_redis_new(&ro);
    ro.name = "cmd";
    ro.on_ready = cmd_ready;
    ro.on_down = cmd_down;
    rt->failover.prefix = rt->cfg.redis_prefix;
    ro.gate = bf_failover_gate;
    ro.gate_arg = &rt->failover;
    rt->cmd = bf_redis_new(&ro);
    bf_redis_pair(rt->sub, rt->cmd);
    bf_owner_ops_opts oo = {.cmd = rt->cmd,
                            .ring = rt->ring,
                            .prefix = rt->cfg.redis_prefix,
                            .node_id = rt->node_id,
                            .history_size = rt->cfg.history_size,
                            .history_ttl_ms = rt->cfg.history_ttl_s * 1000,
                            .on_stale = ring_stale,
                            .arg = rt};
    rt->owner_ops = bf_owner_ops_new(&oo);
    char gwsub[BF_KEY_MAX];
    bf_key(gwsub, rt->cfg.redis_prefix, BF_KEY_GWSUB, "");
    rt->overload = bf_overload_new((uint64_t)rt->cfg.overload_silence_ms, gwsub);
    if (rt->cfg.fanout_window && rt->cfg.fanout_hold_ms)
        rt->fhold =
            bf_fhold_new(base, (uint64_t)rt->cfg.fanout_hold_ms, (size_t)rt->cfg.fanout_hold_max);
    bf_webhooks_opts wo = {.base = base,
                           .redis = rt->cmd,
                           .apps = rt->cfg.apps,
                           .prefix = rt->cfg.redis_prefix,
                           .node_id = rt->node_id,
                           .hooks = &rt->cfg.webhooks,
                           .events = rt->cfg.webhook_events,
                           .batch_max = rt->cfg.webhook_batch_max,
                           .batch_ms = rt->cfg.webhook_batch_ms,
                           .vacate_delay_ms = rt->cfg.webhook_vacate_delay_ms,
                           .timeout_ms = rt->cfg.webhook_timeout_ms,
                           .retry_initial_ms = rt->cfg.webhook_retry_initial_ms,
                           .retry_max_ms = rt->cfg.webhook_retry_max_ms,
                           .claim_ms = rt->cfg.webhook_claim_ms,
                           .max_pending = rt->cfg.webhook_max_pending};
    rt->webhooks = bf_webhooks_new(&wo, err, errlen);
    if (!rt->webhooks && *err) return BF_EINVAL;

    rt->http = evhttp_new(base);
    if (evhttp_bind_socket(rt->http, rt->cfg.listen.host, (ev_uint16_t)rt->cfg.listen.port)) {
        snprintf(err, errlen, "cannot listen on %s:%d (address in use or not available)",
                 rt->cfg.listen.host, rt->cfg.listen.port);
        return BF_EIO;
    }
    bf_http_api_opts ho = {.http = rt->http,
                           .cmd = rt->cmd,
                           .cfg = &rt->cfg,
                           .stats = &rt->stats,
                           .hold = rt->fhold,
                           .publish = http_publish,
                           .overloaded = http_overloaded,
                           .not_ready = http_not_ready,
                           .live_connections = http_live_connections,
                           .metrics = http_metrics,
                           .other = http_other,
                           .up = rt};
    rt->http_api = bf_http_api_new(&ho);

    struct timeval tv = {0, 100000};
    rt->tick = event_new(base, -1, EV_PERSIST, on_tick, rt);
    event_add(rt->tick, &tv);
    event_active(rt->tick, 0, 0);
    rt->sigint = evsignal_new(base, SIGINT, on_signal, rt);
    rt->sigterm = evsignal_new(base, SIGTERM, on_signal, rt);
    event_add(rt->sigint, NULL);
    event_add(rt->sigterm, NULL);
    char where[512]; /* no credentials */
    bf_info("router %s listening on %s:%d (%s, prefix %s)", rt->node_id, rt->cfg.listen.host,
            rt->cfg.listen.port, bf_redis_url_describe(&rt->cfg.redis, where, sizeof(where)),
            rt->cfg.redis_prefix);
    return 0;
}

void bf_router_deinit(bf_router *rt)
{
    if (rt->tick) event_free(rt->tick);
    if (rt->sigint) event_free(rt->sigint);
    if (rt->sigterm) event_free(rt->sigterm);
    bf_fhold_free(rt->fhold); /* answers what it holds (503): before the HTTP server goes */
    rt->fhold = NULL;
    if (rt->http) evhttp_free(rt->http);
    bf_redis_free(rt->sub);
    bf_redis_free(rt->cmd); /* fails pending callbacks: do it before freeing what they use */
    bf_webhooks_free(rt->webhooks);
    rt->webhooks = NULL;
    bf_owner_ops_free(rt->owner_ops); /* after the links: their callbacks use it */
    bf_overload_free(rt->overload);   /* likewise */
    rt->overload = NULL;
    rt->owner_ops = NULL;
    bf_http_api_free(rt->http_api); /* likewise, and after the HTTP server */
    rt->http_api = NULL;
    bf_ring_free(rt->ring);
    memset(&rt->stats, 0, sizeof(rt->stats));
    rt->tick = rt->sigint = rt->sigterm = NULL;
    rt->http = NULL;
    rt->sub = rt->cmd = NULL;
    rt->ring = NULL;
}
