/* What the Redis side of a daemon did, in Prometheus text, the same for both daemons: they differ
 * only by the metric names' daemon part ("belfry_<daemon>_..."). The text and its order are part
 * of each daemon's /metrics, which prints it between its own counters. */
#ifndef BF_REDIS_METRICS_H
#define BF_REDIS_METRICS_H

#include "failover.h"
#include "redis.h"

#include <stddef.h>

/* The whole Redis part of a daemon's /metrics, in this order: its links' reconnects and timeouts
 * (summed over links[0..n); a NULL link counts nothing), the script cache's reloads and load
 * failures and the cluster webhook events deferred and lost (scripts.h's counters), the links'
 * cluster counters (summed; none when no link is a cluster link) and the failover gate's new
 * primaries and forgotten epochs (fo). Returns the text, NUL-terminated, never NULL (bf_malloc),
 * in memory the caller frees with free(); its length in *len. daemon, links and fo are borrowed. */
char *bf_redis_metrics(const char *daemon, const bf_redis *const *links, size_t n,
                       const bf_failover *fo, size_t *len);

#endif
