/* Redis Sentinel client for one bf_redis link: where is the primary now, and tell me when it
 * moves.
 *
 * - bf_sentinel_resolve asks the sentinels of the URL in turn (starting with the one that
 *   answered last) `SENTINEL get-master-addr-by-name MASTER`; a sentinel that refuses the
 *   connection, does not answer within the timeout, or does not know the master is skipped.
 *   The callback runs exactly once per call, never synchronously: with the primary's address, or
 *   with NULL when no sentinel answered.
 * - A watcher connection stays SUBSCRIBEd to `+switch-master` on one sentinel (the next one when
 *   it is lost, retried every second); a switch of our master calls on_switch with the new
 *   address.
 *
 * Credentials of the URL are sent to the sentinels too (AUTH user pass / AUTH pass); a sentinel
 * that has no password configured refuses AUTH, which is ignored: its answer to the query
 * decides. All connections run on the caller's loop through the same attach function as the
 * link; a refused connection moves on at once (the gateway's attach function works around
 * hiredis 0.14's libuv adapter, which dropped the poll error). */
#ifndef BF_SENTINEL_H
#define BF_SENTINEL_H

#include "redis.h"

typedef struct bf_sentinel bf_sentinel;
/* host is valid only during the call (NULL: no sentinel answered). */
typedef void (*bf_sentinel_addr_fn)(void *arg, const char *host, int port);

/* url must be a sentinel:// URL (borrowed: it must outlive s); name is for logs (borrowed, same
 * lifetime). Caller frees with bf_sentinel_free, never from inside on_found/on_switch. */
bf_sentinel *bf_sentinel_new(const bf_redis_url *url, const char *name, bf_redis_attach_fn attach,
                             void *loop, int timeout_ms, bf_sentinel_addr_fn on_switch, void *arg);
void bf_sentinel_free(bf_sentinel *s);

/* Starts a query (cancelling one in progress, whose callback is then never called). */
void bf_sentinel_resolve(bf_sentinel *s, bf_sentinel_addr_fn on_found);

/* Query timeouts and the watcher's reconnection; call from the link's tick. */
void bf_sentinel_tick(bf_sentinel *s, uint64_t now_ms);

#endif
