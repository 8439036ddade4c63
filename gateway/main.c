/* belfry-gateway: wires configuration, logging and the gateway onto one libuv loop. */
#include "apps.h"
#include "alloc.h"
#include "err.h"
#include "ids.h"
#include "workers.h"
#include "gateway.h"
#include "log.h"
#include "redis_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    static bf_gateway gw;
    char err[BF_ERR_LEN];
    bf_alloc_init(); /* jansson too allocates through bf_malloc */
    int rc = bf_config_parse(bf_gw_config_table, &gw.cfg, argc, argv, err, sizeof(err));
    if (rc == BF_CFG_HELP) {
        bf_config_usage(bf_gw_config_table, stdout, "belfry-gateway",
                        "The Belfry WebSocket gateway: clients connect to ws://HOST:PORT/ws/"
                        "{channel}; /healthz, /readyz and /metrics are served on the same port.");
        return 0;
    }
    if (rc == BF_CFG_VERSION) {
        printf("belfry-gateway %s\n", BELFRY_VERSION);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "belfry-gateway: %s\n", err);
        return 2;
    }
    if (gw.cfg.node_id) { /* validated by its row: 1-64 bytes, no '/' */
        snprintf(gw.node_id, sizeof(gw.node_id), "%s", gw.cfg.node_id);
    } else {
        snprintf(gw.node_id, sizeof(gw.node_id), "gw");
    }
    /* Every process start is a new instance: state a previous incarnation left in Redis is
     * swept as that of a dead gateway, never mistaken for ours. */
    char boot[9];
    bf_ids_random_hex(boot, 4);
    size_t nl = strlen(gw.node_id);
    snprintf(gw.node_id + nl, sizeof(gw.node_id) - nl, ".%s", boot);
    if (gw.cfg.workers > 1) {
        bf_log_level l = BF_LOG_INFO;
        bf_log_parse_level(gw.cfg.log_level, &l);
        bf_log_init("gateway", l, !strcmp(gw.cfg.log_format, "json"));
        bf_workers_run((int)gw.cfg.workers); /* returns in each worker only */
        /* a worker is a new instance: its own id suffix */
        bf_ids_random_hex(boot, 4);
        snprintf(gw.node_id + nl, sizeof(gw.node_id) - nl, ".%s", boot);
    }
    bf_log_level lvl = BF_LOG_INFO;
    bf_log_parse_level(gw.cfg.log_level, &lvl);
    bf_log_init("gateway", lvl, !strcmp(gw.cfg.log_format, "json"));
    srand((unsigned)(time(NULL) ^ getpid()));

    if (gw.cfg.insecure_any_token)
        bf_warn("INSECURE: --insecure-any-token: private and presence channels accept ANY "
                "token and take the user id from ?userId=. Never use this in production.");
    else if (!gw.cfg.jwt_secret)
        bf_warn("no --jwt-secret: private and presence channels are refused with 503");
    if (gw.cfg.allow_public_whisper)
        bf_warn("--allow-public-whisper: anyone who can connect may whisper to public channels");

    uv_loop_t loop;
    uv_loop_init(&loop);
    if (bf_gateway_start(&gw, &loop, err, sizeof(err))) {
        bf_error("%s", err);
        bf_gateway_deinit(&gw);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    bf_gateway_deinit(&gw);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    bf_info("stopped");
    bf_apps_free(gw.cfg.apps);
    return 0;
}
