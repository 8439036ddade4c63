/* The gateway's lifecycle (gateway.h): start builds the modules and wires them together, the tick
 * and the per-loop-turn flush drive them, drain and stop take them down. Each module gets what it
 * needs at _new and reports back through callbacks; the services ws.c and the protocol modules
 * call are in gw_conns.c. */
#include "gateway.h"
#include "alloc.h"
#include "clock.h"
#include "listener.h"
#include "liveness.h"
#include "err.h"
#include "fandone.h"
#include "fdtable.h"
#include "log.h"
#include "proto.h"
#include "redis_keys.h"
#include "redis_uv.h"
#include "rxguard.h"
#include "scripts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static void sub_ready(bf_redis *r, void *arg)
{
    bf_gateway *gw = arg;
    /* named, so that a router can tell a stopped gateway (its link still open, Redis queueing for
     * it) from a dead one (router/overload.h) */
    char name[BF_KEY_MAX];
    bf_key(name, gw->cfg.redis_prefix, BF_KEY_GWSUB, gw->node_id);
    bf_redis_cmd(r, NULL, NULL, "CLIENT SETNAME %s", name);
    bf_liveness_sub_ready(gw->liveness);
    bf_backlog_sub_ready(gw->backlog);
    bf_hub_on_ready(gw->hub);
}

static void sub_down(bf_redis *r, void *arg)
{
    (void)r;
    bf_hub_on_down(((bf_gateway *)arg)->hub);
}

/* ---- what the reconciliation reads (reconcile.h) ------------------------------------------ */

typedef struct presence_visit {
    bf_gateway *gw;
    bf_reconcile_conn_fn fn;
    void *arg;
} presence_visit;

static void visit_presence(bf_sub *s, void *arg)
{
    presence_visit *v = arg;
    const char *ch = bf_hub_sub_channel(s);
    const char *user = bf_sub_user(s); /* the connection's, or a Pusher presence member's */
    if (!s->presence_joined || !ch || !user || !s->info) return;
    char conn_id[160];
    bf_gw_conn_id(v->gw, s->conn, conn_id, sizeof(conn_id));
    v->fn(ch, conn_id, user, s->info, s->awaiting_here, v->arg);
}

static void reconcile_presence(void *src, bf_reconcile_conn_fn fn, void *arg)
{
    presence_visit v = {src, fn, arg};
    bf_hub_foreach_sub(((bf_gateway *)src)->hub, visit_presence, &v);
}

static void reconcile_channels(void *src, bf_reconcile_chan_fn fn, void *arg)
{
    bf_hub_foreach_channel(((bf_gateway *)src)->hub, fn, arg);
}

static size_t reconcile_channel_conns(void *src, const char *channel)
{
    return bf_hub_channel_conns(((bf_gateway *)src)->hub, channel);
}

static void reannounce_sub(bf_sub *s, void *arg)
{
    if (s->presence_joined) bf_gw_presence_op(arg, s, BF_OP_REJOIN);
}

static void reannounce_channel(const char *name, size_t nconns, void *arg)
{
    bf_conncount_set(((bf_gateway *)arg)->conncount, name, nconns);
}

/* The channels Redis counts connections of ours in (gwchans:{gateway}): each is set to what we
 * hold now — 0 for a channel emptied while the link was down or blackholed, whose changes were
 * lost with it. The next flush sends them. */
static void on_gwchans(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_gateway *gw = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || gw->stopping) return;
    for (size_t i = 0; i < r->elements; i++) {
        const char *ch = r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : NULL;
        if (ch) bf_conncount_set(gw->conncount, ch, bf_hub_channel_conns(gw->hub, ch));
    }
}

static void cmd_ready(bf_redis *r, void *arg)
{
    bf_gateway *gw = arg;
    bf_scripts_load(r);
    bf_liveness_cmd_ready(gw->liveness); /* announce ourselves at once */
    /* after a Redis loss (or restart, which loses data) state in Redis is rebuilt from ours;
     * both operations are idempotent, so a mere blip costs a few redundant commands */
    bf_hub_foreach_channel(gw->hub, reannounce_channel, gw);
    bf_conncount_flush(gw->conncount, gw->cmd);
    char key[BF_KEY_MAX];
    bf_key(key, gw->cfg.redis_prefix, BF_KEY_GWCHANS, gw->node_id);
    bf_redis_cmd(gw->cmd, on_gwchans, gw, "SMEMBERS %s", key);
    bf_hub_foreach_sub(gw->hub, reannounce_sub, gw);
}

static uint64_t open_connections(void *arg)
{
    return bf_gw_open_connections(arg);
}

bool bf_gateway_ready(const bf_gateway *gw)
{
    return !gw->draining && bf_liveness_registered(gw->liveness) && bf_redis_ready(gw->sub) &&
           bf_redis_ready(gw->cmd);
}

/* Until the next heartbeat registers us again, owners could take us for dead: accept nothing. */
static void cmd_down(bf_redis *r, void *arg)
{
    (void)r;
    bf_liveness_cmd_down(((bf_gateway *)arg)->liveness);
}

/* ---- drain and stop ---------------------------------------------------------------------- */

static void close_for_drain(bf_conn *c, void *arg)
{
    (void)arg;
    bf_conn_close(c, BF_CLOSE_DRAIN, "service restart");
}

/* The leave's reply (on a cluster its last step's, see stop: the tick then closes the command
 * link). */
static void on_left(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_gateway *gw = priv;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR)
        bf_warn("leaving failed (%s): the sweep removes what is left once our "
                "membership expires",
                r ? r->str : "redis connection lost");
    gw->leaving = false;
}

static void stop(bf_gateway *gw)
{
    if (gw->stopping) return;
    gw->stopping = true;
    bf_info("stopping");
    /* Drained cleanly (no connection left, every presence leave acknowledged by its owner):
     * nothing of ours is left for the owners' dead-gateway sweep, so leave.lua removes our
     * gwchans/gwknown entries too; otherwise it keeps them for the sweep. Our connection
     * counts go either way (see conncount.h). */
    uint64_t open = gw->stats.connections[0] + gw->stats.connections[1] + gw->stats.connections[2];
    bool clean = open == 0 && bf_owner_pending(gw->owner) == 0;
    bf_leave lv = {.prefix = gw->cfg.redis_prefix, .node_id = gw->node_id, .clean = clean};
    /* on a cluster the leave takes several steps, each sent from the previous one's reply: the
     * link stays open for them (closed by the tick once left) */
    gw->leaving = bf_leave_send(gw->cmd, &lv, on_left, gw) == 0 && bf_redis_is_cluster(gw->cmd);
    bf_conncount_discard(gw->conncount);
    uv_check_stop(&gw->flush);
    uv_close((uv_handle_t *)&gw->flush, NULL);
    uv_idle_stop(&gw->flush_more);
    uv_close((uv_handle_t *)&gw->flush_more, NULL);
    bf_listener_free(gw->listener);
    gw->listener = NULL;
    uv_close((uv_handle_t *)&gw->sigint, NULL);
    uv_close((uv_handle_t *)&gw->sigterm, NULL);
    lws_context_destroy(gw->lws);
    gw->lws = NULL;
    /* The leave script above is only queued: freeing the command link (redisAsyncFree) would
     * close the socket without writing it. bf_redis_close writes it and waits for the reply
     * (hiredis' redisAsyncDisconnect); the tick keeps running until the link has closed (or its
     * close timed out), then the loop has nothing left and ends. */
    bf_redis_free(gw->sub);
    gw->sub = NULL;
    if (!gw->leaving) {
        gw->cmd_closing = true;
        bf_redis_close(gw->cmd);
    }
}

static void begin_drain(bf_gateway *gw, const char *why)
{
    if (gw->draining) {
        stop(gw); /* second signal: stop now */
        return;
    }
    gw->draining = true;
    bf_listener_stop(gw->listener);
    gw->drain_deadline = bf_now_ms() + (uint64_t)gw->cfg.drain_timeout_s * 1000;
    bf_info("%s: draining (closing connections with 1012, Pusher ones with 4200, at most %llds)",
            why, gw->cfg.drain_timeout_s);
    bf_gw_foreach_conn(gw, close_for_drain, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    begin_drain(h->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Schedules a ping for a connection silent for --ping-interval (less a per-connection offset of
 * up to a quarter of it, so that connections opened together do not all fall due together);
 * closes one that left a ping unanswered for --ping-timeout. */
typedef struct ping_sweep {
    bf_gateway *gw;
    uint64_t now;
} ping_sweep;

static void ping_conn(bf_conn *c, void *arg)
{
    bf_gateway *gw = ((ping_sweep *)arg)->gw;
    if (c->close_code) return;
    uint64_t now = ((ping_sweep *)arg)->now, interval = (uint64_t)gw->cfg.ping_interval_s * 1000;
    if (c->ping_sent_ms) {
        if (now - c->ping_sent_ms > (uint64_t)gw->cfg.ping_timeout_s * 1000) {
            gw->stats.ping_timeouts++;
            bf_debug("connection %llu did not answer its ping: closing", (unsigned long long)c->id);
            bf_conn_close(c, BF_CLOSE_PING_TIMEOUT, "ping timeout");
        }
        return;
    }
    uint64_t offset = (c->id * 2654435761u) % (interval / 4 + 1);
    if (now - c->last_rx_ms > interval - offset) bf_conn_pinger_add(&gw->pinger, c);
}

static void on_tick(uv_timer_t *t)
{
    bf_gateway *gw = t->data;
    uint64_t now = bf_now_ms();
    if (gw->stopping) { /* stop(): waiting for the command link to flush leave.lua */
        if (!gw->leaving && !gw->cmd_closing) {
            gw->cmd_closing = true;
            bf_redis_close(gw->cmd);
        }
        bf_redis_tick(gw->cmd, now);
        if (bf_redis_closed(gw->cmd)) {
            uv_timer_stop(t);
            uv_close((uv_handle_t *)t, NULL);
        }
        return;
    }
    bf_redis_tick(gw->sub, now);
    bf_redis_tick(gw->cmd, now);
    bf_owner_tick(gw->owner, now);
    bf_hub_tick(gw->hub, now);
    if (!gw->draining)
        bf_reconcile_tick(gw->reconcile, now,
                          bf_liveness_registered(gw->liveness) && bf_redis_ready(gw->cmd));
    bf_liveness_probe_tick(gw->liveness, now);
    if (now >= gw->next_ping_sweep) {
        /* once a second (lws' own validity pings keep one sorted timer list of every connection,
         * whose insertions cost O(connections) each: a connect storm went quadratic); the pings
         * found due go out over the next second's ticks */
        ping_sweep ps = {gw, now};
        bf_gw_foreach_conn(gw, ping_conn, &ps);
        gw->next_ping_sweep = now + 1000;
    }
    bf_conn_pinger_tick(&gw->pinger);
    if (gw->draining) {
        uint64_t open = bf_gw_open_connections(gw);
        /* leaves must reach the owners before we go, or they would wait for the ghost sweep */
        if ((open == 0 && bf_owner_pending(gw->owner) == 0) || now >= gw->drain_deadline) {
            if (open) bf_warn("drain timeout with %llu connections open", (unsigned long long)open);
            stop(gw);
        }
        return;
    }
    bf_liveness_heartbeat_tick(gw->liveness, now);
}

/* ---- start ------------------------------------------------------------------------------- */

static void lws_log_emit(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n') n--;
    bf_log(level == LLL_ERR    ? BF_LOG_ERROR
           : level == LLL_WARN ? BF_LOG_WARN
                               : BF_LOG_DEBUG,
           "lws: %.*s", (int)n, line);
}

/* rxguard.h found a client breaking RFC 6455's framing (unmasked, an over-long control frame):
 * nothing of that frame reached lws; fail the connection with 1002 as 7.4.1 says. */
static void on_rx_violation(void *conn, const char *reason, void *arg)
{
    (void)arg;
    bf_conn *c = conn;
    bf_debug("connection %llu: %s: closing with 1002", (unsigned long long)c->id, reason);
    bf_conn_close(c, 1002, reason);
}

static void fanout_wanted(bool wanted, void *arg)
{
    bf_fandone_set_wanted(((bf_gateway *)arg)->fandone, wanted);
}

static uint64_t loop_now_ms(void *loop)
{
    return uv_now(loop);
}

static void flush_pending(uv_idle_t *h)
{
    (void)h; /* the work is on_flush's; being active is what matters */
}

/* After each loop iteration's I/O callbacks: everything read from Redis in it is queued, so each
 * connection's frames go out together, and the iteration's connection count changes go to Redis
 * in one call. */
static void on_flush(uv_check_t *h)
{
    bf_gateway *gw = h->data;
    bf_rxguard_dispatch(); /* before the writes: a failed connection's 1002 joins them */
    if (!gw->stopping) bf_conncount_flush(gw->conncount, gw->cmd);
    bool more = bf_conn_batch_flush(&gw->batch, BF_CONN_FLUSH_CHUNK);
    if (!gw->stopping) bf_fandone_flush(gw->fandone);
    if (!gw->stopping)
        bf_backlog_tick(gw->backlog, bf_mono_us(),
                        bf_conn_batch_wait_ms(&gw->batch, uv_now(h->loop)));
    /* while connections wait for their turn, an active idle handle makes the next iteration
     * poll without blocking (it reads what arrived meanwhile, then writes the next chunk) */
    if (more != (bool)uv_is_active((uv_handle_t *)&gw->flush_more)) {
        if (more)
            uv_idle_start(&gw->flush_more, flush_pending);
        else
            uv_idle_stop(&gw->flush_more);
    }
}

int bf_gateway_start(bf_gateway *gw, uv_loop_t *loop, char *err, size_t errlen)
{
    gw->loop = loop;
    bf_conn_batch_init(&gw->batch);
    gw->batch.clock_ms = loop_now_ms;
    gw->batch.clock_arg = loop;
    uint64_t started_wall_ms = bf_wall_ms();
    /* connection ids ("<node id>/<n>") must not repeat across restarts under the same --node-id:
     * presence entries a crashed run left may still be in Redis, and departed ids are remembered
     * (pgone:{channel}). Start from the wall clock in µs: a restart begins past every id the
     * previous run could have used unless it opened more than a million connections a second. */
    gw->next_conn_id = started_wall_ms * 1000;
    uint64_t limit = bf_fdtable_raise_limit();
    uint64_t capacity = limit > 2 * BF_GW_FD_RESERVE ? limit - BF_GW_FD_RESERVE : BF_GW_FD_RESERVE;
    uint64_t max_connections =
        gw->cfg.max_connections ? (uint64_t)gw->cfg.max_connections : capacity;
    if (max_connections > capacity)
        bf_warn("--max-connections %llu exceeds what the open-file limit allows (%llu)",
                (unsigned long long)max_connections, (unsigned long long)capacity);
    uint64_t fd_slots = bf_fdtable_slots(max_connections, limit);
    bf_info("connection capacity %llu (open-file limit allows %llu); libwebsockets' descriptor "
            "table %llu slots",
            (unsigned long long)max_connections, (unsigned long long)capacity,
            (unsigned long long)fd_slots);
    if (!gw->cfg.max_connections && fd_slots > BF_GW_FD_SLOTS_WARN)
        bf_warn("every closed connection costs a scan of libwebsockets' %llu-slot descriptor "
                "table (about 1 ns a slot); set --max-connections to what this gateway should "
                "hold (it sizes the table)",
                (unsigned long long)fd_slots);
    bf_connlimits_opts co = {.max_connections = max_connections,
                             .per_ip = gw->cfg.max_connections_per_ip,
                             .per_user = gw->cfg.max_connections_per_user,
                             .open = open_connections,
                             .arg = gw};
    gw->connlimits = bf_connlimits_new(&co);
    gw->conncount = bf_conncount_new(gw->cfg.redis_prefix, gw->node_id);

    bf_redis_opts ro = {.url = &gw->cfg.redis,
                        .attach = bf_redis_uv_attach,
                        .loop = loop,
                        .arg = gw,
                        .command_timeout_ms = (int)gw->cfg.redis_timeout_ms,
                        .sentinel_timeout_ms = (int)gw->cfg.redis_sentinel_timeout_ms,
                        .cluster_max_redirects = (int)gw->cfg.redis_cluster_max_redirects,
                        .cluster_refresh_ms = (int)gw->cfg.redis_cluster_refresh_ms};
    ro.name = "sub";
    ro.on_ready = sub_ready;
    ro.on_down = sub_down;
    gw->sub = bf_redis_new(&ro);
    ro.name = "cmd";
    ro.on_ready = cmd_ready;
    ro.on_down = cmd_down;
    gw->failover.prefix = gw->cfg.redis_prefix;
    ro.gate = bf_failover_gate;
    ro.gate_arg = &gw->failover;
    gw->cmd = bf_redis_new(&ro);
    bf_redis_pair(gw->sub, gw->cmd);
    bf_conn_limits lim = {(uint32_t)gw->cfg.send_queue_messages, (size_t)gw->cfg.send_queue_bytes};
    /* Pusher socket ids must be unique across the cluster and match ^\d+\.\d+$: a random
     * 48-bit number per process (a collision between two live gateways is ~n^2/2^49) */
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = bf_wall_ms() ^ (uint64_t)getpid();
    snprintf(gw->socket_prefix, sizeof(gw->socket_prefix), "%llu.",
             (unsigned long long)(rnd % 281474976710656ull) + 1);
    bf_fandone_deps fd = {.cmd = gw->cmd,
                          .prefix = gw->cfg.redis_prefix,
                          .node_id = gw->node_id,
                          .min_subs = (size_t)gw->cfg.fanout_report_min_subs};
    gw->fandone = bf_fandone_new(&fd);
    bf_hub_opts ho = {.sub = gw->sub,
                      .cmd = gw->cmd,
                      .fandone = gw->fandone,
                      .prefix = gw->cfg.redis_prefix,
                      .node_id = gw->node_id,
                      .socket_prefix = gw->socket_prefix,
                      .limits = lim,
                      .ready = bf_proto_on_ready,
                      .render = bf_proto_render,
                      .arg = gw};
    gw->hub = bf_hub_new(&ho);
    gw->owner = bf_owner_new(gw->cmd, gw->cfg.redis_prefix, gw->node_id, 30000);
    bf_reconcile_deps rd = {.cmd = gw->cmd,
                            .prefix = gw->cfg.redis_prefix,
                            .node_id = gw->node_id,
                            .owner = gw->owner,
                            .counts = gw->conncount,
                            .src = gw,
                            .foreach_presence = reconcile_presence,
                            .foreach_channel = reconcile_channels,
                            .channel_conns = reconcile_channel_conns};
    gw->reconcile = bf_reconcile_new(&rd, (uint64_t)gw->cfg.presence_reconcile_interval_s * 1000);
    bf_recovery_deps vd = {.cmd = gw->cmd,
                           .prefix = gw->cfg.redis_prefix,
                           .limits = lim,
                           .done = bf_native_on_recovered,
                           .arg = gw};
    gw->recovery = bf_recovery_new(&vd);
    bf_liveness_deps ld = {.sub = gw->sub,
                           .cmd = gw->cmd,
                           .hub = gw->hub,
                           .owner = gw->owner,
                           .prefix = gw->cfg.redis_prefix,
                           .node_id = gw->node_id,
                           .host = gw->cfg.listen.host,
                           .port = gw->cfg.listen.port,
                           .started_wall_ms = started_wall_ms,
                           .probe_ms = (uint64_t)gw->cfg.redis_probe_ms,
                           .probe_timeout_ms = (uint64_t)gw->cfg.redis_probe_timeout_ms,
                           .heartbeat_ms = (uint64_t)gw->cfg.heartbeat_ms,
                           .heartbeat_ttl_ms = gw->cfg.heartbeat_ttl_ms,
                           .connections = open_connections,
                           .fanout_wanted = fanout_wanted,
                           .arg = gw};
    gw->liveness = bf_liveness_new(&ld);
    bf_backlog_deps bd = {.sub = gw->sub,
                          .cmd = gw->cmd,
                          .prefix = gw->cfg.redis_prefix,
                          .node_id = gw->node_id,
                          .limit_ms = (uint64_t)gw->cfg.backlog_limit_ms,
                          .probe_ms = (uint64_t)gw->cfg.backlog_probe_ms,
                          .report_ms = (uint64_t)gw->cfg.backlog_report_ms};
    gw->backlog = bf_backlog_new(&bd);

    memcpy(gw->protocols, bf_gw_protocols, sizeof(gw->protocols));
    gw->protocols[0].rx_buffer_size = (size_t)gw->cfg.rx_buffer_bytes;
    /* lws caps each send() at tx_packet_size, which defaults to rx_buffer_size: with a small
     * receive buffer (idle memory) every frame would go out in 512-byte pieces */
    gw->protocols[0].tx_packet_size = 65536;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    void *foreign[1] = {loop};
    /* we listen ourselves (listener.c): lws gets a vhost that adopts accepted sockets */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = gw->protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.foreign_loops = foreign;
    /* an explicit all-zero policy: no lws validity timers at all (its default policy would
     * still keep one sorted timer per connection); ping_conn() does that job */
    static const lws_retry_bo_t no_validity = {0};
    info.retry_and_idle_policy = &no_validity;
    info.user = gw;
    /* the handshake deadline: lws times out a request that holds its header storage without
     * completing (slowloris) after timeout_secs_ah_idle, other handshake stages after
     * timeout_secs, and idle keep-alive HTTP connections after keepalive_timeout */
    info.timeout_secs = (unsigned int)gw->cfg.handshake_timeout_s;
    info.timeout_secs_ah_idle = (unsigned int)gw->cfg.handshake_timeout_s;
    info.keepalive_timeout = (int)gw->cfg.handshake_timeout_s;
    info.max_http_header_data = 4096;
    bf_rxguard_init((size_t)fd_slots, on_rx_violation, gw);
    gw->lws = bf_fdtable_create_lws(&info, fd_slots);
    struct lws_vhost *vh = gw->lws ? lws_get_vhost_by_name(gw->lws, "default") : NULL;
    if (!vh) {
        snprintf(err, errlen, "cannot initialise libwebsockets (see the lws lines above)");
        return BF_EIO;
    }
    gw->listener = bf_listener_new(loop, vh, &gw->cfg.listen, (int)fd_slots,
                                   bf_connlimits_full_counter(gw->connlimits), err, errlen);
    if (!gw->listener) return BF_EIO;

    uv_check_init(loop, &gw->flush);
    gw->flush.data = gw;
    uv_check_start(&gw->flush, on_flush);
    uv_idle_init(loop, &gw->flush_more);
    uv_timer_init(loop, &gw->tick);
    gw->tick.data = gw;
    uv_timer_start(&gw->tick, on_tick, 0, 100);
    uv_signal_init(loop, &gw->sigint);
    uv_signal_init(loop, &gw->sigterm);
    gw->sigint.data = gw->sigterm.data = gw;
    uv_signal_start(&gw->sigint, on_signal, SIGINT);
    uv_signal_start(&gw->sigterm, on_signal, SIGTERM);
    char where[512]; /* no credentials */
    bf_info("gateway %s listening on %s:%d (%s, prefix %s)", gw->node_id, gw->cfg.listen.host,
            gw->cfg.listen.port, bf_redis_url_describe(&gw->cfg.redis, where, sizeof(where)),
            gw->cfg.redis_prefix);
    return 0;
}

void bf_gateway_deinit(bf_gateway *gw)
{
    bf_rxguard_deinit();
    bf_listener_free(gw->listener);
    gw->listener = NULL;
    if (gw->lws) lws_context_destroy(gw->lws);
    bf_redis_free(gw->sub);
    bf_redis_free(gw->cmd);
    bf_hub_free(gw->hub);
    bf_conn_batch_deinit(&gw->batch);
    bf_fandone_free(gw->fandone); /* after the connections: their queued frames hold tokens */
    gw->fandone = NULL;
    bf_reconcile_free(gw->reconcile);
    gw->reconcile = NULL;
    bf_recovery_free(gw->recovery); /* after the command link: its requests are answered */
    gw->recovery = NULL;
    bf_liveness_free(gw->liveness); /* after both links, like recovery */
    gw->liveness = NULL;
    bf_backlog_free(gw->backlog); /* after both links: a probe reply in flight names it */
    gw->backlog = NULL;
    bf_owner_free(gw->owner);
    bf_connlimits_free(gw->connlimits); /* after the listener, which counts into it */
    gw->connlimits = NULL;
    bf_conncount_free(gw->conncount);
    gw->conncount = NULL;
    gw->owner = NULL;
    gw->lws = NULL;
    gw->sub = gw->cmd = NULL;
    gw->hub = NULL;
}
