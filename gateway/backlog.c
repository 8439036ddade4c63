#include "backlog.h"
#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "redis_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bf_backlog {
    bf_backlog_deps d;
    char probe_key[BF_KEY_MAX], report_key[BF_KEY_MAX];
    uint64_t probe_sent_us; /* 0: no probe in flight */
    uint64_t probe_id; /* the id of the probe in flight: a late one of an old link is ignored */
    uint64_t next_probe_us, next_report_us;
    uint64_t last_rtt_ms;
    bool behind;
    bf_backlog_stats st;
};

bf_backlog *bf_backlog_new(const bf_backlog_deps *d)
{
    bf_backlog *b = bf_calloc(1, sizeof(*b));
    b->d = *d;
    bf_key(b->probe_key, d->prefix, BF_KEY_BPROBE, d->node_id);
    bf_key(b->report_key, d->prefix, BF_KEY_BACKLOG, NULL);
    return b;
}

void bf_backlog_free(bf_backlog *b)
{
    free(b);
}

static void on_probe(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_backlog *b = priv;
    const redisReply *m = bf_redis_message(reply);
    if (!m) return;
    uint64_t id = strtoull(m->str, NULL, 10);
    if (!b->probe_sent_us || id != b->probe_id) return;
    uint64_t now = bf_mono_us();
    b->last_rtt_ms = (now - b->probe_sent_us) / 1000;
    b->probe_sent_us = 0;
    b->next_probe_us = now + b->d.probe_ms * 1000;
    b->st.probes++;
}

/* A probe that reached nobody (our subscription is not in place yet) or whose command link went
 * down will never come back: forget it, or it would read as an ever-growing backlog. */
static void on_probe_published(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_backlog *b = priv;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) return;
    b->probe_sent_us = 0;
    b->next_probe_us = bf_mono_us() + b->d.probe_ms * 1000;
}

void bf_backlog_sub_ready(bf_backlog *b)
{
    if (!b->d.limit_ms) return;
    bf_redis_cmd(b->d.sub, on_probe, b, "SUBSCRIBE %s", b->probe_key);
    b->probe_sent_us = 0;
    b->last_rtt_ms = 0;
    b->next_probe_us = 0;
}

/* A periodic report is due up to REPORT_SLACK_US before its time: the caller's ticks come on
 * libuv's millisecond clock, which runs up to a millisecond behind this microsecond one, and a
 * tick a few microseconds short of last + period would otherwise push the report to the next
 * tick — a period of twice the setting (seen: 200 ms gaps at the 100 ms default). Reports are
 * then at most REPORT_SLACK_US more frequent than the setting, and never rarer. A report for a
 * change of state is extra and leaves the schedule alone. */
#define REPORT_SLACK_US 2000

static bool report_due(const bf_backlog *b, uint64_t now_us)
{
    return now_us + REPORT_SLACK_US >= b->next_report_us;
}

static void next_report(bf_backlog *b, uint64_t now_us)
{
    b->next_report_us = now_us + b->d.report_ms * 1000;
}

static void report(bf_backlog *b, uint64_t now_us, bool periodic)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "%s %llu %d", b->d.node_id, (unsigned long long)b->st.backlog_ms,
             b->behind ? 1 : 0);
    if (bf_redis_cmd(b->d.cmd, NULL, NULL, "PUBLISH %s %s", b->report_key, msg) == 0)
        b->st.reports++;
    if (periodic) next_report(b, now_us);
}

void bf_backlog_tick(bf_backlog *b, uint64_t now_us, uint64_t write_wait_ms)
{
    if (!b->d.limit_ms) return;
    uint64_t read_ms = b->last_rtt_ms;
    if (b->probe_sent_us && (now_us - b->probe_sent_us) / 1000 > read_ms)
        read_ms = (now_us - b->probe_sent_us) / 1000;
    uint64_t backlog = read_ms > write_wait_ms ? read_ms : write_wait_ms;
    b->st.backlog_ms = backlog;
    if (backlog > b->st.max_ms) b->st.max_ms = backlog;
    bool was = b->behind;
    if (!b->behind && backlog > b->d.limit_ms) {
        b->behind = true;
        b->st.behind_total++;
    } else if (b->behind && backlog * 2 <= b->d.limit_ms) {
        b->behind = false;
    }
    b->st.behind = b->behind;
    if (b->behind != was) {
        bf_debug("delivery backlog %llu ms: %s", (unsigned long long)backlog,
                 b->behind ? "behind, asking the routers to hold publishes" : "caught up");
        report(b, now_us, false);
    } else if (report_due(b, now_us) && bf_redis_ready(b->d.cmd)) {
        report(b, now_us, true);
    }
    if (!b->probe_sent_us && now_us >= b->next_probe_us && bf_redis_ready(b->d.cmd) &&
        bf_redis_ready(b->d.sub)) {
        char id[24];
        snprintf(id, sizeof(id), "%llu", (unsigned long long)++b->probe_id);
        if (bf_redis_cmd(b->d.cmd, on_probe_published, b, "PUBLISH %s %s", b->probe_key, id) == 0)
            b->probe_sent_us = now_us;
    }
}

const bf_backlog_stats *bf_backlog_stats_get(const bf_backlog *b)
{
    return &b->st;
}
