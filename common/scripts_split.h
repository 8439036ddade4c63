/* The script calls that take several single-slot steps on Redis Cluster (scripts.h:
 * bf_conns_send, bf_presence_enqueue_send, bf_leave_send), in scripts_split.c. On a cluster two
 * commands for two slots go to two nodes and are not ordered, so each step is sent from the
 * previous one's replies, and the caller's callback runs once, after the last step, with one
 * reply shaped as the single-Redis call's (or the first error). Internal to common/. */
#ifndef BF_SCRIPTS_SPLIT_H
#define BF_SCRIPTS_SPLIT_H

#include "scripts.h"

/* bf_conns_send on a cluster:// link (same contract). */
int bf__conns_send_cluster(bf_redis *r, const char *prefix, const char *node_id,
                           const bf_conns_change *changes, size_t n, redisCallbackFn *cb,
                           void *priv);

#endif
