#include "metrics.h"
#include "fandone.h"
#include "redis_metrics.h"
#include "rxguard.h"
#include "channel.h"

#include <stdio.h>
#include <stdlib.h>

char *bf_metrics_render(bf_gateway *gw, size_t *len_out)
{
    const bf_hub_stats *hs = bf_hub_stats_get(gw->hub);
    const bf_recovery_stats *rs = bf_recovery_stats_get(gw->recovery);
    char *b = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&b, &len);
    if (!f) return NULL;
    fprintf(f, "# HELP belfry_gateway_connections Open client WebSocket connections.\n"
               "# TYPE belfry_gateway_connections gauge\n");
    for (int t = 0; t < 3; t++)
        fprintf(f, "belfry_gateway_connections{type=\"%s\"} %llu\n",
                bf_channel_type_name((bf_channel_type)t),
                (unsigned long long)gw->stats.connections[t]);
    fprintf(f, "belfry_gateway_connections{type=\"pusher\"} %llu\n",
            (unsigned long long)gw->stats.pusher_connections);
#define C(name, help, type, v)                                                                     \
    fprintf(f, "# HELP " name " " help "\n# TYPE " name " " type "\n" name " %llu\n",              \
            (unsigned long long)(v))
    C("belfry_gateway_channels", "Channels with at least one local connection.", "gauge",
      hs->channels);
    C("belfry_gateway_connections_accepted_total", "WebSocket upgrades accepted.", "counter",
      gw->stats.accepted_total);
    C("belfry_gateway_connections_rejected_total", "WebSocket upgrades refused.", "counter",
      gw->stats.rejected_total);
    C("belfry_gateway_messages_out_total", "Frames queued to client sockets.", "counter",
      hs->messages_out);
    C("belfry_gateway_frames_written_total", "Frames written to client sockets.", "counter",
      gw->batch.frames_out);
    C("belfry_gateway_socket_writes_total",
      "Writes to client sockets (frames_written / socket_writes = frames per write).", "counter",
      gw->batch.writes);
    C("belfry_gateway_socket_writes_partial_total",
      "Writes a client socket could not take whole (the rest waits for it: a slow reader).",
      "counter", gw->batch.writes_partial);
    C("belfry_gateway_bytes_out_total", "Payload bytes written to client sockets.", "counter",
      gw->batch.bytes_out);
    C("belfry_gateway_fanout_received_total", "Fan-out envelopes received from Redis.", "counter",
      hs->fanout_in);
    C("belfry_gateway_fanout_malformed_total", "Fan-out envelopes dropped as malformed.", "counter",
      hs->fanout_bad);
    C("belfry_gateway_client_messages_total", "Messages received from clients.", "counter",
      gw->stats.client_messages_total);
    C("belfry_gateway_client_errors_total", "Client messages answered with an error frame.",
      "counter", gw->stats.client_errors_total);
    C("belfry_gateway_slow_consumer_disconnects_total",
      "Connections closed because their send queue overflowed.", "counter",
      hs->slow_consumers + gw->stats.slow_consumers + rs->slow_consumers);
    {
        const bf_redis *links[] = {gw->sub, gw->cmd};
        size_t n;
        char *rm = bf_redis_metrics("gateway", links, 2, &gw->failover, &n);
        fwrite(rm, 1, n, f);
        free(rm);
    }
    C("belfry_gateway_ready", "1 when connected to Redis and serving.", "gauge",
      bf_gateway_ready(gw) ? 1 : 0);
    C("belfry_gateway_whispers_total", "Whispers relayed.", "counter", gw->stats.whispers_total);
    C("belfry_gateway_whispers_rate_limited_total", "Whispers refused by the rate limit.",
      "counter", gw->stats.whispers_limited);
    C("belfry_gateway_kicks_total", "Connections closed by a kick.", "counter", hs->kicks);
    C("belfry_gateway_resubscribe_closes_total",
      "Connections closed with 1012 to recover: on Redis Cluster, their channel's shard "
      "subscription made again (resharding, failover); on one Redis, the channel's stream "
      "resumed past a gap after the subscriber link was lost.",
      "counter", hs->resubscribe_closes);
    C("belfry_gateway_ping_timeouts_total", "Connections closed for not answering a ping.",
      "counter", gw->stats.ping_timeouts);
    C("belfry_gateway_recoveries_total", "Connections resumed with recover/since.", "counter",
      rs->recovered);
    C("belfry_gateway_recoveries_failed_total",
      "Connections whose since could not be recovered (epoch changed or history too short).",
      "counter", rs->failed);
    C("belfry_gateway_framing_failures_total",
      "Connections closed with 1002 for an unmasked frame or an over-long control frame.",
      "counter", bf_rxguard_failures());
    C("belfry_gateway_redis_probe_failures_total",
      "Subscriber links reconnected because the liveness probe timed out.", "counter",
      bf_liveness_probe_failures(gw->liveness));
    const bf_backlog_stats *bs = bf_backlog_stats_get(gw->backlog);
    C("belfry_gateway_backlog_ms",
      "Delivery backlog: the larger of the Redis-to-gateway read lag and the write rotation's "
      "wait (its first connection's, or the predicted wait of its last).",
      "gauge", bs->backlog_ms);
    C("belfry_gateway_backlog_max_ms", "The largest delivery backlog since start.", "gauge",
      bs->max_ms);
    C("belfry_gateway_backlog_behind", "1 while the backlog is over --backlog-limit-ms.", "gauge",
      bs->behind);
    C("belfry_gateway_backlog_behind_total",
      "Times the backlog went over --backlog-limit-ms (routers refused publishes meanwhile).",
      "counter", bs->behind_total);
    C("belfry_gateway_backlog_probes_total", "Backlog probes that came back.", "counter",
      bs->probes);
    const bf_fandone_stats *fs = bf_fandone_stats_get(gw->fandone);
    C("belfry_gateway_fanout_tracked_total",
      "Messages of channels with at least --fanout-report-min-subs local subscribers, watched "
      "until written to all of them.",
      "counter", fs->tracked);
    C("belfry_gateway_fanout_reporting",
      "1 while a live router runs --fanout-window, so that written fan-outs are reported.", "gauge",
      fs->wanted);
    C("belfry_gateway_fanout_reports_total",
      "Fan-out completion reports sent to Redis (fdone:{channel}) for the routers' "
      "--fanout-window.",
      "counter", fs->reports);
    fprintf(f, "# HELP belfry_gateway_limit_rejections_total Upgrades refused by a connection "
               "limit.\n# TYPE belfry_gateway_limit_rejections_total counter\n");
    static const char *const limits[BF_GW_LIMIT__COUNT] = {
        [BF_GW_LIMIT_GATEWAY] = "gateway", [BF_GW_LIMIT_IP] = "ip", [BF_GW_LIMIT_USER] = "user"};
    for (int i = 0; i < BF_GW_LIMIT__COUNT; i++)
        fprintf(f, "belfry_gateway_limit_rejections_total{limit=\"%s\"} %llu\n", limits[i],
                (unsigned long long)bf_connlimits_rejections(gw->connlimits)[i]);
    fprintf(f, "# HELP belfry_gateway_frames_rendered_total Fan-out messages rendered into a "
               "protocol's frame (once per message and protocol, shared by its connections).\n"
               "# TYPE belfry_gateway_frames_rendered_total counter\n");
    static const char *const protos[BF_PROTO__COUNT] = {"native", "pusher"};
    for (int i = 0; i < BF_PROTO__COUNT; i++)
        fprintf(f, "belfry_gateway_frames_rendered_total{protocol=\"%s\"} %llu\n", protos[i],
                (unsigned long long)hs->renders[i]);
    C("belfry_gateway_pusher_subscription_errors_total",
      "Pusher subscriptions refused with pusher:subscription_error.", "counter",
      gw->stats.pusher_subscription_errors);
    fprintf(f, "# HELP belfry_gateway_pusher_limit_rejections_total Pusher requests refused by a "
               "limit.\n# TYPE belfry_gateway_pusher_limit_rejections_total counter\n");
    static const char *const plimits[] = {
#define BF_PUSHER_LIMIT_NAME(n, s) s,
        BF_PUSHER_LIMITS(BF_PUSHER_LIMIT_NAME)
#undef BF_PUSHER_LIMIT_NAME
    };
    for (int i = 0; i < BF_PUSHER_LIMIT__COUNT; i++)
        fprintf(f, "belfry_gateway_pusher_limit_rejections_total{limit=\"%s\"} %llu\n", plimits[i],
                (unsigned long long)gw->stats.pusher_limit_rejections[i]);
    const bf_owner_stats *os = bf_owner_stats_get(gw->owner);
    C("belfry_gateway_owner_ops_total", "Presence operations acknowledged by Redis (recorded).",
      "counter", os->sent);
    C("belfry_gateway_owner_op_retries_total",
      "Presence operations sent again (no acknowledgement from Redis).", "counter", os->retries);
    C("belfry_gateway_owner_op_failures_total",
      "Presence operations given up (left to the reconciliation).", "counter", os->failed);
    fprintf(f, "# HELP belfry_gateway_presence_repairs_total Differences between Redis and this "
               "gateway's connections found and repaired by the reconciliation.\n"
               "# TYPE belfry_gateway_presence_repairs_total counter\n");
    const uint64_t *rep = bf_reconcile_repairs(gw->reconcile);
    for (int i = 0; i < BF_REPAIR__COUNT; i++)
        fprintf(f, "belfry_gateway_presence_repairs_total{kind=\"%s\"} %llu\n",
                bf_reconcile_kind_names[i], (unsigned long long)rep[i]);
    C("belfry_gateway_presence_reconcile_passes_total", "Reconciliation passes completed.",
      "counter", bf_reconcile_passes(gw->reconcile));
    fprintf(f, "# HELP belfry_gateway_auth_failures_total Refused upgrades by reason.\n"
               "# TYPE belfry_gateway_auth_failures_total counter\n");
    for (int i = 0; i < BF_GW_AUTH__COUNT; i++)
        fprintf(f, "belfry_gateway_auth_failures_total{reason=\"%s\"} %llu\n",
                bf_gw_auth_reason_names[i], (unsigned long long)gw->stats.auth_failures[i]);
#undef C
    if (ferror(f) | fclose(f)) { /* out of memory on the way */
        free(b);
        return NULL;
    }
    *len_out = len;
    return b;
}
