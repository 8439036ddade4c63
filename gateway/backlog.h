/* The gateway's delivery backlog, measured and reported to the routers, so that they can refuse
 * publishes (503 overloaded, router/overload.h) while a gateway is behind instead of letting Redis
 * queue fan-out for it without bound.
 *
 * Two waits make up the backlog:
 *   - read: a probe published on the command link to bprobe:{us} comes back on the subscriber
 *     link behind every fan-out message Redis queued for us before it, so the age of the probe in
 *     flight (or the last one's round trip) is how far our reading lags behind Redis. One probe
 *     is in flight at a time, --backlog-probe-ms after the last one came back.
 *   - write: how long the first connection in the write rotation has waited for its turn
 *     (conn.h, bf_conn_batch_wait_ms), passed in by the caller at every tick.
 * The gateway is behind while the larger of the two exceeds --backlog-limit-ms (200 ms), and ahead
 * again once it is at most half of it (hysteresis, so that one probe does not flip the state back
 * and forth). The write half includes a message's own fan-out time (the last of N subscribers
 * waits for the N - 1 before it), so the limit must stay above what the largest channel takes to
 * write once, or publishes would be refused with no backlog at all. It reports "<id> <backlog ms>
 * <1|0>" on <prefix>backlog at every change and every
 * --backlog-report-ms; a router that stops hearing from a live gateway treats it as behind
 * (router/overload.h), which is what happens to a stopped (SIGSTOP) gateway.
 *
 * The module receives the two Redis links, the key prefix and its node id (all borrowed; they
 * must outlive it) and holds nothing else of the gateway. */
#ifndef BF_BACKLOG_H
#define BF_BACKLOG_H

#include "redis.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct bf_backlog bf_backlog;

typedef struct bf_backlog_deps {
    bf_redis *sub, *cmd;          /* borrowed */
    const char *prefix, *node_id; /* borrowed */
    uint64_t limit_ms;            /* --backlog-limit-ms; 0: neither measured nor reported */
    uint64_t probe_ms;            /* --backlog-probe-ms */
    uint64_t report_ms;           /* --backlog-report-ms */
} bf_backlog_deps;

/* Never NULL; free with bf_backlog_free after both links (a probe reply in flight names it). */
bf_backlog *bf_backlog_new(const bf_backlog_deps *d);
void bf_backlog_free(bf_backlog *b);

/* The subscriber link (re)connected: subscribes to our probe subject; the probe in flight, if
 * any, was lost with the old link and is forgotten. */
void bf_backlog_sub_ready(bf_backlog *b);

/* Once per loop iteration (cheap when nothing is due). now_us: monotonic microseconds
 * (bf_mono_us, common/clock.h); write_wait_ms: how long connections have waited in the write
 * rotation (0 when none waits). Sends the next probe and the reports when due. */
void bf_backlog_tick(bf_backlog *b, uint64_t now_us, uint64_t write_wait_ms);

typedef struct bf_backlog_stats {
    uint64_t backlog_ms;   /* the current backlog */
    uint64_t max_ms;       /* the largest seen since start */
    uint64_t behind;       /* 1 while behind */
    uint64_t behind_total; /* times the gateway fell behind */
    uint64_t probes;       /* probes that came back */
    uint64_t reports;      /* reports published */
} bf_backlog_stats;
const bf_backlog_stats *bf_backlog_stats_get(const bf_backlog *b);

#endif
