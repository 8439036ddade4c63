/* bf_publisher: transports, broadcast(), the process-wide default and the environment provider. */
#include "pub_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 5000

static bf_publisher *default_pub;

static void set_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char *err, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, BF_ERR_LEN, fmt, ap);
    va_end(ap);
}

static void result_fail(bf_channel_result *res, int rc, const char *code, const char *msg)
{
    res->rc = rc;
    snprintf(res->code, sizeof(res->code), "%s", code);
    snprintf(res->message, sizeof(res->message), "%s", msg);
}

/* ---- construction ------------------------------------------------------------------------ */

bf_publisher *bf__publisher_new_fake(void)
{
    bf_publisher *p = calloc(1, sizeof(*p));
    if (p) p->transport = BF__T_FAKE;
    return p;
}

bf_publisher *bf_publisher_new(const bf_publisher_opts *o, char *err)
{
    char msg[BF_ERR_LEN];
    bf__url *u = malloc(sizeof(*u));
    bf_publisher *p = calloc(1, sizeof(*p));
    if (!u || !p) {
        set_err(err, "out of memory");
        goto fail;
    }
    p->transport = BF__T_FAKE; /* until a transport is fully set up: nothing to release */
    /* redis:// and sentinel:// go to the daemons' own parser (common/redis_url.c) */
    bool redis = o && o->url &&
                 (!strncasecmp(o->url, "redis://", 8) || !strncasecmp(o->url, "sentinel://", 11));
    if (!o || (!redis && bf__url_parse(o->url, "http|redis", u, msg, sizeof(msg)))) {
        set_err(err, "%s", o ? msg : "options are NULL");
        goto fail;
    }
    int timeout = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    if (redis) {
        if (bf__rpub_init(&p->redis, o->url, o->redis_prefix, timeout, msg, sizeof(msg))) {
            set_err(err, "%s", msg);
            goto fail;
        }
        p->transport = BF__T_REDIS;
    } else {
        if (!o->api_key || !*o->api_key || strpbrk(o->api_key, "\r\n")) {
            set_err(err, "an http:// publisher needs an API key (one line, not empty)");
            goto fail;
        }
        if (strchr(u->path, '?')) {
            set_err(err, "the http:// URL must not have a query: it is the base of /broadcast");
            goto fail;
        }
        size_t bl = strlen(u->path);
        while (bl && u->path[bl - 1] == '/') bl--;
        memcpy(p->base, u->path, bl);
        p->base[bl] = '\0';
        if (asprintf(&p->headers, "Authorization: Bearer %s\r\nContent-Type: application/json\r\n",
                     o->api_key) < 0) {
            p->headers = NULL;
            set_err(err, "out of memory");
            goto fail;
        }
        bf__http_init(&p->http, u, timeout);
        p->transport = BF__T_HTTP;
    }
    free(u);
    return p;
fail:
    free(u);
    bf_publisher_free(p);
    return NULL;
}

void bf_publisher_free(bf_publisher *p)
{
    if (!p) return;
    if (p == default_pub) default_pub = NULL;
    if (p->transport == BF__T_HTTP) bf__http_deinit(&p->http);
    if (p->transport == BF__T_REDIS) bf__rpub_deinit(&p->redis);
    free(p->headers);
    free(p);
}

void bf_broadcast_report_deinit(bf_broadcast_report *r)
{
    if (!r) return;
    free(r->results);
    memset(r, 0, sizeof(*r));
}

/* ---- sending ----------------------------------------------------------------------------- */

static int rc_for_status(int status)
{
    switch (status) {
    case 400:
        return BF_EINVAL;
    case 401:
    case 403:
        return BF_EAUTH;
    case 404:
        return BF_ENOTFOUND;
    case 413:
        return BF_ETOOBIG;
    }
    return BF_EHTTP;
}

static int send_http(bf_publisher *p, const char *channel, const char *body, size_t len,
                     bf_channel_result *res)
{
    char target[BF__URL_PATH_MAX + BF_CHANNEL_NAME_MAX + 16], msg[BF_ERR_LEN];
    /* channel names need no escaping: all their bytes are legal in a path segment */
    snprintf(target, sizeof(target), "%s/broadcast/%s", p->base, channel);
    bf__http_resp r;
    int rc =
        bf__http_request(&p->http, "POST", target, p->headers, body, len, &r, msg, sizeof(msg));
    if (rc) {
        result_fail(res, rc,
                    rc == BF_ETIMEDOUT       ? "timeout"
                    : rc == BF_EPROTO        ? "bad_response"
                    : p->http.connect_failed ? "connect_failed"
                                             : "io_error",
                    msg);
        return rc;
    }
    res->status = r.status;
    if (r.status >= 200 && r.status < 300) {
        res->rc = 0;
    } else {
        /* the API's errors are {"error":{"code","message"}}; anything else is quoted */
        json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
        json_t *e = json_object_get(j, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *m = json_string_value(json_object_get(e, "message"));
        if (!m) {
            snprintf(msg, sizeof(msg), "HTTP %d: %.200s", r.status, r.body_len ? r.body : "");
            m = msg;
        }
        result_fail(res, rc_for_status(r.status), code ? code : "http_error", m);
        json_decref(j);
    }
    bf__http_resp_deinit(&r);
    return res->rc;
}

/* Delivers one message to one channel (or records it while faking). */
static int deliver(bf_publisher *p, const char *type_name, const char *event, const char *channel,
                   const char *body, size_t len, const char *data_json, bf_channel_result *res)
{
    if (bf_publisher_faking()) {
        if (bf__fake_record(type_name, event, channel, data_json)) {
            result_fail(res, BF_ENOMEM, "io_error", "out of memory");
            return BF_ENOMEM;
        }
        res->rc = 0;
        return 0;
    }
    switch (p->transport) {
    case BF__T_HTTP:
        return send_http(p, channel, body, len, res);
    case BF__T_REDIS:
        return bf__rpub_publish(&p->redis, channel, body, len, res);
    case BF__T_FAKE:
        break;
    }
    result_fail(res, BF_EINVAL, "io_error",
                "this publisher is the fake installed by bf_publisher_fake() and faking has "
                "stopped: bf_publisher_set() a real one");
    return BF_EINVAL;
}

/* The wire body {"event":E,"data":D} and, while faking, D alone; data is borrowed. */
static int render(const char *event, json_t *data, char **body, char **data_json)
{
    *body = *data_json = NULL;
    json_t *root = json_object();
    if (!root || json_object_set_new(root, "event", json_string(event)) ||
        json_object_set(root, "data", data)) {
        json_decref(root);
        return BF_ENOMEM;
    }
    *body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (bf_publisher_faking()) *data_json = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!*body || (bf_publisher_faking() && !*data_json)) {
        free(*body);
        free(*data_json);
        *body = *data_json = NULL;
        return BF_ENOMEM;
    }
    return 0;
}

/* Parses a payload given as text; any JSON value is fine. */
static json_t *parse_data(const char *data_json, char *err)
{
    if (!data_json) return json_null();
    json_error_t je;
    json_t *d = json_loads(data_json, JSON_DECODE_ANY, &je);
    if (!d) set_err(err, "payload is not JSON: %s (at byte %d)", je.text, je.position);
    return d;
}

/* Checks the event and fetches its channels and payload. Returns 0 or fails with report->error. */
static int prepare(const bf_event *ev, bf_channel *chans, int *nchans, json_t **data, char *err)
{
    const bf_event_class *k = ev ? ev->cls : NULL;
    *data = NULL;
    if (!k || !k->type_name || !*k->type_name || !k->broadcast_on) {
        set_err(err, "an event needs a class with type_name and broadcast_on");
        return BF_EINVAL;
    }
    if (!k->broadcast_with == !k->broadcast_with_json) {
        set_err(err,
                "event class %s must set exactly one of broadcast_with and "
                "broadcast_with_json",
                k->type_name);
        return BF_EINVAL;
    }
    const char *name = bf_event_name(ev);
    if (bf__event_name_check(name, err, BF_ERR_LEN)) return BF_EINVAL;
    int n = k->broadcast_on(ev, chans, BF_EVENT_MAX_CHANNELS);
    if (n < 0 || n > BF_EVENT_MAX_CHANNELS) {
        if (n < 0)
            set_err(err, "%s.broadcast_on failed: %s", k->type_name, bf_strerror(n));
        else
            set_err(err, "%s.broadcast_on returned %d channels (at most %d)", k->type_name, n,
                    BF_EVENT_MAX_CHANNELS);
        return n < 0 ? n : BF_ERANGE;
    }
    *nchans = n;
    if (k->broadcast_with) {
        *data = k->broadcast_with(ev);
        if (!*data) {
            set_err(err, "%s.broadcast_with returned NULL", k->type_name);
            return BF_ENOMEM;
        }
    } else {
        char *s = k->broadcast_with_json(ev);
        if (!s) {
            set_err(err, "%s.broadcast_with_json returned NULL", k->type_name);
            return BF_ENOMEM;
        }
        *data = parse_data(s, err);
        free(s);
        if (!*data) return BF_EINVAL;
    }
    return 0;
}

int bf_publisher_broadcast(bf_publisher *p, const bf_event *ev, bf_broadcast_report *report)
{
    bf_broadcast_report local;
    bf_broadcast_report *rep = report ? report : &local;
    memset(rep, 0, sizeof(*rep));
    bf_channel chans[BF_EVENT_MAX_CHANNELS];
    int nchans = 0, rc;
    json_t *data = NULL;
    char *body = NULL, *data_json = NULL;
    if (!p) {
        set_err(rep->error, "publisher is NULL (did bf_publisher_get() fail?)");
        rc = BF_EINVAL;
        goto out;
    }
    if ((rc = prepare(ev, chans, &nchans, &data, rep->error))) goto out;
    if ((rc = render(bf_event_name(ev), data, &body, &data_json))) {
        set_err(rep->error, "out of memory");
        goto out;
    }
    if (nchans && !(rep->results = calloc((size_t)nchans, sizeof(*rep->results)))) {
        set_err(rep->error, "out of memory");
        rc = BF_ENOMEM;
        goto out;
    }
    rep->n = (size_t)nchans;
    for (int i = 0; i < nchans; i++) {
        bf_channel_result *res = &rep->results[i];
        char msg[BF_ERR_LEN];
        snprintf(res->channel, sizeof(res->channel), "%s", chans[i].name);
        if (bf__channel_check(&chans[i], msg, sizeof(msg)))
            result_fail(res, BF_EINVAL, "bad_channel", msg);
        else
            deliver(p, ev->cls->type_name, bf_event_name(ev), chans[i].name, body, strlen(body),
                    data_json, res);
        if (res->rc) {
            rep->failed++;
            if (!rc) rc = res->rc;
        }
    }
out:
    json_decref(data);
    free(body);
    free(data_json);
    if (!report) bf_broadcast_report_deinit(&local);
    return rc;
}

int bf_publisher_publish(bf_publisher *p, const char *channel, const char *event,
                         const char *data_json, bf_channel_result *result)
{
    bf_channel_result local;
    bf_channel_result *res = result ? result : &local;
    memset(res, 0, sizeof(*res));
    snprintf(res->channel, sizeof(res->channel), "%s", channel ? channel : "");
    char msg[BF_ERR_LEN];
    bf_channel ch;
    if (!p) {
        result_fail(res, BF_EINVAL, "io_error", "publisher is NULL (did bf_publisher_get() fail?)");
        return res->rc;
    }
    /* the kind comes from the prefix, so that any valid wire name passes */
    const char *c = channel ? channel : "";
    bf_channel_kind kind = !strncmp(c, "private-", 8)    ? BF_CHANNEL_PRIVATE
                           : !strncmp(c, "presence-", 9) ? BF_CHANNEL_PRESENCE
                                                         : BF_CHANNEL_PUBLIC;
    if (bf_channel_init(&ch, kind, channel, msg, sizeof(msg))) {
        result_fail(res, BF_EINVAL, "bad_channel", msg);
        return res->rc;
    }
    if (bf__event_name_check(event, msg, sizeof(msg))) {
        result_fail(res, BF_EINVAL, "bad_event", msg);
        return res->rc;
    }
    json_t *data = parse_data(data_json, msg);
    if (!data) {
        result_fail(res, BF_EINVAL, "bad_json", msg);
        return res->rc;
    }
    char *body, *dj;
    if (render(event, data, &body, &dj)) {
        result_fail(res, BF_ENOMEM, "io_error", "out of memory");
    } else {
        deliver(p, event, event, ch.name, body, strlen(body), dj, res);
        free(body);
        free(dj);
    }
    json_decref(data);
    return res->rc;
}

/* ---- the default ------------------------------------------------------------------------- */

void bf_publisher_set(bf_publisher *p)
{
    if (p == default_pub) return;
    bf_publisher *old = default_pub;
    default_pub = p;
    bf_publisher_free(old);
}

bf_publisher *bf_publisher_get(char *err)
{
    if (!default_pub)
        set_err(err, "no default publisher: call bf_publisher_set() or bf_publisher_register() "
                     "first");
    return default_pub;
}

/* ---- the environment --------------------------------------------------------------------- */

static const char *lookup_getenv(const char *name, void *arg)
{
    (void)arg;
    return getenv(name); /* the library's only getenv: the provider is its configuration */
}

bf_publisher *bf_publisher_from_env(const bf_publisher_env *env, char *err)
{
    bf_publisher_env e = env ? *env : (bf_publisher_env){0};
    if (!e.url_var) e.url_var = "BELFRY_URL";
    if (!e.api_key_var) e.api_key_var = "BELFRY_API_KEY";
    if (!e.prefix_var) e.prefix_var = "BELFRY_REDIS_PREFIX";
    if (!e.lookup) e.lookup = lookup_getenv;
    const char *url = e.lookup(e.url_var, e.lookup_arg);
    const char *key = e.lookup(e.api_key_var, e.lookup_arg);
    const char *prefix = e.lookup(e.prefix_var, e.lookup_arg);
    if (!url || !*url) {
        set_err(err, "%s is not set (expected http://HOST:PORT or redis://HOST:PORT)", e.url_var);
        return NULL;
    }
    if (!strncasecmp(url, "http://", 7) && (!key || !*key)) {
        set_err(err, "%s is not set (required with an http:// %s)", e.api_key_var, e.url_var);
        return NULL;
    }
    bf_publisher_opts o = {.url = url, .api_key = key, .redis_prefix = prefix};
    char msg[BF_ERR_LEN];
    bf_publisher *p = bf_publisher_new(&o, msg);
    if (!p) set_err(err, "%s: %s", e.url_var, msg);
    return p;
}

int bf_publisher_register(const bf_publisher_env *env, char *err)
{
    char msg[BF_ERR_LEN];
    bf_publisher *p = bf_publisher_from_env(env, msg);
    if (!p) {
        set_err(err, "%s", msg);
        return strstr(msg, "out of memory") ? BF_ENOMEM : BF_EINVAL;
    }
    bf_publisher_set(p);
    return 0;
}
