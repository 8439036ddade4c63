/* The gateway process: one libuv loop carrying libwebsockets and two Redis links.
 *
 *   clients --ws--> [lws on uv]  --join/leave--> hub --SUBSCRIBE fan:{ch}--> Redis (sub link)
 *                                 <--frames---- hub <--fan-out envelopes----
 *   heartbeat (cmd link): gateways zset + node:{id} info, every --heartbeat-ms
 *
 * ws.c holds the lws protocol callback (WebSocket and the plain HTTP routes on the same port);
 * gateway.c the lifecycle: start, tick, drain, stop. */
#ifndef BF_GATEWAY_H
#define BF_GATEWAY_H

#include "gw_config.h"
#include "hub.h"
#include "redis.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <uv.h>

typedef struct bf_gw_stats {
    uint64_t connections[3]; /* current, by bf_channel_type */
    uint64_t accepted_total, rejected_total, closed_total;
    uint64_t client_messages_total, client_errors_total;
    uint64_t bytes_out_total;
} bf_gw_stats;

typedef struct bf_gateway {
    bf_gw_config cfg;
    char node_id[96];
    uv_loop_t *loop;
    struct lws_context *lws;
    bf_redis *sub, *cmd;
    bf_hub *hub;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    uint64_t next_conn_id, next_heartbeat, started_ms, started_wall_ms, drain_deadline;
    bool draining, stopping;
    bf_gw_stats stats;
    struct lws_protocols protocols[2];
} bf_gateway;

/* Builds everything and starts listening. Returns 0, or a negative code with err filled. */
int bf_gateway_start(bf_gateway *gw, uv_loop_t *loop, char *err, size_t errlen);
/* Tears everything down; call after the loop has returned from uv_run. */
void bf_gateway_deinit(bf_gateway *gw);
bool bf_gateway_ready(const bf_gateway *gw);

/* The lws protocol table (ws.c). */
extern const struct lws_protocols bf_gw_protocols[];

#endif
