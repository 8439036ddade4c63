#include "rt_config.h"

#include "redis_keys.h"

#include <stddef.h>

#define F(x) offsetof(bf_rt_config, x)

const bf_cfg_opt bf_rt_config_table[] = {
    {"listen", BF_CFG_HOSTPORT, "BELFRY_LISTEN", "0.0.0.0:8090", 1, 65535, NULL, F(listen),
     "address and port of the HTTP API"},
    {"redis", BF_CFG_REDIS, "BELFRY_REDIS_URL", "redis://127.0.0.1:6379", 0, 0, NULL, F(redis),
     "Redis URL: redis://[[user]:password@]host[:port][/db] or "
     "sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db]"},
    {"node-id", BF_CFG_NAME, "BELFRY_NODE_ID", NULL, 1, 64, NULL, F(node_id),
     "unique node id (default: random, new on every start)"},
    {"redis-prefix", BF_CFG_STRING, "BELFRY_REDIS_PREFIX", "belfry:", 0, BF_PREFIX_MAX, NULL,
     F(redis_prefix), "prefix of every Redis key and subject (at most 64 bytes)"},
    {"redis-timeout", BF_CFG_INT, "BELFRY_REDIS_TIMEOUT", "2000", 100, 600000, NULL,
     F(redis_timeout_ms),
     "milliseconds a Redis command may wait for its reply; then the link is reset (503 meanwhile)"},
    {"log-level", BF_CFG_STRING, "BELFRY_LOG_LEVEL", "info", 0, 0, "debug|info|warn|error",
     F(log_level), "minimum level logged"},
    {"log-format", BF_CFG_STRING, "BELFRY_LOG_FORMAT", "text", 0, 0, "text|json", F(log_format),
     "log line format"},
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
    {NULL, 0, NULL, NULL, 0, 0, NULL, 0, NULL},
};
