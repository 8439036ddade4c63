/* The gateway's Prometheus metrics (GET /metrics): every counter and gauge of the gateway, its
 * hub, its write batches and its owner link, in the text exposition format 0.0.4. */
#ifndef BF_METRICS_H
#define BF_METRICS_H

#include "gateway.h"

#include <stddef.h>

/* Renders the metrics. Returns a malloc'd text (the caller frees it) and its length in *len, or
 * NULL when out of memory. */
char *bf_metrics_render(bf_gateway *gw, size_t *len);

#endif
