/* The load generator's one event loop: epoll, level-triggered, one thread.
 *
 * Every socket is a bb_io embedded first in its owner's struct; the loop calls io->cb with the
 * ready events. Owners live in arrays that outlive the loop's use of them, and a callback closes
 * only its own socket (bb_loop_del sets fd to -1 so that an event already fetched in the same batch
 * is skipped); anything that opens new sockets runs between polls, never inside a callback. Timers
 * are the caller's: it polls with a timeout and checks the clock after each poll. */
#ifndef BB_LOOP_H
#define BB_LOOP_H

#include <stdint.h>

typedef struct bb_io bb_io;
typedef void (*bb_io_cb)(bb_io *io, uint32_t revents);

struct bb_io {
    int fd;          /* -1 when not registered */
    uint32_t events; /* the epoll events currently registered */
    bb_io_cb cb;
};

typedef struct bb_loop bb_loop;

/* Returns a new loop (caller frees with bb_loop_free) or NULL with errno set. */
bb_loop *bb_loop_new(void);
void bb_loop_free(bb_loop *l);

/* Register, change or remove io->fd. add/mod return 0 or -1 with errno set. del does not close the
 * fd; it sets io->fd to -1 and returns the old fd for the caller to close. */
int bb_loop_add(bb_loop *l, bb_io *io, uint32_t events);
int bb_loop_mod(bb_loop *l, bb_io *io, uint32_t events);
int bb_loop_del(bb_loop *l, bb_io *io);

/* Waits up to timeout_us microseconds (0: don't wait) and dispatches what is ready. Returns the
 * number of events dispatched, or -1 on an epoll error other than EINTR. */
int bb_loop_poll(bb_loop *l, uint64_t timeout_us);

/* CLOCK_MONOTONIC in nanoseconds: the clock of every timestamp in a bench payload. */
uint64_t bb_now_ns(void);

#endif
