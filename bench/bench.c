#include "bench.h"
#include "pusher.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t bb_stop;

#define SWEEP_NS 100000000ull /* timeouts are checked every 100 ms */
#define CLOSE_TIMEOUT_NS 5000000000ull

/* ---------------------------------------------------------------------------------------------
 * Callbacks from the WebSocket layer: the common accounting, then the mode's hook */

/* The connection is usable: counted as open, on its channel, and handed to the mode. */
static void count_open(bb_bench *b, bb_sub *s, uint64_t now)
{
    b->cs.pending--;
    b->cs.ok++;
    b->cs.t_last_open = now;
    b->cs.open_now++;
    b->chan_open[s->chan]++;
    if (b->hooks.on_open) b->hooks.on_open(b, s, now);
}

static void on_open(bb_ws *ws, uint64_t now, void *ud)
{
    bb_bench *b = ud;
    if (b->pusher) return; /* open once subscribed (pusher_text) */
    count_open(b, (bb_sub *)ws, now);
}

static void note_failure(bb_bench *b, const char *what, const char *p, size_t len)
{
    if (!b->cs.first_failure[0])
        snprintf(b->cs.first_failure, sizeof(b->cs.first_failure), "%s: %.*s", what,
                 (int)(len > 120 ? 120 : len), p);
}

/* Subscribes s to its channel and the channels-per-conn - 1 after it. */
static void pusher_subscribe(bb_bench *b, bb_sub *s)
{
    for (long long j = 0; j < b->cfg->channels_per_conn; j++) {
        char f[512];
        size_t c = (s->chan + (size_t)j) % b->n_chan;
        int n = bb_pusher_subscribe_frame(f, sizeof(f), b->chan_names[c]);
        if (n < 0 || bb_ws_send(&s->ws, 1, f, (size_t)n)) {
            note_failure(b, "pusher:subscribe not sent", b->chan_names[c],
                         strlen(b->chan_names[c]));
            bb_ws_close(&s->ws, 1000, bb_now_ns());
            return;
        }
    }
}

/* A Pusher frame: the handshake before the connection counts as open, pings, and events, whose
 * decoded data goes to the mode. */
static void pusher_data(bb_bench *b, bb_sub *s, const char *p, size_t len, const char *d,
                        size_t dlen, uint64_t now)
{
    if (dlen > b->pbuf_cap) { /* decoding never lengthens a JSON string */
        char *nb = realloc(b->pbuf, dlen);
        if (!nb) return;
        b->pbuf = nb;
        b->pbuf_cap = dlen;
    }
    long n = bb_pusher_unescape(d, dlen, b->pbuf, b->pbuf_cap);
    if (n >= 0)
        b->hooks.on_text(b, s, b->pbuf, (size_t)n, now);
    else
        b->hooks.on_text(b, s, p, len, now); /* the mode counts it as other */
}

static void pusher_text(bb_bench *b, bb_sub *s, const char *p, size_t len, uint64_t now)
{
    bb_pusher_frame f;
    const char *d;
    size_t dlen;
    if (s->ready && b->hooks.on_text && !bb_pusher_event_data(p, len, &d, &dlen)) {
        bb_payload pl;
        if (b->hooks.on_payload && !bb_pusher_payload_escaped(d, dlen, &pl))
            b->hooks.on_payload(b, s, &pl, now);
        else
            pusher_data(b, s, p, len, d, dlen, now);
        return;
    }
    if (bb_pusher_parse(p, len, &f)) {
        if (!s->ready) {
            note_failure(b, "not a Pusher frame", p, len);
            bb_ws_close(&s->ws, 1000, now);
        } else if (b->hooks.on_text) {
            b->hooks.on_text(b, s, p, len, now); /* the mode counts it as other */
        }
        return;
    }
    if (f.event_len > 7 && !memcmp(f.event, "pusher", 6)) {
        if (bb_pusher_event_is(&f, "pusher:ping")) {
            static const char pong[] = "{\"event\":\"pusher:pong\",\"data\":{}}";
            bb_ws_send(&s->ws, 1, pong, sizeof(pong) - 1);
        } else if (!s->ready && bb_pusher_event_is(&f, "pusher:connection_established")) {
            pusher_subscribe(b, s);
        } else if (!s->ready && bb_pusher_event_is(&f, "pusher_internal:subscription_succeeded")) {
            if (++s->psubs == b->cfg->channels_per_conn) {
                s->ready = 1;
                count_open(b, s, now);
            }
        } else if (!s->ready) {
            note_failure(b, "refused", p, len); /* pusher:error, pusher:subscription_error */
            bb_ws_close(&s->ws, 1000, now);
        } else {
            b->pusher_control++;
        }
        return;
    }
    if (!s->ready || !b->hooks.on_text) return;
    if (f.data && f.data_is_string)
        pusher_data(b, s, p, len, f.data, f.data_len, now);
    else
        b->hooks.on_text(b, s, p, len, now);
}

static void on_text(bb_ws *ws, const char *p, size_t len, uint64_t now, void *ud)
{
    bb_bench *b = ud;
    if (b->pusher)
        pusher_text(b, (bb_sub *)ws, p, len, now);
    else if (b->hooks.on_text)
        b->hooks.on_text(b, (bb_sub *)ws, p, len, now);
}

static void on_close(bb_ws *ws, bb_ws_end why, bb_ws_state prev, void *ud)
{
    bb_bench *b = ud;
    bb_sub *s = (bb_sub *)ws;
    /* a Pusher connection that never finished subscribing is a failed connect, for the mode too */
    if (b->pusher && !s->ready && (prev == BB_WS_OPEN || prev == BB_WS_CLOSING))
        prev = BB_WS_HANDSHAKE;
    if (prev == BB_WS_CONNECTING || prev == BB_WS_HANDSHAKE) {
        b->cs.pending--;
        b->cs.failed++;
        if (why == BB_WS_END_TIMEOUT)
            b->cs.fail_timeout++;
        else if (why == BB_WS_END_HANDSHAKE || b->pusher)
            b->cs.fail_handshake++;
        else
            b->cs.fail_connect++;
    } else {
        b->cs.open_now--;
        b->chan_open[s->chan]--;
        if (why == BB_WS_END_PEER) {
            b->cs.closed_by_peer++;
            b->cs.last_close_code = ws->close_code;
        } else if (why == BB_WS_END_ERROR) {
            b->cs.conn_errors++;
        }
    }
    s->ready = 0;
    s->psubs = 0;
    if (b->hooks.on_close) b->hooks.on_close(b, s, why, prev);
}

/* ---------------------------------------------------------------------------------------------
 * Set-up */

int bb_bench_init(bb_bench *b, const bb_config *cfg, size_t n_subs, const bb_hooks *hooks,
                  char *err, size_t errlen)
{
    memset(b, 0, sizeof(*b));
    b->cfg = cfg;
    b->hooks = *hooks;
    b->planned = n_subs;
    b->pusher = !strcmp(cfg->protocol, "pusher");
    b->sub_urls = bb_url_parse_list(cfg->sub_url, &b->n_sub_urls, err, errlen);
    if (!b->sub_urls) return -1;
    for (size_t k = 0; k < b->n_sub_urls; k++)
        if (b->sub_urls[k].scheme != BB_URL_WS) {
            snprintf(err, errlen, "--sub-url: ws:// URLs expected");
            return -1;
        }
    b->procs = bb_proc_parse_list(cfg->pids, &b->n_procs, err, errlen);
    if (!b->procs && cfg->pids && *cfg->pids) return -1;
    b->n_src = (size_t)cfg->source_addrs;
    b->src = calloc(b->n_src, sizeof(*b->src));
    b->n_chan = (size_t)cfg->channels;
    b->chan_names = calloc(b->n_chan, sizeof(char *));
    b->chan_open = calloc(b->n_chan, sizeof(uint32_t));
    b->n_subs = n_subs;
    b->subs = calloc(n_subs ? n_subs : 1, sizeof(bb_sub));
    b->loop = bb_loop_new();
    static const bb_ws_ops ops = {on_open, on_text, on_close};
    b->wsx = b->loop ? bb_wsctx_new(b->loop, &ops, b) : NULL;
    if (b->wsx) bb_wsctx_stamp_arrivals(b->wsx, (int)cfg->arrival_latency);
    if (!b->src || !b->chan_names || !b->chan_open || !b->subs || !b->wsx) {
        snprintf(err, errlen, "out of memory or no epoll: %s", strerror(errno));
        return -1;
    }
    for (size_t k = 0; k < b->n_src; k++) {
        b->src[k].sin_family = AF_INET;
        b->src[k].sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)k);
    }
    for (size_t c = 0; c < b->n_chan; c++) {
        char idx[24], name[256];
        snprintf(idx, sizeof(idx), "%lld", (long long)c + cfg->channel_offset);
        if (bb_tmpl_expand(cfg->channel_name, name, sizeof(name), NULL, NULL, idx) < 0 ||
            !(b->chan_names[c] = strdup(name))) {
            snprintf(err, errlen, "--channel-name: too long or out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < n_subs; i++) {
        bb_ws_init(&b->subs[i].ws);
        b->subs[i].chan = (uint32_t)(i % b->n_chan);
    }
    return 0;
}

void bb_bench_deinit(bb_bench *b)
{
    for (size_t i = 0; i < b->n_subs && b->subs; i++) bb_ws_abort(&b->subs[i].ws, BB_WS_END_LOCAL);
    for (size_t c = 0; c < b->n_chan && b->chan_names; c++) free(b->chan_names[c]);
    free(b->chan_names);
    free(b->chan_open);
    free(b->subs);
    free(b->src);
    free(b->sub_urls);
    free(b->procs);
    free(b->pbuf);
    bb_wsctx_free(b->wsx);
    bb_loop_free(b->loop);
    memset(b, 0, sizeof(*b));
}

/* ---------------------------------------------------------------------------------------------
 * Connecting */

int bb_bench_start(bb_bench *b, size_t i, const char *user, uint64_t now)
{
    bb_sub *s = &b->subs[i];
    const bb_url *u = &b->sub_urls[i % b->n_sub_urls];
    char path[2048];
    if (bb_tmpl_expand(u->path, path, sizeof(path), b->chan_names[s->chan], user, NULL) < 0)
        snprintf(path, sizeof(path), "/too-long");
    if (!b->cs.started) b->cs.t_first = now;
    b->cs.started++;
    int rc = bb_ws_connect(b->wsx, &s->ws, &b->src[i % b->n_src], &u->addr, u->host_hdr, path, now);
    if (rc < 0) {
        b->cs.failed++;
        b->cs.fail_socket++;
        b->cs.last_errno = -rc;
        return -1;
    }
    b->cs.pending++;
    return 0;
}

static void sweep(bb_bench *b, uint64_t now)
{
    uint64_t ct = (uint64_t)b->cfg->connect_timeout_ms * 1000000ull;
    for (size_t i = 0; i < b->n_subs; i++) {
        bb_ws *ws = &b->subs[i].ws;
        if ((ws->state == BB_WS_CONNECTING || ws->state == BB_WS_HANDSHAKE) &&
            now - ws->t_state > ct)
            bb_ws_abort(ws, BB_WS_END_TIMEOUT);
        else if (b->pusher && ws->state == BB_WS_OPEN && !b->subs[i].ready &&
                 now - ws->t_state > ct) /* opened, but not subscribed in time */
            bb_ws_abort(ws, BB_WS_END_TIMEOUT);
        else if (ws->state == BB_WS_CLOSING && now - ws->t_state > CLOSE_TIMEOUT_NS)
            bb_ws_abort(ws, BB_WS_END_LOCAL);
    }
}

void bb_bench_poll(bb_bench *b, uint64_t timeout_us)
{
    static uint64_t last_sweep;
    bb_loop_poll(b->loop, timeout_us);
    uint64_t now = bb_now_ns();
    if (now - last_sweep > SWEEP_NS) {
        last_sweep = now;
        sweep(b, now);
    }
}

void bb_bench_connect_range(bb_bench *b, size_t from, size_t to,
                            const char *(*user_of)(bb_bench *b, size_t i))
{
    const bb_config *cfg = b->cfg;
    uint64_t t0 = bb_now_ns();
    size_t next = from;
    uint64_t last_progress = t0, progress_mark = 0;
    while ((next < to || b->cs.pending) && !bb_stop) {
        uint64_t now = bb_now_ns();
        uint64_t allowed = to - from;
        if (cfg->connect_rate > 0)
            allowed = (now - t0) * (uint64_t)cfg->connect_rate / 1000000000ull + 1;
        while (next < to && next - from < allowed &&
               b->cs.pending < (uint64_t)cfg->connect_concurrency)
            bb_bench_start(b, next, user_of ? user_of(b, next) : NULL, now), next++;
        bb_bench_poll(b, next < to ? 1000 : 10000);
        if (b->cs.ok + b->cs.failed != progress_mark) {
            progress_mark = b->cs.ok + b->cs.failed;
            if (now - last_progress > 2000000000ull) {
                fprintf(stderr, "bench: %llu/%zu connected, %llu failed\n",
                        (unsigned long long)b->cs.ok, to - from, (unsigned long long)b->cs.failed);
                last_progress = now;
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Measuring and reporting */

void bb_bench_sample(bb_bench *b, int which)
{
    bb_proc_sample(b->procs, b->n_procs, which);
    if (!which) {
        b->self_cpu0 = bb_self_cpu_s();
        return;
    }
    b->cs.self_cpu = bb_self_cpu_s() - b->self_cpu0;
    if (b->wsx && !b->cs.first_failure[0])
        snprintf(b->cs.first_failure, sizeof(b->cs.first_failure), "%s",
                 bb_wsctx_first_failure(b->wsx));
}

void bb_common_merge(bb_common_stats *d, const bb_common_stats *s)
{
    d->started += s->started;
    d->ok += s->ok;
    d->failed += s->failed;
    d->pending += s->pending;
    d->fail_socket += s->fail_socket;
    d->fail_connect += s->fail_connect;
    d->fail_handshake += s->fail_handshake;
    d->fail_timeout += s->fail_timeout;
    if (s->last_errno) d->last_errno = s->last_errno;
    if (s->last_close_code) d->last_close_code = s->last_close_code;
    if (s->t_first && (!d->t_first || s->t_first < d->t_first)) d->t_first = s->t_first;
    if (s->t_last_open > d->t_last_open) d->t_last_open = s->t_last_open;
    d->open_now += s->open_now;
    d->closed_by_peer += s->closed_by_peer;
    d->conn_errors += s->conn_errors;
    d->self_cpu += s->self_cpu;
    if (!d->first_failure[0]) memcpy(d->first_failure, s->first_failure, sizeof(d->first_failure));
}

double bb_bench_server_cpu(const bb_bench *b)
{
    double sum = 0;
    for (size_t k = 0; k < b->n_procs; k++)
        if (b->procs[k].cpu0 >= 0 && b->procs[k].cpu1 >= 0)
            sum += b->procs[k].cpu1 - b->procs[k].cpu0;
    return sum;
}

void bb_bench_report(bb_bench *b, bb_json *j, double measured_s)
{
    const bb_config *cfg = b->cfg;
    double la[3];
    bb_loadavg(la);
    double conn_s =
        b->cs.t_last_open > b->cs.t_first ? (double)(b->cs.t_last_open - b->cs.t_first) / 1e9 : 0;
    double self_cpu = b->cs.self_cpu;

    bb_json_str(j, "label", cfg->label);
    bb_json_str(j, "target", cfg->target);
    bb_json_str(j, "mode", cfg->mode);
    bb_json_str(j, "protocol", cfg->protocol);
    bb_json_int(j, "channels_per_conn", cfg->channels_per_conn);
    if (b->pusher) bb_json_int(j, "pusher_control_frames", (long long)b->pusher_control);
    bb_json_int(j, "connections", (long long)b->planned);
    bb_json_int(j, "procs", cfg->procs);
    bb_json_int(j, "channels", (long long)b->n_chan);
    bb_json_int(j, "sub_urls", (long long)b->n_sub_urls);
    bb_json_obj(j, "connect");
    bb_json_int(j, "ok", (long long)b->cs.ok);
    bb_json_int(j, "failed", (long long)b->cs.failed);
    bb_json_int(j, "fail_socket", (long long)b->cs.fail_socket);
    bb_json_int(j, "fail_connect", (long long)b->cs.fail_connect);
    bb_json_int(j, "fail_handshake", (long long)b->cs.fail_handshake);
    bb_json_int(j, "fail_timeout", (long long)b->cs.fail_timeout);
    bb_json_num(j, "secs", conn_s);
    bb_json_num(j, "per_s", conn_s > 0 ? (double)b->cs.ok / conn_s : 0);
    bb_json_str(j, "first_failure", b->cs.first_failure);
    bb_json_end(j);
    bb_json_int(j, "closed_by_server", (long long)b->cs.closed_by_peer);
    bb_json_int(j, "last_close_code", b->cs.last_close_code);
    bb_json_int(j, "conn_errors", (long long)b->cs.conn_errors);
    bb_json_num(j, "measured_s", measured_s);
    bb_json_num(j, "bench_cpu_s", self_cpu);
    bb_json_num(j, "bench_cpu_pct", measured_s > 0 ? 100.0 * self_cpu / measured_s : 0);
    bb_json_arr(j, "servers");
    for (size_t k = 0; k < b->n_procs; k++) {
        const bb_proc *p = &b->procs[k];
        bb_json_obj(j, NULL);
        bb_json_str(j, "name", p->name);
        bb_json_int(j, "pid", p->pid);
        bb_json_num(j, "cpu_s", p->cpu1 >= 0 && p->cpu0 >= 0 ? p->cpu1 - p->cpu0 : -1);
        bb_json_int(j, "rss_kib_before", p->rss0_kib);
        bb_json_int(j, "rss_kib_after", p->rss1_kib);
        bb_json_end(j);
    }
    bb_json_end(j);
    bb_json_num(j, "server_cpu_s", bb_bench_server_cpu(b));
    bb_json_arr(j, "loadavg");
    for (int k = 0; k < 3; k++) bb_json_num(j, NULL, la[k]);
    bb_json_end(j);

    bb_report_section("connections");
    bb_report_row("opened / failed", "%llu / %llu (of %zu)", (unsigned long long)b->cs.ok,
                  (unsigned long long)b->cs.failed, b->planned);
    if (b->cs.failed)
        bb_report_row("failures",
                      "socket %llu (last errno %d), connect %llu, handshake %llu, "
                      "timeout %llu",
                      (unsigned long long)b->cs.fail_socket, b->cs.last_errno,
                      (unsigned long long)b->cs.fail_connect,
                      (unsigned long long)b->cs.fail_handshake,
                      (unsigned long long)b->cs.fail_timeout);
    if (b->cs.first_failure[0]) bb_report_row("first refused upgrade", "%s", b->cs.first_failure);
    bb_report_row("connect rate", "%.0f/s over %.2f s", conn_s > 0 ? (double)b->cs.ok / conn_s : 0,
                  conn_s);
    bb_report_row("closed by server", "%llu (last code %u)",
                  (unsigned long long)b->cs.closed_by_peer, b->cs.last_close_code);
    bb_report_section("cpu");
    bb_report_row(cfg->procs > 1 ? "bench (all workers)" : "bench",
                  "%.2f s = %.0f%% of one core over %.2f s%s", self_cpu,
                  measured_s > 0 ? 100.0 * self_cpu / measured_s : 0, measured_s,
                  measured_s > 0 && self_cpu / measured_s > 0.9
                      ? "  <-- the load generator is saturated"
                      : "");
    for (size_t k = 0; k < b->n_procs; k++) {
        const bb_proc *p = &b->procs[k];
        char label[64];
        snprintf(label, sizeof(label), "%s (pid %d)", p->name, p->pid);
        bb_report_row(label, "cpu %.2f s, rss %ld -> %ld KiB", p->cpu1 - p->cpu0, p->rss0_kib,
                      p->rss1_kib);
    }
    bb_report_row("load average", "%.2f %.2f %.2f", la[0], la[1], la[2]);
}
