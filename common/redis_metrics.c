#include "redis_metrics.h"

#include <stdbool.h>
#include <stdio.h>

size_t bf_redis_cluster_metrics(char *buf, size_t cap, const char *daemon,
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
    if (cap) buf[0] = '\0';
    if (!any) return 0;
    const struct {
        const char *name, *type, *help;
        unsigned long long v;
    } rows[] = {
        {"moved_total", "counter", "MOVED redirects followed (a slot changed owner).", sum.moved},
        {"asks_total", "counter", "ASK redirects followed (a slot being migrated).", sum.asks},
        {"tryagains_total", "counter", "Commands sent again after TRYAGAIN (during a migration).",
         sum.tryagains},
        {"redirect_limit_hits_total", "counter",
         "Commands answered with an error past --redis-cluster-max-redirects.",
         sum.redirect_limit_hits},
        {"slot_map_refreshes_total", "counter", "Slot maps read (CLUSTER SLOTS).", sum.refreshes},
        {"resubscribes_total", "counter",
         "Shard channels subscribed again on another node or link (slot moved, node lost).",
         sum.resubscribes},
        {"nodes", "gauge", "Redis Cluster node links open now.", sum.nodes},
    };
    size_t len = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
        int w = snprintf(buf + len, len < cap ? cap - len : 0,
                         "# HELP belfry_%s_redis_cluster_%s %s\n# TYPE belfry_%s_redis_cluster_%s "
                         "%s\nbelfry_%s_redis_cluster_%s %llu\n",
                         daemon, rows[i].name, rows[i].help, daemon, rows[i].name, rows[i].type,
                         daemon, rows[i].name, rows[i].v);
        if (w < 0) break;
        len += (size_t)w;
        if (len >= cap) return cap ? cap - 1 : 0;
    }
    return len;
}
