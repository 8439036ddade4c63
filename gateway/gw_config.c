#include "gw_config.h"

#include <stddef.h>

#define F(x) offsetof(bf_gw_config, x)

const bf_cfg_opt bf_gw_config_table[] = {
    {"listen", BF_CFG_HOSTPORT, "BELFRY_LISTEN", "0.0.0.0:8080", 0, 0, NULL, F(listen),
     "address and port for WebSocket and HTTP clients"},
    {"redis", BF_CFG_REDIS, "BELFRY_REDIS_URL", "redis://127.0.0.1:6379", 0, 0, NULL, F(redis),
     "Redis URL, redis://[:password@]host[:port][/db]"},
    {"node-id", BF_CFG_STRING, "BELFRY_NODE_ID", NULL, 0, 0, NULL, F(node_id),
     "unique node id (default: random, new on every start)"},
    {"redis-prefix", BF_CFG_STRING, "BELFRY_REDIS_PREFIX", "belfry:", 0, 0, NULL, F(redis_prefix),
     "prefix of every Redis key and subject (at most 64 bytes)"},
    {"log-level", BF_CFG_STRING, "BELFRY_LOG_LEVEL", "info", 0, 0, "debug|info|warn|error",
     F(log_level), "minimum level logged"},
    {"log-format", BF_CFG_STRING, "BELFRY_LOG_FORMAT", "text", 0, 0, "text|json", F(log_format),
     "log line format"},
    {"max-message-bytes", BF_CFG_INT, "BELFRY_MAX_MESSAGE_BYTES", "10240", 16, 16777216, NULL,
     F(max_message_bytes),
     "largest client message, counted over the whole reassembled message (larger: close 1009)"},
    {"rx-buffer-bytes", BF_CFG_INT, "BELFRY_RX_BUFFER_BYTES", "512", 128, 1048576, NULL,
     F(rx_buffer_bytes), "per-connection receive buffer (idle memory; larger messages reassemble)"},
    {"send-queue-messages", BF_CFG_INT, "BELFRY_SEND_QUEUE_MESSAGES", "1024", 1, 1000000, NULL,
     F(send_queue_messages), "queued outgoing messages per connection before close 4008"},
    {"send-queue-bytes", BF_CFG_INT, "BELFRY_SEND_QUEUE_BYTES", "1048576", 1024, 1073741824, NULL,
     F(send_queue_bytes), "queued outgoing bytes per connection before close 4008"},
    {"ping-interval", BF_CFG_INT, "BELFRY_PING_INTERVAL", "25", 1, 3600, NULL, F(ping_interval_s),
     "seconds of silence before the server pings a client"},
    {"ping-timeout", BF_CFG_INT, "BELFRY_PING_TIMEOUT", "10", 1, 3600, NULL, F(ping_timeout_s),
     "seconds to wait for the answer to a ping before closing"},
    {"heartbeat-ms", BF_CFG_INT, "BELFRY_HEARTBEAT_MS", "1000", 100, 60000, NULL, F(heartbeat_ms),
     "membership heartbeat interval"},
    {"heartbeat-ttl-ms", BF_CFG_INT, "BELFRY_HEARTBEAT_TTL_MS", "5000", 300, 600000, NULL,
     F(heartbeat_ttl_ms), "membership expires this long after the last heartbeat"},
    {"drain-timeout", BF_CFG_INT, "BELFRY_DRAIN_TIMEOUT", "10", 0, 3600, NULL, F(drain_timeout_s),
     "seconds SIGTERM waits for connections to close before exiting"},
    {NULL, 0, NULL, NULL, 0, 0, NULL, 0, NULL},
};
