#include "redis.h"
#include "alloc.h"
#include "err.h"
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { ST_DOWN, ST_CONNECTING, ST_HANDSHAKE, ST_READY, ST_CLOSING, ST_CLOSED } link_state;
static const char *state_names[] = {"down",  "connecting", "handshake",
                                    "ready", "closing",    "closed"};

struct bf_redis {
    bf_redis_opts o;
    bf_redis_url url;
    char *name;
    redisAsyncContext *ac;
    link_state st;
    uint64_t state_since, next_attempt, backoff_ms, reconnects;
    bool was_ready;
    unsigned handshake_pending;
};

uint64_t bf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_state(bf_redis *r, link_state st, const char *why)
{
    if (r->st == st) return;
    /* a failed reconnect attempt is DEBUG: during an outage it repeats with every backoff */
    bool noisy = st == ST_DOWN && r->st == ST_CONNECTING;
    bf_log((st == ST_READY || st == ST_DOWN) && !noisy ? BF_LOG_INFO : BF_LOG_DEBUG,
           "redis[%s] %s:%d %s -> %s%s%s", r->name, r->url.host, r->url.port, state_names[r->st],
           state_names[st], why ? ": " : "", why ? why : "");
    r->st = st;
    r->state_since = bf_now_ms();
}

static void schedule_retry(bf_redis *r)
{
    uint64_t jitter = r->backoff_ms ? (uint64_t)rand() % (r->backoff_ms / 2 + 1) : 0;
    r->next_attempt = bf_now_ms() + r->backoff_ms + jitter;
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : 100;
    if (r->backoff_ms > 5000) r->backoff_ms = 5000;
}

/* The link is gone (hiredis frees ac itself after the disconnect callback). */
static void went_down(bf_redis *r, const char *why)
{
    if (r->st == ST_CLOSING) { /* bf_redis_close: flushed and closed, for good */
        r->ac = NULL;
        set_state(r, ST_CLOSED, why);
        return;
    }
    bool was_ready = r->st == ST_READY;
    r->ac = NULL;
    set_state(r, ST_DOWN, why);
    schedule_retry(r);
    if (was_ready && r->o.on_down) r->o.on_down(r, r->o.arg);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    bf_redis *r = ac->data;
    if (!r) return; /* being freed */
    went_down(r, status == REDIS_OK ? "closed" : (ac->errstr[0] ? ac->errstr : "error"));
}

static void became_ready(bf_redis *r)
{
    set_state(r, ST_READY, NULL);
    r->backoff_ms = 0;
    if (r->was_ready) r->reconnects++;
    r->was_ready = true;
    if (r->o.on_ready) r->o.on_ready(r, r->o.arg);
}

static void on_handshake_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    bf_redis *r = ac->data;
    redisReply *rep = reply;
    if (!r || r->st != ST_HANDSHAKE) return;
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        bf_error("redis[%s] handshake failed: %s", r->name, rep ? rep->str : "connection lost");
        redisAsyncDisconnect(ac);
        return;
    }
    if (--r->handshake_pending == 0) became_ready(r);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    bf_redis *r = ac->data;
    if (!r) return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after a failed connect */
        ac->data = NULL;
        went_down(r, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    set_state(r, ST_HANDSHAKE, NULL);
    r->handshake_pending = 1;
    if (r->url.password[0]) {
        r->handshake_pending++;
        redisAsyncCommand(ac, on_handshake_reply, NULL, "AUTH %s", r->url.password);
    }
    if (r->url.db) {
        r->handshake_pending++;
        redisAsyncCommand(ac, on_handshake_reply, NULL, "SELECT %d", r->url.db);
    }
    /* a final PING confirms the server answers before we call the link ready */
    redisAsyncCommand(ac, on_handshake_reply, NULL, "PING");
}

static void start_connect(bf_redis *r)
{
    redisAsyncContext *ac = redisAsyncConnect(r->url.host, r->url.port);
    if (!ac || ac->err) {
        bf_warn("redis[%s] connect to %s:%d failed: %s", r->name, r->url.host, r->url.port,
                ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        schedule_retry(r);
        return;
    }
    ac->data = r;
    if (r->o.attach(ac, r->o.loop) != REDIS_OK) {
        bf_error("redis[%s] cannot attach to the event loop", r->name);
        ac->data = NULL;
        redisAsyncFree(ac);
        schedule_retry(r);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    set_state(r, ST_CONNECTING, NULL);
}

bf_redis *bf_redis_new(const bf_redis_opts *o)
{
    bf_redis *r = bf_calloc(1, sizeof(*r));
    r->o = *o;
    r->url = *o->url;
    r->o.url = &r->url;
    r->name = bf_strdup(o->name ? o->name : "redis");
    r->o.name = r->name;
    if (r->o.connect_timeout_ms <= 0) r->o.connect_timeout_ms = 3000;
    r->st = ST_DOWN;
    return r;
}

void bf_redis_free(bf_redis *r)
{
    if (!r) return;
    if (r->ac) {
        r->ac->data = NULL; /* callbacks fired by the free below must not touch r */
        redisAsyncFree(r->ac);
    }
    free(r->name);
    free(r);
}

void bf_redis_close(bf_redis *r)
{
    if (r->st == ST_CLOSING || r->st == ST_CLOSED) return;
    if (r->st != ST_READY) { /* nothing was sent on it: close it hard */
        if (r->ac) {
            r->ac->data = NULL;
            redisAsyncFree(r->ac);
            r->ac = NULL;
        }
        set_state(r, ST_CLOSED, "closed");
        return;
    }
    set_state(r, ST_CLOSING, NULL);
    /* unlike redisAsyncFree, writes what is queued and waits for the replies (their callbacks
     * run as usual), then closes; on_disconnect then moves us to CLOSED */
    redisAsyncDisconnect(r->ac);
}

bool bf_redis_closed(const bf_redis *r)
{
    return r->st == ST_CLOSED;
}

void bf_redis_reset(bf_redis *r, const char *why)
{
    if (!r->ac || r->st == ST_CLOSING) return;
    bool was_ready = r->st == ST_READY;
    redisAsyncContext *ac = r->ac;
    ac->data = NULL;
    r->ac = NULL;
    set_state(r, ST_DOWN, why);
    schedule_retry(r);
    redisAsyncFree(ac); /* pending callbacks get NULL replies */
    if (was_ready && r->o.on_down) r->o.on_down(r, r->o.arg);
}

void bf_redis_tick(bf_redis *r, uint64_t now_ms)
{
    if (r->st == ST_CLOSED) return;
    if (r->st == ST_CLOSING) {
        if (now_ms - r->state_since > (uint64_t)r->o.connect_timeout_ms) {
            /* Redis does not answer: give up on the queued commands */
            r->ac->data = NULL;
            redisAsyncFree(r->ac);
            r->ac = NULL;
            set_state(r, ST_CLOSED, "close timeout (queued commands dropped)");
        }
        return;
    }
    if (r->st == ST_DOWN) {
        if (now_ms >= r->next_attempt) start_connect(r);
    } else if (r->st != ST_READY && now_ms - r->state_since > (uint64_t)r->o.connect_timeout_ms) {
        bf_redis_reset(r, "connect timeout");
    }
}

bool bf_redis_ready(const bf_redis *r)
{
    return r->st == ST_READY;
}

uint64_t bf_redis_reconnects(const bf_redis *r)
{
    return r->reconnects;
}

int bf_redis_cmd(bf_redis *r, redisCallbackFn *cb, void *priv, const char *fmt, ...)
{
    if (r->st != ST_READY) return BF_EDISCONNECTED;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(r->ac, cb, priv, fmt, ap);
    va_end(ap);
    return rc == REDIS_OK ? 0 : BF_EDISCONNECTED;
}

int bf_redis_cmdargv(bf_redis *r, redisCallbackFn *cb, void *priv, int argc, const char **argv,
                     const size_t *argvlen)
{
    if (r->st != ST_READY) return BF_EDISCONNECTED;
    int rc = redisAsyncCommandArgv(r->ac, cb, priv, argc, argv, argvlen);
    return rc == REDIS_OK ? 0 : BF_EDISCONNECTED;
}
