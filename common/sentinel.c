#include "sentinel.h"
#include "alloc.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define WATCH_RETRY_MS 1000

struct bf_sentinel {
    const bf_redis_url *url;
    const char *name;
    bf_redis_attach_fn attach;
    void *loop;
    int timeout_ms;
    bf_sentinel_addr_fn on_switch;
    void *arg;
    /* the query in progress */
    redisAsyncContext *q;
    bf_sentinel_addr_fn on_found; /* NULL: no query */
    int qidx, tried, good;        /* current sentinel, sentinels tried, last that answered */
    uint64_t qdeadline;
    bool fail_pending; /* every sentinel failed synchronously: report on the next tick */
    /* the +switch-master watcher */
    redisAsyncContext *w;
    int widx;
    uint64_t wnext;
};

static void drop(redisAsyncContext **acp)
{
    redisAsyncContext *ac = *acp;
    if (!ac) return;
    *acp = NULL;
    ac->data = NULL; /* callbacks fired by the free must not touch s */
    redisAsyncFree(ac);
}

static void send_auth(const bf_sentinel *s, redisAsyncContext *ac)
{
    if (!s->url->password[0]) return;
    /* a sentinel without a password refuses AUTH: ignored (NULL callback); the query decides */
    if (s->url->user[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", s->url->user, s->url->password);
    else
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", s->url->password);
}

static redisAsyncContext *open_to(bf_sentinel *s, int idx, redisConnectCallback *on_connect,
                                  redisDisconnectCallback *on_disconnect)
{
    const bf_redis_addr *a = &s->url->sentinels[idx];
    redisAsyncContext *ac = redisAsyncConnect(a->host, a->port);
    if (!ac || ac->err) {
        bf_debug("redis[%s] sentinel %s:%d: %s", s->name, a->host, a->port,
                 ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        return NULL;
    }
    ac->data = s;
    if (s->attach(ac, s->loop) != REDIS_OK) {
        ac->data = NULL;
        redisAsyncFree(ac);
        return NULL;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

/* ---- the query --------------------------------------------------------------------------- */

static void query_next(bf_sentinel *s);

static void found(bf_sentinel *s, const char *host, int port)
{
    bf_sentinel_addr_fn cb = s->on_found;
    s->on_found = NULL;
    if (cb) cb(s->arg, host, port);
}

static void on_query_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    bf_sentinel *s = ac->data;
    redisReply *r = reply;
    if (!s || ac != s->q) return;
    const bf_redis_addr *a = &s->url->sentinels[s->qidx];
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
        char host[256];
        snprintf(host, sizeof(host), "%s", r->element[0]->str);
        int port = atoi(r->element[1]->str);
        s->good = s->qidx;
        drop(&s->q); /* inside its own callback: hiredis frees it when the callback returns */
        bf_debug("redis[%s] sentinel %s:%d: primary of %s is %s:%d", s->name, a->host, a->port,
                 s->url->master, host, port);
        found(s, host, port);
        return;
    }
    bf_warn("redis[%s] sentinel %s:%d does not name a primary for '%s': %s; trying the next",
            s->name, a->host, a->port, s->url->master,
            !r                             ? "connection lost"
            : r->type == REDIS_REPLY_ERROR ? r->str
            : r->type == REDIS_REPLY_NIL   ? "unknown master name"
                                           : "unexpected reply");
    drop(&s->q);
    query_next(s);
}

static void on_query_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    bf_sentinel *s = ac->data;
    if (!s || ac != s->q) return;
    if (status != REDIS_OK) { /* hiredis frees ac after this callback */
        ac->data = NULL;
        s->q = NULL;
        bf_debug("redis[%s] sentinel %s:%d is down: %s", s->name, s->url->sentinels[s->qidx].host,
                 s->url->sentinels[s->qidx].port, ac->errstr);
        query_next(s);
        return;
    }
    send_auth(s, ac);
    redisAsyncCommand(ac, on_query_reply, NULL, "SENTINEL get-master-addr-by-name %s",
                      s->url->master);
}

static void on_query_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    bf_sentinel *s = ac->data;
    if (!s || ac != s->q) return;
    s->q = NULL; /* hiredis frees it; the pending reply callback already saw NULL */
}

/* Moves on to the next untried sentinel, or reports failure (on the next tick when it would be
 * synchronous). */
static void query_next(bf_sentinel *s)
{
    while (s->tried < s->url->nsentinels) {
        s->qidx = (s->good + s->tried) % s->url->nsentinels;
        s->tried++;
        s->q = open_to(s, s->qidx, on_query_connect, on_query_disconnect);
        if (s->q) {
            s->qdeadline = bf_now_ms() + (uint64_t)s->timeout_ms;
            return;
        }
    }
    bf_warn("redis[%s] no sentinel answered for '%s' (%d tried)", s->name, s->url->master,
            s->tried);
    s->fail_pending = true;
}

void bf_sentinel_resolve(bf_sentinel *s, bf_sentinel_addr_fn on_found)
{
    drop(&s->q);
    s->on_found = on_found;
    s->tried = 0;
    s->fail_pending = false;
    query_next(s);
}

/* ---- the +switch-master watcher ----------------------------------------------------------- */

static void on_switch_msg(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    bf_sentinel *s = ac->data;
    redisReply *r = reply;
    if (!s || ac != s->w || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    /* "+switch-master" payload: "<master> <old ip> <old port> <new ip> <new port>" */
    char name[128], oldh[256], newh[256];
    int oldp, newp;
    if (sscanf(r->element[2]->str, "%127s %255s %d %255s %d", name, oldh, &oldp, newh, &newp) !=
            5 ||
        strcmp(name, s->url->master))
        return;
    bf_info("redis[%s] sentinel: +switch-master %s from %s:%d to %s:%d", s->name, name, oldh, oldp,
            newh, newp);
    s->on_switch(s->arg, newh, newp);
}

static void on_watch_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    bf_sentinel *s = ac->data;
    if (!s || ac != s->w) return;
    if (status != REDIS_OK) {
        ac->data = NULL;
        s->w = NULL;
        s->widx = (s->widx + 1) % s->url->nsentinels;
        s->wnext = bf_now_ms() + WATCH_RETRY_MS;
        return;
    }
    send_auth(s, ac);
    redisAsyncCommand(ac, on_switch_msg, NULL, "SUBSCRIBE +switch-master");
}

static void on_watch_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    bf_sentinel *s = ac->data;
    if (!s || ac != s->w) return;
    s->w = NULL;
    s->widx = (s->widx + 1) % s->url->nsentinels;
    s->wnext = bf_now_ms() + WATCH_RETRY_MS;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

bf_sentinel *bf_sentinel_new(const bf_redis_url *url, const char *name, bf_redis_attach_fn attach,
                             void *loop, int timeout_ms, bf_sentinel_addr_fn on_switch, void *arg)
{
    bf_sentinel *s = bf_calloc(1, sizeof(*s));
    s->url = url;
    s->name = name;
    s->attach = attach;
    s->loop = loop;
    s->timeout_ms = timeout_ms;
    s->on_switch = on_switch;
    s->arg = arg;
    return s;
}

void bf_sentinel_free(bf_sentinel *s)
{
    if (!s) return;
    drop(&s->q);
    drop(&s->w);
    free(s);
}

void bf_sentinel_tick(bf_sentinel *s, uint64_t now_ms)
{
    if (s->fail_pending) {
        s->fail_pending = false;
        found(s, NULL, 0);
    } else if (s->q && now_ms >= s->qdeadline) {
        bf_warn("redis[%s] sentinel %s:%d did not answer within %d ms; trying the next", s->name,
                s->url->sentinels[s->qidx].host, s->url->sentinels[s->qidx].port, s->timeout_ms);
        drop(&s->q);
        query_next(s);
    }
    if (!s->w && now_ms >= s->wnext) {
        s->w = open_to(s, s->widx, on_watch_connect, on_watch_disconnect);
        if (!s->w) {
            s->widx = (s->widx + 1) % s->url->nsentinels;
            s->wnext = now_ms + WATCH_RETRY_MS;
        }
    }
}
