/* belfry-bench-floor: the least work any single-process WebSocket fan-out server can do on this
 * machine, as a yardstick for the latency scenarios (docs/benchmarks.md, "The floor").
 *
 * One process, one epoll loop: every WebSocket upgrade (GET) becomes a subscriber of the channel
 * its request target names (the value of `id=` in the query, else the whole target), and every
 * HTTP POST body is sent to the subscribers of its target's channel as one text frame, rendered
 * once and copied into each subscriber's output buffer (channels live in a hash table, so the
 * many-channel scenarios can be measured too). Writes go out as a FIFO rotation of at most --chunk
 * sockets per loop iteration (the same scheme as the gateway), one send() per socket carrying
 * everything it has queued; a publish is answered at once. No JSON, no Redis, no authentication, no
 * SHA-1 in the upgrade (belfry-bench does not check Sec-WebSocket-Accept): it is not a server to
 * deploy, only the kernel's share of the work plus the smallest user-space share that still speaks
 * the protocol.
 *
 *   belfry-bench-floor PORT [CHUNK]
 * Subscribe with ws://127.0.0.1:PORT/sub?id=CHANNEL, publish with
 * POST http://127.0.0.1:PORT/pub?id=CHANNEL. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"

#define MAX_REQUEST 65536
#define MAX_QUEUED                                                                                 \
    (1u << 20) /* a subscriber this far behind is dropped: the floor has no slack                  \
                */

struct chan;

typedef struct conn {
    bb_io io;          /* first */
    int sub;           /* upgraded: a subscriber */
    struct chan *chan; /* a subscriber's channel */
    int queued;
    struct conn *next; /* in the write rotation */
    char *in;
    size_t in_len;
    char *out;
    size_t out_len, out_off, out_cap;
} conn;

/* A channel and its subscribers; kept (empty) after its last one leaves. */
typedef struct chan {
    struct chan *next; /* in its hash bucket */
    conn **subs;
    size_t n_subs, cap_subs;
    size_t name_len;
    char name[];
} chan;

#define CHAN_BUCKETS 16384 /* a power of two */

static bb_loop *loop;
static chan *chans[CHAN_BUCKETS];
static conn *head, **tailp = &head;
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

/* The channel a request target names (see the top of this file), created if new; NULL when out
 * of memory. */
static chan *chan_of(const char *target, size_t len)
{
    const char *id = memmem(target, len, "id=", 3);
    if (id && (id == target || id[-1] == '?' || id[-1] == '&')) {
        const char *end = memchr(id, '&', len - (size_t)(id - target));
        len = (size_t)((end ? end : target + len) - (id + 3));
        target = id + 3;
    }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)target[i]) * 16777619u;
    chan **b = &chans[h & (CHAN_BUCKETS - 1)];
    for (chan *ch = *b; ch; ch = ch->next)
        if (ch->name_len == len && !memcmp(ch->name, target, len)) return ch;
    chan *ch = calloc(1, sizeof(*ch) + len);
    if (!ch) return NULL;
    memcpy(ch->name, target, len);
    ch->name_len = len;
    ch->next = *b;
    *b = ch;
    return ch;
}

/* The request target of the request line at in[0..hlen): the text between its two spaces. */
static const char *request_target(const char *in, size_t hlen, size_t *len)
{
    const char *sp = memchr(in, ' ', hlen);
    if (!sp) return NULL;
    const char *t = sp + 1, *end = memchr(t, ' ', hlen - (size_t)(t - in));
    if (!end) return NULL;
    *len = (size_t)(end - t);
    return t;
}

static void drop(conn *c)
{
    int fd = bb_loop_del(loop, &c->io);
    if (fd >= 0) close(fd);
    chan *ch = c->chan;
    if (c->sub && ch)
        for (size_t k = 0; k < ch->n_subs; k++)
            if (ch->subs[k] == c) {
                ch->subs[k] = ch->subs[--ch->n_subs];
                break;
            }
    c->sub = 0;
    c->chan = NULL;
    if (!c->queued) { /* a queued one is freed when the rotation reaches it */
        free(c->in);
        free(c->out);
        free(c);
    }
}

static int append(conn *c, const char *p, size_t len)
{
    if (c->out_len + len > c->out_cap) {
        if (c->out_len - c->out_off + len > MAX_QUEUED) return -1;
        if (c->out_off) { /* compact before growing */
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len) cap *= 2;
        char *b = realloc(c->out, cap);
        if (!b) return -1;
        c->out = b;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;
    if (!c->queued) {
        c->queued = 1;
        c->next = NULL;
        *tailp = c;
        tailp = &c->next;
    }
    return 0;
}

static void fan_out(chan *ch, const char *body, size_t len)
{
    char hdr[10];
    size_t hl = 2;
    hdr[0] = (char)0x81;
    if (len < 126) {
        hdr[1] = (char)len;
    } else if (len < 65536) {
        hdr[1] = 126;
        hdr[2] = (char)(len >> 8);
        hdr[3] = (char)len;
        hl = 4;
    } else {
        return; /* MAX_REQUEST keeps bodies smaller */
    }
    static char *frame;
    static size_t frame_cap;
    if (hl + len > frame_cap) {
        free(frame);
        frame_cap = hl + len;
        frame = malloc(frame_cap);
        if (!frame) {
            frame_cap = 0;
            return;
        }
    }
    memcpy(frame, hdr, hl);
    memcpy(frame + hl, body, len);
    for (size_t k = 0; k < ch->n_subs;) {
        conn *c = ch->subs[k];
        if (append(c, frame, hl + len) < 0) {
            drop(c); /* moves the last subscriber into slot k */
            continue;
        }
        k++;
    }
}

/* Writes up to `chunk` queued connections; returns whether some are still queued. */
static int flush(int chunk)
{
    while (head && chunk-- > 0) {
        conn *c = head;
        head = c->next;
        if (!head) tailp = &head;
        c->queued = 0;
        if (c->io.fd < 0) { /* dropped while queued */
            free(c->in);
            free(c->out);
            free(c);
            continue;
        }
        ssize_t n = send(c->io.fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            drop(c);
            continue;
        }
        if (n > 0) c->out_off += (size_t)n;
        if (c->out_off == c->out_len) {
            c->out_off = c->out_len = 0;
        } else { /* the rest goes in its next turn */
            c->queued = 1;
            c->next = NULL;
            *tailp = c;
            tailp = &c->next;
        }
    }
    return head != NULL;
}

/* Handles one complete request at the start of c->in; returns its length, 0 if incomplete, -1 on
 * a malformed one. */
static long request(conn *c)
{
    char *eoh = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!eoh) return c->in_len >= MAX_REQUEST ? -1 : 0;
    size_t hlen = (size_t)(eoh - c->in) + 4, tlen;
    const char *target = request_target(c->in, hlen, &tlen);
    chan *ch = target ? chan_of(target, tlen) : NULL;
    if (!ch) return -1;
    if (!strncmp(c->in, "GET ", 4)) {
        static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\n"
                                 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        if (ch->n_subs == ch->cap_subs) {
            size_t nc = ch->cap_subs ? ch->cap_subs * 2 : 4;
            conn **b = realloc(ch->subs, nc * sizeof(*b));
            if (!b) return -1;
            ch->subs = b;
            ch->cap_subs = nc;
        }
        ch->subs[ch->n_subs++] = c;
        c->sub = 1;
        c->chan = ch;
        return append(c, ok, sizeof(ok) - 1) < 0 ? -1 : (long)hlen;
    }
    if (strncmp(c->in, "POST ", 5)) return -1;
    const char *cl = memmem(c->in, hlen, "Content-Length:", 15);
    if (!cl) cl = memmem(c->in, hlen, "content-length:", 15);
    size_t blen = cl ? strtoul(cl + 15, NULL, 10) : 0;
    if (hlen + blen > MAX_REQUEST) return -1;
    if (c->in_len < hlen + blen) return 0;
    fan_out(ch, c->in + hlen, blen);
    /* answered at once, not at the end of the rotation: a publisher waiting for a whole round
     * of writes would throttle the fan-out it measures */
    static const char done[] = "HTTP/1.1 204 No Content\r\n\r\n";
    size_t sent = 0;
    if (!c->queued) {
        ssize_t n = send(c->io.fd, done, sizeof(done) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) return -1;
        if (n > 0) sent = (size_t)n;
    }
    if (sent == sizeof(done) - 1) return (long)(hlen + blen);
    return append(c, done + sent, sizeof(done) - 1 - sent) < 0 ? -1 : (long)(hlen + blen);
}

static void on_conn(bb_io *io, uint32_t ev)
{
    conn *c = (conn *)io;
    if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    if (!c->in && !(c->in = malloc(MAX_REQUEST))) {
        drop(c);
        return;
    }
    ssize_t n = recv(c->io.fd, c->in + c->in_len, MAX_REQUEST - c->in_len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
        drop(c);
        return;
    }
    if (n < 0) return;
    if (c->sub) { /* subscribers send nothing that matters here (the bench sends no frames) */
        c->in_len = 0;
        return;
    }
    c->in_len += (size_t)n;
    long used;
    while (c->in_len && (used = request(c)) != 0) {
        if (used < 0) {
            drop(c);
            return;
        }
        memmove(c->in, c->in + used, c->in_len - (size_t)used);
        c->in_len -= (size_t)used;
        if (c->sub) break;
    }
}

static void on_accept(bb_io *io, uint32_t ev)
{
    (void)ev;
    for (;;) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                return;
            /* out of descriptors (one process: the open-file limit caps its subscribers): the
             * pending connection would keep the listener readable and the loop spinning, so the
             * floor stops and the run fails visibly instead */
            fprintf(stderr, "belfry-bench-floor: accept: %s; stopping\n", strerror(errno));
            stop = 1;
            return;
        }
        conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->io.fd = fd;
        c->io.cb = on_conn;
        if (bb_loop_add(loop, &c->io, EPOLLIN | EPOLLRDHUP) < 0) {
            close(fd);
            free(c);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: belfry-bench-floor PORT [CHUNK]\n");
        return 2;
    }
    int port = atoi(argv[1]), chunk = argc > 2 ? atoi(argv[2]) : 64;
    if (port <= 0 || port > 65535 || chunk <= 0) {
        fprintf(stderr, "belfry-bench-floor: bad PORT or CHUNK\n");
        return 2;
    }
    struct rlimit rl; /* as many subscribers as the hard limit allows, like the gateway */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    loop = bb_loop_new();
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bb_io lio = {.fd = lfd, .cb = on_accept};
    if (!loop || lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(lfd, 4096) < 0 || bb_loop_add(loop, &lio, EPOLLIN) < 0) {
        fprintf(stderr, "belfry-bench-floor: cannot listen on port %d: %s\n", port,
                strerror(errno));
        return 1;
    }
    while (!stop) {
        if (bb_loop_poll(loop, head ? 0 : 100000) < 0) break;
        flush(chunk);
    }
    return 0;
}
