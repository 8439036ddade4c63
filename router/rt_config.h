/* belfry-router configuration: one table drives flags, environment and --help. */
#ifndef BF_RT_CONFIG_H
#define BF_RT_CONFIG_H

#include "config.h"

#include <stdbool.h>

typedef struct bf_rt_config {
    bf_hostport listen;
    bf_redis_url redis;
    const char *node_id;
    const char *redis_prefix;
    long long redis_timeout_ms;
    long long redis_sentinel_timeout_ms;
    long long redis_cluster_refresh_ms, redis_cluster_max_redirects;
    const char *log_level;
    const char *log_format;
    const char *api_key;
    struct bf_apps *apps; /* --app / BELFRY_APPS; owned, freed by main */
    bool insecure_no_api_key;
    long long max_message_bytes;
    long long heartbeat_ms;
    long long heartbeat_ttl_ms;
    long long overload_silence_ms;
    long long fanout_window, fanout_stale_ms, fanout_retry_ms, fanout_hold_ms, fanout_hold_max;
    long long sweep_interval_ms;
    long long history_size;
    long long history_ttl_s;
    long long pusher_timestamp_skew_s;
    long long max_event_bytes;
    bf_strlist webhooks; /* --webhook APPID=URL (repeatable); owned, cleared by main */
    const char *webhook_events;
    long long webhook_batch_max, webhook_batch_ms, webhook_vacate_delay_ms, webhook_timeout_ms;
    long long webhook_retry_initial_ms, webhook_retry_max_ms, webhook_claim_ms;
    long long webhook_max_pending;
} bf_rt_config;

extern const bf_cfg_opt bf_rt_config_table[];

#endif
