/* belfry-soak-load: the two parts of the soak's mixed load (bench/soak.sh) that belfry-bench's
 * modes do not cover, in one process and one loop, for --duration seconds:
 *
 *   whispers:   --whisper-channels presence channels with --whisper-members members each (spread
 *               over the gateways); members whisper a bench payload at --whisper-rate per second in
 *               all, and every whisper must reach the channel's other members. Expected deliveries
 *               are counted at sending (members - 1, sent only while every member has joined).
 *   reconnects: --reconnect-channels public channels with --reconnect-subs subscribers each, which
 *               ask for recovery (?recover=1, then ?since=SEQ&epoch=E); the router publishes to
 *               them at --reconnect-pub-rate per second, and --reconnect-rate subscribers per
 *               second close their connection and reconnect, to the next gateway, resuming from
 *               their last seq. Every seq must arrive exactly once, in order: a jump is a loss, a
 *               repeat a duplicate, "recovered":false a failed recovery; at the end every
 *               subscriber must have reached its channel's last acknowledged seq.
 *
 * Every --interval seconds it prints "INTERVAL {json}" per part (counts so far, the latency of
 * that interval: publish or whisper -> receipt; for reconnects this includes replayed messages),
 * at the end a table and one line "RESULT {json}". Exit status: 0 nothing lost and nothing
 * refused, 1 otherwise, 2 bad flags, 3 watchdog. Loopback only (bench/url.h). */
#include "config.h"
#include "err.h"
#include "hist.h"
#include "loop.h"
#include "payload.h"
#include "pub.h"
#include "report.h"
#include "url.h"
#include "wsc.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sl_config {
    const char *gateways, *router, *api_key, *label;
    long long duration_s, interval_s, msg_bytes, drain_s, watchdog_s;
    long long w_channels, w_members, w_rate;
    long long r_channels, r_subs, r_pub_rate, r_rate;
} sl_config;

#define F(x) offsetof(sl_config, x)
#define S BF_CFG_STRING
#define I BF_CFG_INT
static const bf_cfg_opt table[] = {
    {"gateways", S, NULL, "ws://127.0.0.1:8080", 0, 0, NULL, F(gateways),
     "comma-separated gateway base URLs (ws://HOST:PORT); connections are spread over them"},
    {"router", S, NULL, "http://127.0.0.1:8090", 0, 0, NULL, F(router), "router base URL"},
    {"api-key", S, NULL, NULL, 0, 0, NULL, F(api_key), "the router's API key"},
    {"label", S, NULL, "soak", 0, 0, NULL, F(label), "free text copied into every line"},
    {"duration", I, NULL, "60", 1, 86400, NULL, F(duration_s), "seconds of load"},
    {"interval", I, NULL, "60", 1, 86400, NULL, F(interval_s), "seconds between INTERVAL lines"},
    {"msg-bytes", I, NULL, "100", 40, 8192, NULL, F(msg_bytes), "payload size in bytes"},
    {"drain", I, NULL, "10", 1, 600, NULL, F(drain_s),
     "seconds after the load to wait for what is still due"},
    {"watchdog", I, NULL, "0", 0, 86400, NULL, F(watchdog_s),
     "abort after this many seconds (0: duration + 300)"},
    {"whisper-channels", I, NULL, "50", 0, 100000, NULL, F(w_channels),
     "presence channels whose members whisper"},
    {"whisper-members", I, NULL, "4", 2, 1000, NULL, F(w_members), "members per such channel"},
    {"whisper-rate", I, NULL, "100", 0, 1000000, NULL, F(w_rate),
     "whispers per second over all members (each member at most 5/s: the gateway's default "
     "limit is 10/s)"},
    {"reconnect-channels", I, NULL, "100", 0, 100000, NULL, F(r_channels),
     "channels of the reconnecting subscribers"},
    {"reconnect-subs", I, NULL, "5", 1, 1000, NULL, F(r_subs), "subscribers per such channel"},
    {"reconnect-pub-rate", I, NULL, "100", 0, 1000000, NULL, F(r_pub_rate),
     "publishes per second to those channels (round robin)"},
    {"reconnect-rate", I, NULL, "10", 0, 100000, NULL, F(r_rate),
     "subscribers per second that drop their connection and reconnect with recovery"},
    {NULL, 0, NULL, NULL, 0, 0, NULL, 0, NULL},
};
#undef F
#undef S
#undef I

enum { K_WHISPER, K_RECONNECT };
#define N_PUBS 4 /* publisher connections of the reconnect part (one request in flight each) */

typedef struct sl_conn {
    bb_ws ws; /* first: callbacks hand back the bb_ws */
    uint8_t kind, ready, again;
    uint32_t chan, gw;
    uint64_t last_seq, t_retry;
    char epoch[40];
} sl_conn;

/* The counters of one part; INTERVAL and RESULT lines print them. */
typedef struct sl_part {
    uint64_t sent, acked, refused, expected, received, lost, dups, misrouted, rec_failed;
    uint64_t drops, reconnects, connect_failed, other;
    bb_hist lat, ival;
} sl_part;

typedef struct sl {
    const sl_config *cfg;
    bb_loop *loop;
    bb_wsctx *wsx;
    bb_url *gws;
    size_t n_gw;
    sl_conn *conns;
    size_t n_w, n_conns; /* whisper members are conns[0, n_w), reconnecting subscribers the rest */
    uint32_t *w_ready;   /* joined members per whisper channel */
    uint64_t *r_acked;   /* acknowledged publishes per reconnect channel: its last seq */
    bb_pub *pubs[N_PUBS];
    int closing; /* teardown: closes are ours, not drops */
    sl_part w, r;
    uint64_t t0, w_next, r_pub_next, r_rc_next, w_rr, r_rr, pub_rr, g;
    char body[16384];
} sl;

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "belfry-soak-load: watchdog expired, aborting\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    _exit(3);
}

/* ---------------------------------------------------------------------------------------------
 * Frames */

/* The unsigned number after key (e.g. "\"seq\":") in p, or -1. */
static long long num_after(const char *p, size_t len, const char *key)
{
    size_t kl = strlen(key);
    const char *k = memmem(p, len, key, kl);
    if (!k) return -1;
    const char *q = k + kl, *end = p + len;
    if (q >= end || *q < '0' || *q > '9') return -1;
    long long v = 0;
    while (q < end && *q >= '0' && *q <= '9') v = v * 10 + (*q++ - '0');
    return v;
}

static int has(const char *p, size_t len, const char *s)
{
    return memmem(p, len, s, strlen(s)) != NULL;
}

static void whisper_text(sl *m, sl_conn *c, const char *p, size_t len, uint64_t now)
{
    if (!c->ready) {
        if (has(p, len, "\"event\":\"presence:here\"")) {
            c->ready = 1;
            m->w_ready[c->chan]++;
        }
        return;
    }
    if (has(p, len, "\"event\":\"error\"")) { /* our last whisper was refused */
        m->w.refused++;
        m->w.expected -= (uint64_t)m->cfg->w_members - 1;
        if (m->w.refused == 1) fprintf(stderr, "soak-load: whisper refused: %.*s\n", (int)len, p);
        return;
    }
    bb_payload pl;
    if (!has(p, len, "\"event\":\"whisper\"") || bb_payload_find(p, len, &pl)) {
        m->w.other++; /* presence events of our own members' (re)joins */
        return;
    }
    if (pl.c != c->chan) {
        m->w.misrouted++;
        return;
    }
    m->w.received++;
    if (now > pl.t) bb_hist_record(&m->w.lat, now - pl.t), bb_hist_record(&m->w.ival, now - pl.t);
}

static void reconnect_text(sl *m, sl_conn *c, const char *p, size_t len, uint64_t now)
{
    if (has(p, len, "\"event\":\"belfry:subscribed\"")) {
        long long seq = num_after(p, len, "\"seq\":");
        const char *e = memmem(p, len, "\"epoch\":\"", 9);
        if (seq < 0 || !e) {
            m->r.other++;
            return;
        }
        e += 9;
        size_t el = 0;
        while (e + el < p + len && e[el] != '"' && el < sizeof(c->epoch) - 1) el++;
        if (c->epoch[0] && !has(p, len, "\"recovered\":true")) {
            m->r.rec_failed++;
            fprintf(stderr, "soak-load: recovery failed: %.*s\n", (int)len, p);
        }
        if (!c->epoch[0]) c->last_seq = (uint64_t)seq; /* first connection: the baseline */
        memcpy(c->epoch, e, el);
        c->epoch[el] = '\0';
        c->ready = 1;
        return;
    }
    long long seq = num_after(p, len, ",\"seq\":");
    bb_payload pl;
    if (seq <= 0 || bb_payload_find(p, len, &pl)) {
        m->r.other++;
        return;
    }
    if (pl.c != c->chan) {
        m->r.misrouted++;
        return;
    }
    if ((uint64_t)seq <= c->last_seq) {
        m->r.dups++;
        return;
    }
    if ((uint64_t)seq > c->last_seq + 1) {
        m->r.lost += (uint64_t)seq - c->last_seq - 1;
        fprintf(stderr, "soak-load: gap on %u: %llu after %llu\n", c->chan, (unsigned long long)seq,
                (unsigned long long)c->last_seq);
    }
    c->last_seq = (uint64_t)seq;
    m->r.received++;
    if (now > pl.t) bb_hist_record(&m->r.lat, now - pl.t), bb_hist_record(&m->r.ival, now - pl.t);
}

static void on_open(bb_ws *ws, uint64_t now, void *ud)
{
    (void)ws, (void)now, (void)ud; /* ready once presence:here / belfry:subscribed arrives */
}

static void on_text(bb_ws *ws, const char *p, size_t len, uint64_t now, void *ud)
{
    sl_conn *c = (sl_conn *)ws;
    if (c->kind == K_WHISPER)
        whisper_text(ud, c, p, len, now);
    else
        reconnect_text(ud, c, p, len, now);
}

static void on_close(bb_ws *ws, bb_ws_end why, bb_ws_state prev, void *ud)
{
    sl *m = ud;
    sl_conn *c = (sl_conn *)ws;
    sl_part *pt = c->kind == K_WHISPER ? &m->w : &m->r;
    if (m->closing) return;
    if (c->kind == K_WHISPER && c->ready) m->w_ready[c->chan]--;
    if (prev == BB_WS_CONNECTING || prev == BB_WS_HANDSHAKE) {
        pt->connect_failed++;
        fprintf(stderr, "soak-load: connect failed (%d, status %u): %s\n", (int)why,
                ws->http_status, bb_wsctx_first_failure(m->wsx));
    } else if (!(c->kind == K_RECONNECT && why == BB_WS_END_LOCAL)) {
        pt->drops++; /* the server closed it, or an error: not part of the plan */
        fprintf(stderr, "soak-load: connection dropped (%d, code %u)\n", (int)why, ws->close_code);
    }
    c->ready = 0;
    c->again = 1;
    c->t_retry = bb_now_ns() + (why == BB_WS_END_LOCAL ? 0 : 1000000000ull);
}

/* ---------------------------------------------------------------------------------------------
 * Connecting, whispering, publishing */

static void start(sl *m, size_t i, uint64_t now)
{
    sl_conn *c = &m->conns[i];
    const bb_url *u = &m->gws[c->gw % m->n_gw];
    char path[512];
    if (c->kind == K_WHISPER)
        snprintf(path, sizeof(path), "/ws/presence-soakw-%u?token=t&userId=w%zu", c->chan, i);
    else if (!c->epoch[0])
        snprintf(path, sizeof(path), "/ws/soak-rc-%u?recover=1", c->chan);
    else
        snprintf(path, sizeof(path), "/ws/soak-rc-%u?since=%llu&epoch=%s", c->chan,
                 (unsigned long long)c->last_seq, c->epoch);
    c->again = 0;
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % 4));
    if (bb_ws_connect(m->wsx, &c->ws, &src, &u->addr, u->host_hdr, path, now) < 0) {
        (c->kind == K_WHISPER ? &m->w : &m->r)->connect_failed++;
        c->again = 1;
        c->t_retry = now + 1000000000ull;
    }
}

/* Connection upkeep between polls: restarts, and timeouts of connects and closes. */
static void upkeep(sl *m, uint64_t now)
{
    for (size_t i = 0; i < m->n_conns; i++) {
        sl_conn *c = &m->conns[i];
        if (c->ws.state == BB_WS_IDLE && c->again && now >= c->t_retry && !stop_flag)
            start(m, i, now);
        else if ((c->ws.state == BB_WS_CONNECTING || c->ws.state == BB_WS_HANDSHAKE ||
                  (c->ws.state == BB_WS_OPEN && !c->ready)) &&
                 now - c->ws.t_state > 10000000000ull)
            bb_ws_abort(&c->ws, BB_WS_END_TIMEOUT);
        else if (c->ws.state == BB_WS_CLOSING && now - c->ws.t_state > 5000000000ull)
            bb_ws_abort(&c->ws, BB_WS_END_LOCAL);
    }
}

static void whisper_one(sl *m, uint64_t now)
{
    size_t i = m->w_rr++ % m->n_w;
    sl_conn *c = &m->conns[i];
    if (!c->ready || m->w_ready[c->chan] < (uint32_t)m->cfg->w_members) return; /* not all in */
    static const char pre[] = "{\"event\":\"whisper\",\"data\":";
    memcpy(m->body, pre, sizeof(pre) - 1);
    bb_payload pl = {.t = now, .g = ++m->g, .c = c->chan, .k = 0};
    int n = bb_payload_write(m->body + sizeof(pre) - 1, sizeof(m->body) - sizeof(pre) - 2,
                             (size_t)m->cfg->msg_bytes, &pl);
    if (n < 0) return;
    size_t len = sizeof(pre) - 1 + (size_t)n;
    m->body[len++] = '}';
    if (bb_ws_send(&c->ws, 1, m->body, len)) return;
    m->w.sent++;
    m->w.expected += (uint64_t)m->cfg->w_members - 1;
}

static void on_pub_done(const bb_pub_req *r, int ok, int status, uint64_t now, void *ud)
{
    (void)now;
    sl *m = ud;
    if (ok) {
        m->r.acked++;
        m->r_acked[r->chan]++;
        return;
    }
    m->r.refused++;
    m->r.expected -= r->weight;
    if (m->r.refused == 1) fprintf(stderr, "soak-load: publish refused (status %d)\n", status);
}

static void publish_one(sl *m, uint64_t now)
{
    bb_pub *p = m->pubs[m->pub_rr++ % N_PUBS];
    if (bb_pub_room(p) <= 0) return; /* behind: the schedule catches up on the next poll */
    uint32_t ch = (uint32_t)(m->r.sent % (uint64_t)m->cfg->r_channels);
    static const char pre[] = "{\"event\":\"bench\",\"data\":";
    memcpy(m->body, pre, sizeof(pre) - 1);
    bb_payload pl = {.t = now, .g = m->r.sent + 1, .c = ch, .k = 0};
    int n = bb_payload_write(m->body + sizeof(pre) - 1, sizeof(m->body) - sizeof(pre) - 2,
                             (size_t)m->cfg->msg_bytes, &pl);
    if (n < 0) return;
    size_t len = sizeof(pre) - 1 + (size_t)n;
    m->body[len++] = '}';
    char target[64];
    snprintf(target, sizeof(target), "/broadcast/soak-rc-%u", ch);
    bb_pub_req req = {.id = pl.g, .chan = ch, .weight = (uint32_t)m->cfg->r_subs};
    m->r.sent++;
    m->r.expected += (uint64_t)m->cfg->r_subs;
    bb_pub_send(p, target, m->body, len, &req);
}

static void reconnect_one(sl *m, uint64_t now)
{
    size_t n_r = m->n_conns - m->n_w;
    sl_conn *c = &m->conns[m->n_w + m->r_rr++ % n_r];
    if (!c->ready) return;
    c->gw++; /* the next gateway: the missed messages come from Redis, not from this gateway */
    m->r.reconnects++;
    bb_ws_close(&c->ws, 1000, now);
}

/* ---------------------------------------------------------------------------------------------
 * Reporting */

static void part_json(bb_json *j, const sl_part *p, int whisper)
{
    bb_json_int(j, "sent", (long long)p->sent);
    if (!whisper) bb_json_int(j, "published", (long long)p->acked);
    bb_json_int(j, "refused", (long long)p->refused);
    bb_json_int(j, "expected", (long long)p->expected);
    bb_json_int(j, "received", (long long)p->received);
    bb_json_int(j, "lost", (long long)p->lost);
    bb_json_int(j, "duplicates", (long long)p->dups);
    bb_json_int(j, "misrouted", (long long)p->misrouted);
    bb_json_int(j, "recovery_failed", (long long)p->rec_failed);
    bb_json_int(j, "reconnects", (long long)p->reconnects);
    bb_json_int(j, "drops", (long long)p->drops);
    bb_json_int(j, "connect_failed", (long long)p->connect_failed);
}

static void interval(sl *m, uint64_t now)
{
    for (int k = 0; k < 2; k++) {
        sl_part *p = k ? &m->r : &m->w;
        if (k ? m->n_conns == m->n_w : !m->n_w) continue;
        bb_json j;
        bb_json_init(&j);
        bb_json_str(&j, "label", k ? "reconnect" : "whisper");
        bb_json_num(&j, "t_s", (double)(now - m->t0) / 1e9);
        part_json(&j, p, !k);
        bb_json_hist_us(&j, "latency_us", &p->ival);
        printf("INTERVAL %s}\n", j.buf);
        bb_json_deinit(&j);
        bb_hist_init(&p->ival);
    }
    fflush(stdout);
}

/* Adds what the reconnecting subscribers never reached (their channel's last acknowledged seq)
 * to the loss; returns how many are not connected at the end. */
static uint64_t final_check(sl *m)
{
    uint64_t down = 0;
    for (size_t i = m->n_w; i < m->n_conns; i++) {
        sl_conn *c = &m->conns[i];
        if (!c->ready) down++;
        if (m->r_acked[c->chan] > c->last_seq) m->r.lost += m->r_acked[c->chan] - c->last_seq;
    }
    for (size_t i = 0; i < m->n_w; i++) down += !m->conns[i].ready;
    return down;
}

static int report(sl *m, double secs, uint64_t down)
{
    printf("belfry-soak-load  %s\n", m->cfg->label);
    for (int k = 0; k < 2; k++) {
        sl_part *p = k ? &m->r : &m->w;
        bb_report_section(k ? "reconnects (recovery)" : "whispers");
        bb_report_row("sent / refused", "%llu / %llu", (unsigned long long)p->sent,
                      (unsigned long long)p->refused);
        bb_report_row("expected / received", "%llu / %llu", (unsigned long long)p->expected,
                      (unsigned long long)p->received);
        bb_report_row("lost / duplicates", "%llu / %llu", (unsigned long long)p->lost,
                      (unsigned long long)p->dups);
        if (k)
            bb_report_row("reconnects / failed recoveries", "%llu / %llu",
                          (unsigned long long)p->reconnects, (unsigned long long)p->rec_failed);
        bb_report_row("unplanned drops / failed connects", "%llu / %llu",
                      (unsigned long long)p->drops, (unsigned long long)p->connect_failed);
        bb_report_hist_us("latency", &p->lat);
    }
    bb_report_row("not connected at the end", "%llu", (unsigned long long)down);
    bb_json j;
    bb_json_init(&j);
    bb_json_str(&j, "label", m->cfg->label);
    bb_json_str(&j, "mode", "soak-load");
    bb_json_num(&j, "measured_s", secs);
    bb_json_int(&j, "not_connected_at_end", (long long)down);
    for (int k = 0; k < 2; k++) {
        sl_part *p = k ? &m->r : &m->w;
        bb_json_obj(&j, k ? "reconnect" : "whisper");
        bb_json_int(&j, "channels", k ? m->cfg->r_channels : m->cfg->w_channels);
        bb_json_int(&j, "per_channel", k ? m->cfg->r_subs : m->cfg->w_members);
        part_json(&j, p, !k);
        bb_json_int(&j, "unaccounted", (long long)p->expected - (long long)p->received);
        bb_json_hist_us(&j, "latency_us", &p->lat);
        bb_json_end(&j);
    }
    bb_report_result(&j);
    bb_json_deinit(&j);
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        sl_part *p = k ? &m->r : &m->w;
        bad |= p->lost || p->dups || p->misrouted || p->rec_failed || p->refused || p->drops ||
               p->received != p->expected;
    }
    return bad || down ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * The run */

static int setup(sl *m, const sl_config *cfg, char *err, size_t errlen)
{
    m->cfg = cfg;
    if (cfg->w_channels && cfg->w_rate > 5 * cfg->w_channels * cfg->w_members) {
        snprintf(err, errlen, "--whisper-rate: at most 5 per member and second");
        return -1;
    }
    char list[4096];
    snprintf(list, sizeof(list), "%s", cfg->gateways);
    if (!(m->gws = bb_url_parse_list(list, &m->n_gw, err, errlen))) return -1;
    bb_url ru;
    if (bb_url_parse(cfg->router, &ru, err, errlen)) return -1;
    if (ru.scheme != BB_URL_HTTP) {
        snprintf(err, errlen, "--router: http:// expected");
        return -1;
    }
    m->n_w = (size_t)(cfg->w_channels * cfg->w_members);
    m->n_conns = m->n_w + (size_t)(cfg->r_channels * cfg->r_subs);
    m->conns = calloc(m->n_conns ? m->n_conns : 1, sizeof(*m->conns));
    m->w_ready = calloc((size_t)cfg->w_channels + 1, sizeof(*m->w_ready));
    m->r_acked = calloc((size_t)cfg->r_channels + 1, sizeof(*m->r_acked));
    m->loop = bb_loop_new();
    static const bb_ws_ops ops = {on_open, on_text, on_close};
    m->wsx = m->loop ? bb_wsctx_new(m->loop, &ops, m) : NULL;
    for (int k = 0; k < N_PUBS && m->wsx; k++)
        if (!(m->pubs[k] = bb_pub_new(m->loop, &ru, 1, cfg->api_key, on_pub_done, m))) break;
    if (!m->conns || !m->w_ready || !m->r_acked || !m->wsx || !m->pubs[N_PUBS - 1]) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < m->n_conns; i++) {
        sl_conn *c = &m->conns[i];
        bb_ws_init(&c->ws);
        c->kind = i < m->n_w ? K_WHISPER : K_RECONNECT;
        size_t per = (size_t)(c->kind == K_WHISPER ? cfg->w_members : cfg->r_subs);
        size_t j = c->kind == K_WHISPER ? i : i - m->n_w;
        c->chan = (uint32_t)(j / per);
        c->gw = (uint32_t)j; /* a channel's members on different gateways */
        c->again = 1;
    }
    bb_hist_init(&m->w.lat), bb_hist_init(&m->w.ival);
    bb_hist_init(&m->r.lat), bb_hist_init(&m->r.ival);
    return 0;
}

static void teardown(sl *m)
{
    m->closing = 1;
    for (size_t i = 0; i < m->n_conns && m->conns; i++)
        bb_ws_abort(&m->conns[i].ws, BB_WS_END_LOCAL);
    for (int k = 0; k < N_PUBS; k++) bb_pub_free(m->pubs[k]);
    bb_wsctx_free(m->wsx);
    bb_loop_free(m->loop);
    free(m->conns);
    free(m->w_ready);
    free(m->r_acked);
    free(m->gws);
}

static int all_ready(const sl *m)
{
    for (size_t i = 0; i < m->n_conns; i++)
        if (!m->conns[i].ready) return 0;
    return 1;
}

static int run(sl *m)
{
    const sl_config *cfg = m->cfg;
    for (int k = 0; k < N_PUBS; k++) bb_pub_tick(m->pubs[k]);
    /* connect everyone (bounded: 60 s), then the load */
    uint64_t t = bb_now_ns(), deadline = t + 60000000000ull;
    while (!stop_flag && !all_ready(m) && bb_now_ns() < deadline) {
        upkeep(m, bb_now_ns());
        bb_loop_poll(m->loop, 10000);
    }
    fprintf(stderr, "soak-load: %zu connections ready after %.1f s\n", m->n_conns,
            (double)(bb_now_ns() - t) / 1e9);
    uint64_t dur = (uint64_t)cfg->duration_s * 1000000000ull;
    uint64_t ival = (uint64_t)cfg->interval_s * 1000000000ull, next_ival;
    uint64_t w_gap = cfg->w_rate && m->n_w ? 1000000000ull / (uint64_t)cfg->w_rate : 0;
    uint64_t p_gap =
        cfg->r_pub_rate && cfg->r_channels ? 1000000000ull / (uint64_t)cfg->r_pub_rate : 0;
    uint64_t c_gap = cfg->r_rate && cfg->r_channels ? 1000000000ull / (uint64_t)cfg->r_rate : 0;
    m->t0 = bb_now_ns();
    next_ival = m->t0 + ival;
    m->w_next = m->r_pub_next = m->r_rc_next = m->t0;
    uint64_t last_upkeep = 0;
    while (!stop_flag) {
        uint64_t now = bb_now_ns();
        if (now >= next_ival) {
            interval(m, now);
            next_ival += ival;
        }
        if (now - m->t0 >= dur) break;
        /* each schedule catches up at most one second's worth after a stall */
        for (int n = 0; w_gap && m->w_next <= now && n < cfg->w_rate; n++, m->w_next += w_gap)
            whisper_one(m, now);
        for (int n = 0; p_gap && m->r_pub_next <= now && n < cfg->r_pub_rate;
             n++, m->r_pub_next += p_gap)
            publish_one(m, now);
        for (int n = 0; c_gap && m->r_rc_next <= now && n < cfg->r_rate; n++, m->r_rc_next += c_gap)
            reconnect_one(m, now);
        if (now - last_upkeep > 20000000ull) {
            upkeep(m, now);
            for (int k = 0; k < N_PUBS; k++) bb_pub_tick(m->pubs[k]);
            last_upkeep = now;
        }
        bb_loop_poll(m->loop, 1000);
    }
    /* drain: reconnect whoever is away, wait for what is due (bounded by --drain) */
    uint64_t t_end = bb_now_ns(), dl = t_end + (uint64_t)cfg->drain_s * 1000000000ull;
    while (!stop_flag && bb_now_ns() < dl) {
        int done = m->w.received >= m->w.expected && m->r.received >= m->r.expected && all_ready(m);
        for (int k = 0; k < N_PUBS; k++) done = done && !bb_pub_inflight(m->pubs[k]);
        if (done) break;
        upkeep(m, bb_now_ns());
        bb_loop_poll(m->loop, 10000);
    }
    double secs = (double)(t_end - m->t0) / 1e9;
    uint64_t down = final_check(m);
    return report(m, secs, down);
}

int main(int argc, char **argv)
{
    sl_config cfg;
    char err[BF_ERR_LEN];
    int rc = bf_config_parse(table, &cfg, argc, argv, err, sizeof(err));
    if (rc == BF_CFG_HELP) {
        bf_config_usage(table, stdout, "belfry-soak-load",
                        "Whispers on presence channels and subscribers that reconnect with "
                        "recovery, for bench/soak.sh. Prints INTERVAL lines, a table and one line "
                        "'RESULT {json}'. Exit status: 0 nothing lost or refused, 1 otherwise, 2 "
                        "bad flags, 3 watchdog.");
        return 0;
    }
    if (rc == BF_CFG_VERSION) {
        printf("belfry-soak-load dev\n");
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "belfry-soak-load: %s\n", err);
        return 2;
    }
    sl m;
    memset(&m, 0, sizeof(m));
    if (setup(&m, &cfg, err, sizeof(err))) {
        fprintf(stderr, "belfry-soak-load: %s\n", err);
        teardown(&m);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)(cfg.watchdog_s ? cfg.watchdog_s : cfg.duration_s + 300));
    rc = run(&m);
    teardown(&m);
    return rc;
}
