/* Pusher signatures on the client side of the protocol: channel authorisation
 * ("key:HMAC-SHA256(secret, socket_id:channel[:channel_data])") and user sign-in
 * ("key:HMAC-SHA256(secret, socket_id::user::user_data)"), compared in constant time. Pure, so the
 * published test vectors run against it as unit tests. */
#ifndef BF_PUSHER_SIG_H
#define BF_PUSHER_SIG_H

#include "apps.h"

typedef enum {
    BF_PSIG_OK = 0,
    BF_PSIG_MISSING,   /* no auth string: status 401 */
    BF_PSIG_MALFORMED, /* not "key:64 hex": status 401 */
    BF_PSIG_WRONG_KEY, /* signed for another app: status 401 */
    BF_PSIG_SIGNATURE, /* the signature does not match: status 403 */
} bf_psig_status;

/* Checks auth for a subscription of socket_id to channel (the bare name the client sent);
 * channel_data is the presence channel_data string exactly as sent, or NULL for private
 * channels. *why gets a static message for the client on failure. */
bf_psig_status bf_pusher_sig_channel(const bf_app *app, const char *socket_id, const char *channel,
                                     const char *channel_data, const char *auth, const char **why);

/* Checks auth for pusher:signin of socket_id with user_data (the string exactly as sent). */
bf_psig_status bf_pusher_sig_user(const bf_app *app, const char *socket_id, const char *user_data,
                                  const char *auth, const char **why);

/* The HTTP-like status for a failure (401 or 403). */
int bf_pusher_sig_http_status(bf_psig_status st);

#endif
