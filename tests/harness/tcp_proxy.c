/* belfry-test-proxy: a TCP proxy for fault injection in tests.
 *   belfry-test-proxy LISTEN_PORT TARGET_PORT
 * Forwards every connection on 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT. SIGUSR1
 * blackholes: nothing is read or written in either direction and new connections are accepted
 * but not forwarded (a stalled network: sockets stay open, data stops). SIGUSR2 resumes. One
 * poll() loop, bounded buffers. Exits on SIGTERM or when its parent dies. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXC 256

typedef struct pipe_end {
    int fd;
    char buf[65536];
    size_t len; /* bytes read from this fd, waiting to be written to the peer */
} pipe_end;

typedef struct pair {
    pipe_end a, b; /* a: client side, b: target side */
    int used;
} pair;

static volatile sig_atomic_t blackhole, stop;
static pair pairs[MAXC];

static void on_sig(int s)
{
    if (s == SIGUSR1)
        blackhole = 1;
    else if (s == SIGUSR2)
        blackhole = 0;
    else
        stop = 1;
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) return -1;
    return fd;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        close(fd);
        return -1;
    }
    return fd;
}

static void drop(pair *p)
{
    close(p->a.fd);
    if (p->b.fd >= 0) close(p->b.fd);
    p->used = 0;
}

/* Moves bytes from one end to the other; returns -1 when the pair must be closed. */
static int pump(pipe_end *from, pipe_end *to, short rev_from, short rev_to)
{
    if ((rev_from & POLLIN) && from->len < sizeof(from->buf)) {
        ssize_t n = read(from->fd, from->buf + from->len, sizeof(from->buf) - from->len);
        if (n <= 0) return -1;
        from->len += (size_t)n;
    }
    if ((rev_to & POLLOUT) && from->len) {
        ssize_t n = write(to->fd, from->buf, from->len);
        if (n < 0 && errno != EAGAIN) return -1;
        if (n > 0) {
            memmove(from->buf, from->buf + n, from->len - (size_t)n);
            from->len -= (size_t)n;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: belfry-test-proxy LISTEN_PORT TARGET_PORT\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_sig};
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int lfd = listen_on(atoi(argv[1])), target = atoi(argv[2]);
    if (lfd < 0) {
        perror("belfry-test-proxy: listen");
        return 1;
    }
    while (!stop) {
        struct pollfd pfd[1 + 2 * MAXC];
        int map[1 + 2 * MAXC], n = 0;
        pfd[n] = (struct pollfd){lfd, POLLIN, 0};
        map[n++] = -1;
        for (int i = 0; i < MAXC; i++) {
            if (!pairs[i].used || blackhole || pairs[i].b.fd < 0) continue;
            pair *p = &pairs[i];
            pfd[n] = (struct pollfd){
                p->a.fd,
                (short)((p->a.len < sizeof(p->a.buf) ? POLLIN : 0) | (p->b.len ? POLLOUT : 0)), 0};
            map[n++] = 2 * i;
            pfd[n] = (struct pollfd){
                p->b.fd,
                (short)((p->b.len < sizeof(p->b.buf) ? POLLIN : 0) | (p->a.len ? POLLOUT : 0)), 0};
            map[n++] = 2 * i + 1;
        }
        if (poll(pfd, (nfds_t)n, 100) < 0) continue;
        if (pfd[0].revents & POLLIN) {
            int c = accept(lfd, NULL, NULL);
            for (int i = 0; c >= 0 && i < MAXC; i++) {
                if (pairs[i].used) continue;
                pairs[i] = (pair){.used = 1};
                pairs[i].a.fd = c;
                /* while blackholed, accepted connections are never forwarded */
                pairs[i].b.fd = blackhole ? -1 : connect_to(target);
                if (!blackhole && pairs[i].b.fd < 0) drop(&pairs[i]);
                c = -1;
            }
            if (c >= 0) close(c);
        }
        for (int k = 1; k < n; k += 2) {
            pair *p = &pairs[map[k] / 2];
            if (!p->used) continue;
            short ra = pfd[k].revents, rb = pfd[k + 1].revents;
            if ((ra | rb) & (POLLERR | POLLNVAL)) {
                drop(p);
                continue;
            }
            if (pump(&p->a, &p->b, ra, rb) || pump(&p->b, &p->a, rb, ra)) drop(p);
        }
    }
    return 0;
}
