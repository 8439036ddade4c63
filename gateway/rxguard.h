/* rxguard — where the gateway sees a WebSocket client's bytes before libwebsockets does.
 *
 * libwebsockets 4.1.6 reads its sockets itself (recv() in lws_ssl_capable_read_no_ssl) and hands
 * the protocol only unmasked payloads, so the frame checks of wsguard.h need the bytes as they
 * come off the socket. The gateway defines recv() itself (rxguard.c): the dynamic linker binds
 * liblws' calls to the executable's definition, which calls the C library's (dlsym RTLD_NEXT) and
 * then, for a watched descriptor only, runs the frame guard on what was read. A violation is
 * never passed on: recv() returns only the bytes before the offending frame (EAGAIN if none),
 * discards the rest, and the connection is reported through the callback the next time the
 * loop calls bf_rxguard_dispatch() (lws must not be called back from inside its own read), where
 * the gateway closes it with 1002. Upstream lws (4.3) refuses unmasked frames itself; when Debian
 * ships it, this module can go.
 *
 * Process-wide, because recv() is: one guard per process, set up by bf_rxguard_init. */
#ifndef BF_RXGUARD_H
#define BF_RXGUARD_H

#include <stddef.h>
#include <stdint.h>

/* Called from bf_rxguard_dispatch for a connection whose client broke the framing rules; conn is
 * the pointer given to bf_rxguard_watch, reason a static string. The descriptor is no longer
 * watched when it is called. */
typedef void (*bf_rxguard_fail_fn)(void *conn, const char *reason, void *arg);

/* Watches descriptors below max_fd. Returns 0 (or BF_EINVAL if already initialised). */
int bf_rxguard_init(size_t max_fd, bf_rxguard_fail_fn fail, void *arg);
/* Stops every watch and frees the guard. */
void bf_rxguard_deinit(void);

/* Starts following fd's byte stream at a frame boundary (the upgrade is complete); conn is
 * borrowed until bf_rxguard_unwatch or the fail callback. No-op for an fd out of range. */
void bf_rxguard_watch(int fd, void *conn);
void bf_rxguard_unwatch(int fd);

/* Reports the connections found in violation since the last call. Call once per loop turn. */
void bf_rxguard_dispatch(void);

/* Connections failed by the guard since start (a metric). */
uint64_t bf_rxguard_failures(void);

#endif
