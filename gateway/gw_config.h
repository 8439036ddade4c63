/* belfry-gateway configuration: one table drives flags, environment and --help. */
#ifndef BF_GW_CONFIG_H
#define BF_GW_CONFIG_H

#include "config.h"

#include <stdbool.h>

typedef struct bf_gw_config {
    bf_hostport listen;
    bf_redis_url redis;
    const char *node_id;
    const char *redis_prefix;
    long long redis_timeout_ms;
    long long redis_sentinel_timeout_ms;
    long long redis_cluster_refresh_ms, redis_cluster_max_redirects;
    const char *log_level;
    const char *log_format;
    long long max_message_bytes;
    long long rx_buffer_bytes;
    long long send_queue_messages;
    long long send_queue_bytes;
    long long ping_interval_s;
    long long ping_timeout_s;
    long long heartbeat_ms;
    long long backlog_limit_ms, backlog_probe_ms, backlog_report_ms;
    long long fanout_report_min_subs;
    long long heartbeat_ttl_ms;
    long long drain_timeout_s;
    const char *jwt_secret;
    struct bf_apps *apps; /* --app / BELFRY_APPS; owned, freed by main */
    long long jwt_leeway_s;
    bool insecure_any_token;
    const char *allowed_origins;
    bool allow_public_whisper;
    long long whisper_rate;
    long long whisper_burst;
    long long max_connections;
    long long max_connections_per_ip;
    long long max_connections_per_user;
    long long handshake_timeout_s;
    long long redis_probe_ms;
    long long redis_probe_timeout_ms;
    long long workers;
    long long activity_timeout_s;
    long long max_channels_per_connection;
    long long presence_reconcile_interval_s;
    long long max_presence_members;
    long long client_event_rate;
} bf_gw_config;

extern const bf_cfg_opt bf_gw_config_table[];

#endif
