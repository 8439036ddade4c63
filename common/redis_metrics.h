/* The Redis Cluster transport's counters (bf_redis_cluster_stats) in Prometheus text, the same
 * for both daemons: they differ only by the metric names' daemon part. */
#ifndef BF_REDIS_METRICS_H
#define BF_REDIS_METRICS_H

#include "redis.h"

#include <stddef.h>

/* Writes the cluster counters of links[0..n) summed (a NULL or non-cluster link counts nothing)
 * into buf as "belfry_<daemon>_redis_cluster_*" metrics with HELP and TYPE lines; nothing when no
 * link is a cluster link. Returns the length written (buf is always NUL-terminated; a cap too
 * small truncates). daemon and links are borrowed. */
size_t bf_redis_cluster_metrics(char *buf, size_t cap, const char *daemon,
                                const bf_redis *const *links, size_t n);

#endif
