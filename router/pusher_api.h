/* The Pusher HTTP API on the router's evhttp, next to the native API, so that every Pusher server
 * SDK (Laravel's pusher and reverb broadcasters, pusher-http-node, -php, ...) publishes to and
 * queries a Belfry cluster with only its host and port changed.
 *
 *   POST {prefix}/apps/{id}/events         one event to 1..100 channels    200 {} | {"channels":..}
 *   POST {prefix}/apps/{id}/batch_events   1..10 events                    200 {} | {"batch":[..]}
 *   GET  {prefix}/apps/{id}/channels, /channels/{name}, /channels/{name}/users  (pusher_query.c)
 *   POST {prefix}/apps/{id}/users/{user}/terminate_connections  every gateway  (pusher_query.c)
 *
 * {prefix} is whatever a deployment mounts in front of /apps (nothing by default); it is part of
 * the signed path. Every request is authenticated by pusher_auth.h. An event's channels are the
 * app's scoped channel names (apps.h), and all of a request's channel publishes are sequenced by
 * one publish_batch.lua call: history, seq and recovery work for native clients exactly as for
 * POST /broadcast, and the fan-out envelope carries the data string as sent and the socket_id to
 * exclude (wire.h, elements 8 and 9). The answer is sent once every publish is sequenced.
 *
 * Errors: 400 bad JSON / names / limits, 401 authentication (the body names the failing part),
 * 404 unknown app id or route, 405 method, 413 data over --max-event-bytes, 503 Redis. */
#ifndef BF_PUSHER_API_H
#define BF_PUSHER_API_H

#include "apps.h"
#include "router.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdbool.h>

#define BF_PUSHER_MAX_CHANNELS 100 /* per event, as Pusher */
#define BF_PUSHER_MAX_BATCH 10     /* events per batch_events, as Pusher */
#define BF_PUSHER_MAX_NAME 200     /* event name bytes, as the SDKs */
#define BF_PUSHER_SOCKET_MAX 64    /* socket_id bytes */
#define BF_PUSHER_USER_MAX 128     /* a user id in #server-to-user-{id}, as the gateway */

/* If path (decoded, NUL-terminated; borrowed) is a Pusher API route ("/apps/" anywhere in it),
 * handles req and returns true; otherwise returns false and does nothing. */
bool bf_pusher_api_route(bf_router *rt, struct evhttp_request *req, const char *path);

/* Appends the Pusher API's Prometheus metrics to b. */
void bf_pusher_api_metrics(const bf_router *rt, struct evbuffer *b);

/* ---- shared with pusher_query.c ---------------------------------------------------------- */

/* Replies status with a JSON body (borrowed) and counts errors (status >= 400). */
void bf__pusher_reply(bf_router *rt, struct evhttp_request *req, int status, const char *body);
/* Replies {"error":{"code":CODE,"message":MSG}} with status. */
void bf__pusher_error(bf_router *rt, struct evhttp_request *req, int status, const char *code,
                      const char *msg);

/* Parses an "info" attribute list ("user_count,subscription_count,cache"); sets the flags.
 * Returns 0, or -1 with err naming an unknown attribute. */
typedef struct bf_pusher_info {
    bool user_count, subscription_count, cache;
} bf_pusher_info;
int bf__pusher_parse_info(const char *s, bf_pusher_info *out, char *err, size_t errlen);

typedef struct bf_pusher_ctx {
    const bf_app *app;       /* the authenticated app (borrowed from cfg.apps) */
    const char *rest;        /* the path after /apps/{id}/ (borrowed) */
    struct evkeyvalq *query; /* decoded query parameters (owned by the router, valid in call) */
} bf_pusher_ctx;

/* pusher_query.c: the GET endpoints and terminate_connections. Returns false if c->rest names no
 * such route (the caller replies 404). */
bool bf__pusher_query_route(bf_router *rt, struct evhttp_request *req, const bf_pusher_ctx *c);

#endif
