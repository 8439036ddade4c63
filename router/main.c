/* belfry-router: wires configuration, logging and the router onto one libevent base. */
#include "alloc.h"
#include "apps.h"
#include "err.h"
#include "ids.h"
#include "log.h"
#include "redis_keys.h"
#include "router.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    static bf_router rt;
    char err[BF_ERR_LEN];
    bf_alloc_init(); /* jansson too allocates through bf_malloc */
    int rc = bf_config_parse(bf_rt_config_table, &rt.cfg, argc, argv, err, sizeof(err));
    if (rc == BF_CFG_HELP) {
        bf_config_usage(bf_rt_config_table, stdout, "belfry-router",
                        "The Belfry router: owns channels (consistent hashing over live routers), "
                        "sequences publishes and serves the HTTP API (POST /broadcast/{channel}).");
        return 0;
    }
    if (rc == BF_CFG_VERSION) {
        printf("belfry-router %s\n", BELFRY_VERSION);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "belfry-router: %s\n", err);
        return 2;
    }
    if (!rt.cfg.api_key && !rt.cfg.insecure_no_api_key) {
        fprintf(stderr, "belfry-router: --api-key: required (or BELFRY_API_KEY); use "
                        "--insecure-no-api-key only for local development\n");
        return 2;
    }
    if (rt.cfg.node_id) { /* validated by its row: 1-64 bytes, no '/' */
        snprintf(rt.node_id, sizeof(rt.node_id), "%s", rt.cfg.node_id);
    } else {
        char hex[13];
        bf_ids_random_hex(hex, 6);
        snprintf(rt.node_id, sizeof(rt.node_id), "rt-%s", hex);
    }
    bf_log_level lvl = BF_LOG_INFO;
    bf_log_parse_level(rt.cfg.log_level, &lvl);
    bf_log_init("router", lvl, !strcmp(rt.cfg.log_format, "json"));
    srand((unsigned)(time(NULL) ^ getpid()));
    if (!rt.cfg.api_key)
        bf_warn("INSECURE: --insecure-no-api-key: anyone who can reach %s:%d can publish. "
                "Never use this in production.",
                rt.cfg.listen.host, rt.cfg.listen.port);

    struct event_base *base = event_base_new();
    int src = bf_router_start(&rt, base, err, sizeof(err));
    if (src) {
        bf_error("%s", err);
        bf_router_deinit(&rt);
        event_base_free(base);
        bf_apps_free(rt.cfg.apps);
        bf_strlist_clear(&rt.cfg.webhooks);
        return src == BF_EINVAL ? 2 : 1; /* 2: a configuration error, as for bad flags */
    }
    event_base_dispatch(base);
    bf_router_deinit(&rt);
    event_base_free(base);
    bf_info("stopped");
    bf_apps_free(rt.cfg.apps);
    bf_strlist_clear(&rt.cfg.webhooks);
    return 0;
}
