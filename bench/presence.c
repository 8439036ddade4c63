/* Presence churn mode: users keep leaving and re-joining one presence channel while an observer
 * on the same channel measures how fast, and how late, presence:join and presence:leave arrive.
 *
 * Subscribers 0..users-1 are users, subscriber `users` is the observer (user id "observer").
 * Every (re)connection joins as a new user id "u<gen>", so the observer can tell which connect
 * an event belongs to: join latency runs from the start of that connection's TCP connect to the
 * observer's presence:join, leave latency from sending the close frame to presence:leave. The
 * same two latencies are also taken at every user that receives the event ("all members"): the
 * observer is the channel's oldest member, one position in each fan-out, while the members'
 * distribution is what the channel as a whole sees. A churn
 * cycle closes one joined user and reconnects its slot as a new user; cycles start at
 * --churn-rate per second, or flat out with at most --window cycles in progress. Users also
 * receive every other user's events; they are read and counted, which is the real cost of a
 * busy presence channel. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct presence {
    bb_bench *b;
    size_t n_users;
    uint64_t next_gen, gen_cap, first_churn_gen;
    uint64_t *t_join, *t_leave; /* per generation, ns; 0: unknown */
    uint32_t *queue;            /* slots waiting to be reconnected */
    size_t q_head, q_len;
    char user[32];
    int observer_ready, churning;
    uint64_t joins_expected, leaves_expected, joins_seen, leaves_seen, events_in_churn;
    uint64_t unknown_events, other_frames, users_dropped, cycles, inflight, joined_now;
    uint64_t t0, t_end, t_last_event;
    size_t cursor;
    bb_hist join_lat, leave_lat;   /* at the observer */
    bb_hist mjoin_lat, mleave_lat; /* at every member that received the event */
} presence;

/* ---------------------------------------------------------------------------------------------
 * Generations */

static int gen_reserve(presence *m, uint64_t gen)
{
    if (gen < m->gen_cap) return 0;
    uint64_t cap = m->gen_cap ? m->gen_cap * 2 : 4096;
    while (cap <= gen) cap *= 2;
    uint64_t *j = realloc(m->t_join, cap * sizeof(*j));
    if (!j) return -1;
    m->t_join = j;
    uint64_t *l = realloc(m->t_leave, cap * sizeof(*l));
    if (!l) return -1;
    m->t_leave = l;
    memset(m->t_join + m->gen_cap, 0, (cap - m->gen_cap) * sizeof(*j));
    memset(m->t_leave + m->gen_cap, 0, (cap - m->gen_cap) * sizeof(*l));
    m->gen_cap = cap;
    return 0;
}

/* Names subscriber i for its next connection (called right before it connects). */
static const char *user_of(bb_bench *b, size_t i)
{
    presence *m = b->mode;
    if (i == m->n_users) return "observer";
    bb_sub *s = &b->subs[i];
    uint64_t gen = ++m->next_gen;
    if (gen_reserve(m, gen)) return "oom";
    s->gen = (uint32_t)gen;
    s->joined = 0;
    m->t_join[gen] = bb_now_ns();
    snprintf(m->user, sizeof(m->user), "u%llu", (unsigned long long)gen);
    return m->user;
}

/* ---------------------------------------------------------------------------------------------
 * Frames */

static uint64_t member_gen(const char *p, size_t len)
{
    const char *k = memmem(p, len, "\"id\":\"u", 7);
    if (!k) return 0;
    uint64_t g = 0;
    for (const char *q = k + 7; q < p + len && *q >= '0' && *q <= '9'; q++)
        g = g * 10 + (uint64_t)(*q - '0');
    return g;
}

/* presence:join (1) or presence:leave (-1) of generation *gen, or 0 for another frame. */
static int event_of(const char *p, size_t len, uint64_t *gen)
{
    int join = memmem(p, len, "\"presence:join\"", 15) != NULL;
    int leave = !join && memmem(p, len, "\"presence:leave\"", 16) != NULL;
    if (!join && !leave) return 0;
    *gen = member_gen(p, len);
    return join ? 1 : -1;
}

/* The latency of one member's copy of a churn event (the observer's included). */
static void record_member(presence *m, int ev, uint64_t gen, uint64_t now)
{
    if (!m->churning || !gen || gen > m->next_gen) return;
    if (ev > 0 && m->first_churn_gen && gen >= m->first_churn_gen && m->t_join[gen])
        bb_hist_record(&m->mjoin_lat, now - m->t_join[gen]);
    else if (ev < 0 && m->t_leave[gen])
        bb_hist_record(&m->mleave_lat, now - m->t_leave[gen]);
}

static void observer_text(presence *m, const char *p, size_t len, uint64_t now)
{
    if (memmem(p, len, "\"presence:here\"", 15)) {
        m->observer_ready = 1;
        return;
    }
    uint64_t gen = 0;
    int ev = event_of(p, len, &gen);
    if (!ev) {
        m->other_frames++;
        return;
    }
    int join = ev > 0;
    record_member(m, ev, gen, now);
    if (!gen || gen > m->next_gen) {
        m->unknown_events++;
        return;
    }
    if (m->churning) {
        m->events_in_churn++;
        m->t_last_event = now;
    }
    if (join) {
        m->joins_seen++;
        if (gen >= m->first_churn_gen && m->first_churn_gen && m->t_join[gen])
            bb_hist_record(&m->join_lat, now - m->t_join[gen]);
    } else {
        m->leaves_seen++;
        if (m->t_leave[gen]) bb_hist_record(&m->leave_lat, now - m->t_leave[gen]);
    }
}

static void on_text(bb_bench *b, bb_sub *s, const char *p, size_t len, uint64_t now)
{
    presence *m = b->mode;
    if ((size_t)(s - b->subs) == m->n_users) {
        observer_text(m, p, len, now);
        return;
    }
    if (!s->joined && memmem(p, len, "\"presence:here\"", 15)) {
        s->joined = 1;
        m->joins_expected++;
        m->joined_now++;
        if (s->again == 0 && m->inflight && s->gen >= m->first_churn_gen && m->first_churn_gen)
            m->inflight--; /* a churn cycle is complete when its new user is in */
        return;
    }
    uint64_t gen = 0;
    int ev = event_of(p, len, &gen);
    if (ev) record_member(m, ev, gen, now);
    m->other_frames++;
}

static void on_close(bb_bench *b, bb_sub *s, bb_ws_end why, bb_ws_state prev)
{
    presence *m = b->mode;
    size_t i = (size_t)(s - b->subs);
    (void)why;
    if (i == m->n_users) return;
    if (s->joined && (prev == BB_WS_OPEN || prev == BB_WS_CLOSING)) m->joined_now--;
    if (s->again == 1) { /* closed by a churn cycle: reconnect between polls */
        s->again = 2;
        m->queue[(m->q_head + m->q_len++) % m->n_users] = (uint32_t)i;
        return;
    }
    if (prev == BB_WS_CONNECTING || prev == BB_WS_HANDSHAKE) {
        if (m->churning && m->inflight) m->inflight--; /* the cycle failed; counted as a failure */
        return;
    }
    /* dropped by the server, or ended by the bench at exit */
    if (s->joined && !bb_stop && m->t0 && !m->t_end) {
        m->users_dropped++;
        m->leaves_expected++;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Churn */

static void start_cycle(presence *m, uint64_t now)
{
    bb_bench *b = m->b;
    for (size_t steps = 0; steps < m->n_users; steps++) {
        size_t i = m->cursor;
        m->cursor = (m->cursor + 1) % m->n_users;
        bb_sub *s = &b->subs[i];
        if (s->ws.state != BB_WS_OPEN || !s->joined || s->again) continue;
        s->again = 1;
        m->t_leave[s->gen] = now;
        m->leaves_expected++;
        m->cycles++;
        m->inflight++;
        bb_ws_close(&s->ws, 1000, now);
        return;
    }
}

static void reconnect_queued(presence *m, uint64_t now)
{
    bb_bench *b = m->b;
    while (m->q_len) {
        size_t i = m->queue[m->q_head];
        m->q_head = (m->q_head + 1) % m->n_users;
        m->q_len--;
        b->subs[i].again = 0;
        if (bb_bench_start(b, i, user_of(b, i), now) < 0 && m->inflight) m->inflight--;
    }
}

static int wait_for(presence *m, int (*done)(presence *), uint64_t timeout_ns)
{
    uint64_t end = bb_now_ns() + timeout_ns;
    while (!bb_stop && !done(m) && bb_now_ns() < end) {
        bb_bench_poll(m->b, 5000);
        reconnect_queued(m, bb_now_ns());
    }
    return done(m);
}

static int observer_in(presence *m)
{
    return m->observer_ready || m->b->subs[m->n_users].ws.state == BB_WS_IDLE;
}

static int all_seen(presence *m)
{
    /* every open user (all but the observer) has its presence:here, and the observer has seen
     * every join and leave that those imply */
    return !m->q_len && !m->b->cs.pending && m->joined_now + 1 >= m->b->cs.open_now &&
           m->joins_seen >= m->joins_expected && m->leaves_seen >= m->leaves_expected &&
           (!m->churning || !m->inflight);
}

static void churn(presence *m)
{
    bb_bench *b = m->b;
    const bb_config *cfg = b->cfg;
    uint64_t dur = (uint64_t)cfg->duration_s * 1000000000ull;
    uint64_t drain = (uint64_t)cfg->drain_timeout_ms * 1000000ull;
    bb_bench_sample(b, 0);
    m->first_churn_gen = m->next_gen + 1;
    m->churning = 1;
    m->t0 = m->t_last_event = bb_now_ns();
    uint64_t now;
    while (!bb_stop && (now = bb_now_ns()) - m->t0 < dur) {
        if (cfg->churn_rate) {
            uint64_t due = (now - m->t0) * (uint64_t)cfg->churn_rate / 1000000000ull + 1;
            while (m->cycles < due) {
                uint64_t before = m->cycles;
                start_cycle(m, now);
                if (m->cycles == before) break; /* nobody joined to cycle: catch up later */
            }
        } else {
            while (m->inflight < (uint64_t)cfg->window) {
                uint64_t before = m->cycles;
                start_cycle(m, now);
                if (m->cycles == before) break; /* nobody joined to cycle */
            }
        }
        bb_bench_poll(b, 1000);
        reconnect_queued(m, bb_now_ns());
    }
    uint64_t last = 0;
    while (!bb_stop && !all_seen(m)) {
        now = bb_now_ns();
        uint64_t progress = m->joins_seen + m->leaves_seen + m->joins_expected;
        if (progress != last) {
            last = progress;
            m->t_end = now;
        }
        if (now - m->t_end > drain && m->t_end) break;
        bb_bench_poll(b, 5000);
        reconnect_queued(m, bb_now_ns());
    }
    m->t_end = bb_now_ns();
    bb_bench_sample(b, 1);
}

/* ---------------------------------------------------------------------------------------------
 * Report */

static int report(presence *m)
{
    bb_bench *b = m->b;
    const bb_config *cfg = b->cfg;
    double meas_s = (double)(m->t_end - m->t0) / 1e9;
    double ev_s = m->t_last_event > m->t0 ? (double)(m->t_last_event - m->t0) / 1e9 : 0;
    double per_s = ev_s > 0 ? (double)m->events_in_churn / ev_s : 0;
    long long lost_j = (long long)m->joins_expected - (long long)m->joins_seen;
    long long lost_l = (long long)m->leaves_expected - (long long)m->leaves_seen;
    double srv = bb_bench_server_cpu(b);

    printf("belfry-bench presence  %s  target=%s\n", cfg->label, cfg->target);
    bb_report_section("presence");
    bb_report_row("users / churn cycles", "%zu / %llu", m->n_users, (unsigned long long)m->cycles);
    bb_report_row("joins expected / seen", "%llu / %llu", (unsigned long long)m->joins_expected,
                  (unsigned long long)m->joins_seen);
    bb_report_row("leaves expected / seen", "%llu / %llu", (unsigned long long)m->leaves_expected,
                  (unsigned long long)m->leaves_seen);
    bb_report_row("joins+leaves at the observer", "%.0f/s over %.2f s", per_s, ev_s);
    bb_report_hist_us("join latency (observer)", &m->join_lat);
    bb_report_hist_us("leave latency (observer)", &m->leave_lat);
    bb_report_hist_us("join latency (all members)", &m->mjoin_lat);
    bb_report_hist_us("leave latency (all members)", &m->mleave_lat);
    bb_report_row("frames to users (others' events)", "%llu", (unsigned long long)m->other_frames);
    bb_report_row("users dropped by the server", "%llu", (unsigned long long)m->users_dropped);

    bb_json j;
    bb_json_init(&j);
    bb_bench_report(b, &j, meas_s);
    bb_json_int(&j, "users", (long long)m->n_users);
    bb_json_int(&j, "churn_rate_target", cfg->churn_rate);
    bb_json_int(&j, "window", cfg->window);
    bb_json_int(&j, "cycles", (long long)m->cycles);
    bb_json_int(&j, "joins_expected", (long long)m->joins_expected);
    bb_json_int(&j, "joins_seen", (long long)m->joins_seen);
    bb_json_int(&j, "leaves_expected", (long long)m->leaves_expected);
    bb_json_int(&j, "leaves_seen", (long long)m->leaves_seen);
    bb_json_int(&j, "lost", lost_j + lost_l);
    bb_json_int(&j, "unknown_events", (long long)m->unknown_events);
    bb_json_int(&j, "frames_to_users", (long long)m->other_frames);
    bb_json_int(&j, "users_dropped", (long long)m->users_dropped);
    bb_json_num(&j, "events_per_s", per_s);
    bb_json_hist_us(&j, "join_latency_us", &m->join_lat);
    bb_json_hist_us(&j, "leave_latency_us", &m->leave_lat);
    bb_json_hist_us(&j, "members_join_latency_us", &m->mjoin_lat);
    bb_json_hist_us(&j, "members_leave_latency_us", &m->mleave_lat);
    bb_json_num(&j, "server_cpu_us_per_event",
                b->n_procs && m->events_in_churn ? srv * 1e6 / (double)m->events_in_churn : -1);
    bb_report_result(&j);
    bb_json_deinit(&j);
    return (lost_j || lost_l || b->cs.failed || m->users_dropped || !m->cycles) ? 1 : 0;
}

int bb_mode_presence(const bb_config *cfg)
{
    bb_bench b;
    presence m = {0};
    char err[256];
    static const bb_hooks hooks = {NULL, on_text, NULL, on_close};
    m.n_users = (size_t)cfg->users;
    if (!strstr(cfg->sub_url, "{user}")) {
        fprintf(stderr, "belfry-bench: presence mode needs {user} in --sub-url\n");
        return 2;
    }
    bb_config c1 = *cfg;
    c1.channels = 1; /* one presence channel */
    if (bb_bench_init(&b, &c1, m.n_users + 1, &hooks, err, sizeof(err)) ||
        !(m.queue = calloc(m.n_users, sizeof(*m.queue))) || gen_reserve(&m, m.n_users * 2)) {
        fprintf(stderr, "belfry-bench: %s\n", err);
        bb_bench_deinit(&b);
        return 2;
    }
    m.b = &b;
    b.mode = &m;
    bb_hist_init(&m.join_lat);
    bb_hist_init(&m.leave_lat);
    bb_hist_init(&m.mjoin_lat);
    bb_hist_init(&m.mleave_lat);
    int rc = 1;
    bb_bench_connect_range(&b, m.n_users, m.n_users + 1, user_of);
    if (!wait_for(&m, observer_in, 10000000000ull) || !m.observer_ready) {
        fprintf(stderr, "belfry-bench: the observer did not get presence:here (%s)\n",
                bb_wsctx_first_failure(b.wsx));
        goto out;
    }
    bb_bench_connect_range(&b, 0, m.n_users, user_of);
    if (!wait_for(&m, all_seen, (uint64_t)cfg->warmup_timeout_s * 1000000000ull))
        fprintf(stderr, "bench: initial joins: %llu of %llu seen\n",
                (unsigned long long)m.joins_seen, (unsigned long long)m.joins_expected);
    fprintf(stderr, "bench: %llu users in; churning for %lld s\n",
            (unsigned long long)m.joins_expected, cfg->duration_s);
    churn(&m);
    rc = report(&m);
out:
    bb_bench_deinit(&b);
    free(m.queue);
    free(m.t_join);
    free(m.t_leave);
    return rc;
}
