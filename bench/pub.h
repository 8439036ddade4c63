/* Publisher connections: HTTP/1.1 keep-alive POSTs, or Redis PUBLISH over raw RESP.
 *
 * One bb_pub is one TCP connection with up to `pipeline` requests in flight (1 for plain
 * keep-alive HTTP; Redis pipelines safely). Each request carries a bb_pub_req that comes back in
 * the done callback, in order, with ok = 1 for an HTTP 2xx or a Redis integer reply > 0 (at least
 * one subscriber, i.e. a router, took the message). If the connection drops, every request in
 * flight completes with ok = 0 and the connection is re-established by bb_pub_tick between polls.
 * The bench drives several of these to keep the publish path busy. */
#ifndef BB_PUB_H
#define BB_PUB_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "url.h"

typedef struct bb_pub_req {
    uint64_t t_sent;   /* CLOCK_MONOTONIC ns when the request was written */
    uint64_t id;       /* the caller's message number */
    uint32_t chan;     /* the caller's channel index */
    uint32_t weight;   /* deliveries the caller expects for it */
    uint32_t retry_ms; /* in the done callback: the response's X-Belfry-Retry-After-Ms, else 0 */
} bb_pub_req;

/* r is valid only during the callback; status is the HTTP status or the Redis integer reply
 * (-1: Redis error reply, 0 on a dropped connection). */
typedef void (*bb_pub_done_cb)(const bb_pub_req *r, int ok, int status, uint64_t now, void *ud);

typedef struct bb_pub bb_pub;

/* url is copied; api_key (NULL: none) adds "Authorization: Bearer KEY" to HTTP requests.
 * Returns NULL on OOM. The connection is made by bb_pub_tick. */
bb_pub *bb_pub_new(bb_loop *loop, const bb_url *url, int pipeline, const char *api_key,
                   bb_pub_done_cb done, void *ud);
void bb_pub_free(bb_pub *p);

/* (Re)connects if needed (blocking connect on loopback). Returns 0 when connected, or -errno. */
int bb_pub_tick(bb_pub *p);

/* Requests that can be sent now (0 while disconnected or full). */
int bb_pub_room(const bb_pub *p);
/* Requests in flight. */
int bb_pub_inflight(const bb_pub *p);

/* Sends body to target (an HTTP path, or a Redis channel name) with req as the request's tag,
 * setting req->t_sent to the time of the write. Requires bb_pub_room() > 0. Returns 0 or -1. */
int bb_pub_send(bb_pub *p, const char *target, const char *body, size_t blen, bb_pub_req *req);

/* Connections re-established after a drop. */
uint64_t bb_pub_reconnects(const bb_pub *p);

#endif
