/* The gateway's own listening socket.
 *
 * lws 4.1 on Linux never sets SO_REUSEPORT, and ignores an IPv4 address it is told to listen on
 * when built with IPv6, so the gateway listens itself: getaddrinfo(host), SO_REUSEADDR +
 * SO_REUSEPORT (so --workers processes share the port and the kernel spreads connections), and
 * each accepted socket is handed to lws with lws_adopt_socket_vhost(), which serves it exactly
 * as if its own listener had accepted it (HTTP, then the WebSocket upgrade). Accepting runs on
 * the gateway's libuv loop. A socket whose descriptor number lws' table cannot hold (max_fd,
 * see bf_gateway_start) is closed at once instead: lws would refuse it anyway, with an error
 * line per socket. */
#ifndef BF_LISTENER_H
#define BF_LISTENER_H

#include "config.h"

#include <libwebsockets.h>
#include <uv.h>

typedef struct bf_listener bf_listener;

/* Listens on addr and starts accepting into vh; descriptors >= max_fd are closed and counted
 * in *refused (borrowed, outlives the listener). Returns NULL with err filled on failure.
 * Caller frees with bf_listener_free (the handle is closed on the loop; run it once after). */
bf_listener *bf_listener_new(uv_loop_t *loop, struct lws_vhost *vh, const bf_hostport *addr,
                             int max_fd, uint64_t *refused, char *err, size_t errlen);
/* Stops accepting and closes the socket (a draining gateway takes no new connections). */
void bf_listener_stop(bf_listener *l);
void bf_listener_free(bf_listener *l);

#endif
