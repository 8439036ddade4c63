/* hiredis' libuv adapter, as the gateway attaches its Redis links to its loop (bf_redis_opts'
 * attach): redisLibuvAttach, with two of the adapter's callbacks replaced.
 *
 * - hiredis asks the adapter to add read interest after every read, and write interest for
 *   every command it queues; the adapter restarts the poll handle each time, which libuv does
 *   as epoll_ctl DEL then ADD. Only a change of interest is passed on here.
 * - hiredis 0.14's redisLibuvPoll (Debian 12) returns on a poll error without telling hiredis,
 *   so a refused connect (to Redis or to a sentinel) was noticed only by a timeout. hiredis
 *   1.1.0's adapter passes the error on as the events the handle waits for, and hiredis then
 *   reads the socket error itself; this poll callback does the same. */
#ifndef BF_REDIS_UV_H
#define BF_REDIS_UV_H

#include <hiredis/async.h>

/* Attaches ac to loop (a uv_loop_t *, borrowed). Returns REDIS_OK or REDIS_ERR. */
int bf_redis_uv_attach(redisAsyncContext *ac, void *loop);

#endif
