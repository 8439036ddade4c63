/* Broadcast mode: subscribers on channels, publishers at a fixed rate or flat out, and delivery,
 * loss and publish-to-receive latency measured at the subscribers.
 *
 * Phases: connect every subscriber; warm up (one message per channel, repeated until every open
 * subscriber has one: only then is the server's subscription surely in place, on Belfry and
 * nchan alike); measure (publish for --duration / --count); drain (until everything expected
 * arrived, or no progress for --drain-timeout-ms). Expected deliveries are counted when a message
 * is sent, as the number of subscribers then open on its channel, and taken back if the publish
 * fails. Flat out keeps at most --window x subs-per-channel deliveries outstanding, so the
 * server is saturated without being pushed into its slow-consumer limits. */
#include "bench.h"
#include "payload.h"
#include "pub.h"
#include "series.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WARM_RESEND_NS 250000000ull
#define MAX_WARM_STEPS 1024

/* The counters a worker sends to the parent (plain data). */
typedef struct bcast_stats {
    uint64_t sent, acked, failed, refused, expected, received, misrouted, reordered, overtaken,
        other;
    uint64_t warm_rx;
    uint64_t cold; /* channels whose warm-up never arrived */
    int last_fail_status;
    uint64_t t0, t_pub_end, t_last_rx;
    bb_hist lat, arr, lag, rtt; /* arr: publish -> kernel arrival (--arrival-latency) */
    /* after_ack: how long after its publisher had the acknowledgement a delivery arrived (0 if
     * before): the delivery lag a server that acknowledges before delivering adds, without the
     * publisher's own queue (a server that acknowledges after delivery has 0) */
    bb_hist after_ack;
} bcast_stats;

typedef struct bcast {
    bb_bench *b;
    bcast_stats st;
    bb_pub **pubs;
    size_t n_pubs, rr;
    char **targets; /* per channel: the HTTP path or Redis channel */
    const char *pre, *post;
    size_t pre_len, post_len;
    char *body;
    size_t body_cap;
    uint32_t *chan_warm;
    uint64_t *warm_sent;
    uint64_t *last_g;     /* per subscriber and publisher connection: the highest _g received */
    uint64_t pause_until; /* flat out: no publishing before this (a refusal's retry delay) */
    uint64_t *ack_ns;     /* per message number: when its publish was acknowledged (0: not yet) */
    size_t ack_cap;
    bb_series *series; /* --series-ms, or NULL */
    bb_hist *ival;     /* --interval: latency since the last INTERVAL line; owned, NULL if off */
    uint64_t ival_next;
} bcast;

/* ---------------------------------------------------------------------------------------------
 * Receiving */

static void on_payload(bb_bench *b, bb_sub *s, const bb_payload *found, uint64_t now)
{
    bcast *m = b->mode;
    bb_payload pl = *found;
    if (pl.c != s->chan || pl.k >= m->n_pubs) {
        m->st.misrouted++;
        return;
    }
    if (pl.g == 0) {
        m->st.warm_rx++;
        if (!s->warm) {
            s->warm = 1;
            m->chan_warm[s->chan]++;
        }
        return;
    }
    m->st.received++;
    /* one publisher connection's messages must arrive in the order it sent them; messages from
     * different connections, in flight at once, may be sequenced either way (only counted) */
    uint64_t *last = &m->last_g[(size_t)(s - b->subs) * m->n_pubs + pl.k];
    if (pl.g <= *last)
        m->st.reordered++;
    else
        *last = pl.g;
    if (pl.g <= s->last_g)
        m->st.overtaken++;
    else
        s->last_g = pl.g;
    if (now > pl.t) {
        bb_hist_record(&m->st.lat, now - pl.t);
        bb_series_record(m->series, now, now - pl.t);
        if (m->ival) bb_hist_record(m->ival, now - pl.t);
    }
    uint64_t acked = pl.g < m->ack_cap ? m->ack_ns[pl.g] : 0;
    bb_hist_record(&m->st.after_ack, acked && now > acked ? now - acked : 0);
    uint64_t arrived = bb_wsctx_arrived(b->wsx);
    if (arrived > pl.t) bb_hist_record(&m->st.arr, arrived - pl.t);
    m->st.t_last_rx = now;
}

static void on_text(bb_bench *b, bb_sub *s, const char *p, size_t len, uint64_t now)
{
    bb_payload pl;
    if (bb_payload_find(p, len, &pl))
        ((bcast *)b->mode)->st.other++;
    else
        on_payload(b, s, &pl, now);
}

/* ---------------------------------------------------------------------------------------------
 * Publishing */

static void on_pub_done(const bb_pub_req *r, int ok, int status, uint64_t now, void *ud)
{
    bcast *m = ud;
    if (r->id == 0) return; /* warm-up: resent until it arrives */
    if (ok) {
        m->st.acked++;
        bb_hist_record(&m->st.rtt, now - r->t_sent);
        if (r->id >= m->ack_cap) {
            size_t cap = m->ack_cap ? m->ack_cap : 65536;
            while (cap <= r->id) cap *= 2;
            uint64_t *a = realloc(m->ack_ns, cap * sizeof(*a));
            if (!a) return; /* not measured for this one */
            memset(a + m->ack_cap, 0, (cap - m->ack_cap) * sizeof(*a));
            m->ack_ns = a;
            m->ack_cap = cap;
        }
        m->ack_ns[r->id] = now;
        return;
    }
    if (status == 503 || status == 429) {
        /* refused (Belfry: 503 overloaded while a gateway is behind): not lost, never to arrive;
         * every publisher connection waits as long as the server asks (at least 1 ms) */
        m->st.refused++;
        m->st.expected -= r->weight;
        uint64_t until = now + (uint64_t)(r->retry_ms ? r->retry_ms : 1) * 1000000ull;
        if (until > m->pause_until) m->pause_until = until;
        return;
    }
    m->st.failed++;
    m->st.expected -= r->weight;
    m->st.last_fail_status = status;
}

/* The index of the next publisher connection (round robin) with room for a request, or -1. */
static int pub_with_room(bcast *m)
{
    for (size_t k = 0; k < m->n_pubs; k++) {
        size_t i = (m->rr + k) % m->n_pubs;
        if (bb_pub_room(m->pubs[i]) > 0) {
            m->rr = (i + 1) % m->n_pubs;
            return (int)i;
        }
    }
    return -1;
}

static int pubs_inflight(const bcast *m)
{
    int n = 0;
    for (size_t k = 0; k < m->n_pubs; k++) n += bb_pub_inflight(m->pubs[k]);
    return n;
}

static void pubs_tick(bcast *m)
{
    for (size_t k = 0; k < m->n_pubs; k++) bb_pub_tick(m->pubs[k]);
}

/* Renders and sends message g (0: warm-up) for channel c on publisher connection k. */
static void publish(bcast *m, int k, uint32_t c, uint64_t g, uint32_t weight)
{
    const bb_config *cfg = m->b->cfg;
    size_t need = m->pre_len + m->post_len + (size_t)cfg->msg_bytes + 128;
    if (need > m->body_cap) {
        char *nb = realloc(m->body, need);
        if (!nb) return;
        m->body = nb;
        m->body_cap = need;
    }
    bb_payload pl = {.t = bb_now_ns(), .g = g, .c = c, .k = (uint32_t)k};
    memcpy(m->body, m->pre, m->pre_len);
    int n = bb_payload_write(m->body + m->pre_len, m->body_cap - m->pre_len - m->post_len,
                             (size_t)cfg->msg_bytes, &pl);
    if (n < 0) return;
    memcpy(m->body + m->pre_len + (size_t)n, m->post, m->post_len);
    bb_pub_req r = {.id = g, .chan = c, .weight = weight};
    bb_pub_send(m->pubs[k], m->targets[c], m->body, m->pre_len + (size_t)n + m->post_len, &r);
}

/* ---------------------------------------------------------------------------------------------
 * Phases */

static size_t cold_channels(const bcast *m)
{
    size_t cold = 0;
    for (size_t c = 0; c < m->b->n_chan; c++) cold += m->chan_warm[c] < m->b->chan_open[c];
    return cold;
}

static uint64_t warm_up(bcast *m)
{
    bb_bench *b = m->b;
    uint64_t start = bb_now_ns(), next_scan = 0;
    uint64_t deadline = start + (uint64_t)b->cfg->warmup_timeout_s * 1000000000ull;
    size_t cursor = 0, cold = b->n_chan;
    while (!bb_stop) {
        uint64_t now = bb_now_ns();
        if (now >= next_scan) {
            cold = cold_channels(m);
            next_scan = now + 50000000ull;
            if (!cold || now > deadline) break;
        }
        int k;
        for (size_t steps = 0;
             steps < MAX_WARM_STEPS && steps < b->n_chan && (k = pub_with_room(m)) >= 0; steps++) {
            size_t c = cursor;
            cursor = (cursor + 1) % b->n_chan;
            if (m->chan_warm[c] >= b->chan_open[c]) continue;
            if (m->warm_sent[c] && now - m->warm_sent[c] < WARM_RESEND_NS) continue;
            m->warm_sent[c] = now;
            publish(m, k, (uint32_t)c, 0, 0);
        }
        bb_bench_poll(b, 1000);
        pubs_tick(m);
    }
    while (pubs_inflight(m) && !bb_stop && bb_now_ns() < deadline + 2000000000ull) {
        bb_bench_poll(b, 1000);
        pubs_tick(m);
    }
    fprintf(stderr, "bench: warm-up %.2f s, %zu channel(s) cold\n",
            (double)(bb_now_ns() - start) / 1e9, cold);
    return cold;
}

/* --interval: one line "INTERVAL {json}" with the counts so far and the latency since the last
 * line, so that a long run (bench/soak.sh) shows how latency and delivery evolve. */
static void interval_line(bcast *m, uint64_t now)
{
    bb_json j;
    bb_json_init(&j);
    bb_json_str(&j, "label", m->b->cfg->label);
    bb_json_num(&j, "t_s", (double)(now - m->st.t0) / 1e9);
    bb_json_int(&j, "sent", (long long)m->st.sent);
    bb_json_int(&j, "published", (long long)m->st.acked);
    bb_json_int(&j, "pub_failed", (long long)m->st.failed);
    bb_json_int(&j, "expected", (long long)m->st.expected);
    bb_json_int(&j, "received", (long long)m->st.received);
    bb_json_int(&j, "misrouted", (long long)m->st.misrouted);
    bb_json_int(&j, "reordered", (long long)m->st.reordered);
    bb_json_int(&j, "open", (long long)m->b->cs.open_now);
    bb_json_int(&j, "closed_by_server", (long long)m->b->cs.closed_by_peer);
    bb_json_hist_us(&j, "latency_us", m->ival);
    printf("INTERVAL %s}\n", j.buf);
    fflush(stdout);
    bb_json_deinit(&j);
    bb_hist_init(m->ival);
}

static void measure(bcast *m)
{
    bb_bench *b = m->b;
    const bb_config *cfg = b->cfg;
    uint64_t window =
        (uint64_t)cfg->window * (uint64_t)(cfg->subs_per_channel ? cfg->subs_per_channel : 1);
    uint64_t dur = (uint64_t)cfg->duration_s * 1000000000ull;
    uint64_t drain = (uint64_t)cfg->drain_timeout_ms * 1000000ull;
    uint64_t count = (uint64_t)cfg->count;
    int publishing = 1;
    bb_bench_sample(b, 0);
    m->st.t0 = m->st.t_last_rx = bb_now_ns();
    uint64_t ival = (uint64_t)cfg->interval_s * 1000000000ull;
    if (m->ival) {
        bb_hist_init(m->ival);
        m->ival_next = m->st.t0 + ival;
    }
    bb_series_start(m->series, m->st.t0);
    while (!bb_stop) {
        uint64_t now = bb_now_ns();
        if (m->ival && publishing && now >= m->ival_next) {
            interval_line(m, now);
            m->ival_next += ival;
        }
        if (publishing && ((dur && now - m->st.t0 >= dur) || (count && m->st.sent >= count))) {
            publishing = 0;
            m->st.t_pub_end = now;
        }
        if (publishing) {
            int k;
            /* flat out after a refusal: wait the delay the server asked for */
            bool paused = !cfg->rate && now < m->pause_until;
            while (!paused && (!count || m->st.sent < count) && (k = pub_with_room(m)) >= 0) {
                uint32_t c = (uint32_t)(m->st.sent % b->n_chan);
                if (cfg->rate) {
                    uint64_t due = m->st.t0 + m->st.sent * 1000000000ull / (uint64_t)cfg->rate;
                    if (due > now) break;
                    bb_hist_record(&m->st.lag, now - due);
                } else {
                    uint64_t out =
                        m->st.expected > m->st.received ? m->st.expected - m->st.received : 0;
                    if (out && out + b->chan_open[c] > window) break;
                }
                m->st.sent++;
                m->st.expected += b->chan_open[c];
                publish(m, k, c, m->st.sent, b->chan_open[c]);
            }
        } else {
            uint64_t last = m->st.t_last_rx > m->st.t_pub_end ? m->st.t_last_rx : m->st.t_pub_end;
            if (!pubs_inflight(m) && m->st.received >= m->st.expected) break;
            if (now - last > drain) break;
        }
        uint64_t timeout_us = 1000;
        if (publishing && cfg->rate) {
            uint64_t due = m->st.t0 + m->st.sent * 1000000000ull / (uint64_t)cfg->rate;
            now = bb_now_ns();
            timeout_us = due <= now ? 0 : (due - now) / 1000 < 1000 ? (due - now) / 1000 : 1000;
        }
        bb_bench_poll(b, timeout_us);
        pubs_tick(m);
    }
    if (!m->st.t_pub_end) m->st.t_pub_end = bb_now_ns();
    bb_bench_sample(b, 1);
    bb_series_print(m->series, stderr);
}

/* ---------------------------------------------------------------------------------------------
 * Set-up and report */

static int setup(bcast *m, bb_bench *b, char *err, size_t errlen)
{
    const bb_config *cfg = b->cfg;
    m->b = b;
    bb_hist_init(&m->st.lat);
    bb_hist_init(&m->st.arr);
    bb_hist_init(&m->st.lag);
    bb_hist_init(&m->st.rtt);
    bb_hist_init(&m->st.after_ack);
    bb_url pu;
    if (bb_url_parse(cfg->pub_url, &pu, err, errlen)) return -1;
    if (pu.scheme == BB_URL_WS) {
        snprintf(err, errlen, "--pub-url: http:// or redis:// expected");
        return -1;
    }
    const char *ph = strstr(cfg->pub_body, "{payload}");
    if (!ph) {
        snprintf(err, errlen, "--pub-body must contain {payload}");
        return -1;
    }
    m->pre = cfg->pub_body;
    m->pre_len = (size_t)(ph - cfg->pub_body);
    m->post = ph + 9;
    m->post_len = strlen(m->post);
    m->n_pubs = (size_t)cfg->pub_conns;
    m->pubs = calloc(m->n_pubs, sizeof(*m->pubs));
    m->targets = calloc(b->n_chan, sizeof(*m->targets));
    m->chan_warm = calloc(b->n_chan, sizeof(*m->chan_warm));
    m->warm_sent = calloc(b->n_chan, sizeof(*m->warm_sent));
    m->last_g = calloc(b->n_subs * m->n_pubs, sizeof(*m->last_g));
    m->series = bb_series_new((uint64_t)cfg->series_ms);
    if (!m->pubs || !m->targets || !m->chan_warm || !m->warm_sent || !m->last_g) goto oom;
    if (cfg->interval_s > 0 && cfg->procs <= 1 && !(m->ival = malloc(sizeof(*m->ival)))) goto oom;
    for (size_t c = 0; c < b->n_chan; c++) {
        char t[2048];
        if (bb_tmpl_expand(pu.path, t, sizeof(t), b->chan_names[c], NULL, NULL) < 0) {
            snprintf(err, errlen, "--pub-url: path too long");
            return -1;
        }
        if (!(m->targets[c] = strdup(t))) goto oom;
    }
    for (size_t k = 0; k < m->n_pubs; k++) {
        m->pubs[k] = bb_pub_new(b->loop, &pu, (int)cfg->pub_pipeline, cfg->api_key, on_pub_done, m);
        if (!m->pubs[k]) goto oom;
        int rc = bb_pub_tick(m->pubs[k]);
        if (rc < 0) {
            snprintf(err, errlen, "--pub-url %s: cannot connect: %s", cfg->pub_url, strerror(-rc));
            return -1;
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

static void teardown(bcast *m)
{
    for (size_t k = 0; k < m->n_pubs && m->pubs; k++) bb_pub_free(m->pubs[k]);
    for (size_t c = 0; c < m->b->n_chan && m->targets; c++) free(m->targets[c]);
    free(m->pubs);
    free(m->targets);
    free(m->chan_warm);
    free(m->last_g);
    free(m->ack_ns);
    bb_series_free(m->series);
    free(m->warm_sent);
    free(m->body);
    free(m->ival);
}

static void merge(bcast_stats *d, const bcast_stats *s)
{
    d->sent += s->sent;
    d->acked += s->acked;
    d->failed += s->failed;
    d->refused += s->refused;
    d->expected += s->expected;
    d->received += s->received;
    d->misrouted += s->misrouted;
    d->reordered += s->reordered;
    d->overtaken += s->overtaken;
    d->other += s->other;
    d->warm_rx += s->warm_rx;
    d->cold += s->cold;
    if (s->last_fail_status) d->last_fail_status = s->last_fail_status;
    if (!d->t0 || (s->t0 && s->t0 < d->t0)) d->t0 = s->t0;
    if (s->t_pub_end > d->t_pub_end) d->t_pub_end = s->t_pub_end;
    if (s->t_last_rx > d->t_last_rx) d->t_last_rx = s->t_last_rx;
    bb_hist_merge(&d->lat, &s->lat);
    bb_hist_merge(&d->arr, &s->arr);
    bb_hist_merge(&d->lag, &s->lag);
    bb_hist_merge(&d->rtt, &s->rtt);
    bb_hist_merge(&d->after_ack, &s->after_ack);
}

/* Prints the table and the RESULT line for st (one process's, or the workers' merged). */
static int report(bb_bench *b, const bcast_stats *st, double meas_s)
{
    const bb_config *cfg = b->cfg;
    double deliv_s = st->t_last_rx > st->t0 ? (double)(st->t_last_rx - st->t0) / 1e9 : 0;
    double pub_s = st->t_pub_end > st->t0 ? (double)(st->t_pub_end - st->t0) / 1e9 : 0;
    long long lost = (long long)st->expected - (long long)st->received;
    double srv = bb_bench_server_cpu(b), self = b->cs.self_cpu;
    double per_s = deliv_s > 0 ? (double)st->received / deliv_s : 0;

    printf("belfry-bench broadcast  %s  target=%s\n", cfg->label, cfg->target);
    bb_report_section("messages");
    bb_report_row("published / failed", "%llu / %llu (last failure status %d)",
                  (unsigned long long)st->acked, (unsigned long long)st->failed,
                  st->last_fail_status);
    if (st->refused)
        bb_report_row("refused (503/429, retried later)", "%llu", (unsigned long long)st->refused);
    bb_report_row("publish rate", "%.0f/s (%s)", pub_s > 0 ? (double)st->acked / pub_s : 0,
                  cfg->rate ? "fixed rate" : "flat out");
    bb_report_row("expected / received", "%llu / %llu", (unsigned long long)st->expected,
                  (unsigned long long)st->received);
    bb_report_row("lost", "%lld%s", lost, lost ? "  <-- LOSS" : "");
    bb_report_row("misrouted / reordered", "%llu / %llu", (unsigned long long)st->misrouted,
                  (unsigned long long)st->reordered);
    bb_report_row("overtaken (other publisher)", "%llu", (unsigned long long)st->overtaken);
    bb_report_row("delivered", "%.0f msgs/s over %.2f s", per_s, deliv_s);
    bb_report_hist_us("latency publish->receive", &st->lat);
    bb_report_hist_us("delivery after the ack", &st->after_ack);
    if (cfg->arrival_latency) bb_report_hist_us("latency publish->socket arrival", &st->arr);
    bb_report_hist_us("publish request round trip", &st->rtt);
    if (cfg->rate) bb_report_hist_us("publisher behind schedule", &st->lag);
    if (b->n_procs && st->received)
        bb_report_row("server CPU per delivered msg", "%.3f us", srv * 1e6 / (double)st->received);
    if (st->received)
        bb_report_row("bench CPU per delivered msg", "%.3f us", self * 1e6 / (double)st->received);

    bb_json j;
    bb_json_init(&j);
    bb_bench_report(b, &j, meas_s);
    bb_json_int(&j, "subs_per_channel", cfg->subs_per_channel);
    bb_json_int(&j, "msg_bytes", cfg->msg_bytes);
    bb_json_int(&j, "rate_target", cfg->rate);
    bb_json_int(&j, "window", cfg->window);
    bb_json_str(&j, "publish_via", strncmp(cfg->pub_url, "redis:", 6) ? "http" : "redis");
    bb_json_int(&j, "pub_conns", cfg->pub_conns);
    bb_json_int(&j, "warmup_cold_channels", (long long)st->cold);
    bb_json_int(&j, "published", (long long)st->acked);
    bb_json_int(&j, "pub_failed", (long long)st->failed);
    bb_json_int(&j, "pub_refused", (long long)st->refused);
    bb_json_num(&j, "pub_per_s", pub_s > 0 ? (double)st->acked / pub_s : 0);
    bb_json_int(&j, "expected", (long long)st->expected);
    bb_json_int(&j, "received", (long long)st->received);
    bb_json_int(&j, "lost", lost);
    bb_json_int(&j, "misrouted", (long long)st->misrouted);
    bb_json_int(&j, "reordered", (long long)st->reordered);
    bb_json_int(&j, "overtaken", (long long)st->overtaken);
    bb_json_int(&j, "other_frames", (long long)st->other);
    bb_json_num(&j, "delivered_per_s", per_s);
    bb_json_num(&j, "delivery_s", deliv_s);
    bb_json_hist_us(&j, "latency_us", &st->lat);
    if (cfg->arrival_latency) bb_json_hist_us(&j, "arrival_latency_us", &st->arr);
    bb_json_hist_us(&j, "pub_rtt_us", &st->rtt);
    bb_json_hist_us(&j, "after_ack_us", &st->after_ack);
    bb_json_hist_us(&j, "pub_lag_us", &st->lag);
    bb_json_num(&j, "server_cpu_us_per_msg",
                b->n_procs && st->received ? srv * 1e6 / (double)st->received : -1);
    bb_json_num(&j, "bench_cpu_us_per_msg", st->received ? self * 1e6 / (double)st->received : -1);
    bb_report_result(&j);
    bb_json_deinit(&j);

    int bad = lost != 0 || st->failed || st->misrouted || st->reordered || b->cs.failed ||
              st->cold || b->cs.closed_by_peer || !st->acked;
    return bad ? 1 : 0;
}

/* One process's whole run; a worker reports to the parent instead of printing. */
static int run(const bb_config *cfg)
{
    bb_bench b;
    bcast m = {0};
    char err[256];
    static const bb_hooks hooks = {NULL, on_text, on_payload, NULL};
    size_t n = (size_t)(cfg->channels * cfg->subs_per_channel);
    if (bb_bench_init(&b, cfg, n, &hooks, err, sizeof(err)) || setup(&m, &b, err, sizeof(err))) {
        fprintf(stderr, "belfry-bench: %s\n", err);
        if (m.b) teardown(&m);
        bb_bench_deinit(&b);
        return 2;
    }
    b.mode = &m;
    bb_bench_connect_range(&b, 0, n, NULL);
    fprintf(stderr, "bench%s: %llu connected, %llu failed\n", bb_self.count ? " worker" : "",
            (unsigned long long)b.cs.ok, (unsigned long long)b.cs.failed);
    m.st.cold = warm_up(&m);
    int rc = 0;
    if (bb_worker_barrier(&b) == 0) {
        measure(&m);
        if (bb_self.count) {
            if (bb_worker_send(&b.cs, sizeof(b.cs)) || bb_worker_send(&m.st, sizeof(m.st))) rc = 2;
            bb_worker_barrier(&b); /* hold the connections until the parent has sampled */
        } else {
            rc = report(&b, &m.st, (double)(bb_now_ns() - m.st.t0) / 1e9);
        }
    } else {
        rc = 2;
    }
    teardown(&m);
    bb_bench_deinit(&b);
    return rc;
}

/* The parent of --procs workers: samples the servers around the workers' measured phase. */
static int parent(const bb_config *cfg)
{
    bb_workers w;
    bb_config slice;
    int k = bb_workers_fork(&w, cfg, &slice);
    if (k >= 0) exit(run(&slice));
    bb_bench b;
    char err[256];
    static const bb_hooks hooks = {0};
    if (k == -2 || bb_bench_init(&b, cfg, 0, &hooks, err, sizeof(err))) {
        fprintf(stderr, "belfry-bench: %s\n", k == -2 ? "fork failed" : err);
        return 2;
    }
    b.planned = (size_t)(cfg->channels * cfg->subs_per_channel);
    bcast_stats all;
    memset(&all, 0, sizeof(all));
    bb_hist_init(&all.lat);
    bb_hist_init(&all.arr);
    bb_hist_init(&all.lag);
    bb_hist_init(&all.rtt);
    bb_hist_init(&all.after_ack);
    int rc = 2;
    if (bb_workers_gather(&w, (int)cfg->watchdog_s) == 0) {
        bb_bench_sample(&b, 0);
        uint64_t t0 = bb_now_ns();
        bb_workers_release(&w);
        int ok = 1;
        for (int i = 0; i < w.n && ok; i++) {
            bb_common_stats cs;
            bcast_stats st;
            if (bb_workers_recv(&w, i, &cs, sizeof(cs)) || bb_workers_recv(&w, i, &st, sizeof(st)))
                ok = 0;
            else
                bb_common_merge(&b.cs, &cs), merge(&all, &st);
        }
        double self = b.cs.self_cpu;
        bb_bench_sample(&b, 1);
        b.cs.self_cpu = self; /* the workers' CPU; the parent only waited */
        bb_workers_gather(&w, 10);
        bb_workers_release(&w);
        if (ok) rc = report(&b, &all, (double)(bb_now_ns() - t0) / 1e9);
    }
    int wrc = bb_workers_reap(&w);
    bb_bench_deinit(&b);
    return rc ? rc : wrc;
}

int bb_mode_broadcast(const bb_config *cfg)
{
    return cfg->procs > 1 ? parent(cfg) : run(cfg);
}
