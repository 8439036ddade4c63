/* Unit tests for router/http_api.h: the native HTTP API as a module of its own, compiled here
 * without the router (router.c, pusher_api.c): readiness, metrics and the routes it does not know
 * go up through its callbacks, and it counts in the stats it was given. Requests go through a real
 * evhttp server and libevent's HTTP client on one base. */
#include "router/http_api.c"

#include <criterion/criterion.h>
#include <event2/event.h>
#include <event2/http.h>

typedef struct up {
    const char *not_ready;
    const char *overloaded;
    int metrics, other, publishes;
} up;

static int cb_publish(void *u, const char *channel, const char *prefix, size_t len,
                      bf_publish_cb cb, void *arg)
{
    (void)channel, (void)prefix, (void)len, (void)cb, (void)arg;
    ((up *)u)->publishes++;
    return BF_EDISCONNECTED;
}

static const char *cb_overloaded(void *u, uint64_t *retry_ms)
{
    *retry_ms = 1500;
    return ((up *)u)->overloaded;
}

static const char *cb_not_ready(void *u)
{
    return ((up *)u)->not_ready;
}

static void cb_metrics(void *u, struct evbuffer *b)
{
    ((up *)u)->metrics++;
    evbuffer_add_printf(b, "belfry_test 1\n");
}

static bool cb_other(void *u, struct evhttp_request *req, const char *path)
{
    ((up *)u)->other++;
    if (strcmp(path, "/apps/1/channels")) return false;
    reply_json(req, 200, "OK", "{\"channels\":{}}");
    return true;
}

typedef struct result {
    int status;
    char body[512];
    char retry_after[16], retry_after_ms[16];
    bool done;
} result;

static void on_response(struct evhttp_request *req, void *arg)
{
    result *r = arg;
    r->done = true;
    if (!req) return;
    r->status = evhttp_request_get_response_code(req);
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *ra = evhttp_find_header(h, "Retry-After"),
               *ram = evhttp_find_header(h, "X-Belfry-Retry-After-Ms");
    snprintf(r->retry_after, sizeof(r->retry_after), "%s", ra ? ra : "");
    snprintf(r->retry_after_ms, sizeof(r->retry_after_ms), "%s", ram ? ram : "");
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(b);
    if (n >= sizeof(r->body)) n = sizeof(r->body) - 1;
    evbuffer_remove(b, r->body, n);
    r->body[n] = '\0';
}

typedef struct fixture {
    struct event_base *base;
    struct evhttp *http;
    int port;
    bf_rt_config cfg;
    bf_rt_stats stats;
    up up;
    bf_http_api *api;
} fixture;

static void start(fixture *f)
{
    f->base = event_base_new();
    f->http = evhttp_new(f->base);
    struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
    cr_assert_not_null(s);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    cr_assert_eq(getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&sa, &sl), 0);
    f->port = ntohs(sa.sin_port);
    f->cfg.max_message_bytes = 65536;
    f->cfg.max_event_bytes = 10240;
    bf_http_api_opts o = {.http = f->http,
                          .cfg = &f->cfg,
                          .stats = &f->stats,
                          .publish = cb_publish,
                          .overloaded = cb_overloaded,
                          .not_ready = cb_not_ready,
                          .metrics = cb_metrics,
                          .other = cb_other,
                          .up = &f->up};
    f->api = bf_http_api_new(&o);
}

static void stop(fixture *f)
{
    evhttp_free(f->http);
    bf_http_api_free(f->api);
    event_base_free(f->base);
}

static result request(fixture *f, enum evhttp_cmd_type method, const char *path, const char *body)
{
    result r = {0};
    struct evhttp_connection *c =
        evhttp_connection_base_new(f->base, NULL, "127.0.0.1", (unsigned short)f->port);
    struct evhttp_request *req = evhttp_request_new(on_response, &r);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    if (body) evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    cr_assert_eq(evhttp_make_request(c, req, method, path), 0);
    struct timeval tv = {5, 0};
    event_base_loopexit(f->base, &tv); /* a watchdog: the loop ends at the reply or after 5 s */
    while (!r.done && event_base_loop(f->base, EVLOOP_ONCE) == 0) {
    }
    cr_assert(r.done, "%s got no reply", path);
    evhttp_connection_free(c);
    return r;
}

static result get(fixture *f, const char *path)
{
    return request(f, EVHTTP_REQ_GET, path, NULL);
}

Test(router_http_api, readiness_comes_from_the_callback_up_and_errors_are_counted)
{
    fixture f = {0};
    start(&f);
    result r = get(&f, "/readyz");
    cr_expect_eq(r.status, 200, "%s", r.body);
    f.up.not_ready = "stopping";
    r = get(&f, "/readyz");
    cr_expect_eq(r.status, 503);
    cr_expect(strstr(r.body, "\"not_ready\"") && strstr(r.body, "stopping"), "%s", r.body);
    cr_expect_eq(f.stats.http_requests, 2);
    cr_expect_eq(f.stats.http_errors, 1);
    stop(&f);
}

Test(router_http_api, metrics_and_unknown_routes_go_up)
{
    fixture f = {0};
    start(&f);
    result r = get(&f, "/metrics");
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "belfry_test 1\n");
    cr_expect_eq(f.up.metrics, 1);
    r = get(&f, "/apps/1/channels");
    cr_expect_eq(r.status, 200, "%s", r.body);
    r = get(&f, "/nowhere");
    cr_expect_eq(r.status, 404);
    cr_expect(strstr(r.body, "\"not_found\""), "%s", r.body);
    cr_expect_eq(f.up.other, 2);
    stop(&f);
}

Test(router_http_api, a_publish_while_a_gateway_is_behind_is_refused_with_a_retry_delay)
{
    fixture f = {0};
    start(&f); /* no API key configured: authorization passes */
    f.up.overloaded = "gateway gw-2 is 23 ms behind on delivery";
    result r = request(&f, EVHTTP_REQ_POST, "/broadcast/news", "{\"event\":\"e\",\"data\":1}");
    cr_expect_eq(r.status, 503, "%s", r.body);
    cr_expect(strstr(r.body, "\"overloaded\"") && strstr(r.body, "gw-2 is 23 ms behind"), "%s",
              r.body);
    cr_expect_str_eq(r.retry_after, "2"); /* 1,500 ms rounded up to whole seconds */
    cr_expect_str_eq(r.retry_after_ms, "1500");
    cr_expect_eq(f.up.publishes, 0, "a refused publish must not be sequenced");
    cr_expect_eq(f.stats.publishes_refused, 1);
    /* bad input still gets its own error first */
    r = request(&f, EVHTTP_REQ_POST, "/broadcast/news", "{not json");
    cr_expect_eq(r.status, 400, "%s", r.body);
    f.up.overloaded = NULL;
    r = request(&f, EVHTTP_REQ_POST, "/broadcast/news", "{\"event\":\"e\",\"data\":1}");
    cr_expect_eq(f.up.publishes, 1);
    cr_expect_eq(r.status, 503, "%s", r.body); /* the stub's link is down */
    cr_expect(strstr(r.body, "redis_unavailable"), "%s", r.body);
    cr_expect_str_eq(r.retry_after, "");
    stop(&f);
}

Test(router_http_api, the_fan_out_windows_refusal_is_read_with_its_retry_delay)
{
    char why[BF_ERR_LEN];
    uint64_t retry = 5;
    cr_expect_not(bf_http_api_fanout_busy("ERR something else", "news", why, sizeof(why), &retry));
    cr_expect_not(bf_http_api_fanout_busy(NULL, "news", why, sizeof(why), &retry));
    cr_expect_eq(retry, 5);
    /* the delay not known yet: the caller's default stays */
    cr_assert(bf_http_api_fanout_busy("FANOUT_BUSY gw-1 1 3 -1", "news", why, sizeof(why), &retry));
    cr_expect_eq(retry, 5);
    cr_expect_str_eq(why, "channel news: gateway gw-1 has not finished writing 1 message(s) to its "
                          "subscribers (for 3 ms; --fanout-window)");
    /* what the last fan-out took less what has passed, at least 1 ms, at most 1 s */
    cr_assert(bf_http_api_fanout_busy("FANOUT_BUSY gw-1 2 3 4", "news", why, sizeof(why), &retry));
    cr_expect_eq(retry, 4);
    cr_assert(bf_http_api_fanout_busy("FANOUT_BUSY gw-1 1 9 0", "news", why, sizeof(why), &retry));
    cr_expect_eq(retry, 1);
    cr_assert(
        bf_http_api_fanout_busy("FANOUT_BUSY gw-1 1 9 99999 3", "x", why, sizeof(why), &retry));
    cr_expect_eq(retry, 1000);
    /* publish_batch.lua names the refusing target (1-based) */
    cr_expect_eq(bf_http_api_fanout_target("FANOUT_BUSY gw-1 1 9 5 3", 4), 2);
    cr_expect_eq(bf_http_api_fanout_target("FANOUT_BUSY gw-1 1 9 5 5", 4), 0, "out of range");
    cr_expect_eq(bf_http_api_fanout_target("FANOUT_BUSY gw-1 1 9 5", 4), 0, "none named");
    cr_expect_eq(bf_http_api_fanout_target("ERR other", 4), 0);
    cr_expect(bf_http_api_is_fanout_busy("FANOUT_BUSY gw-1 1 9 5"));
    cr_expect_not(bf_http_api_is_fanout_busy("STALE ring epoch 3, caller has 2"));
    /* a refusal in an unexpected shape is still a refusal */
    retry = 5;
    cr_assert(bf_http_api_fanout_busy("FANOUT_BUSY gw-1", "news", why, sizeof(why), &retry));
    cr_expect(strstr(why, "channel news"), "%s", why);
    cr_expect_eq(retry, 5);
}
