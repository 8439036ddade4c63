/* Which gateways are behind on delivery, from their reports (gateway/backlog.h): while any is,
 * the router refuses publishes with 503 overloaded and a retry delay (http_api.c, pusher_api.c),
 * so that a publisher that goes as fast as it is acknowledged cannot run ahead of delivery, and
 * Redis never queues fan-out for a gateway without bound.
 *
 *   report "<id> <ms> 1"            -> behind
 *   report "<id> <ms> 0"            -> ahead
 *   no report for --overload-silence-ms from a gateway that reported before and is still a live
 *   member                          -> silent: behind if Redis still holds its subscriber link
 *                                      (a stopped process: Redis queues for it), forgotten if
 *                                      not (a dead one: nothing queues). The caller asks Redis
 *                                      (CLIENT LIST TYPE pubsub) when bf_overload_want_clients
 *                                      says so and passes the answer to bf_overload_clients;
 *                                      until an answer comes a silent gateway counts as behind.
 *   not a live member (heartbeat)   -> forgotten
 *
 * A gateway that never reported (--backlog-limit-ms 0, or an older version) is never counted.
 * Plain data, no I/O: the router feeds it. */
#ifndef BF_OVERLOAD_H
#define BF_OVERLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bf_overload bf_overload;

/* silence_ms: --overload-silence-ms; client_prefix: the CLIENT SETNAME prefix of gateways'
 * subscriber links ("<prefix>gwsub:"; copied). Never NULL; free with bf_overload_free. */
bf_overload *bf_overload_new(uint64_t silence_ms, const char *client_prefix);
void bf_overload_free(bf_overload *o);

/* A report from the backlog channel (msg[0..len), borrowed). Returns 0, or -1 if malformed
 * (ignored). */
int bf_overload_report(bf_overload *o, const char *msg, size_t len, uint64_t now_ms);

/* The live gateways (the heartbeat's reply; borrowed): every other one is forgotten. */
void bf_overload_set_live(bf_overload *o, const char *const *ids, size_t n);

/* True when a gateway is silent and Redis' client list is older than its silence: the caller
 * sends CLIENT LIST TYPE pubsub and calls bf_overload_clients with the answer (or NULL if it
 * failed). While a list is awaited no other is asked for. */
bool bf_overload_want_clients(bf_overload *o, uint64_t now_ms);
void bf_overload_clients(bf_overload *o, const char *list, uint64_t now_ms);

/* NULL when publishes may go; otherwise why not (e.g. "gateway gw-2 is 23 ms behind"; valid until
 * the next call), with a suggested retry delay in *retry_ms. */
const char *bf_overload_check(bf_overload *o, uint64_t now_ms, uint64_t *retry_ms);

/* Gateways counted as behind at the last check (for the metrics). */
size_t bf_overload_behind(const bf_overload *o);

#endif
