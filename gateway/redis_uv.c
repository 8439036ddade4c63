#include "redis_uv.h"

#include <hiredis/adapters/libuv.h>

static void poll_cb(uv_poll_t *handle, int status, int events)
{
    redisLibuvEvents *p = handle->data;
    int ev = status ? p->events : events;
    if (p->context && (ev & UV_READABLE)) redisAsyncHandleRead(p->context);
    if (p->context && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

static void set_events(redisLibuvEvents *p, int events)
{
    p->events = events;
    if (events)
        uv_poll_start(&p->handle, events, poll_cb);
    else
        uv_poll_stop(&p->handle);
}

static void add_read_changed(void *privdata)
{
    redisLibuvEvents *p = privdata;
    if (!(p->events & UV_READABLE)) set_events(p, p->events | UV_READABLE);
}

static void add_write_changed(void *privdata)
{
    redisLibuvEvents *p = privdata;
    if (!(p->events & UV_WRITABLE)) set_events(p, p->events | UV_WRITABLE);
}

static void del_read(void *privdata)
{
    redisLibuvEvents *p = privdata;
    set_events(p, p->events & ~UV_READABLE);
}

static void del_write(void *privdata)
{
    redisLibuvEvents *p = privdata;
    set_events(p, p->events & ~UV_WRITABLE);
}

int bf_redis_uv_attach(redisAsyncContext *ac, void *loop)
{
    int rc = redisLibuvAttach(ac, loop);
    if (rc == REDIS_OK) {
        ac->ev.addRead = add_read_changed;
        ac->ev.addWrite = add_write_changed;
        ac->ev.delRead = del_read;
        ac->ev.delWrite = del_write;
    }
    return rc;
}
