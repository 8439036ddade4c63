#include "listener.h"
#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPTS_PER_WAKEUP 64 /* then let the loop serve the others */

struct bf_listener {
    uv_poll_t poll;
    int fd;
    struct lws_vhost *vh;
    int max_fd;
    uint64_t *refused;
    uint64_t accept_errors;
};

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    bf_listener *l = h->data;
    if (status < 0) return;
    for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                /* EMFILE and friends: log sparingly; the pending client retries or times out */
                if ((l->accept_errors++ & 1023) == 0)
                    bf_warn("accept failed: %s (%llu times)", strerror(errno),
                            (unsigned long long)l->accept_errors);
            }
            return;
        }
        if (fd >= l->max_fd) {
            /* more descriptors are open than lws' table holds: only while that many handshakes
             * are in flight above --max-connections (each of those would get a 503) */
            close(fd);
            if (((*l->refused)++ & 1023) == 0)
                bf_warn("closed an accepted connection at descriptor %d: libwebsockets' table "
                        "holds %d (raise --max-connections to hold more)",
                        fd, l->max_fd);
            continue;
        }
        /* TCP_NODELAY comes from the listening socket (see bf_listener_new) */
        /* on failure lws closes fd itself */
        if (!lws_adopt_socket_vhost(l->vh, fd)) bf_debug("lws refused an accepted connection");
    }
}

bf_listener *bf_listener_new(uv_loop_t *loop, struct lws_vhost *vh, const bf_hostport *addr,
                             int max_fd, uint64_t *refused, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof(port), "%d", addr->port);
    int rc = getaddrinfo(addr->host, port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "cannot resolve %s: %s", addr->host, gai_strerror(rc));
        return NULL;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    /* TCP_NODELAY: writes are whole frames, already coalesced per loop turn, so Nagle could
     * only hold a frame back until the previous one is acknowledged (up to the peer's
     * delayed-ACK timeout); lws does not set it on sockets it adopts. Accepted sockets inherit
     * it from the listening socket, which saves a system call per connection. */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
        bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 1024)) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", addr->host, addr->port,
                 strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return NULL;
    }
    freeaddrinfo(res);
    bf_listener *l = bf_calloc(1, sizeof(*l));
    l->fd = fd;
    l->vh = vh;
    l->max_fd = max_fd;
    l->refused = refused;
    uv_poll_init(loop, &l->poll, fd);
    l->poll.data = l;
    uv_poll_start(&l->poll, UV_READABLE, on_readable);
    return l;
}

static void on_closed(uv_handle_t *h)
{
    bf_listener *l = h->data;
    if (l->fd >= 0) close(l->fd);
    free(l);
}

void bf_listener_stop(bf_listener *l)
{
    if (!l || l->fd < 0) return;
    uv_poll_stop(&l->poll);
    /* closing the socket lets the kernel send new connections to the other workers (or refuse
     * them, so that a load balancer tries another gateway) */
    shutdown(l->fd, SHUT_RDWR);
}

void bf_listener_free(bf_listener *l)
{
    if (!l) return;
    uv_close((uv_handle_t *)&l->poll, on_closed);
}
