/* bf_client: the public API, the state machine, reconnection with backoff and dispatch. Recovery
 * (the URL parameters, belfry:subscribed, the gap check) is in client_recovery.c; the wire side
 * (TCP, handshake, frames) in client_io.c. */
#include "client_internal.h"

#include "backoff.h" /* common/: the retry-delay rule */
#include "channel.h" /* common/: channel name rules */
#include "err.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOSE_TIMEOUT_MS 2000
#define MAX_QUEUED_BYTES (1024 * 1024)

static const char *const state_names[] = {
    [BF__ST_RESOLVING] = "resolving", [BF__ST_CONNECTING] = "connecting",
    [BF__ST_UPGRADING] = "upgrading", [BF__ST_OPEN] = "open",
    [BF__ST_CLOSING] = "closing",     [BF__ST_WAITING] = "waiting",
    [BF__ST_CLOSED] = "closed",
};

static void on_timer(uv_timer_t *t);
static void start_attempt(bf_client *c);

void bf__client_log(bf_client *c, const char *fmt, ...)
{
    if (!c->o.on_log || c->freeing) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    c->o.on_log(c, line, c->o.arg);
}

/* ---- lifetime ---------------------------------------------------------------------------- */

static void free_all(uv_handle_t *h)
{
    bf_client *c = h->data;
    for (size_t i = 0; i < c->nsubs; i++) free(c->subs[i].key);
    free(c->subs);
    free(c->rbuf);
    free(c->msg);
    free(c->url_copy);
    free(c);
}

static void teardown(bf_client *c)
{
    bf__io_detach(c);
    uv_close((uv_handle_t *)&c->timer, free_all);
}

void bf__client_enter(bf_client *c)
{
    c->depth++;
}

bool bf__client_leave(bf_client *c)
{
    if (--c->depth == 0 && c->freeing) {
        teardown(c);
        return false;
    }
    return true;
}

void bf_client_free(bf_client *c)
{
    if (!c || c->freeing) return;
    c->freeing = true;
    if (c->depth == 0) teardown(c);
}

/* ---- states ------------------------------------------------------------------------------ */

void bf__client_set_state(bf_client *c, bf__cstate s)
{
    bf__client_log(c, "state %s -> %s", state_names[c->state], state_names[s]);
    bf__cstate old = c->state;
    c->state = s;
    switch (s) {
    case BF__ST_RESOLVING: /* one deadline for resolving, connecting and upgrading together */
        uv_timer_start(&c->timer, on_timer, c->o.connect_timeout_ms, 0);
        break;
    case BF__ST_CONNECTING:
    case BF__ST_UPGRADING:
        if (old > BF__ST_UPGRADING) uv_timer_start(&c->timer, on_timer, c->o.connect_timeout_ms, 0);
        break;
    case BF__ST_OPEN:
        uv_timer_start(&c->timer, on_timer, c->o.ping_interval_ms, 0);
        break;
    case BF__ST_CLOSING:
        uv_timer_start(&c->timer, on_timer, CLOSE_TIMEOUT_MS, 0);
        break;
    case BF__ST_WAITING:
        uv_timer_start(&c->timer, on_timer, c->backoff_ms, 0);
        break;
    case BF__ST_CLOSED:
        uv_timer_stop(&c->timer);
        break;
    }
}

/* min(max, initial * 2^retries), then +- jitter_pct percent, never above max (common/backoff.h,
 * the daemons' rule too). */
static uint64_t next_delay(const bf_client *c)
{
    uint32_t r = 0;
    bool jitter = c->o.jitter_pct > 0 && RAND_bytes((unsigned char *)&r, sizeof(r)) == 1;
    bf_backoff policy = {c->o.initial_delay_ms, c->o.max_delay_ms,
                         jitter ? (unsigned)c->o.jitter_pct : 0};
    return bf_backoff_delay(&policy, c->retries, r);
}

void bf__client_ended(bf_client *c, int code, const char *reason)
{
    bf__io_detach(c);
    if (c->freeing) return;
    bf__client_log(c, "connection ended: %d %s", code, reason);
    /* the gateway refused our since/epoch: never insist, resume by position next time */
    if (code == 400 && reason && !strncmp(reason, "bad_recovery", 12)) c->epoch[0] = '\0';
    if (c->stopped) {
        bf__client_set_state(c, BF__ST_CLOSED);
    } else {
        c->backoff_ms = next_delay(c);
        /* 1012: this gateway is draining and the others are up. Come back soon, but spread over
         * [0, initial_delay] so that its clients do not all arrive elsewhere at once */
        uint32_t r;
        if (code == 1012 && c->retries == 0 && RAND_bytes((unsigned char *)&r, sizeof(r)) == 1)
            c->backoff_ms = (uint64_t)((double)r / (double)UINT32_MAX * c->o.initial_delay_ms);
        c->retries++;
        bf__client_log(c, "next attempt in %llu ms", (unsigned long long)c->backoff_ms);
        bf__client_set_state(c, BF__ST_WAITING);
    }
    /* last, so that whatever the callback does (close, free) meets a settled state */
    if (c->o.on_disconnect) c->o.on_disconnect(c, code, reason, c->o.arg);
}

void bf__client_opened(bf_client *c)
{
    c->retries = 0;
    c->last_rx_ms = uv_now(c->loop);
    bf__client_set_state(c, BF__ST_OPEN);
    /* a recovering connection is connected when its position is known (belfry:subscribed):
     * from then on every publish reaches it; before, one could fall in between */
    if (c->o.no_recovery && c->o.on_connect) c->o.on_connect(c, c->o.arg);
}

static void on_timer(uv_timer_t *t)
{
    bf_client *c = t->data;
    bf__client_enter(c);
    switch (c->state) {
    case BF__ST_RESOLVING:
    case BF__ST_CONNECTING:
    case BF__ST_UPGRADING: {
        char why[128];
        snprintf(why, sizeof(why), "timed out after %u ms while %s", c->o.connect_timeout_ms,
                 state_names[c->state]);
        bf__client_ended(c, BF__WS_ABNORMAL, why);
        break;
    }
    case BF__ST_OPEN: {
        uint64_t idle = uv_now(c->loop) - c->last_rx_ms;
        if (idle < c->o.ping_interval_ms) {
            uv_timer_start(&c->timer, on_timer, c->o.ping_interval_ms - idle, 0);
        } else if (!c->ping_out) {
            c->ping_out = true;
            bf__io_send(c, BF__WS_PING, NULL, 0);
            uv_timer_start(&c->timer, on_timer, c->o.ping_interval_ms, 0);
        } else {
            char why[128];
            snprintf(why, sizeof(why), "no answer to a ping within %u ms", c->o.ping_interval_ms);
            bf__client_ended(c, BF__WS_ABNORMAL, why);
        }
        break;
    }
    case BF__ST_CLOSING:
        bf__client_ended(c, c->close_received ? c->close_code : BF__WS_ABNORMAL,
                         c->close_received ? c->close_reason : "close handshake timed out");
        break;
    case BF__ST_WAITING:
        start_attempt(c);
        break;
    case BF__ST_CLOSED:
        break;
    }
    bf__client_leave(c);
}

/* ---- attempts ---------------------------------------------------------------------------- */

/* The channel of a /ws/{channel}[?type=T] URL: the last path segment, with T applied. */
static void find_channel(bf_client *c)
{
    const char *path = c->target.path, *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    const char *seg = path;
    for (const char *p = path; p < path + plen; p++)
        if (*p == '/') seg = p + 1;
    c->channel[0] = c->channel_raw[0] = '\0';
    if (bf__url_decode(seg, (size_t)(path + plen - seg), c->channel_raw, sizeof(c->channel_raw)) <
        0)
        c->channel_raw[0] = '\0';
    char type[16] = "";
    for (const char *p = q; p && *p;) {
        p++; /* past '?' or '&' */
        size_t n = strcspn(p, "&");
        if (n > 5 && n - 5 < sizeof(type) && !strncmp(p, "type=", 5))
            snprintf(type, sizeof(type), "%.*s", (int)(n - 5), p + 5);
        p += n;
    }
    char err[BF_ERR_LEN];
    if (bf_channel_resolve(c->channel_raw, strlen(c->channel_raw), type, c->channel, err,
                           sizeof(err)))
        snprintf(c->channel, sizeof(c->channel), "%s", c->channel_raw);
}

static void start_attempt(bf_client *c)
{
    char url[BF_CLIENT_URL_MAX], err[BF_ERR_LEN];
    if (c->o.url_factory) {
        url[0] = '\0';
        int rc = c->o.url_factory(url, sizeof(url), c->o.arg);
        if (c->freeing || c->state != BF__ST_WAITING) return; /* freed or closed meanwhile */
        if (rc < 0) {
            snprintf(err, sizeof(err), "the URL factory failed (%d)", rc);
            bf__client_ended(c, BF__WS_ABNORMAL, err);
            return;
        }
        url[sizeof(url) - 1] = '\0';
    } else {
        snprintf(url, sizeof(url), "%s", c->o.url);
    }
    c->subscribed = false;
    c->asked_since = 0;
    if (!c->o.no_recovery && bf__client_recovery_params(c, url, sizeof(url))) {
        bf__client_ended(c, BF__WS_ABNORMAL, "bad URL: too long with the recovery parameters");
        return;
    }
    char msg[BF_ERR_LEN];
    if (bf__url_parse(url, "ws", &c->target, msg, sizeof(msg))) {
        snprintf(err, sizeof(err), "bad URL: %.240s", msg);
        bf__client_ended(c, BF__WS_ABNORMAL, err);
        return;
    }
    find_channel(c);
    bf__client_set_state(c, BF__ST_RESOLVING);
    bf__io_connect(c);
}

/* ---- public API -------------------------------------------------------------------------- */

bf_client *bf_client_new(uv_loop_t *loop, const bf_client_opts *o, char *err)
{
    char msg[BF_ERR_LEN] = "out of memory";
    if (!loop || !o || (!o->url && !o->url_factory)) {
        snprintf(msg, sizeof(msg), "bf_client_new needs a loop and a url or a url_factory");
        goto fail;
    }
    if (!o->url_factory) {
        bf__url *u = malloc(sizeof(*u));
        if (!u) goto fail;
        int bad = bf__url_parse(o->url, "ws", u, msg, sizeof(msg));
        free(u);
        if (bad) goto fail;
    }
    bf_client *c = calloc(1, sizeof(*c));
    if (!c) goto fail;
    c->loop = loop;
    c->o = *o;
    if (o->url && !(c->url_copy = strdup(o->url))) {
        free(c);
        goto fail;
    }
    c->o.url = c->url_copy;
    if (!c->o.initial_delay_ms) c->o.initial_delay_ms = 1000;
    if (!c->o.max_delay_ms) c->o.max_delay_ms = 30000;
    if (c->o.max_delay_ms < c->o.initial_delay_ms) c->o.max_delay_ms = c->o.initial_delay_ms;
    if (!c->o.jitter_pct) c->o.jitter_pct = 20;
    if (c->o.jitter_pct > 100) c->o.jitter_pct = 100;
    if (!c->o.connect_timeout_ms) c->o.connect_timeout_ms = 10000;
    if (!c->o.ping_interval_ms) c->o.ping_interval_ms = 30000;
    if (!c->o.max_message_bytes) c->o.max_message_bytes = 1024 * 1024;
    int r = uv_timer_init(loop, &c->timer);
    if (r) {
        snprintf(msg, sizeof(msg), "uv_timer_init: %s", uv_strerror(r));
        free(c->url_copy);
        free(c);
        goto fail;
    }
    c->timer.data = c;
    /* the first attempt starts from the loop, never inside this call: no callback can run before
     * the caller has the client */
    c->state = BF__ST_WAITING;
    uv_timer_start(&c->timer, on_timer, 0, 0);
    return c;
fail:
    if (err) snprintf(err, BF_ERR_LEN, "%s", msg);
    return NULL;
}

void bf_client_close(bf_client *c)
{
    if (!c || c->freeing || c->stopped) return;
    c->stopped = true;
    switch (c->state) {
    case BF__ST_OPEN:
        bf__io_send_close(c, BF__WS_NORMAL, "");
        bf__client_set_state(c, BF__ST_CLOSING);
        break;
    case BF__ST_CLOSING: /* ends as usual, then CLOSED instead of WAITING */
    case BF__ST_CLOSED:
        break;
    case BF__ST_RESOLVING:
    case BF__ST_CONNECTING:
    case BF__ST_UPGRADING:
        bf__io_detach(c);
        /* fall through */
    case BF__ST_WAITING:
        bf__client_set_state(c, BF__ST_CLOSED);
        break;
    }
}

bf_client_state bf_client_get_state(const bf_client *c)
{
    switch (c->state) {
    case BF__ST_OPEN:
        return BF_CLIENT_OPEN;
    case BF__ST_CLOSING:
        return BF_CLIENT_CLOSING;
    case BF__ST_WAITING:
        return BF_CLIENT_WAITING;
    case BF__ST_CLOSED:
        return BF_CLIENT_CLOSED;
    default:
        return BF_CLIENT_CONNECTING;
    }
}

const char *bf_client_state_name(bf_client_state s)
{
    static const char *const names[] = {"connecting", "open", "closing", "waiting", "closed"};
    return (unsigned)s < 5 ? names[s] : "unknown";
}

uint64_t bf_client_last_seq(const bf_client *c)
{
    return c->last_seq;
}

const char *bf_client_epoch(const bf_client *c)
{
    return c->epoch;
}

const char *bf_client_channel(const bf_client *c)
{
    return c->channel;
}

/* ---- subscriptions ----------------------------------------------------------------------- */

bf_client_sub bf_client_subscribe(bf_client *c, const char *key, bf_client_handler handler,
                                  void *arg)
{
    if (!c || c->freeing || !key || !*key || !handler) return 0;
    if (c->nsubs == c->cap_subs) {
        size_t ncap = c->cap_subs ? c->cap_subs * 2 : 4;
        bf__sub *ns = realloc(c->subs, ncap * sizeof(*ns));
        if (!ns) return 0;
        c->subs = ns;
        c->cap_subs = ncap;
    }
    char *k = strdup(key);
    if (!k) return 0;
    bf__sub *s = &c->subs[c->nsubs++];
    s->id = ++c->next_sub;
    s->key = k;
    s->fn = handler;
    s->arg = arg;
    return s->id;
}

/* Drops cancelled entries; only outside a dispatch, which iterates by index. */
static void compact(bf_client *c)
{
    size_t j = 0;
    for (size_t i = 0; i < c->nsubs; i++) {
        if (c->subs[i].fn)
            c->subs[j++] = c->subs[i];
        else
            free(c->subs[i].key);
    }
    c->nsubs = j;
    c->sweep = false;
}

static void cancel_at(bf_client *c, size_t i)
{
    c->subs[i].fn = NULL;
    if (c->dispatching)
        c->sweep = true;
    else
        compact(c);
}

int bf_client_cancel(bf_client *c, bf_client_sub sub)
{
    if (!c || !sub) return BF_ENOTFOUND;
    for (size_t i = 0; i < c->nsubs; i++) {
        if (c->subs[i].id == sub && c->subs[i].fn) {
            cancel_at(c, i);
            return 0;
        }
    }
    return BF_ENOTFOUND;
}

int bf_client_unsubscribe(bf_client *c, const char *key)
{
    if (!c || !key) return 0;
    int n = 0;
    for (size_t i = 0; i < c->nsubs; i++) {
        if (c->subs[i].fn && !strcmp(c->subs[i].key, key)) {
            c->subs[i].fn = NULL;
            n++;
        }
    }
    if (n && c->dispatching)
        c->sweep = true;
    else if (n)
        compact(c);
    return n;
}

/* ---- messages ---------------------------------------------------------------------------- */

static void dispatch(bf_client *c, const bf_client_msg *m)
{
    size_t n = c->nsubs; /* handlers added meanwhile wait for the next message */
    c->dispatching++;
    for (size_t i = 0; i < n && i < c->nsubs && !c->freeing; i++) {
        bf__sub s = c->subs[i]; /* a copy: the array may move while the handler runs */
        if (!s.fn) continue;
        if (strcmp(s.key, "*") && strcmp(s.key, c->channel) && strcmp(s.key, c->channel_raw))
            continue;
        s.fn(c, m, s.arg);
    }
    if (--c->dispatching == 0 && c->sweep) compact(c);
}

/* Updates the seq baseline for message (event, seq, data); calls on_gap for a discontinuity. */
void bf__client_text(bf_client *c, const char *text, size_t len)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    const char *event = json_string_value(json_object_get(root, "event"));
    if (!event) {
        bf__client_log(c, "ignoring a message that is not {\"event\":...}: %.80s", text);
        json_decref(root);
        return;
    }
    json_t *data = json_object_get(root, "data");
    char *dj = json_dumps(data ? data : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    if (!dj) {
        bf__client_log(c, "out of memory: dropping a %s message", event);
        json_decref(root);
        return;
    }
    bf_client_msg m = {
        .channel = c->channel,
        .event = event,
        .data = dj,
        .data_len = strlen(dj),
        .seq = bf__client_uint_of(json_object_get(root, "seq")),
        .user_id = json_string_value(json_object_get(root, "user_id")),
        .raw = text,
        .raw_len = len,
    };
    bool control = !strcmp(event, "belfry:subscribed");
    if (control && !c->subscribed && c->o.on_connect) c->o.on_connect(c, c->o.arg);
    if (control && !c->freeing)
        bf__client_on_subscribed(c, data);
    else if (!control)
        bf__client_track_seq(c, event, m.seq, data);
    if (!c->freeing && (!control || c->o.deliver_subscribed)) dispatch(c, &m);
    free(dj);
    json_decref(root);
}

int bf_client_whisper(bf_client *c, const char *channel, const char *event, const char *data_json)
{
    if (!c || c->freeing || !event || !*event) return BF_EINVAL;
    if (c->state != BF__ST_OPEN) return BF_EDISCONNECTED;
    if (bf__io_queued(c) > MAX_QUEUED_BYTES) return BF_EFULL;
    json_t *data = data_json ? json_loads(data_json, JSON_DECODE_ANY, NULL) : json_null();
    if (!data) return BF_EINVAL;
    json_t *inner = json_object(), *root = json_object();
    int rc = BF_ENOMEM;
    if (inner && root && !json_object_set_new(inner, "event", json_string(event)) &&
        !json_object_set(inner, "data", data) &&
        !json_object_set_new(root, "event", json_string("whisper")) &&
        !json_object_set_new(root, "channel", json_string(channel ? channel : c->channel)) &&
        !json_object_set(root, "data", inner)) {
        char *s = json_dumps(root, JSON_COMPACT);
        if (s) rc = bf__io_send(c, BF__WS_TEXT, s, strlen(s));
        free(s);
    }
    json_decref(data);
    json_decref(inner);
    json_decref(root);
    return rc;
}
