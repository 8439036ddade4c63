/* Pusher webhooks: exactly one event per transition cluster-wide, delivered at least once.
 *
 * Generation is not here: the Lua scripts that make a transition queue its event in the Redis
 * stream <prefix>webhooks in the same atomic step (webhooks.lib.lua) — conns.lua when a channel's
 * first connection on any gateway arrives or its last one leaves, the presence scripts when a
 * user's first connection joins or last one leaves, sweep.lua when a dead gateway held the last
 * ones; gateways queue client_event and cache_miss (webhook_event.lua). A vacated channel is held
 * in <prefix>webhooks:vacating for the vacate delay, and a reconnect within it cancels both events;
 * webhook_due.lua queues the vacate when it is due. Nothing is queued unless some live router
 * delivers webhooks (<prefix>webhooks:on, refreshed here).
 *
 * Delivery (this module): every router with webhooks configured reads the stream through the
 * consumer group "routers" (XREADGROUP, every --webhook-batch-ms, at most --webhook-batch-max
 * events), so each event goes to one router; an event stays pending in Redis until its webhook
 * is answered 2xx or dropped. A router keeps the events it holds fresh (XCLAIM), and claims
 * (XAUTOCLAIM) events idle for --webhook-claim-ms, i.e. held by a router that died before
 * delivering them. Per app and URL, the events read together form one POST
 *     {"time_ms":T,"events":[{"name":N,"channel":C,"user_id":U?}...]}
 * with X-Pusher-Key, X-Pusher-Signature (HMAC-SHA256 of the body with the app secret),
 * Content-Type: application/json and X-Belfry-Event-Ids (the events' stream ids, stable across
 * redeliveries: deduplicate on them). Non-2xx, connection errors and timeouts are retried with
 * exponential backoff (bf_backoff, ±50 % jitter, at most 60 s apart) until --webhook-retry-max-ms
 * after the first attempt, then dropped, logged and counted. HTTP runs on the router's libevent
 * loop (evhttp's client); a slow or dead receiver only holds its own events: fan-out and presence
 * never wait for it, and at most --webhook-max-pending events are held (the rest wait in Redis).
 *
 * http:// URLs only (libevent's client here has no TLS): put a TLS-terminating proxy in front
 * of an https receiver. */
#ifndef BF_WEBHOOKS_H
#define BF_WEBHOOKS_H

#include "apps.h"
#include "config.h"
#include "redis.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdint.h>

typedef struct bf_webhooks bf_webhooks;

typedef struct bf_webhooks_opts {
    struct event_base *base; /* borrowed */
    bf_redis *redis;         /* the command link (borrowed; outlives the module) */
    const bf_apps *apps;     /* borrowed */
    const char *prefix;      /* Redis key prefix (borrowed) */
    const char *node_id;     /* the consumer name (borrowed) */
    const bf_strlist *hooks; /* "APPID=http://host[:port]/path" entries (borrowed) */
    const char *events;      /* comma-separated event names to send (borrowed) */
    long long batch_max, batch_ms, vacate_delay_ms, timeout_ms;
    long long retry_initial_ms, retry_max_ms, claim_ms, max_pending;
} bf_webhooks_opts;

/* Validates the hooks and events. Returns NULL with a message in err when none is configured
 * (err empty) or when one is invalid (err names it). Caller frees with bf_webhooks_free. */
bf_webhooks *bf_webhooks_new(const bf_webhooks_opts *o, char *err, size_t errlen);
/* Abandons in-flight requests (their events stay pending in Redis for another router).
 * bf_webhooks_free(NULL) is a no-op. */
void bf_webhooks_free(bf_webhooks *w);

/* Call when the command link is (re)connected: creates the consumer group if needed. */
void bf_webhooks_on_ready(bf_webhooks *w);
/* Drives reading, claiming, retries and the vacate queue; call from the router's tick with
 * bf_now_ms(). */
void bf_webhooks_tick(bf_webhooks *w, uint64_t now_ms);
/* Appends the webhook metrics (Prometheus text) to b. w may be NULL (nothing configured). */
void bf_webhooks_metrics(const bf_webhooks *w, struct evbuffer *b);

#endif
