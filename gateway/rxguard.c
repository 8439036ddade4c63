#include "rxguard.h"
#include "alloc.h"
#include "err.h"
#include "wsguard.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>

typedef struct watch {
    bf_wsguard g;
    void *conn;
    int fd;
    const char *reason; /* set once failed */
    struct watch *next; /* in the failed list */
} watch;

static struct {
    watch **by_fd;
    size_t max_fd;
    bf_rxguard_fail_fn fail;
    void *arg;
    watch *failed; /* failed, not yet dispatched */
    uint64_t failures;
} G;

int bf_rxguard_init(size_t max_fd, bf_rxguard_fail_fn fail, void *arg)
{
    if (G.by_fd) return BF_EINVAL;
    G.by_fd = bf_calloc(max_fd ? max_fd : 1, sizeof(*G.by_fd));
    G.max_fd = max_fd;
    G.fail = fail;
    G.arg = arg;
    return 0;
}

void bf_rxguard_deinit(void)
{
    for (size_t i = 0; G.by_fd && i < G.max_fd; i++) free(G.by_fd[i]);
    free(G.by_fd);
    G.by_fd = NULL;
    G.max_fd = 0;
    G.failed = NULL;
}

static bool in_range(int fd)
{
    return G.by_fd && fd >= 0 && (size_t)fd < G.max_fd;
}

void bf_rxguard_watch(int fd, void *conn)
{
    if (!in_range(fd)) return;
    bf_rxguard_unwatch(fd); /* a descriptor reused before its close was seen */
    watch *w = bf_calloc(1, sizeof(*w));
    bf_wsguard_init(&w->g);
    w->conn = conn;
    w->fd = fd;
    G.by_fd[fd] = w;
}

void bf_rxguard_unwatch(int fd)
{
    if (!in_range(fd) || !G.by_fd[fd]) return;
    watch *w = G.by_fd[fd];
    if (w->reason)
        for (watch **p = &G.failed; *p; p = &(*p)->next)
            if (*p == w) {
                *p = w->next;
                break;
            }
    G.by_fd[fd] = NULL;
    free(w);
}

void bf_rxguard_dispatch(void)
{
    while (G.failed) {
        watch *w = G.failed;
        G.failed = w->next;
        G.by_fd[w->fd] = NULL;
        void *conn = w->conn;
        const char *reason = w->reason;
        free(w);
        G.fail(conn, reason, G.arg);
    }
}

uint64_t bf_rxguard_failures(void)
{
    return G.failures;
}

/* ---- the interposed recv() ----------------------------------------------------------------- */

typedef ssize_t (*recv_fn)(int, void *, size_t, int);

static recv_fn real_recv(void)
{
    static recv_fn fn;
    if (!fn) fn = (recv_fn)dlsym(RTLD_NEXT, "recv");
    return fn;
}

/* Reads and discards what the socket holds, so a level-triggered poll does not spin on it while
 * the connection waits for its close. Returns 0 at EOF, else -1 with errno EAGAIN. */
static ssize_t discard(int fd, void *buf, size_t n)
{
    for (;;) {
        ssize_t r = real_recv()(fd, buf, n, 0);
        if (r == 0) return 0;
        if (r < 0) {
            if (errno == EINTR) continue;
            errno = EAGAIN;
            return -1;
        }
    }
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    ssize_t r = real_recv()(fd, buf, n, flags);
    if (r <= 0 || (flags & MSG_PEEK) || !in_range(fd) || !G.by_fd[fd]) return r;
    watch *w = G.by_fd[fd];
    if (w->reason) return discard(fd, buf, n); /* failed: nothing more reaches lws */
    size_t ok;
    bf_wsguard_verdict v = bf_wsguard_scan(&w->g, buf, (size_t)r, &ok);
    if (v == BF_WSG_OK) return r;
    w->reason = bf_wsguard_reason(v);
    w->next = G.failed;
    G.failed = w;
    G.failures++;
    if (ok) return (ssize_t)ok;
    return discard(fd, buf, n);
}
