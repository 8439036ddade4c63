#include "pub.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct bb_pub {
    bb_io io; /* first */
    bb_loop *loop;
    bb_url url;
    char auth[512];
    bb_pub_done_cb done;
    void *ud;
    int pipeline;
    bb_pub_req *fifo; /* ring of pipeline entries */
    int head, count;
    char *out, *in;
    size_t out_len, out_off, out_cap, in_len, in_cap;
    int connected;
    uint64_t connects;
};

static void pub_io(bb_io *io, uint32_t revents);

bb_pub *bb_pub_new(bb_loop *loop, const bb_url *url, int pipeline, const char *api_key,
                   bb_pub_done_cb done, void *ud)
{
    bb_pub *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->fifo = calloc((size_t)pipeline, sizeof(*p->fifo));
    if (!p->fifo) {
        free(p);
        return NULL;
    }
    p->io.fd = -1;
    p->io.cb = pub_io;
    p->loop = loop;
    p->url = *url;
    if (api_key && *api_key)
        snprintf(p->auth, sizeof(p->auth), "Authorization: Bearer %s\r\n", api_key);
    p->done = done;
    p->ud = ud;
    p->pipeline = pipeline;
    return p;
}

/* Fails every request in flight and forgets the socket; bb_pub_tick reconnects. */
static void drop(bb_pub *p)
{
    int fd = bb_loop_del(p->loop, &p->io);
    if (fd >= 0) close(fd);
    p->connected = 0;
    p->out_len = p->out_off = p->in_len = 0;
    uint64_t now = bb_now_ns();
    while (p->count) {
        bb_pub_req r = p->fifo[p->head];
        r.retry_ms = 0;
        p->head = (p->head + 1) % p->pipeline;
        p->count--;
        p->done(&r, 0, 0, now, p->ud);
    }
}

void bb_pub_free(bb_pub *p)
{
    if (!p) return;
    int fd = bb_loop_del(p->loop, &p->io);
    if (fd >= 0) close(fd);
    free(p->fifo);
    free(p->out);
    free(p->in);
    free(p);
}

int bb_pub_tick(bb_pub *p)
{
    if (p->connected) return 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&p->url.addr, sizeof(p->url.addr)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    p->io.fd = fd;
    if (bb_loop_add(p->loop, &p->io, EPOLLIN | EPOLLRDHUP) < 0) {
        int e = errno;
        p->io.fd = -1;
        close(fd);
        return -e;
    }
    p->connected = 1;
    p->connects++;
    return 0;
}

uint64_t bb_pub_reconnects(const bb_pub *p)
{
    return p->connects ? p->connects - 1 : 0;
}

int bb_pub_room(const bb_pub *p)
{
    return p->connected ? p->pipeline - p->count : 0;
}

int bb_pub_inflight(const bb_pub *p)
{
    return p->count;
}

/* ---------------------------------------------------------------------------------------------
 * Output */

static int reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    char *b = realloc(*buf, c);
    if (!b) return -1;
    *buf = b;
    *cap = c;
    return 0;
}

static int flush(bb_pub *p)
{
    while (p->out_off < p->out_len) {
        ssize_t n = send(p->io.fd, p->out + p->out_off, p->out_len - p->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return bb_loop_mod(p->loop, &p->io, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
            return -1;
        }
        p->out_off += (size_t)n;
    }
    p->out_len = p->out_off = 0;
    return bb_loop_mod(p->loop, &p->io, EPOLLIN | EPOLLRDHUP);
}

int bb_pub_send(bb_pub *p, const char *target, const char *body, size_t blen, bb_pub_req *req)
{
    if (bb_pub_room(p) <= 0) return -1;
    char head[2048];
    int hl;
    size_t tl = strlen(target);
    if (p->url.scheme == BB_URL_REDIS)
        hl = snprintf(head, sizeof(head), "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n", tl,
                      target, blen);
    else
        hl = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                      "%sContent-Length: %zu\r\n\r\n",
                      target, p->url.host_hdr, p->auth, blen);
    if (hl < 0 || (size_t)hl >= sizeof(head)) return -1;
    size_t tail = p->url.scheme == BB_URL_REDIS ? 2 : 0;
    if (reserve(&p->out, &p->out_cap, p->out_len + (size_t)hl + blen + tail)) return -1;
    memcpy(p->out + p->out_len, head, (size_t)hl);
    memcpy(p->out + p->out_len + hl, body, blen);
    if (tail) memcpy(p->out + p->out_len + hl + blen, "\r\n", 2);
    p->out_len += (size_t)hl + blen + tail;
    req->t_sent = bb_now_ns();
    p->fifo[(p->head + p->count) % p->pipeline] = *req;
    p->count++;
    if (flush(p) < 0) {
        drop(p);
        return 0; /* the request was accepted and has failed through the callback */
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Responses */

/* One HTTP response in b[0..len): returns its length, 0 if incomplete, -1 if malformed. */
static long parse_http(const char *b, size_t len, int *status, uint32_t *retry_ms)
{
    const char *eoh = memmem(b, len, "\r\n\r\n", 4);
    if (!eoh) return len > 65536 ? -1 : 0;
    if (len < 12 || strncmp(b, "HTTP/1.", 7)) return -1;
    *status = atoi(b + 9);
    long long clen = -1;
    int chunked = 0;
    for (const char *l = memchr(b, '\n', (size_t)(eoh - b)); l && l < eoh;
         l = memchr(l + 1, '\n', (size_t)(eoh - l))) {
        const char *h = l + 1;
        if (!strncasecmp(h, "content-length:", 15)) clen = atoll(h + 15);
        if (!strncasecmp(h, "x-belfry-retry-after-ms:", 24))
            *retry_ms = (uint32_t)strtoul(h + 24, NULL, 10);
        if (!strncasecmp(h, "transfer-encoding:", 18)) {
            const char *eol = memchr(h, '\r', (size_t)(eoh + 2 - h));
            if (eol && memmem(h, (size_t)(eol - h), "chunked", 7)) chunked = 1;
        }
    }
    size_t pos = (size_t)(eoh + 4 - b);
    if (chunked) {
        for (;;) {
            const char *eol = memmem(b + pos, len - pos, "\r\n", 2);
            if (!eol) return 0;
            unsigned long sz = strtoul(b + pos, NULL, 16);
            pos = (size_t)(eol + 2 - b);
            if (sz == 0) { /* trailers are not expected: the body ends with an empty line */
                if (len - pos < 2) return 0;
                return (long)(pos + 2);
            }
            pos += sz + 2;
            if (pos > len) return 0;
        }
    }
    if (*status == 204 || *status == 304 || *status < 200 || clen < 0) return (long)pos;
    if (len - pos < (size_t)clen) return 0;
    return (long)(pos + (size_t)clen);
}

/* One RESP reply: returns its length, 0 if incomplete, -1 if unexpected. */
static long parse_resp(const char *b, size_t len, int *value)
{
    const char *eol = memmem(b, len, "\r\n", 2);
    if (!eol) return 0;
    size_t ll = (size_t)(eol + 2 - b);
    switch (b[0]) {
    case ':':
        *value = atoi(b + 1);
        return (long)ll;
    case '-':
        *value = -1;
        return (long)ll;
    case '+':
        *value = 0;
        return (long)ll;
    default:
        return -1;
    }
}

static void on_readable(bb_pub *p)
{
    if (reserve(&p->in, &p->in_cap, p->in_len + 65536)) {
        drop(p);
        return;
    }
    ssize_t n = recv(p->io.fd, p->in + p->in_len, p->in_cap - p->in_len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
        drop(p);
        return;
    }
    p->in_len += (size_t)n;
    uint64_t now = bb_now_ns();
    size_t off = 0;
    while (off < p->in_len) {
        int status = 0;
        uint32_t retry_ms = 0;
        long used = p->url.scheme == BB_URL_REDIS
                        ? parse_resp(p->in + off, p->in_len - off, &status)
                        : parse_http(p->in + off, p->in_len - off, &status, &retry_ms);
        if (used == 0) break;
        if (used < 0 || !p->count) { /* garbage, or a response nobody asked for */
            drop(p);
            return;
        }
        off += (size_t)used;
        bb_pub_req r = p->fifo[p->head];
        r.retry_ms = retry_ms;
        p->head = (p->head + 1) % p->pipeline;
        p->count--;
        int ok = p->url.scheme == BB_URL_REDIS ? status > 0 : (status >= 200 && status < 300);
        p->done(&r, ok, status, now, p->ud);
    }
    memmove(p->in, p->in + off, p->in_len - off);
    p->in_len -= off;
}

static void pub_io(bb_io *io, uint32_t revents)
{
    bb_pub *p = (bb_pub *)io;
    if ((revents & EPOLLOUT) && flush(p) < 0) {
        drop(p);
        return;
    }
    if (revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(p);
}
