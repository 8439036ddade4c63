/* The router's HTTP API on evhttp (every {channel} may be unprefixed with a type: ?type=, or for
 * POST the body's "type", maps it as the gateway's /ws/{channel}?type= does):
 *   POST /broadcast/{channel}   publish (Bearer API key)          204 | 400 401 404 405 413 503
 *                               (503 overloaded: a gateway is behind, or --fanout-window: still
 *                               writing the channel's last message; Retry-After says when)
 *   GET  /presence/{channel}    members, one per user (API key)   200 | 400 401 405 503
 *   GET  /channels/{channel}    occupancy (API key)               200 | 400 401 405 503
 *   GET  /history/{channel}     retained messages (API key)       200 | 400 401 405 503
 *   GET  /healthz /readyz       liveness, readiness (no key)
 *   GET  /metrics               Prometheus text (no key)
 *   .../apps/{id}/...           the Pusher HTTP API (pusher_api.h; signed requests, no key)
 * Every error carries {"error":{"code":"...","message":"..."}}.
 *
 * An opaque bf_http_api built from borrowed dependencies (the evhttp server, the command link, the
 * config and the counters it adds to) and callbacks up into the router for what belongs to it:
 * sequencing a publish, readiness, the metrics, and the routes it does not know (the Pusher HTTP
 * API). It calls nothing in router.c: it includes router.h for its types only. */
#ifndef BF_HTTP_API_H
#define BF_HTTP_API_H

#include "redis.h"
#include "router.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct bf_http_api bf_http_api;

typedef struct bf_http_api_opts {
    struct evhttp *http;     /* the routes are installed on it; borrowed */
    bf_redis *cmd;           /* the command link; borrowed */
    const bf_rt_config *cfg; /* api_key, limits, key prefix; borrowed */
    bf_rt_stats *stats;      /* http_requests, http_errors, publishes_http are counted in it */
    struct bf_fhold *hold;   /* publishes the fan-out window refused wait here (fanout_hold.h;
                                borrowed); NULL: answered 503 at once */
    /* Sequences an HTTP publish (unfenced): as bf_router_publish. */
    int (*publish)(void *up, const char *channel, const char *prefix, size_t prefix_len,
                   bf_publish_cb cb, void *arg);
    /* NULL while publishes may go, else why they are refused with 503 overloaded (valid until
     * the call returns) and a retry delay in *retry_ms (bf_router_overloaded). */
    const char *(*overloaded)(void *up, uint64_t *retry_ms);
    /* NULL when ready (GET /readyz), else why not (valid until the call returns). */
    const char *(*not_ready)(void *up);
    /* The connections on live gateways from channel_info.lua's first element (borrowed), or -1
     * for a malformed one (bf_router_live_connections). On a cluster GET /channels/{channel}
     * asks only when ready. */
    long long (*live_connections)(void *up, const redisReply *counts);
    /* Appends the Prometheus text of GET /metrics to b. */
    void (*metrics)(void *up, struct evbuffer *b);
    /* A path none of the native routes takes (the Pusher HTTP API): true if it answered. */
    bool (*other)(void *up, struct evhttp_request *req, const char *path);
    void *up; /* the callbacks' first argument */
} bf_http_api_opts;

/* Installs the routes on o->http; everything borrowed must outlive the object, which must be
 * freed (bf_http_api_free) after the evhttp server and the command link, whose pending requests
 * and replies use it. */
bf_http_api *bf_http_api_new(const bf_http_api_opts *o);

/* Adds Retry-After (whole seconds, at least 1) and X-Belfry-Retry-After-Ms (the delay itself) to
 * a refusal's headers: the Pusher API's 503 overloaded uses it too. */
void bf_http_api_retry_headers(struct evhttp_request *req, uint64_t retry_ms);

/* A publish script's error reply err: if it is the fan-out window's refusal ("FANOUT_BUSY
 * <gateway> <messages> <ms> <left>", bf_admit in common/lua/sequence.lib.lua), writes why into out
 * (cap bytes; channel is the publish's, borrowed), sets *retry_ms to the time the fan-out may
 * still take (1-1000 ms) when the script knows it, leaves it alone otherwise (--fanout-retry-ms),
 * and returns true; false for any other error. The Pusher API answers it as the native one: 503
 * overloaded. */
bool bf_http_api_fanout_busy(const char *err, const char *channel, char *out, size_t cap,
                             uint64_t *retry_ms);
/* True if err is the fan-out window's refusal (not a failure: the caller answers it). */
bool bf_http_api_is_fanout_busy(const char *err);
/* Which of a batch's ntargets a refusal of publish_batch.lua names (0-based; 0 when it names
 * none, or for any other error). */
size_t bf_http_api_fanout_target(const char *err, size_t ntargets);
void bf_http_api_free(bf_http_api *api);

#endif
