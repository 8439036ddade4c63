/* The Pusher Channels protocol on /app/{key} (pusher-js 8, Laravel Echo 2): many channels on one
 * connection, signatures with the app secret. See docs/pusher.md for what is supported and how it
 * differs from Pusher itself; pusher_msg.h for the wire format. */
#ifndef BF_PROTO_PUSHER_H
#define BF_PROTO_PUSHER_H

#include "apps.h"
#include "gateway.h"

#define BF_PUSHER_PATH "/app/"
#define BF_PUSHER_CLIENT_DATA_MAX 10240 /* a client event's data (Pusher's limit) */
#define BF_PUSHER_ERR_CLIENT_RATE 4301  /* pusher:error code: client event rate limit */

/* Pusher close codes (pusher-js: 4000-4099 never reconnects, 4100-4199 backs off, 4200-4299
 * reconnects at once). */
#define BF_PUSHER_CLOSE_APP_UNKNOWN 4001
#define BF_PUSHER_CLOSE_UNAUTHORIZED 4009
#define BF_PUSHER_CLOSE_OVER_CAPACITY 4100
#define BF_PUSHER_CLOSE_RECONNECT 4200
#define BF_PUSHER_CLOSE_PONG_TIMEOUT 4201

/* Which app /app/{key} addresses: the app, or NULL with *why set (static) when the connection
 * must be closed with 4001. key[0..len). */
const bf_app *bf_pusher_app_for_key(const bf_gateway *gw, const char *key, size_t len,
                                    const char **why);

/* A Pusher connection was established on c (zeroed lws session storage). app: borrowed from the
 * configuration, or NULL to close at once with refuse_code and refuse_reason (static). */
void bf_pusher_on_established(bf_gateway *gw, bf_conn *c, struct lws *wsi, const bf_app *app,
                              uint16_t refuse_code, const char *refuse_reason);

bf_frame *bf_pusher_render_frame(const bf_fanout *m, const char *channel);
void bf_pusher_on_message(bf_gateway *gw, bf_conn *c, const char *msg, size_t len);
void bf_pusher_on_ready(bf_gateway *gw, bf_sub *s);
void bf_pusher_on_close(bf_gateway *gw, bf_conn *c);
uint16_t bf_pusher_close_code(uint16_t code);

/* The connection's socket_id "<gateway number>.<connection number>" into out. */
void bf_pusher_socket_id(const bf_gateway *gw, const bf_conn *c, char *out, size_t cap);

#endif
