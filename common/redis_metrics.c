#include "redis_metrics.h"
#include "alloc.h"
#include "scripts.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct row {
    const char *name, *type, *help; /* name: after "belfry_<daemon>_" */
    unsigned long long v;
} row;

/* Appends rows at buf + len as HELP, TYPE and sample lines, as far as cap allows (buf stays
 * NUL-terminated when cap > 0; buf may be NULL when cap is 0). Returns the length the whole text
 * needs, as snprintf does, or len where a row could not be formatted. */
static size_t put_rows(char *buf, size_t cap, size_t len, const char *daemon, const row *rows,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(len < cap ? buf + len : NULL, len < cap ? cap - len : 0,
                         "# HELP belfry_%s_%s %s\n# TYPE belfry_%s_%s %s\nbelfry_%s_%s %llu\n",
                         daemon, rows[i].name, rows[i].help, daemon, rows[i].name, rows[i].type,
                         daemon, rows[i].name, rows[i].v);
        if (w < 0) break;
        len += (size_t)w;
    }
    return len;
}

/* Appends the cluster rows of links (none without a cluster link): see put_rows. */
static size_t put_cluster_rows(char *buf, size_t cap, size_t len, const char *daemon,
                               const bf_redis *const *links, size_t n)
{
    bf_redis_cluster_stats sum = {0};
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        bf_redis_cluster_stats s;
        if (!links[i] || bf_redis_cluster_stats_get(links[i], &s)) continue;
        any = true;
        sum.moved += s.moved;
        sum.asks += s.asks;
        sum.tryagains += s.tryagains;
        sum.redirect_limit_hits += s.redirect_limit_hits;
        sum.refreshes += s.refreshes;
        sum.resubscribes += s.resubscribes;
        sum.nodes += s.nodes;
    }
    if (!any) return len;
    const row rows[] = {
        {"redis_cluster_moved_total", "counter", "MOVED redirects followed (a slot changed owner).",
         sum.moved},
        {"redis_cluster_asks_total", "counter", "ASK redirects followed (a slot being migrated).",
         sum.asks},
        {"redis_cluster_tryagains_total", "counter",
         "Commands sent again after TRYAGAIN (during a migration).", sum.tryagains},
        {"redis_cluster_redirect_limit_hits_total", "counter",
         "Commands answered with an error past --redis-cluster-max-redirects.",
         sum.redirect_limit_hits},
        {"redis_cluster_slot_map_refreshes_total", "counter", "Slot maps read (CLUSTER SLOTS).",
         sum.refreshes},
        {"redis_cluster_resubscribes_total", "counter",
         "Shard channels subscribed again on another node or link (slot moved, node lost).",
         sum.resubscribes},
        {"redis_cluster_nodes", "gauge", "Redis Cluster node links open now.", sum.nodes},
    };
    return put_rows(buf, cap, len, daemon, rows, sizeof(rows) / sizeof(*rows));
}

/* bf_redis_metrics' text into buf (see put_rows for cap and the return). */
static size_t put_all(char *buf, size_t cap, const char *daemon, const bf_redis *const *links,
                      size_t n, const bf_failover *fo)
{
    unsigned long long reconnects = 0, timeouts = 0;
    for (size_t i = 0; i < n; i++)
        if (links[i]) {
            reconnects += bf_redis_reconnects(links[i]);
            timeouts += bf_redis_timeouts(links[i]);
        }
    const row before[] = {
        {"redis_reconnects_total", "counter", "Redis links re-established after a loss.",
         reconnects},
        {"redis_timeouts_total", "counter",
         "Redis links torn down because a command got no reply within --redis-timeout.", timeouts},
        {"redis_script_reloads_total", "counter",
         "Script calls answered NOSCRIPT (Redis' script cache emptied), loaded and sent again.",
         bf_scripts_reloads},
        {"redis_script_load_failures_total", "counter",
         "SCRIPT LOADs that did not answer the script's SHA1 (each is logged).",
         bf_scripts_load_failures},
        {"webhook_events_deferred_total", "counter",
         "Redis Cluster: channel-script replies whose webhook events were sent on to the "
         "cluster-wide slot.",
         bf_scripts_webhooks_deferred},
        {"webhook_events_lost_total", "counter",
         "Redis Cluster: channel-script webhook events that could not be queued (link lost "
         "between the two calls).",
         bf_scripts_webhooks_lost},
    };
    const row after[] = {
        {"redis_new_primaries_total", "counter",
         "Redis primaries met with a replication id other than the recorded one (failover, "
         "restart).",
         fo->new_primaries},
        {"redis_epochs_forgotten_total", "counter",
         "Channel epochs removed because Redis had a new primary (recovery across it: "
         "recovered:false).",
         fo->epochs_forgotten},
    };
    if (cap) buf[0] = '\0';
    size_t len = put_rows(buf, cap, 0, daemon, before, sizeof(before) / sizeof(*before));
    len = put_cluster_rows(buf, cap, len, daemon, links, n);
    return put_rows(buf, cap, len, daemon, after, sizeof(after) / sizeof(*after));
}

char *bf_redis_metrics(const char *daemon, const bf_redis *const *links, size_t n,
                       const bf_failover *fo, size_t *len)
{
    size_t need = put_all(NULL, 0, daemon, links, n, fo);
    char *buf = bf_malloc(need + 1);
    *len = put_all(buf, need + 1, daemon, links, n, fo);
    return buf;
}
