/* The router's Prometheus metrics (GET /metrics): every counter and gauge of the router, its
 * owner's operations (owner_ops.h), its ring and its Redis links, in the text exposition format
 * 0.0.4. The Pusher HTTP API appends its own (pusher_api.h). The module renders what it is given
 * and knows nothing of the router's other state. */
#ifndef BF_RT_METRICS_H
#define BF_RT_METRICS_H

#include "failover.h"
#include "fanout_hold.h"
#include "owner_ops.h"
#include "redis.h"
#include "ring.h"
#include "router.h"

#include <event2/buffer.h>
#include <stdbool.h>

/* What the metrics are read from; every pointer is borrowed and read only during the call. */
typedef struct bf_rt_metrics {
    const bf_rt_stats *stats;
    const bf_owner_ops_stats *owner;
    const bf_ring *ring;
    const bf_redis *sub, *cmd;
    const bf_failover *failover;
    bool ready;                 /* connected to Redis and in the ring */
    size_t gateways_behind;     /* counted as behind at the last overload check (overload.h) */
    const bf_fhold_stats *hold; /* the fan-out window's held publishes; NULL: not holding */
} bf_rt_metrics;

/* Appends the metrics to b. */
void bf_rt_metrics_render(struct evbuffer *b, const bf_rt_metrics *m);

#endif
