#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 1024

struct bb_loop {
    int epfd;
    struct epoll_event ev[MAX_EVENTS];
};

bb_loop *bb_loop_new(void)
{
    bb_loop *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void bb_loop_free(bb_loop *l)
{
    if (!l) return;
    close(l->epfd);
    free(l);
}

int bb_loop_add(bb_loop *l, bb_io *io, uint32_t events)
{
    struct epoll_event e = {.events = events, .data.ptr = io};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &e) < 0) return -1;
    io->events = events;
    return 0;
}

int bb_loop_mod(bb_loop *l, bb_io *io, uint32_t events)
{
    if (io->events == events) return 0;
    struct epoll_event e = {.events = events, .data.ptr = io};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &e) < 0) return -1;
    io->events = events;
    return 0;
}

int bb_loop_del(bb_loop *l, bb_io *io)
{
    int fd = io->fd;
    if (fd >= 0) epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    io->fd = -1;
    io->events = 0;
    return fd;
}

int bb_loop_poll(bb_loop *l, uint64_t timeout_us)
{
    /* epoll_pwait2 takes a timespec: a fixed-rate publisher can sleep until the next message is
     * due instead of spinning or rounding to milliseconds */
    struct timespec ts = {.tv_sec = (time_t)(timeout_us / 1000000u),
                          .tv_nsec = (long)(timeout_us % 1000000u) * 1000};
    int n = epoll_pwait2(l->epfd, l->ev, MAX_EVENTS, &ts, NULL);
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        bb_io *io = l->ev[i].data.ptr;
        if (io->fd >= 0) io->cb(io, l->ev[i].events);
    }
    return n;
}

uint64_t bb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
