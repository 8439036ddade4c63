#include "redis.h"
#include "clock.h"
#include "alloc.h"
#include "backoff.h"
#include "err.h"
#include "log.h"
#include "rcluster.h"
#include "sentinel.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef enum {
    ST_DOWN,
    ST_RESOLVING,
    ST_CONNECTING,
    ST_HANDSHAKE,
    ST_READY,
    ST_CLOSING,
    ST_CLOSED
} link_state;
static const char *state_names[] = {"down",  "resolving", "connecting", "handshake",
                                    "ready", "closing",   "closed"};

/* A command waiting for its reply. Commands are answered in the order they were sent, so the
 * list's head is always the one whose deadline comes first: the tick looks only at the head. */
typedef struct pending {
    struct pending *prev, *next;
    bf_redis *r; /* NULL once the link no longer tracks it (being freed) */
    redisCallbackFn *cb;
    void *priv;
    uint64_t deadline;
} pending;

struct bf_redis {
    bf_redis_opts o;
    bf_redis_url url;
    char *name;
    char host[256]; /* the server this link connects to: the URL's, or the primary Sentinel named */
    int port;
    bf_sentinel *sentinel; /* sentinel:// URLs only */
    bool gating;           /* HANDSHAKE: the owner's gate (opts.gate) is running */
    redisAsyncContext *ac;
    link_state st;
    uint64_t state_since, next_attempt, reconnects, timeouts;
    unsigned failures;  /* attempts failed since the link was last READY */
    uint64_t last_sent; /* when the last tracked command was sent (keepalive) */
    bool was_ready;
    bool subscribed; /* a (P)SUBSCRIBE went out: replies are pushes, no keepalive PING */
    unsigned handshake_pending;
    pending *head, *tail;
    bf_redis *peer;       /* bf_redis_pair: torn down together on a command timeout */
    bf_rcluster *cluster; /* cluster:// URLs: every call below is delegated to it */
};

uint64_t bf_now_ms(void)
{
    return bf_mono_us() / 1000;
}

#ifndef NDEBUG
/* The link's legal transitions (see the diagram in redis.h); asserted in Debug/ASan builds. */
static bool legal(link_state from, link_state to)
{
    switch (to) {
    case ST_RESOLVING: /* sentinel:// links ask the sentinels first */
        return from == ST_DOWN;
    case ST_CONNECTING:
        return from == ST_DOWN || from == ST_RESOLVING;
    case ST_HANDSHAKE:
        return from == ST_CONNECTING;
    case ST_READY:
        return from == ST_HANDSHAKE;
    case ST_DOWN:
        return from == ST_RESOLVING || from == ST_CONNECTING || from == ST_HANDSHAKE ||
               from == ST_READY;
    case ST_CLOSING:
        return from == ST_READY;
    case ST_CLOSED:
        return from != ST_CLOSED;
    }
    return false;
}
#endif

static void set_state(bf_redis *r, link_state st, const char *why)
{
    if (r->st == st) return;
    assert(legal(r->st, st));
    /* a failed reconnect attempt is DEBUG: during an outage it repeats with every backoff */
    bool noisy = st == ST_DOWN && (r->st == ST_CONNECTING || r->st == ST_RESOLVING);
    bf_log((st == ST_READY || st == ST_DOWN) && !noisy ? BF_LOG_INFO : BF_LOG_DEBUG,
           "redis[%s] %s:%d %s -> %s%s%s", r->name, r->host, r->port, state_names[r->st],
           state_names[st], why ? ": " : "", why ? why : "");
    r->st = st;
    r->state_since = bf_now_ms();
}

/* The first retry at once (a lost link usually comes back), then 100 ms doubling to 5 s, +-25%. */
static void schedule_retry(bf_redis *r)
{
    static const bf_backoff policy = {100, 5000, 25};
    uint64_t d = r->failures ? bf_backoff_delay(&policy, r->failures - 1, (uint32_t)rand()) : 0;
    r->failures++;
    r->next_attempt = bf_now_ms() + d;
}

/* The link's commands will never be answered: hiredis runs their callbacks with a NULL reply
 * as it frees the context, and those callbacks must not touch r's list any more. */
static void forget_pending(bf_redis *r)
{
    for (pending *p = r->head; p; p = p->next) p->r = NULL;
    r->head = r->tail = NULL;
    r->subscribed = false;
}

/* The link is gone (hiredis frees ac itself after the disconnect callback). */
static void went_down(bf_redis *r, const char *why)
{
    if (r->st == ST_CLOSING) { /* bf_redis_close: flushed and closed, for good */
        r->ac = NULL;
        forget_pending(r);
        set_state(r, ST_CLOSED, why);
        return;
    }
    bool was_ready = r->st == ST_READY;
    r->ac = NULL;
    r->gating = false;
    forget_pending(r);
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
    assert(r->st == ST_HANDSHAKE && r->ac && !r->head);
    set_state(r, ST_READY, NULL);
    r->failures = 0;
    if (r->was_ready) r->reconnects++;
    r->was_ready = true;
    if (r->o.on_ready) r->o.on_ready(r, r->o.arg);
}

/* priv: the handshake step, a static string ("AUTH", "SELECT", "PING"), for the error line. */
static void on_handshake_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    bf_redis *r = ac->data;
    redisReply *rep = reply;
    if (!r || r->st != ST_HANDSHAKE) return;
    /* through Sentinel, the server must be the primary itself (a stale answer, or a failover
     * between the answer and the connection, can point at a replica) */
    if (rep && rep->type != REDIS_REPLY_ERROR && !strcmp(priv, "ROLE") &&
        (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
         rep->element[0]->type != REDIS_REPLY_STRING || strcmp(rep->element[0]->str, "master"))) {
        bf_warn("redis[%s] %s:%d is not the primary of '%s' (ROLE %s); asking the sentinels again",
                r->name, r->host, r->port, r->url.master,
                rep->type == REDIS_REPLY_ARRAY && rep->elements &&
                        rep->element[0]->type == REDIS_REPLY_STRING
                    ? rep->element[0]->str
                    : "unexpected");
        redisAsyncDisconnect(ac);
        return;
    }
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        bool auth = !strcmp(priv, "AUTH");
        bf_error("redis[%s] %s:%d refused %s%s%s%s: %s", r->name, r->host, r->port,
                 (const char *)priv, auth ? " as user '" : "",
                 auth ? (r->url.user[0] ? r->url.user : "default") : "", auth ? "'" : "",
                 rep ? rep->str : "connection lost");
        redisAsyncDisconnect(ac);
        return;
    }
    if (--r->handshake_pending) return;
    if (r->o.gate) { /* the owner's last word before READY (e.g. bf_failover_gate) */
        r->gating = true;
        r->o.gate(r, ac, r->o.gate_arg);
        return;
    }
    became_ready(r);
}

void bf_redis_gate_done(bf_redis *r, bool ok, const char *why)
{
    assert(r->st == ST_HANDSHAKE && r->gating);
    r->gating = false;
    if (ok)
        became_ready(r);
    else
        bf_redis_reset(r, why);
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
    assert(r->st == ST_CONNECTING && r->ac == ac);
    set_state(r, ST_HANDSHAKE, NULL);
    r->handshake_pending = 1;
    if (r->url.password[0]) {
        r->handshake_pending++;
        if (r->url.user[0]) /* an ACL user: AUTH user pass (AUTH pass is the default user) */
            redisAsyncCommand(ac, on_handshake_reply, (void *)"AUTH", "AUTH %s %s", r->url.user,
                              r->url.password);
        else
            redisAsyncCommand(ac, on_handshake_reply, (void *)"AUTH", "AUTH %s", r->url.password);
    }
    if (r->url.db) {
        r->handshake_pending++;
        redisAsyncCommand(ac, on_handshake_reply, (void *)"SELECT", "SELECT %d", r->url.db);
    }
    if (r->sentinel) {
        r->handshake_pending++;
        redisAsyncCommand(ac, on_handshake_reply, (void *)"ROLE", "ROLE");
    }
    /* a final PING confirms the server answers before we call the link ready */
    redisAsyncCommand(ac, on_handshake_reply, (void *)"PING", "PING");
}

static void start_connect(bf_redis *r)
{
    assert((r->st == ST_DOWN || r->st == ST_RESOLVING) && !r->ac);
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (!ac || ac->err) {
        bf_warn("redis[%s] connect to %s:%d failed: %s", r->name, r->host, r->port,
                ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        set_state(r, ST_DOWN, "connect failed");
        schedule_retry(r);
        return;
    }
    ac->data = r;
    if (r->o.attach(ac, r->o.loop) != REDIS_OK) {
        bf_error("redis[%s] cannot attach to the event loop", r->name);
        ac->data = NULL;
        redisAsyncFree(ac);
        set_state(r, ST_DOWN, "cannot attach");
        schedule_retry(r);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    set_state(r, ST_CONNECTING, NULL);
}

/* Sentinel named the primary (host NULL: no sentinel answered). */
static void on_resolved(void *arg, const char *host, int port)
{
    bf_redis *r = arg;
    if (r->st != ST_RESOLVING) return;
    if (!host) {
        set_state(r, ST_DOWN, "no sentinel answered");
        schedule_retry(r);
        return;
    }
    snprintf(r->host, sizeof(r->host), "%s", host);
    r->port = port;
    start_connect(r);
}

/* +switch-master: a link to (or on its way to) the old primary is dropped at once, without
 * waiting for the old primary to fail or refuse writes; it reconnects through the sentinels. */
static void on_switch(void *arg, const char *host, int port)
{
    bf_redis *r = arg;
    if (r->st == ST_DOWN || r->st == ST_RESOLVING) return;
    if (!strcmp(host, r->host) && port == r->port) return;
    char why[300];
    snprintf(why, sizeof(why), "sentinel: the primary moved to %s:%d", host, port);
    bf_redis_reset(r, why);
    r->failures = 0;
    r->next_attempt = 0;
}

static void start(bf_redis *r)
{
    if (!r->sentinel) {
        start_connect(r);
        return;
    }
    set_state(r, ST_RESOLVING, NULL);
    bf_sentinel_resolve(r->sentinel, on_resolved); /* re-resolved on every (re)connect */
}

bf_redis *bf_redis_new(const bf_redis_opts *o)
{
    bf_redis *r = bf_calloc(1, sizeof(*r));
    r->o = *o;
    if (r->o.command_timeout_ms <= 0) r->o.command_timeout_ms = 2000;
    r->url = *o->url;
    r->o.url = &r->url;
    r->name = bf_strdup(o->name ? o->name : "redis");
    r->o.name = r->name;
    if (r->o.connect_timeout_ms <= 0) r->o.connect_timeout_ms = 3000;
    if (r->o.sentinel_timeout_ms <= 0) r->o.sentinel_timeout_ms = 1000;
    r->st = ST_DOWN;
    if (r->url.kind == BF_REDIS_URL_CLUSTER) {
        r->cluster = bf_rcluster_new(r, &r->o);
        return r;
    }
    snprintf(r->host, sizeof(r->host), "%s", r->url.host);
    r->port = r->url.port;
    if (r->url.kind == BF_REDIS_URL_SENTINEL)
        r->sentinel = bf_sentinel_new(&r->url, r->name, r->o.attach, r->o.loop,
                                      r->o.connect_timeout_ms < r->o.sentinel_timeout_ms
                                          ? r->o.connect_timeout_ms
                                          : r->o.sentinel_timeout_ms,
                                      on_switch, r);
    return r;
}

void bf_redis_free(bf_redis *r)
{
    if (!r) return;
    if (r->peer) r->peer->peer = NULL;
    bf_rcluster_free(r->cluster);
    bf_sentinel_free(r->sentinel);
    forget_pending(r);
    if (r->ac) {
        r->ac->data = NULL; /* callbacks fired by the free below must not touch r */
        redisAsyncFree(r->ac);
    }
    free(r->name);
    free(r);
}

void bf_redis_close(bf_redis *r)
{
    if (r->cluster) {
        bf_rcluster_close(r->cluster);
        return;
    }
    if (r->st == ST_CLOSING || r->st == ST_CLOSED) return;
    /* the sentinel links would keep watching (and the loop alive) for a link that is done */
    bf_sentinel_free(r->sentinel);
    r->sentinel = NULL;
    if (r->st != ST_READY) { /* nothing was sent on it: close it hard */
        forget_pending(r);
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
    if (r->cluster) return bf_rcluster_closed(r->cluster);
    return r->st == ST_CLOSED;
}

void bf_redis_reset(bf_redis *r, const char *why)
{
    if (r->cluster) {
        bf_rcluster_reset(r->cluster, why);
        return;
    }
    if (!r->ac || r->st == ST_CLOSING) return;
    bool was_ready = r->st == ST_READY;
    redisAsyncContext *ac = r->ac;
    ac->data = NULL;
    r->ac = NULL;
    r->gating = false;
    forget_pending(r);
    set_state(r, ST_DOWN, why);
    schedule_retry(r);
    redisAsyncFree(ac); /* pending callbacks get NULL replies */
    if (was_ready && r->o.on_down) r->o.on_down(r, r->o.arg);
}

static void on_keepalive(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)reply;
    (void)priv; /* an answer is all it asks for; pending tracking did the rest */
}

/* A READY link whose oldest command is past its deadline is torn down like a lost one (h2o's
 * redis command timeout): a server that accepts bytes and never answers (SIGSTOP, a hung
 * failover, a black-holed route) must not look healthy. Its peer goes with it: both talk to the
 * same server, and a subscribed link sends nothing of its own whose silence could be timed. */
static void check_deadline(bf_redis *r, uint64_t now_ms)
{
    if (r->st != ST_READY) return;
    if (r->head && now_ms >= r->head->deadline) {
        char why[96];
        snprintf(why, sizeof(why), "no reply within %d ms (--redis-timeout)",
                 r->o.command_timeout_ms);
        r->timeouts++;
        bf_warn("redis[%s] %s:%d: %s; reconnecting", r->name, r->host, r->port, why);
        bf_redis *peer = r->peer;
        bf_redis_reset(r, why);
        if (peer && peer->st != ST_DOWN) bf_redis_reset(peer, "peer link timed out");
        return;
    }
    /* an idle command link is asked a PING after half a deadline, so silence is noticed even
     * when the daemon has nothing to say */
    if (!r->subscribed && !r->head &&
        now_ms - r->last_sent >= (uint64_t)r->o.command_timeout_ms / 2)
        bf_redis_cmd(r, on_keepalive, NULL, "PING");
}

void bf_redis_tick(bf_redis *r, uint64_t now_ms)
{
    if (r->cluster) {
        bf_rcluster_tick(r->cluster, now_ms);
        return;
    }
    if (r->st == ST_CLOSED) return;
    if (r->st == ST_CLOSING) {
        assert(r->ac); /* the disconnect callback clears it and moves us to CLOSED */
        if (now_ms - r->state_since > (uint64_t)r->o.connect_timeout_ms) {
            /* Redis does not answer: give up on the queued commands */
            r->ac->data = NULL;
            forget_pending(r);
            redisAsyncFree(r->ac);
            r->ac = NULL;
            set_state(r, ST_CLOSED, "close timeout (queued commands dropped)");
        }
        return;
    }
    if (r->sentinel) bf_sentinel_tick(r->sentinel, now_ms); /* may call on_resolved/on_switch */
    if (r->st == ST_DOWN) {
        if (now_ms >= r->next_attempt) start(r);
    } else if (r->st == ST_RESOLVING) {
        /* bounded by the sentinel queries' own timeouts */
    } else if (r->st != ST_READY && now_ms - r->state_since > (uint64_t)r->o.connect_timeout_ms) {
        bf_redis_reset(r, "connect timeout");
    } else {
        check_deadline(r, now_ms);
    }
}

void bf_redis_pair(bf_redis *a, bf_redis *b)
{
    if (a->cluster || b->cluster) return; /* node links are paired inside (rcluster.c) */
    assert(a != b && !a->peer && !b->peer);
    a->peer = b;
    b->peer = a;
}

uint64_t bf_redis_timeouts(const bf_redis *r)
{
    return r->cluster ? bf__rcluster_timeouts(r->cluster) : r->timeouts;
}

int bf_redis_cluster_stats_get(const bf_redis *r, bf_redis_cluster_stats *out)
{
    if (!r->cluster) return BF_EINVAL;
    bf_rcluster_stats(r->cluster, out);
    return 0;
}

bool bf_redis_is_cluster(const bf_redis *r)
{
    return r->cluster != NULL;
}

bool bf_redis_is_cluster_node(const bf_redis *r)
{
    return r->o.cluster_node;
}

bool bf_redis_ready(const bf_redis *r)
{
    if (r->cluster) return bf_rcluster_ready(r->cluster);
    return r->st == ST_READY;
}

uint64_t bf_redis_reconnects(const bf_redis *r)
{
    return r->cluster ? bf__rcluster_reconnects(r->cluster) : r->reconnects;
}

static void on_tracked_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    pending *p = priv;
    bf_redis *r = p->r;
    if (r) { /* replies come in order: p is the head */
        assert(r->head == p);
        r->head = p->next;
        if (r->head)
            r->head->prev = NULL;
        else
            r->tail = NULL;
    }
    if (p->cb) p->cb(ac, reply, p->priv);
    free(p);
    /* a primary demoted under us (a failover whose +switch-master we missed) answers writes with
     * READONLY: this link must find the new primary */
    const redisReply *rep = reply;
    if (r && r->ac == ac && rep && rep->type == REDIS_REPLY_ERROR &&
        !strncmp(rep->str, "READONLY", 8))
        bf_redis_reset(r, "the server is a replica now (READONLY)");
}

/* (P|S)(UN)SUBSCRIBE replies are pushes that hiredis routes by channel, possibly many times, so
 * they cannot be tracked one reply per command. */
static bool is_plain_subscribe_verb(const char *v, size_t len)
{
    return (len == 9 && !strncasecmp(v, "subscribe", 9)) ||
           (len == 11 && !strncasecmp(v, "unsubscribe", 11));
}

static bool is_subscribe_verb(const char *v, size_t len)
{
    if (is_plain_subscribe_verb(v, len)) return true;
    /* PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBEs */
    return len > 1 && strchr("pPsS", v[0]) && is_plain_subscribe_verb(v + 1, len - 1);
}

/* Sends one formatted command (RESP in cmd[0..len)), tracking its deadline unless it is a
 * subscription command. */
static int send_formatted(bf_redis *r, redisCallbackFn *cb, void *priv, const char *cmd, size_t len)
{
    /* the verb is the first bulk string: "*N\r\n$L\r\nVERB\r\n" */
    const char *dollar = memchr(cmd, '$', len);
    const char *verb = dollar ? memchr(dollar, '\n', len - (size_t)(dollar - cmd)) : NULL;
    size_t vlen = verb ? strtoul(dollar + 1, NULL, 10) : 0;
    if (verb) verb++;
    if (verb && is_subscribe_verb(verb, vlen)) {
        r->subscribed = true;
        return redisAsyncFormattedCommand(r->ac, cb, priv, cmd, len) == REDIS_OK ? 0
                                                                                 : BF_EDISCONNECTED;
    }
    pending *p = bf_calloc(1, sizeof(*p));
    p->r = r;
    p->cb = cb;
    p->priv = priv;
    r->last_sent = bf_now_ms();
    p->deadline = r->last_sent + (uint64_t)r->o.command_timeout_ms;
    if (redisAsyncFormattedCommand(r->ac, on_tracked_reply, p, cmd, len) != REDIS_OK) {
        free(p);
        return BF_EDISCONNECTED;
    }
    p->prev = r->tail;
    if (r->tail)
        r->tail->next = p;
    else
        r->head = p;
    r->tail = p;
    return 0;
}

int bf_redis_cmd(bf_redis *r, redisCallbackFn *cb, void *priv, const char *fmt, ...)
{
    if (!r->cluster && r->st != ST_READY) return BF_EDISCONNECTED;
    /* a cluster decides in bf_rcluster_send (a SUNSUBSCRIBE is taken even while not ready) */
    assert(r->cluster || r->ac);
    char *cmd;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0) abort(); /* out of memory or a bad format string: a programming error */
    int rc = r->cluster ? bf_rcluster_send(r->cluster, cb, priv, cmd, (size_t)len)
                        : send_formatted(r, cb, priv, cmd, (size_t)len);
    free(cmd);
    return rc;
}

int bf_redis_cmdargv(bf_redis *r, redisCallbackFn *cb, void *priv, int argc, const char **argv,
                     const size_t *argvlen)
{
    if (!r->cluster && r->st != ST_READY) return BF_EDISCONNECTED;
    /* a cluster decides in bf_rcluster_send (a SUNSUBSCRIBE is taken even while not ready) */
    assert(r->cluster || r->ac);
    char *cmd;
    int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0) abort();
    int rc = r->cluster ? bf_rcluster_send(r->cluster, cb, priv, cmd, (size_t)len)
                        : send_formatted(r, cb, priv, cmd, (size_t)len);
    free(cmd);
    return rc;
}

int bf_redis_cmd_formatted(bf_redis *r, redisCallbackFn *cb, void *priv, const char *cmd,
                           size_t len)
{
    if (r->cluster) return bf_rcluster_send(r->cluster, cb, priv, cmd, len);
    if (r->st != ST_READY) return BF_EDISCONNECTED;
    assert(r->ac);
    return send_formatted(r, cb, priv, cmd, len);
}

const redisReply *bf_redis_message(const void *reply)
{
    const redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return NULL;
    if (r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message"))
        return NULL;
    return r->element[2]->type == REDIS_REPLY_STRING ? r->element[2] : NULL;
}
