#include "rt_config.h"

#include "redis_keys.h"

#include <stddef.h>

#define F(x) offsetof(bf_rt_config, x)

const bf_cfg_opt bf_rt_config_table[] = {
    {"listen", BF_CFG_HOSTPORT, "BELFRY_LISTEN", "0.0.0.0:8090", 1, 65535, NULL, F(listen),
     "address and port of the HTTP API"},
    BF_CFG_ROWS_NODE(F),
    {"app", BF_CFG_APPS, "BELFRY_APPS", NULL, 0, 0, NULL, F(apps),
     "a Pusher app ID:KEY:SECRET, repeatable (env: comma-separated); the first is the default app, "
     "which the native API and the Redis ingress belong to"},
    {"api-key", BF_CFG_STRING, "BELFRY_API_KEY", NULL, 0, 0, NULL, F(api_key),
     "bearer key required by the HTTP API (required unless --insecure-no-api-key)"},
    {"insecure-no-api-key", BF_CFG_BOOL, "BELFRY_INSECURE_NO_API_KEY", "false", 0, 0, NULL,
     F(insecure_no_api_key), "INSECURE: serve the HTTP API without any key (development only)"},
    {"max-message-bytes", BF_CFG_INT, "BELFRY_MAX_MESSAGE_BYTES", "65536", 64, 16777216, NULL,
     F(max_message_bytes), "largest publish body (larger: HTTP 413; Redis ingress: dropped)"},
    {"heartbeat-ms", BF_CFG_INT, "BELFRY_HEARTBEAT_MS", "1000", 100, 60000, NULL, F(heartbeat_ms),
     "membership heartbeat interval"},
    {"heartbeat-ttl-ms", BF_CFG_INT, "BELFRY_HEARTBEAT_TTL_MS", "5000", 300, 600000, NULL,
     F(heartbeat_ttl_ms), "membership expires this long after the last heartbeat"},
    {"overload-silence-ms", BF_CFG_INT, "BELFRY_OVERLOAD_SILENCE_MS", "500", 0, 600000, NULL,
     F(overload_silence_ms),
     "publishes are refused (503 overloaded) while a gateway reports a delivery backlog, or has "
     "been silent this long with Redis still queueing for it (0: reports ignored, never refused)"},
    {"fanout-window", BF_CFG_INT, "BELFRY_FANOUT_WINDOW", "0", 0, 1000000, NULL, F(fanout_window),
     "HTTP publishes to a channel are refused (503 overloaded) while a gateway has this many of "
     "its messages not yet written to every subscriber (gateways report channels with at least "
     "--fanout-report-min-subs subscribers; 0: no window)"},
    {"fanout-stale-ms", BF_CFG_INT, "BELFRY_FANOUT_STALE_MS", "500", 1, 600000, NULL,
     F(fanout_stale_ms),
     "the fan-out window stops waiting for a gateway whose oldest unwritten message is this old"},
    {"fanout-retry-ms", BF_CFG_INT, "BELFRY_FANOUT_RETRY_MS", "5", 1, 60000, NULL,
     F(fanout_retry_ms),
     "retry delay suggested to a publisher the fan-out window refused, until the gateway's "
     "fan-out time is known (then: what it may still take)"},
    {"fanout-hold-ms", BF_CFG_INT, "BELFRY_FANOUT_HOLD_MS", "0", 0, 60000, NULL, F(fanout_hold_ms),
     "a publish the fan-out window refuses is held (its answer waits) and sent again when the "
     "channel's last message is written, for at most this long, then 503 (0: 503 at once)"},
    {"fanout-hold-max", BF_CFG_INT, "BELFRY_FANOUT_HOLD_MAX", "256", 1, 1000000, NULL,
     F(fanout_hold_max), "publishes one channel may have held on this router; more: 503 at once"},
    {"sweep-interval-ms", BF_CFG_INT, "BELFRY_SWEEP_INTERVAL_MS", "2000", 100, 600000, NULL,
     F(sweep_interval_ms),
     "how often owners look for dead gateways and remove their connections and presence"},
    {"history-size", BF_CFG_INT, "BELFRY_HISTORY_SIZE", "100", 0, 100000, NULL, F(history_size),
     "sequenced messages kept per channel for recovery (0: no history)"},
    {"history-ttl", BF_CFG_INT, "BELFRY_HISTORY_TTL", "300", 1, 604800, NULL, F(history_ttl_s),
     "seconds a channel's history is kept after its last message"},
    {"pusher-timestamp-skew", BF_CFG_INT, "BELFRY_PUSHER_TIMESTAMP_SKEW", "600", 1, 86400, NULL,
     F(pusher_timestamp_skew_s),
     "Pusher HTTP API: seconds auth_timestamp may differ from the router's clock (else 401)"},
    {"max-event-bytes", BF_CFG_INT, "BELFRY_MAX_EVENT_BYTES", "10240", 16, 1048576, NULL,
     F(max_event_bytes), "Pusher HTTP API: largest event data (larger: HTTP 413)"},
    {"webhook", BF_CFG_LIST, "BELFRY_WEBHOOKS", NULL, 0, 0, NULL, F(webhooks),
     "Pusher webhooks: APPID=http://HOST[:PORT]/PATH, repeatable, several per app allowed "
     "(env: comma-separated)"},
    {"webhook-events", BF_CFG_STRING, "BELFRY_WEBHOOK_EVENTS",
     "channel_occupied,channel_vacated,member_added,member_removed,cache_miss", 0, 0, NULL,
     F(webhook_events), "webhook events to send (comma-separated; client_event is off by default)"},
    {"webhook-batch-max", BF_CFG_INT, "BELFRY_WEBHOOK_BATCH_MAX", "50", 1, 1000, NULL,
     F(webhook_batch_max), "most events in one webhook request"},
    {"webhook-batch-ms", BF_CFG_INT, "BELFRY_WEBHOOK_BATCH_MS", "100", 10, 10000, NULL,
     F(webhook_batch_ms), "how often queued webhook events are read (and so batched)"},
    {"webhook-vacate-delay", BF_CFG_INT, "BELFRY_WEBHOOK_VACATE_DELAY", "3000", 0, 600000, NULL,
     F(webhook_vacate_delay_ms),
     "ms a vacated channel waits before channel_vacated; a new subscriber meanwhile cancels both"},
    {"webhook-timeout-ms", BF_CFG_INT, "BELFRY_WEBHOOK_TIMEOUT_MS", "5000", 100, 120000, NULL,
     F(webhook_timeout_ms), "a webhook request not answered in this time is retried"},
    {"webhook-retry-initial-ms", BF_CFG_INT, "BELFRY_WEBHOOK_RETRY_INITIAL_MS", "1000", 10, 600000,
     NULL, F(webhook_retry_initial_ms),
     "first retry delay; doubled on every retry (at most 60 s), spread +-50 %"},
    {"webhook-retry-max-ms", BF_CFG_INT, "BELFRY_WEBHOOK_RETRY_MAX_MS", "300000", 0, 86400000, NULL,
     F(webhook_retry_max_ms),
     "a webhook still failing this long after its first attempt is dropped (logged, counted)"},
    {"webhook-claim-ms", BF_CFG_INT, "BELFRY_WEBHOOK_CLAIM_MS", "30000", 300, 3600000, NULL,
     F(webhook_claim_ms),
     "webhook events held this long by a router that stopped renewing them (it died) are "
     "delivered by another"},
    {"webhook-max-pending", BF_CFG_INT, "BELFRY_WEBHOOK_MAX_PENDING", "10000", 1, 10000000, NULL,
     F(webhook_max_pending),
     "most webhook events one router holds in memory; the rest wait in Redis"},
    {NULL, 0, NULL, NULL, 0, 0, NULL, 0, NULL},
};
