#include "redis_pub.h"

#include "redis_keys.h"

#include <errno.h>
#include <pthread.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int bf__rpub_init(bf__rpub *r, const char *url, const char *prefix, int timeout_ms, char *err,
                  size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->timeout_ms = timeout_ms;
    if (bf_parse_redis_url(url, &r->url, err, errlen)) return BF_EINVAL;
    if (r->url.kind != BF_REDIS_URL_SINGLE) {
        snprintf(err, errlen,
                 "the publisher takes redis://HOST:PORT (or http://); for a Sentinel or Cluster "
                 "deployment publish through a router's http:// API");
        return BF_EINVAL;
    }
    if (!prefix) prefix = "belfry:";
    if (strlen(prefix) > BF_PREFIX_MAX) {
        snprintf(err, errlen, "redis prefix is longer than %d bytes", BF_PREFIX_MAX);
        return BF_EINVAL;
    }
    if (strpbrk(prefix, "{}")) { /* the daemons refuse such a prefix (hash tags, redis_keys.h) */
        snprintf(err, errlen, "redis prefix may not contain '{' or '}'");
        return BF_EINVAL;
    }
    snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
    return 0;
}

static void drop(bf__rpub *r)
{
    if (r->rc) redisFree(r->rc);
    r->rc = NULL;
}

void bf__rpub_deinit(bf__rpub *r)
{
    drop(r);
}

/* Runs one command with SIGPIPE blocked in this thread; a SIGPIPE raised meanwhile is consumed
 * rather than delivered (what libcurl does: the process' disposition is not ours to change). */
static redisReply *command(bf__rpub *r, const char *fmt, ...)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->rc, fmt, ap);
    va_end(ap);
    if (!was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rep;
}

static void fail(bf_channel_result *res, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(bf_channel_result *res, int rc, const char *code, const char *fmt, ...)
{
    res->rc = rc;
    snprintf(res->code, sizeof(res->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
}

static int connect_redis(bf__rpub *r, bf_channel_result *res)
{
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    r->rc = redisConnectWithTimeout(r->url.host, r->url.port, tv);
    if (!r->rc) {
        fail(res, BF_ENOMEM, "connect_failed", "out of memory");
        return res->rc;
    }
    if (r->rc->err) {
        fail(res, r->rc->err == REDIS_ERR_OOM ? BF_ENOMEM : BF_EIO, "connect_failed",
             "connect to redis %s:%d: %s", r->url.host, r->url.port, r->rc->errstr);
        drop(r);
        return res->rc;
    }
    redisSetTimeout(r->rc, tv);
    redisReply *rep = NULL;
    if (r->url.password[0]) {
        rep = r->url.user[0] ? command(r, "AUTH %s %s", r->url.user, r->url.password)
                             : command(r, "AUTH %s", r->url.password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) goto failed;
        freeReplyObject(rep);
    }
    if (r->url.db) {
        rep = command(r, "SELECT %d", r->url.db);
        if (!rep || rep->type == REDIS_REPLY_ERROR) goto failed;
        freeReplyObject(rep);
    }
    return 0;
failed:
    fail(res, rep ? BF_EAUTH : BF_EIO, "connect_failed", "redis %s:%d refused the connection: %s",
         r->url.host, r->url.port, rep ? rep->str : r->rc->errstr);
    if (rep) freeReplyObject(rep);
    drop(r);
    return res->rc;
}

int bf__rpub_publish(bf__rpub *r, const char *channel, const char *body, size_t len,
                     bf_channel_result *res)
{
    char key[BF_KEY_MAX];
    if (bf_key(key, r->prefix, BF_KEY_PUBLISH, channel) < 0) {
        fail(res, BF_EINVAL, "bad_channel", "prefix and channel make a key that is too long");
        return res->rc;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        /* a connection that failed is dropped, so the next command reconnects. Like the HTTP
         * transport, only a kept connection that turns out dead is retried, once */
        int fresh = r->rc == NULL;
        if (!r->rc && connect_redis(r, res)) return res->rc;
        redisReply *rep = command(r, "PUBLISH %s %b", key, body, len);
        if (!rep) {
            fail(res, r->rc->err == REDIS_ERR_OOM ? BF_ENOMEM : BF_EIO, "io_error",
                 "PUBLISH to redis %s:%d failed: %s", r->url.host, r->url.port, r->rc->errstr);
            drop(r);
            if (!fresh) continue; /* a kept connection that had died: once more on a new one */
            return res->rc;
        }
        if (rep->type == REDIS_REPLY_ERROR) {
            fail(res, BF_EREDIS, "redis_error", "redis answered: %s", rep->str);
        } else if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 0) {
            fail(res, BF_ENOTFOUND, "no_router",
                 "no router is subscribed to %spublish:*; the message was dropped (is a router "
                 "running against this Redis and prefix?)",
                 r->prefix);
        } else {
            res->rc = 0;
        }
        freeReplyObject(rep);
        return res->rc;
    }
    return res->rc;
}
