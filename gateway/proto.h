/* The protocol seam of the gateway.
 *
 * A connection speaks one wire format (bf_proto_id, conn.h) and holds a set of subscriptions
 * (bf_sub). The hub, the fan-out, presence and the limits deal in channels and subscriptions;
 * only a protocol module knows what goes over the socket:
 *   - it parses the client's frames (on_message) and acts on them through the gateway
 *     (subscribe, publish a whisper, answer an error);
 *   - it learns when a subscription is live (on_ready) and starts what follows (recovery,
 *     presence join, a subscription_succeeded frame);
 *   - it renders a fan-out message into its own frame (render), which the hub calls at most once
 *     per message and protocol and shares between every connection of that protocol;
 *   - it maps the gateway's close reasons to its close codes (close_code).
 * proto_native.c is the original protocol (/ws/{channel}, one subscription per connection). */
#ifndef BF_PROTO_H
#define BF_PROTO_H

#include "gateway.h"

/* Close reasons, as the native protocol numbers them (with BF_CLOSE_* in conn.h); conn.c maps
 * them through bf_proto_close_code when it writes the close frame. */
#define BF_CLOSE_DRAIN 1012        /* service restart: reconnect elsewhere */
#define BF_CLOSE_PING_TIMEOUT 1001 /* the client did not answer a ping */

/* The hub's render callback (bf_hub_render_fn): dispatches to the protocol's renderer. */
bf_frame *bf_proto_render(int proto, const bf_fanout *m, const char *channel, void *arg);
/* The code a connection of protocol proto closes with for the gateway's reason code. */
uint16_t bf_proto_close_code(int proto, uint16_t code);
/* A complete client message on c (UTF-8 validated, at most --max-message-bytes). */
void bf_proto_on_message(bf_gateway *gw, bf_conn *c, const char *msg, size_t len);
/* The hub's ready callback (bf_hub_ready_fn): s's channel subscription is confirmed. */
void bf_proto_on_ready(bf_sub *s, void *arg);
/* c is closing: the protocol releases its per-connection state (c->pstate). */
void bf_proto_on_close(bf_gateway *gw, bf_conn *c);

/* ---- the protocol modules (proto_native.c, proto_pusher.c) ---- */
bf_frame *bf_native_render(const bf_fanout *m, const char *channel);
void bf_native_on_message(bf_gateway *gw, bf_conn *c, const char *msg, size_t len);
void bf_native_on_ready(bf_gateway *gw, bf_sub *s);
/* recovery.h's done callback (arg: the gateway): c's recovered frames are queued. */
void bf_native_on_recovered(bf_conn *c, void *arg);

/* Queues text[0..len) on c as one frame; counts a slow consumer if c's queue is full. */
void bf_gw_send_text(bf_gateway *gw, bf_conn *c, const char *text, size_t len);

#endif
