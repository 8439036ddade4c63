#include "wsc.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define RBUF_SIZE (256 * 1024)
#define MAX_MESSAGE (16u * 1024 * 1024) /* larger frames are a protocol error for the bench */
#define MAX_HEADERS 16384
#define EV_IN (EPOLLIN | EPOLLRDHUP)

static void ws_io(bb_io *io, uint32_t revents);

struct bb_wsctx {
    bb_loop *loop;
    bb_ws_ops ops;
    void *ud;
    uint8_t *rbuf;
    uint32_t mask_seed;
    int stamp;        /* SO_TIMESTAMPNS on new sockets */
    uint64_t arrived; /* of the read being parsed; see bb_wsctx_arrived */
    char first_failure[160];
};

/* ---------------------------------------------------------------------------------------------
 * Context */

bb_wsctx *bb_wsctx_new(bb_loop *loop, const bb_ws_ops *ops, void *ud)
{
    bb_wsctx *x = calloc(1, sizeof(*x));
    if (!x) return NULL;
    x->rbuf = malloc(RBUF_SIZE);
    if (!x->rbuf) {
        free(x);
        return NULL;
    }
    x->loop = loop;
    x->ops = *ops;
    x->ud = ud;
    x->mask_seed = 0x9e3779b9u;
    return x;
}

void bb_wsctx_free(bb_wsctx *x)
{
    if (!x) return;
    free(x->rbuf);
    free(x);
}

void bb_wsctx_stamp_arrivals(bb_wsctx *x, int on)
{
    x->stamp = on;
}

uint64_t bb_wsctx_arrived(const bb_wsctx *x)
{
    return x->arrived;
}

const char *bb_wsctx_first_failure(const bb_wsctx *x)
{
    return x->first_failure;
}

void bb_ws_init(bb_ws *ws)
{
    memset(ws, 0, sizeof(*ws));
    ws->io.fd = -1;
}

/* ---------------------------------------------------------------------------------------------
 * State and teardown */

static void set_state(bb_ws *ws, bb_ws_state st, uint64_t now)
{
    ws->state = (uint8_t)st;
    ws->t_state = now;
}

static void release_buffers(bb_ws *ws)
{
    free(ws->in);
    free(ws->out);
    free(ws->frag);
    ws->in = ws->out = ws->frag = NULL;
    ws->in_len = ws->in_cap = ws->out_len = ws->out_off = ws->frag_len = 0;
}

/* Closes the socket, frees the buffers, then tells the caller. Nothing of ws may be touched by the
 * code that called end() afterwards except through the caller's own state. */
static void end(bb_ws *ws, bb_ws_end why)
{
    bb_wsctx *x = ws->ctx;
    bb_ws_state prev = (bb_ws_state)ws->state;
    int fd = bb_loop_del(x->loop, &ws->io);
    if (fd >= 0) close(fd);
    release_buffers(ws);
    ws->state = BB_WS_IDLE;
    x->ops.on_close(ws, why, prev, x->ud);
}

void bb_ws_abort(bb_ws *ws, bb_ws_end why)
{
    if (ws->state != BB_WS_IDLE) end(ws, why);
}

/* ---------------------------------------------------------------------------------------------
 * Output */

static int out_reserve(bb_ws *ws, size_t more)
{
    size_t need = ws->out_len + more;
    uint8_t *p = realloc(ws->out, need);
    if (!p) return -1;
    ws->out = p;
    return 0;
}

/* Writes what is pending. Returns 0 (all written or waiting for EPOLLOUT) or -1 on error. */
static int flush(bb_ws *ws)
{
    bb_wsctx *x = ws->ctx;
    while (ws->out_off < ws->out_len) {
        ssize_t n = send(ws->io.fd, ws->out + ws->out_off, ws->out_len - ws->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return bb_loop_mod(x->loop, &ws->io, EV_IN | EPOLLOUT);
            return -1;
        }
        ws->out_off += (uint32_t)n;
    }
    free(ws->out);
    ws->out = NULL;
    ws->out_len = ws->out_off = 0;
    if (ws->shut_pending) {
        ws->shut_pending = 0;
        shutdown(ws->io.fd, SHUT_WR);
    }
    return bb_loop_mod(x->loop, &ws->io, EV_IN);
}

int bb_ws_send(bb_ws *ws, int opcode, const void *payload, size_t len)
{
    if (ws->state != BB_WS_OPEN || ws->shut_pending) return -1;
    uint8_t hdr[14];
    size_t hl = 2;
    hdr[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        hdr[1] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        hdr[1] = 0x80 | 126;
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        hl = 4;
    } else {
        hdr[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++) hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    /* the mask only has to be unpredictable to a browser-side attacker; any value works here */
    uint32_t m = ws->ctx->mask_seed = ws->ctx->mask_seed * 1664525u + 1013904223u;
    uint8_t mask[4] = {(uint8_t)(m >> 24), (uint8_t)(m >> 16), (uint8_t)(m >> 8), (uint8_t)m};
    memcpy(hdr + hl, mask, 4);
    hl += 4;
    if (out_reserve(ws, hl + len)) return -1;
    memcpy(ws->out + ws->out_len, hdr, hl);
    uint8_t *dst = ws->out + ws->out_len + hl;
    const uint8_t *src = payload;
    for (size_t i = 0; i < len; i++) dst[i] = src[i] ^ mask[i & 3];
    ws->out_len += (uint32_t)(hl + len);
    return flush(ws);
}

/* ---------------------------------------------------------------------------------------------
 * Connect and handshake */

int bb_ws_connect(bb_wsctx *x, bb_ws *ws, const struct sockaddr_in *src,
                  const struct sockaddr_in *dst, const char *host, const char *path, uint64_t now)
{
    bb_ws_init(ws);
    ws->ctx = x;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (x->stamp) setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    if (src) {
        struct sockaddr_in a = *src;
        a.sin_port = 0;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
    }
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, host);
    if (n < 0 || (size_t)n >= sizeof(req) || !(ws->out = malloc((size_t)n))) {
        close(fd);
        return -ENOMEM;
    }
    memcpy(ws->out, req, (size_t)n);
    ws->out_len = (uint32_t)n;
    int rc = connect(fd, (const struct sockaddr *)dst, sizeof(*dst));
    if (rc < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        release_buffers(ws);
        return -e;
    }
    ws->io.fd = fd;
    ws->io.cb = ws_io;
    set_state(ws, BB_WS_CONNECTING, now);
    if (bb_loop_add(x->loop, &ws->io, EV_IN | EPOLLOUT) < 0) {
        int e = errno;
        ws->io.fd = -1;
        close(fd);
        release_buffers(ws);
        ws->state = BB_WS_IDLE;
        return -e;
    }
    return 0;
}

/* Remembers the first refused upgrade as "status N: BODY" (the body says why, e.g. Belfry's JSON
 * error code), for the report. */
static void note_failure(bb_ws *ws, const uint8_t *p, size_t len)
{
    bb_wsctx *x = ws->ctx;
    if (x->first_failure[0]) return;
    const uint8_t *body = memmem(p, len, "\r\n\r\n", 4);
    body = body ? body + 4 : p;
    char text[128];
    size_t l = (size_t)(p + len - body);
    if (l > sizeof(text) - 1) l = sizeof(text) - 1;
    for (size_t i = 0; i < l; i++)
        text[i] = (body[i] >= 0x20 && body[i] < 0x7f) ? (char)body[i] : ' ';
    text[l] = '\0';
    snprintf(x->first_failure, sizeof(x->first_failure), "status %u: %s", ws->http_status, text);
}

/* Parses the upgrade response in p[0..len). Returns the header length when complete and 101,
 * 0 when more bytes are needed, -1 when refused or malformed (ws ended). */
static long handshake(bb_ws *ws, const uint8_t *p, size_t len, uint64_t now)
{
    const uint8_t *eoh = memmem(p, len, "\r\n\r\n", 4);
    if (!eoh) {
        if (len > MAX_HEADERS) {
            note_failure(ws, p, len);
            end(ws, BB_WS_END_HANDSHAKE);
            return -1;
        }
        return 0;
    }
    unsigned status = 0;
    if (len > 12 && !memcmp(p, "HTTP/1.", 7))
        status = (unsigned)strtoul((const char *)p + 9, 0, 10);
    ws->http_status = (uint16_t)status;
    if (status != 101) {
        note_failure(ws, p, len);
        end(ws, BB_WS_END_HANDSHAKE);
        return -1;
    }
    set_state(ws, BB_WS_OPEN, now);
    ws->ctx->ops.on_open(ws, now, ws->ctx->ud);
    return (long)(eoh + 4 - p);
}

/* ---------------------------------------------------------------------------------------------
 * Frames */

static int deliver(bb_ws *ws, int op, uint8_t fin, uint8_t *pl, uint64_t len, uint64_t now)
{
    bb_wsctx *x = ws->ctx;
    switch (op) {
    case 0x1:
    case 0x2:
        if (ws->frag) return -1; /* a new message inside a fragmented one */
        if (fin) {
            x->ops.on_text(ws, (const char *)pl, len, now, x->ud);
            return 0;
        }
        ws->frag_op = (uint8_t)op; /* the first fragment is stored like a continuation */
        __attribute__((fallthrough));
    case 0x0: {
        if (op == 0 && !ws->frag_op) return -1;
        if ((uint64_t)ws->frag_len + len > MAX_MESSAGE) return -1;
        uint8_t *f = realloc(ws->frag, ws->frag_len + len + 1);
        if (!f) return -1;
        ws->frag = f;
        memcpy(f + ws->frag_len, pl, len);
        ws->frag_len += (uint32_t)len;
        if (fin) {
            x->ops.on_text(ws, (const char *)ws->frag, ws->frag_len, now, x->ud);
            free(ws->frag);
            ws->frag = NULL;
            ws->frag_len = 0;
            ws->frag_op = 0;
        }
        return 0;
    }
    case 0x8: { /* close: answer with the same code, then shut our side down */
        ws->close_code = len >= 2 ? (uint16_t)(pl[0] << 8 | pl[1]) : 1005;
        bb_ws_send(ws, 0x8, pl, len >= 2 ? 2 : 0);
        ws->shut_pending = 1;
        set_state(ws, BB_WS_CLOSING, now);
        return flush(ws);
    }
    case 0x9:
        return bb_ws_send(ws, 0xA, pl, len) < 0 ? -1 : 0;
    case 0xA:
        return 0;
    default:
        return -1;
    }
}

/* Parses complete frames from p[0..len); returns the bytes consumed, or -1 on a protocol error.
 * Stops early if the connection leaves OPEN (the rest is then of no interest). */
static long parse_frames(bb_ws *ws, uint8_t *p, size_t len, uint64_t now)
{
    size_t off = 0;
    while (ws->state == BB_WS_OPEN && len - off >= 2) {
        uint8_t *f = p + off;
        uint8_t fin = f[0] & 0x80, op = f[0] & 0x0f, masked = f[1] & 0x80;
        uint64_t plen = f[1] & 0x7f;
        size_t hl = 2;
        if (plen == 126) {
            if (len - off < 4) break;
            plen = (uint64_t)f[2] << 8 | f[3];
            hl = 4;
        } else if (plen == 127) {
            if (len - off < 10) break;
            plen = 0;
            for (int i = 0; i < 8; i++) plen = plen << 8 | f[2 + i];
            hl = 10;
        }
        if (plen > MAX_MESSAGE) return -1;
        if (masked) hl += 4;
        if (len - off < hl + plen) break;
        uint8_t *pl = f + hl;
        if (masked) /* servers must not mask, but be liberal in what we accept */
            for (uint64_t i = 0; i < plen; i++) pl[i] ^= f[hl - 4 + (i & 3)];
        if (deliver(ws, op, fin, pl, plen, now)) return -1;
        off += hl + plen;
    }
    if (ws->state != BB_WS_OPEN) return (long)len;
    return (long)off;
}

/* Keeps p[0..len) for the next read, in the connection's own buffer. */
static int keep(bb_ws *ws, const uint8_t *p, size_t len)
{
    if (!len) {
        free(ws->in);
        ws->in = NULL;
        ws->in_len = ws->in_cap = 0;
        return 0;
    }
    if (p == ws->in) {
        ws->in_len = (uint32_t)len;
        return 0;
    }
    if (ws->in && ws->in <= p && p < ws->in + ws->in_cap) {
        memmove(ws->in, p, len);
        ws->in_len = (uint32_t)len;
        return 0;
    }
    if (len > ws->in_cap) {
        uint8_t *b = realloc(ws->in, len);
        if (!b) return -1;
        ws->in = b;
        ws->in_cap = (uint32_t)len;
    }
    memcpy(ws->in, p, len);
    ws->in_len = (uint32_t)len;
    return 0;
}

/* recv(), or recvmsg() for the kernel's receive timestamp when the context asks for it (for TCP
 * it is that of the last packet the read consumed). */
static ssize_t read_stamped(bb_ws *ws, uint8_t *p, size_t len, struct timespec *rx_real)
{
    if (!ws->ctx->stamp) return recv(ws->io.fd, p, len, MSG_DONTWAIT);
    union {
        char buf[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = p, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = ctl.buf,
                        .msg_controllen = sizeof(ctl.buf)};
    ssize_t n = recvmsg(ws->io.fd, &mh, MSG_DONTWAIT);
    if (n <= 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
            memcpy(rx_real, CMSG_DATA(c), sizeof(*rx_real));
    return n;
}

static void on_readable(bb_ws *ws)
{
    bb_wsctx *x = ws->ctx;
    uint8_t *base;
    size_t cap;
    if (ws->in_len <= RBUF_SIZE / 2) { /* the usual case: a small partial frame, or nothing */
        if (ws->in_len) memcpy(x->rbuf, ws->in, ws->in_len);
        base = x->rbuf;
        cap = RBUF_SIZE;
    } else { /* a large message in progress: read behind it in its own buffer */
        size_t want = ws->in_len + 65536;
        if (ws->in_cap < want) {
            uint8_t *b = realloc(ws->in, want);
            if (!b) {
                end(ws, BB_WS_END_ERROR);
                return;
            }
            ws->in = b;
            ws->in_cap = (uint32_t)want;
        }
        base = ws->in;
        cap = ws->in_cap;
    }
    struct timespec rx_real = {0};
    ssize_t n = read_stamped(ws, base + ws->in_len, cap - ws->in_len, &rx_real);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        end(ws, ws->state == BB_WS_CLOSING || errno == ECONNRESET
                    ? (ws->local_close ? BB_WS_END_LOCAL : BB_WS_END_PEER)
                    : BB_WS_END_ERROR);
        return;
    }
    if (n == 0) {
        end(ws, ws->state == BB_WS_HANDSHAKE ? BB_WS_END_HANDSHAKE
                : ws->local_close            ? BB_WS_END_LOCAL
                                             : BB_WS_END_PEER);
        return;
    }
    uint64_t now = bb_now_ns();
    x->arrived = 0;
    if (x->stamp && rx_real.tv_sec) {
        /* the stamp is CLOCK_REALTIME; read both clocks now to convert it */
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        int64_t age =
            (int64_t)(rt.tv_sec - rx_real.tv_sec) * 1000000000 + (rt.tv_nsec - rx_real.tv_nsec);
        if (age >= 0 && (uint64_t)age < now) x->arrived = now - (uint64_t)age;
    }
    size_t len = ws->in_len + (size_t)n;
    if (ws->state == BB_WS_CLOSING) { /* draining until the peer's EOF */
        keep(ws, base, 0);
        return;
    }
    size_t off = 0;
    if (ws->state == BB_WS_HANDSHAKE) {
        long h = handshake(ws, base, len, now);
        if (h < 0) return;
        if (h == 0) {
            if (keep(ws, base, len)) end(ws, BB_WS_END_ERROR);
            return;
        }
        off = (size_t)h;
    }
    long used = parse_frames(ws, base + off, len - off, now);
    if (used < 0) {
        end(ws, BB_WS_END_ERROR);
        return;
    }
    off += (size_t)used;
    if (ws->state == BB_WS_IDLE) return;
    if (keep(ws, base + off, ws->state == BB_WS_OPEN ? len - off : 0)) end(ws, BB_WS_END_ERROR);
}

static void ws_io(bb_io *io, uint32_t revents)
{
    bb_ws *ws = (bb_ws *)io;
    if (ws->state == BB_WS_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
        if (err) {
            end(ws, BB_WS_END_CONNECT);
            return;
        }
        if (!(revents & EPOLLOUT)) return;
        set_state(ws, BB_WS_HANDSHAKE, bb_now_ns());
        if (flush(ws) < 0) end(ws, BB_WS_END_CONNECT);
        return;
    }
    if (revents & EPOLLOUT) {
        if (flush(ws) < 0) {
            end(ws, ws->state == BB_WS_CLOSING ? BB_WS_END_LOCAL : BB_WS_END_ERROR);
            return;
        }
    }
    if (revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(ws);
}

void bb_ws_close(bb_ws *ws, uint16_t code, uint64_t now)
{
    if (ws->state == BB_WS_IDLE || ws->state == BB_WS_CLOSING) return;
    if (ws->state != BB_WS_OPEN) {
        end(ws, BB_WS_END_LOCAL);
        return;
    }
    uint8_t c[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    ws->local_close = 1;
    bb_ws_send(ws, 0x8, c, 2);
    ws->shut_pending = 1;
    set_state(ws, BB_WS_CLOSING, now);
    /* a write error surfaces as EPOLLERR on the next poll (or the caller's closing timeout); ending
     * here could free the buffer an on_text caller is being handed */
    flush(ws);
}
