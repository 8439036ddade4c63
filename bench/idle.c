/* Idle mode: open N connections, hold them, and report what they cost the server.
 *
 * The servers named with --pids are sampled before the first connection and after the hold, so
 * (RSS after - RSS before) / connections is the memory one idle WebSocket costs a process that
 * was fresh at the start. Pings are answered throughout (a gateway pings silent clients). With
 * --procs the workers connect their shares and the parent holds and samples. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct idle_stats {
    uint64_t frames;
    long rss_kib; /* the bench's own (the largest worker's) */
} idle_stats;

static void on_text(bb_bench *b, bb_sub *s, const char *p, size_t len, uint64_t now)
{
    (void)s, (void)p, (void)len, (void)now;
    ((idle_stats *)b->mode)->frames++;
}

static void hold(bb_bench *b, const bb_config *cfg, int serve)
{
    uint64_t end = bb_now_ns() + (uint64_t)cfg->hold_s * 1000000000ull;
    if (serve)
        fprintf(stderr, "bench: %llu connected, %llu failed; holding %lld s\n",
                (unsigned long long)b->cs.ok, (unsigned long long)b->cs.failed, cfg->hold_s);
    else
        fprintf(stderr, "bench: the workers are connected; holding %lld s\n", cfg->hold_s);
    while (!bb_stop && bb_now_ns() < end) {
        if (serve)
            bb_bench_poll(b, 100000);
        else
            usleep(100000);
    }
}

static int report(bb_bench *b, const idle_stats *st, double meas_s)
{
    const bb_config *cfg = b->cfg;
    printf("belfry-bench idle  %s  target=%s\n", cfg->label, cfg->target);
    bb_json j;
    bb_json_init(&j);
    bb_bench_report(b, &j, meas_s);
    bb_report_section("memory");
    bb_json_int(&j, "open_at_end", (long long)b->cs.open_now);
    bb_json_int(&j, "frames_received", (long long)st->frames);
    bb_json_int(&j, "bench_rss_kib", st->rss_kib);
    bb_json_int(&j, "hold_s", cfg->hold_s);
    double total_delta = 0;
    int have = 0;
    bb_json_arr(&j, "rss_per_conn_bytes");
    for (size_t k = 0; k < b->n_procs; k++) {
        const bb_proc *p = &b->procs[k];
        int ok = b->cs.ok && p->rss0_kib >= 0 && p->rss1_kib >= 0;
        double delta = ok ? (double)(p->rss1_kib - p->rss0_kib) * 1024.0 : 0;
        if (ok) {
            total_delta += delta;
            have = 1;
        }
        bb_json_obj(&j, NULL);
        bb_json_str(&j, "name", p->name);
        bb_json_num(&j, "bytes", ok ? delta / (double)b->cs.ok : -1);
        bb_json_end(&j);
    }
    bb_json_end(&j);
    double all = have ? total_delta / (double)b->cs.ok : -1;
    bb_json_num(&j, "rss_per_conn_bytes_all", all);
    bb_json_num(&j, "server_cpu_us_per_conn",
                b->n_procs && b->cs.ok ? bb_bench_server_cpu(b) * 1e6 / (double)b->cs.ok : -1);
    bb_report_row("open at end of hold", "%llu", (unsigned long long)b->cs.open_now);
    bb_report_row("server RSS per connection", "%.0f bytes (sum over the sampled processes)", all);
    bb_report_row("bench RSS", "%ld KiB", st->rss_kib);
    bb_report_result(&j);
    bb_json_deinit(&j);
    return (b->cs.failed || b->cs.open_now != b->cs.ok || !b->cs.ok) ? 1 : 0;
}

static int run(const bb_config *cfg)
{
    bb_bench b;
    idle_stats st = {0};
    char err[256];
    static const bb_hooks hooks = {NULL, on_text, NULL, NULL};
    size_t n = (size_t)(cfg->channels * cfg->subs_per_channel);
    if (bb_bench_init(&b, cfg, n, &hooks, err, sizeof(err))) {
        fprintf(stderr, "belfry-bench: %s\n", err);
        bb_bench_deinit(&b);
        return 2;
    }
    b.mode = &st;
    bb_bench_sample(&b, 0);
    uint64_t t0 = bb_now_ns();
    bb_bench_connect_range(&b, 0, n, NULL);
    int rc = 0;
    if (bb_self.count) { /* the parent holds and samples; then we send what we saw */
        if (bb_worker_barrier(&b)) rc = 2;
        bb_bench_sample(&b, 1);
        st.rss_kib = bb_proc_rss_kib(getpid());
        if (!rc && (bb_worker_send(&b.cs, sizeof(b.cs)) || bb_worker_send(&st, sizeof(st)))) rc = 2;
        bb_worker_barrier(&b);
    } else {
        hold(&b, cfg, 1);
        bb_bench_sample(&b, 1);
        st.rss_kib = bb_proc_rss_kib(getpid());
        rc = report(&b, &st, (double)(bb_now_ns() - t0) / 1e9);
    }
    bb_bench_deinit(&b);
    return rc;
}

static int parent(const bb_config *cfg)
{
    bb_workers w;
    bb_config slice;
    bb_bench b;
    char err[256];
    static const bb_hooks hooks = {0};
    if (bb_bench_init(&b, cfg, 0, &hooks, err, sizeof(err))) {
        fprintf(stderr, "belfry-bench: %s\n", err);
        return 2;
    }
    bb_bench_sample(&b, 0); /* before any worker connects */
    uint64_t t0 = bb_now_ns();
    int k = bb_workers_fork(&w, cfg, &slice);
    if (k >= 0) {
        bb_bench_deinit(&b);
        exit(run(&slice));
    }
    if (k == -2) {
        fprintf(stderr, "belfry-bench: fork failed\n");
        return 2;
    }
    b.planned = (size_t)(cfg->channels * cfg->subs_per_channel);
    int rc = 2;
    if (bb_workers_gather(&w, (int)cfg->watchdog_s) == 0) {
        hold(&b, cfg, 0);
        bb_bench_sample(&b, 1);
        bb_workers_release(&w);
        idle_stats all = {0};
        int ok = 1;
        for (int i = 0; i < w.n && ok; i++) {
            bb_common_stats cs;
            idle_stats st;
            if (bb_workers_recv(&w, i, &cs, sizeof(cs)) ||
                bb_workers_recv(&w, i, &st, sizeof(st))) {
                ok = 0;
                break;
            }
            bb_common_merge(&b.cs, &cs);
            all.frames += st.frames;
            if (st.rss_kib > all.rss_kib) all.rss_kib = st.rss_kib;
        }
        bb_workers_gather(&w, 10);
        bb_workers_release(&w);
        if (ok) rc = report(&b, &all, (double)(bb_now_ns() - t0) / 1e9);
    }
    int wrc = bb_workers_reap(&w);
    bb_bench_deinit(&b);
    return rc ? rc : wrc;
}

int bb_mode_idle(const bb_config *cfg)
{
    return cfg->procs > 1 ? parent(cfg) : run(cfg);
}
