#include "webhooks.h"
#include "alloc.h"
#include "backoff.h"
#include "clock.h"
#include "dict.h"
#include "err.h"
#include "hmac.h"
#include "log.h"
#include "redis_keys.h"
#include "scripts.h"

#include <assert.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define GROUP "routers"
#define ON_TTL_MS 10000      /* webhooks:on outlives a dead router by at most this */
#define BACKOFF_CAP_MS 60000 /* longest wait between two attempts (jitter included) */
#define DUE_PER_CALL 100     /* vacates queued per webhook_due.lua call */
#define TOUCH_CHUNK 500      /* ids per XCLAIM */

enum {
    EV_OCCUPIED = 1 << 0,
    EV_VACATED = 1 << 1,
    EV_MEMBER_ADDED = 1 << 2,
    EV_MEMBER_REMOVED = 1 << 3,
    EV_CLIENT_EVENT = 1 << 4,
    EV_CACHE_MISS = 1 << 5,
};

static const struct {
    const char *name;
    unsigned bit;
} event_names[] = {
    {"channel_occupied", EV_OCCUPIED}, {"channel_vacated", EV_VACATED},
    {"member_added", EV_MEMBER_ADDED}, {"member_removed", EV_MEMBER_REMOVED},
    {"client_event", EV_CLIENT_EVENT}, {"cache_miss", EV_CACHE_MISS},
};

typedef struct target {
    const bf_app *app;
    char host[256];
    int port;
    char *path; /* path and query, malloc'd */
    const char *url;
} target;

/* A stream entry this router holds until every batch containing it is finished. */
typedef struct entry {
    char id[48];
    int refs;
} entry;

typedef struct batch {
    bf_webhooks *w;
    const target *tg;
    entry **entries;
    size_t n;
    char *body; /* signed once: every attempt sends the same bytes */
    size_t body_len;
    char sig[BF_SHA256_HEX_LEN + 1];
    char *ids; /* X-Belfry-Event-Ids */
    uint64_t oldest_event_ms;
    int attempts;
    uint64_t first_ms, next_ms;
    struct evhttp_connection *conn; /* non-NULL while a request is in flight */
    bool done;                      /* the request finished with `code`: handled by the tick */
    int code;
    struct batch *next;
} batch;

struct bf_webhooks {
    bf_webhooks_opts o;
    target *targets;
    size_t ntargets;
    unsigned mask;
    char kstream[BF_KEY_MAX], kon[BF_KEY_MAX], kvac[BF_KEY_MAX];
    bf_dict *held; /* entry id -> entry */
    batch *batches;
    struct evhttp_connection **dead; /* finished connections, freed on the next tick */
    size_t ndead, capdead;
    bool group_ready, creating, reading, claiming, due_busy, freeing;
    uint64_t next_read, next_claim, next_touch, next_on, next_due, next_group;
    char cursor[48];
    /* metrics */
    uint64_t sent, failed, retried, dropped, delivered_events, latency_sum_ms;
};

/* ---- configuration ------------------------------------------------------------------------ */

static int parse_target(const bf_apps *apps, const char *spec, target *t, char *err, size_t errlen)
{
    const char *eq = strchr(spec, '=');
    if (!eq) {
        snprintf(err, errlen, "--webhook '%.100s': expected APPID=URL", spec);
        return BF_EINVAL;
    }
    t->app = bf_apps_by_id(apps, spec, (size_t)(eq - spec));
    if (!t->app || t->app->implicit) {
        snprintf(err, errlen, "--webhook '%.100s': no app '%.*s' (see --app)", spec,
                 (int)(eq - spec > 40 ? 40 : eq - spec), spec);
        return BF_EINVAL;
    }
    t->url = eq + 1;
    struct evhttp_uri *u = evhttp_uri_parse(eq + 1);
    const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
    const char *host = u ? evhttp_uri_get_host(u) : NULL;
    if (!u || !scheme || strcasecmp(scheme, "http") || !host || !*host ||
        strlen(host) >= sizeof(t->host)) {
        snprintf(err, errlen,
                 "--webhook '%.100s': the URL must be http://HOST[:PORT]/PATH (no TLS here: put "
                 "a TLS proxy in front of an https receiver)",
                 spec);
        if (u) evhttp_uri_free(u);
        return BF_EINVAL;
    }
    snprintf(t->host, sizeof(t->host), "%s", host);
    t->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
    const char *path = evhttp_uri_get_path(u), *query = evhttp_uri_get_query(u);
    size_t cap = (path ? strlen(path) : 0) + (query ? strlen(query) : 0) + 3;
    t->path = bf_malloc(cap);
    snprintf(t->path, cap, "%s%s%s", path && *path ? path : "/", query ? "?" : "",
             query ? query : "");
    evhttp_uri_free(u);
    return 0;
}

static int parse_events(const char *s, unsigned *mask, char *err, size_t errlen)
{
    *mask = 0;
    while (s && *s) {
        size_t n = strcspn(s, ","), i;
        for (i = 0; i < sizeof(event_names) / sizeof(*event_names); i++)
            if (strlen(event_names[i].name) == n && !strncmp(s, event_names[i].name, n)) break;
        if (i == sizeof(event_names) / sizeof(*event_names)) {
            if (n) {
                snprintf(err, errlen, "--webhook-events: unknown event '%.*s'",
                         (int)(n > 40 ? 40 : n), s);
                return BF_EINVAL;
            }
        } else {
            *mask |= event_names[i].bit;
        }
        s += n + (s[n] == ',');
    }
    return 0;
}

bf_webhooks *bf_webhooks_new(const bf_webhooks_opts *o, char *err, size_t errlen)
{
    *err = '\0';
    if (!o->hooks || !o->hooks->n) return NULL;
    bf_webhooks *w = bf_calloc(1, sizeof(*w));
    w->o = *o;
    w->targets = bf_calloc(o->hooks->n, sizeof(*w->targets));
    for (size_t i = 0; i < o->hooks->n; i++) {
        if (parse_target(o->apps, o->hooks->v[i], &w->targets[i], err, errlen)) {
            bf_webhooks_free(w);
            return NULL;
        }
        w->ntargets++;
    }
    if (parse_events(o->events, &w->mask, err, errlen)) {
        bf_webhooks_free(w);
        return NULL;
    }
    bf_key(w->kstream, o->prefix, BF_KEY_WEBHOOKS, NULL);
    bf_key(w->kon, o->prefix, BF_KEY_WEBHOOKS_ON, NULL);
    bf_key(w->kvac, o->prefix, BF_KEY_WEBHOOKS_VACATING, NULL);
    w->held = bf_dict_new();
    snprintf(w->cursor, sizeof(w->cursor), "0-0");
    for (size_t i = 0; i < w->ntargets; i++)
        bf_info("webhooks: app %s -> %s", w->targets[i].app->id, w->targets[i].url);
    return w;
}

/* ---- acknowledging ------------------------------------------------------------------------ */

/* The event is finished with (delivered or dropped): it leaves the group's pending list and
 * the stream. */
static void ack(bf_webhooks *w, const char *id)
{
    bf_redis_cmd(w->o.redis, NULL, NULL, "XACK %s " GROUP " %s", w->kstream, id);
    bf_redis_cmd(w->o.redis, NULL, NULL, "XDEL %s %s", w->kstream, id);
}

static void entry_release(bf_webhooks *w, entry *e)
{
    assert(e->refs > 0);
    if (--e->refs) return;
    ack(w, e->id);
    bf_dict_del(w->held, e->id, strlen(e->id));
    free(e);
}

static void batch_free(batch *b, bool release)
{
    for (size_t i = 0; release && i < b->n; i++) entry_release(b->w, b->entries[i]);
    free(b->entries);
    free(b->body);
    free(b->ids);
    free(b);
}

/* ---- delivery ---------------------------------------------------------------------------- */

/* The request's callback only records the outcome: the batch is handled, and the connection
 * freed, by the next tick (never inside libevent's callback). */
static void on_http_done(struct evhttp_request *req, void *arg)
{
    batch *b = arg;
    bf_webhooks *w = b->w;
    if (w->freeing || b->done) return;
    b->code = req ? evhttp_request_get_response_code(req) : 0;
    b->done = true;
}

/* Returns true if b is finished (delivered or dropped) and was freed. now: bf_now_ms(). */
static bool finish(bf_webhooks *w, batch *b, uint64_t now)
{
    assert(b->done && b->conn);
    if (w->ndead == w->capdead) {
        w->capdead = w->capdead ? 2 * w->capdead : 8;
        w->dead = bf_realloc(w->dead, w->capdead * sizeof(*w->dead));
    }
    w->dead[w->ndead++] = b->conn;
    b->conn = NULL;
    b->done = false;
    int code = b->code;
    if (code >= 200 && code < 300) {
        w->sent++;
        w->delivered_events += b->n;
        uint64_t wall = bf_wall_ms(); /* event times are Redis' wall clock */
        if (wall > b->oldest_event_ms) w->latency_sum_ms += (wall - b->oldest_event_ms) * b->n;
        batch_free(b, true);
        return true;
    }
    w->failed++;
    if (now - b->first_ms >= (uint64_t)w->o.retry_max_ms) {
        w->dropped += b->n;
        bf_warn("webhook to %s (app %s) dropped after %d attempts over %llu ms (last status %d): "
                "%zu event(s) lost, ids %.200s",
                b->tg->url, b->tg->app->id, b->attempts, (unsigned long long)(now - b->first_ms),
                code, b->n, b->ids);
        batch_free(b, true);
        return true;
    }
    /* exponential backoff, spread so that receivers that come back are not hit all at once */
    const bf_backoff policy = {
        .initial_ms = (uint64_t)w->o.retry_initial_ms, .max_ms = BACKOFF_CAP_MS, .jitter_pct = 50};
    uint64_t delay = bf_backoff_delay(&policy, (unsigned)b->attempts - 1, (uint32_t)rand());
    uint64_t last = b->first_ms + (uint64_t)w->o.retry_max_ms;
    b->next_ms = now + delay < last ? now + delay : last;
    w->retried++;
    bf_debug("webhook to %s answered %d; retry %d in %llu ms", b->tg->url, code, b->attempts,
             (unsigned long long)(b->next_ms - now));
    return false;
}

static void attempt(batch *b, uint64_t now)
{
    bf_webhooks *w = b->w;
    const target *t = b->tg;
    b->attempts++;
    b->next_ms = UINT64_MAX;
    if (!b->first_ms) b->first_ms = now;
    b->conn = evhttp_connection_base_new(w->o.base, NULL, t->host, (ev_uint16_t)t->port);
    struct evhttp_request *req = b->conn ? evhttp_request_new(on_http_done, b) : NULL;
    if (!req) {
        if (b->conn) evhttp_connection_free(b->conn);
        b->conn = NULL;
        b->next_ms = now + (uint64_t)w->o.retry_initial_ms;
        w->failed++;
        return;
    }
    struct timeval tv = {w->o.timeout_ms / 1000, (w->o.timeout_ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(b->conn, &tv);
    evhttp_connection_set_retries(b->conn, 0);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", t->host);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "X-Pusher-Key", t->app->key);
    evhttp_add_header(h, "X-Pusher-Signature", b->sig);
    evhttp_add_header(h, "X-Belfry-Event-Ids", b->ids);
    evhttp_add_header(h, "Connection", "close");
    evbuffer_add(evhttp_request_get_output_buffer(req), b->body, b->body_len);
    if (evhttp_make_request(b->conn, req, EVHTTP_REQ_POST, t->path)) {
        /* the request was freed by libevent; the connection is ours */
        evhttp_connection_free(b->conn);
        b->conn = NULL;
        b->next_ms = now + (uint64_t)w->o.retry_initial_ms;
        w->failed++;
    }
}

/* ---- reading the stream ------------------------------------------------------------------- */

typedef struct parsed {
    const char *id, *name, *channel, *user;
    const char *event, *data, *socket_id; /* client_event (webhook_event.lua) */
    size_t data_len;
    uint64_t t;
} parsed;

static bool parse_entry(const redisReply *e, parsed *p)
{
    memset(p, 0, sizeof(*p));
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return false;
    p->id = e->element[0]->str;
    const redisReply *f = e->element[1];
    if (f->type != REDIS_REPLY_ARRAY) return false; /* deleted meanwhile */
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *k = f->element[i]->str, *v = f->element[i + 1]->str;
        if (!k || !v) continue;
        if (!strcmp(k, "n")) p->name = v;
        if (!strcmp(k, "c")) p->channel = v;
        if (!strcmp(k, "u")) p->user = v;
        if (!strcmp(k, "t")) p->t = strtoull(v, NULL, 10);
        if (!strcmp(k, "e")) p->event = v;
        if (!strcmp(k, "s")) p->socket_id = v;
        if (!strcmp(k, "d")) {
            p->data = v;
            p->data_len = (size_t)f->element[i + 1]->len;
        }
    }
    return p->name && p->channel;
}

/* A client event's data as Pusher's webhook carries it: a string — the client's string itself,
 * or the JSON text of what it sent otherwise. */
static json_t *client_data(const char *text, size_t len)
{
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    json_t *out = json_is_string(v) ? json_incref(v) : json_stringn(text, len);
    json_decref(v);
    return out ? out : json_string("");
}

static unsigned event_bit(const char *name)
{
    for (size_t i = 0; i < sizeof(event_names) / sizeof(*event_names); i++)
        if (!strcmp(event_names[i].name, name)) return event_names[i].bit;
    return 0;
}

/* Turns entries (an array of stream entries) into one batch per target. */
static void take_entries(bf_webhooks *w, const redisReply *arr)
{
    if (!arr || arr->type != REDIS_REPLY_ARRAY || !arr->elements) return;
    batch **nb = bf_calloc(w->ntargets, sizeof(*nb));
    json_t **evs = bf_calloc(w->ntargets, sizeof(*evs));
    for (size_t i = 0; i < arr->elements; i++) {
        parsed p;
        const redisReply *e = arr->element[i];
        if (!parse_entry(e, &p)) {
            if (p.id) ack(w, p.id); /* malformed or deleted: nothing to send */
            continue;
        }
        if (bf_dict_get(w->held, p.id, strlen(p.id))) continue; /* already ours */
        const char *bare;
        const bf_app *app = bf_apps_unscope(w->o.apps, p.channel, &bare);
        entry *en = NULL;
        for (size_t t = 0; app && (w->mask & event_bit(p.name)) && t < w->ntargets; t++) {
            if (w->targets[t].app != app) continue;
            if (!en) {
                en = bf_calloc(1, sizeof(*en));
                snprintf(en->id, sizeof(en->id), "%s", p.id);
                bf_dict_put(w->held, en->id, strlen(en->id), en);
            }
            if (!nb[t]) {
                nb[t] = bf_calloc(1, sizeof(batch));
                nb[t]->w = w;
                nb[t]->tg = &w->targets[t];
                nb[t]->entries = bf_calloc(arr->elements, sizeof(entry *));
                nb[t]->oldest_event_ms = UINT64_MAX;
                evs[t] = json_array();
            }
            batch *b = nb[t];
            b->entries[b->n++] = en;
            en->refs++;
            if (p.t && p.t < b->oldest_event_ms) b->oldest_event_ms = p.t;
            json_t *ev = json_pack("{s:s,s:s}", "name", p.name, "channel", bare);
            if (p.event) json_object_set_new(ev, "event", json_string(p.event));
            if (p.data) json_object_set_new(ev, "data", client_data(p.data, p.data_len));
            if (p.socket_id) json_object_set_new(ev, "socket_id", json_string(p.socket_id));
            if (p.user) json_object_set_new(ev, "user_id", json_string(p.user));
            json_array_append_new(evs[t], ev);
        }
        if (!en) ack(w, p.id); /* no receiver wants it */
    }
    uint64_t wall = bf_wall_ms(), now = bf_now_ms();
    for (size_t t = 0; t < w->ntargets; t++) {
        batch *b = nb[t];
        if (!b) continue;
        json_t *body = json_pack("{s:I,s:o}", "time_ms", (json_int_t)wall, "events", evs[t]);
        b->body = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(body);
        b->body_len = strlen(b->body);
        bf_hmac_sha256_hex(b->tg->app->secret, b->tg->app->secret_len, b->body, b->body_len,
                           b->sig);
        size_t cap = b->n * sizeof(((entry *)0)->id) + 1;
        b->ids = bf_malloc(cap);
        size_t off = 0;
        for (size_t i = 0; i < b->n; i++)
            off +=
                (size_t)snprintf(b->ids + off, cap - off, "%s%s", i ? "," : "", b->entries[i]->id);
        if (b->oldest_event_ms == UINT64_MAX) b->oldest_event_ms = wall;
        b->next = w->batches;
        w->batches = b;
        attempt(b, now);
    }
    free(nb);
    free(evs);
}

static void on_read(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_webhooks *w = priv;
    redisReply *r = reply;
    w->reading = false;
    if (w->freeing || !r) return;
    if (r->type == REDIS_REPLY_ERROR) {
        if (strstr(r->str, "NOGROUP")) w->group_ready = false;
        bf_warn("webhooks: XREADGROUP failed: %s", r->str);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1) return; /* nil: nothing new */
    const redisReply *s = r->element[0];
    if (s->type == REDIS_REPLY_ARRAY && s->elements == 2) take_entries(w, s->element[1]);
}

static void on_claim(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_webhooks *w = priv;
    redisReply *r = reply;
    w->claiming = false;
    if (w->freeing || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 2) return;
    if (r->element[0]->type == REDIS_REPLY_STRING)
        snprintf(w->cursor, sizeof(w->cursor), "%s", r->element[0]->str);
    size_t before = bf_dict_size(w->held);
    take_entries(w, r->element[1]);
    if (bf_dict_size(w->held) > before)
        bf_info("webhooks: claimed %zu event(s) another router had not delivered",
                bf_dict_size(w->held) - before);
}

static void on_group(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bf_webhooks *w = priv;
    redisReply *r = reply;
    if (w->freeing) return;
    w->creating = false;
    if (!r) return;
    if (r->type == REDIS_REPLY_STATUS ||
        (r->type == REDIS_REPLY_ERROR && strstr(r->str, "BUSYGROUP")))
        w->group_ready = true;
    else if (r->type == REDIS_REPLY_ERROR)
        bf_warn("webhooks: XGROUP CREATE failed: %s", r->str);
}

static void on_due(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)reply;
    bf_webhooks *w = priv;
    if (!w->freeing) w->due_busy = false;
}

void bf_webhooks_on_ready(bf_webhooks *w)
{
    if (!w) return;
    w->group_ready = false;
    w->reading = w->claiming = w->due_busy = w->creating = false;
    w->next_on = w->next_group = 0;
}

/* (Re)creates the consumer group: at start, after a reconnection, and when Redis lost it (a
 * restart without persistence, a FLUSHALL: XREADGROUP answers NOGROUP). */
static void create_group(bf_webhooks *w, uint64_t now_ms)
{
    if (w->group_ready || w->creating || now_ms < w->next_group) return;
    if (!bf_redis_cmd(w->o.redis, on_group, w, "XGROUP CREATE %s " GROUP " 0 MKSTREAM", w->kstream))
        w->creating = true;
    w->next_group = now_ms + 1000;
}

/* Resets the idle time of the events this router holds, so that no other router claims them
 * while their deliveries are being retried. */
typedef struct touch_ctx {
    const char **argv;
    size_t n;
} touch_ctx;

static int collect_id(const char *key, void *val, void *arg)
{
    (void)val;
    touch_ctx *t = arg;
    t->argv[t->n++] = key;
    return 0;
}

static void touch(bf_webhooks *w)
{
    size_t n = bf_dict_size(w->held);
    if (!n) return;
    touch_ctx t = {bf_malloc((n + 8) * sizeof(char *)), 0};
    bf_dict_foreach(w->held, collect_id, &t);
    const char *head[] = {"XCLAIM", w->kstream, GROUP, w->o.node_id, "0"};
    for (size_t at = 0; at < t.n; at += TOUCH_CHUNK) {
        size_t k = t.n - at < TOUCH_CHUNK ? t.n - at : TOUCH_CHUNK;
        const char **argv = bf_malloc((k + 6) * sizeof(char *));
        memcpy(argv, head, sizeof(head));
        memcpy(argv + 5, t.argv + at, k * sizeof(char *));
        argv[5 + k] = "JUSTID";
        bf_redis_cmdargv(w->o.redis, NULL, NULL, (int)(k + 6), argv, NULL);
        free(argv);
    }
    free(t.argv);
}

void bf_webhooks_tick(bf_webhooks *w, uint64_t now_ms)
{
    if (!w) return;
    for (size_t i = 0; i < w->ndead; i++) evhttp_connection_free(w->dead[i]);
    w->ndead = 0;
    uint64_t now = now_ms;
    for (batch **p = &w->batches; *p;) {
        batch *b = *p, *next = b->next;
        if (b->done && finish(w, b, now)) {
            *p = next; /* b is freed */
            continue;
        }
        if (!b->conn && now >= b->next_ms) attempt(b, now);
        p = &b->next;
    }
    if (!bf_redis_ready(w->o.redis)) return;
    if (now_ms >= w->next_on) {
        char delay[24], ttl[24];
        snprintf(delay, sizeof(delay), "%lld", w->o.vacate_delay_ms);
        snprintf(ttl, sizeof(ttl), "%d", ON_TTL_MS);
        bf_redis_cmd(w->o.redis, NULL, NULL, "SET %s %s PX %s", w->kon, delay, ttl);
        w->next_on = now_ms + 1000;
    }
    if (now_ms >= w->next_due && !w->due_busy) {
        bf_script_args a;
        if (!bf_webhook_due_args(&a, w->o.prefix, DUE_PER_CALL) &&
            !bf_script_args_send(w->o.redis, &a, on_due, w))
            w->due_busy = true;
        w->next_due = now_ms + 100;
    }
    create_group(w, now_ms);
    if (!w->group_ready) return;
    bool room = bf_dict_size(w->held) < (size_t)w->o.max_pending;
    if (room && !w->reading && now_ms >= w->next_read) {
        char count[24];
        snprintf(count, sizeof(count), "%lld", w->o.batch_max);
        if (!bf_redis_cmd(w->o.redis, on_read, w,
                          "XREADGROUP GROUP " GROUP " %s COUNT %s STREAMS %s >", w->o.node_id,
                          count, w->kstream))
            w->reading = true;
        w->next_read = now_ms + (uint64_t)w->o.batch_ms;
    }
    if (now_ms >= w->next_touch) {
        touch(w);
        w->next_touch = now_ms + (uint64_t)w->o.claim_ms / 3;
    }
    if (room && !w->claiming && now_ms >= w->next_claim) {
        char idle[24], count[24];
        snprintf(idle, sizeof(idle), "%lld", w->o.claim_ms);
        snprintf(count, sizeof(count), "%lld", w->o.batch_max);
        if (!bf_redis_cmd(w->o.redis, on_claim, w, "XAUTOCLAIM %s " GROUP " %s %s %s COUNT %s",
                          w->kstream, w->o.node_id, idle, w->cursor, count))
            w->claiming = true;
        uint64_t every = (uint64_t)w->o.claim_ms / 4;
        w->next_claim = now_ms + (every < 250 ? 250 : every > 5000 ? 5000 : every);
    }
}

static int free_entry(const char *key, void *val, void *arg)
{
    (void)key;
    (void)arg;
    free(val);
    return 1;
}

void bf_webhooks_free(bf_webhooks *w)
{
    if (!w) return;
    w->freeing = true;
    while (w->batches) {
        batch *b = w->batches;
        w->batches = b->next;
        if (b->conn) evhttp_connection_free(b->conn);
        batch_free(b, false); /* still pending in Redis: another router delivers them */
    }
    for (size_t i = 0; i < w->ndead; i++) evhttp_connection_free(w->dead[i]);
    free(w->dead);
    if (w->held) {
        bf_dict_foreach(w->held, free_entry, NULL);
        bf_dict_free(w->held);
    }
    for (size_t i = 0; i < w->ntargets; i++) free(w->targets[i].path);
    free(w->targets);
    free(w);
}

void bf_webhooks_metrics(const bf_webhooks *w, struct evbuffer *b)
{
    static const bf_webhooks zero;
    if (!w) w = &zero;
    size_t held = w->held ? bf_dict_size(w->held) : 0;
#define M(name, type, help, v)                                                                     \
    evbuffer_add_printf(b, "# HELP " name " " help "\n# TYPE " name " " type "\n" name " %llu\n",  \
                        (unsigned long long)(v))
    M("belfry_router_webhooks_sent_total", "counter", "Webhook requests answered 2xx.", w->sent);
    M("belfry_router_webhooks_failed_total", "counter",
      "Webhook attempts that failed (non-2xx, connection error, timeout).", w->failed);
    M("belfry_router_webhooks_retried_total", "counter", "Webhook requests scheduled for a retry.",
      w->retried);
    M("belfry_router_webhooks_dropped_events_total", "counter",
      "Webhook events dropped after --webhook-retry-max-ms of failures.", w->dropped);
    M("belfry_router_webhooks_delivered_events_total", "counter", "Webhook events delivered.",
      w->delivered_events);
    M("belfry_router_webhooks_latency_ms_sum", "counter",
      "Sum over delivered events of the time from queueing to the 2xx answer (ms); divide by "
      "delivered_events for the mean.",
      w->latency_sum_ms);
    M("belfry_router_webhooks_pending_events", "gauge",
      "Webhook events this router holds (being delivered or waiting for a retry).", held);
#undef M
}
