/* Connection limits of one gateway process: its capacity (--max-connections) and the per-IP
 * and per-user counts (--max-connections-per-ip, --max-connections-per-user). Counts live in the
 * gateway's per_ip/per_user dictionaries; a limit of 0 is not counted at all. */
#ifndef BF_CONNLIMITS_H
#define BF_CONNLIMITS_H

#include "gateway.h"

/* The HTTP status to refuse an upgrade with (503 gateway full, 429 per-IP or per-user limit),
 * with *code (static) and a message written into msg; or 0 if it may proceed. ip/user may be
 * NULL. Counts the refusal in gw->stats. */
unsigned bf_connlimits_check(bf_gateway *gw, const char *ip, const char *user, const char **code,
                             char *msg, size_t msglen);
/* Counts an accepted connection (+1) or a closed one (-1) against the per-IP/per-user limits. */
void bf_connlimits_count(bf_gateway *gw, const char *ip, const char *user, int delta);

#endif
