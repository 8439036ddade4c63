/* The gateway's liveness towards Redis and the cluster: an end-to-end probe of the subscriber
 * link (PUBLISH probe:{us} on the command link, expect it back on the subscriber link; a link
 * that delivers nothing for --redis-probe-timeout-ms is reconnected), and the membership
 * heartbeat (gateways zset + node:{id} info, whose reply lists the live routers). Both work on
 * the gateway's own state (gateway.h) on its loop. */
#ifndef BF_LIVENESS_H
#define BF_LIVENESS_H

#include "gateway.h"

/* The subscriber link (re)connected: subscribes to our probe channel and restarts the clock. */
void bf_liveness_sub_ready(bf_gateway *gw);
/* Once per tick: judges the subscriber link (resetting both links after two silent responsive
 * ticks) and sends the next probe when due. */
void bf_liveness_probe_tick(bf_gateway *gw, uint64_t now);
/* Registers the gateway (heartbeat.lua); the reply updates the owners' router ring. */
void bf_liveness_heartbeat(bf_gateway *gw);

#endif
