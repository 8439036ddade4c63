/* Internals of the Pusher protocol shared by proto_pusher.c (connections, subscribe,
 * unsubscribe, client events, sign-in) and pusher_subs.c (the subscriptions that need Redis
 * around going live: a presence channel's member limit before it joins, a cache channel's last
 * event after). Prefix bf__pusher_: not for other modules. */
#ifndef BF_PUSHER_SUBS_H
#define BF_PUSHER_SUBS_H

#include "gateway.h"

/* ---- in proto_pusher.c ---- */

/* The bare (client-side) name of a scoped channel name (borrowed from scoped). */
const char *bf__pusher_bare(const char *scoped);
/* Queues text (rendered JSON, NUL-free) on c and frees it; NULL (out of memory) is a no-op. */
void bf__pusher_send(bf_gateway *gw, bf_conn *c, char *text);
/* pusher:error {message, code} (code 0: null). */
void bf__pusher_error(bf_gateway *gw, bf_conn *c, int code, const char *message);
/* pusher:subscription_error on channel (bare) with {type, error, status}; counted. */
void bf__pusher_subscription_error(bf_gateway *gw, bf_conn *c, const char *channel,
                                   const char *type, const char *error, int status);
/* Joins s to the scoped channel in the hub and counts it. */
void bf__pusher_join(bf_gateway *gw, bf_sub *s, const char *scoped);

/* ---- in pusher_subs.c ---- */

/* Parses presence channel_data {"user_id": string or integer, "user_info"?: any}: the member JSON
 * the presence scripts store ({"id","joinedAt","info"}) into *member and the user id into *user
 * (both malloc'd, caller frees); or returns a static message for the client (nothing allocated). */
const char *bf__pusher_channel_data(const char *cd, char **user, char **member);
/* Checks --max-presence-members for presence subscription s (not yet joined; its user_id and
 * info set) on the scoped channel, then joins it or answers subscription_error and frees it. */
void bf__pusher_check_members(bf_gateway *gw, bf_sub *s, const char *scoped);
/* The scoped channel of a subscription still waiting for its member check, or NULL. */
const char *bf__pusher_pending_channel(const bf_sub *s);
/* Sends a cache channel's last event (or pusher:cache_miss) to live subscription s. */
void bf__pusher_cache_lookup(bf_gateway *gw, bf_sub *s);

#endif
