/* conncount.h — this gateway's connection count per channel, kept in Redis (conns:{channel})
 * for channel info, the CLI and the owners' sweep of a dead gateway's state.
 *
 * Changes are collected, not sent: a connect or disconnect only adds to its channel's pending
 * change, and bf_conncount_flush (once per loop turn) sends every changed channel in one
 * conns.lua call. A connection storm then costs Redis one script call per loop turn instead of
 * one per connection, and a connect and disconnect in the same turn cost nothing. */
#ifndef BF_CONNCOUNT_H
#define BF_CONNCOUNT_H

#include "redis.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct bf_conncount bf_conncount;

/* prefix and node_id are copied. Never NULL; free with bf_conncount_free. */
bf_conncount *bf_conncount_new(const char *prefix, const char *node_id);
void bf_conncount_free(bf_conncount *cc);

/* Adds delta to channel's pending change. */
void bf_conncount_add(bf_conncount *cc, const char *channel, int delta);
/* Replaces channel's pending change by "the count is n" (after a Redis reconnect, when Redis is
 * rebuilt from the gateway's own state). */
void bf_conncount_set(bf_conncount *cc, const char *channel, size_t n);
/* Forgets every pending change (the gateway is leaving: leave.lua, which the gateway's stop()
 * flushes before the process exits, removes its field from conns:{channel} for every channel of
 * its gwchans set). */
void bf_conncount_discard(bf_conncount *cc);
/* Sends the pending changes (at most BF_CONNCOUNT_BATCH channels per script call) and forgets
 * them; while r is not ready they are kept. On a cluster:// link a call takes several steps that
 * are not ordered against the next call's (bf_conns_send), so while calls are unanswered the
 * changes are kept too, and add up. Returns the number of script calls sent. */
#define BF_CONNCOUNT_BATCH 256
int bf_conncount_flush(bf_conncount *cc, bf_redis *r);

/* True while a call sent by bf_conncount_flush is unanswered (on a cluster, its steps may still
 * be changing gwchans). */
bool bf_conncount_busy(const bf_conncount *cc);
/* For the reconciliation on a cluster (reconcile.h): from the mark on, the channels sent are
 * remembered, until the next mark or bf_conncount_unmark. bf_conncount_changed tells whether a
 * channel was sent since the mark, or has a change not yet sent. */
void bf_conncount_mark(bf_conncount *cc);
void bf_conncount_unmark(bf_conncount *cc);
bool bf_conncount_changed(const bf_conncount *cc, const char *channel);

#endif
