/* Back-pressure (docs/operations.md): a router refuses publishes with 503 overloaded while a live
 * gateway reports itself behind, or is silent while Redis still holds its subscriber link; and a
 * real gateway measures the backlog a stop leaves it with. The router is driven here by reports
 * the test publishes for a gateway it registers itself, so every state is reached on purpose. */
#include "common.h"

#include <hiredis/hiredis.h>
#include <signal.h>

TestSuite(integration_backpressure, .timeout = 120);

typedef struct refusal {
    int status;
    char body[512];
    char retry_after[16], retry_after_ms[16];
} refusal;

static refusal publish(bf_cluster *c)
{
    refusal out = {0};
    const char *body = "{\"event\":\"Ping\",\"data\":{}}";
    bf_http_resp r;
    cr_assert_eq(bf_http(c->routers[0].port, "POST", "/broadcast/news", IT_KEY_HDR, body,
                         strlen(body), &r, 5000),
                 0);
    out.status = r.status;
    snprintf(out.body, sizeof(out.body), "%s", r.body ? r.body : "");
    const char *h = r.headers ? strcasestr(r.headers, "\nRetry-After:") : NULL;
    if (h)
        snprintf(out.retry_after, sizeof(out.retry_after), "%.*s", (int)strcspn(h + 14, "\r\n"),
                 h + 14);
    h = r.headers ? strcasestr(r.headers, "\nX-Belfry-Retry-After-Ms:") : NULL;
    if (h)
        snprintf(out.retry_after_ms, sizeof(out.retry_after_ms), "%.*s",
                 (int)strcspn(h + 26, "\r\n"), h + 26);
    bf_http_resp_free(&r);
    return out;
}

typedef struct want {
    bf_cluster *c;
    int status;
    const char *text;
} want;

static bool publish_answers(void *arg)
{
    want *w = arg;
    refusal r = publish(w->c);
    return r.status == w->status && (!w->text || strstr(r.body, w->text));
}

static void report(bf_cluster *c, const char *msg)
{
    free(bf_redis_query(c, "PUBLISH %s %s", "belfry:backlog", msg));
}

Test(integration_backpressure, reports_silence_and_redis_links_decide_refusals)
{
    const char *rargs[] = {"--overload-silence-ms", "400", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .router_args = rargs};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    /* a gateway of our own in the membership (expiring in an hour), and its reports */
    free(bf_redis_query(c, "ZADD belfry:{#}:gateways %lld gw-test", (long long)bf_ms() * 10));
    usleep(1300000); /* the router's next heartbeat lists it as live */
    cr_expect_eq(publish(c).status, 204, "refused before anyone reported");

    report(c, "gw-test 40 1");
    want w = {c, 503, "gw-test is 40 ms behind on delivery"};
    cr_assert(bf_wait_for(publish_answers, &w, 2000), "a gateway behind did not make it refuse");
    refusal r = publish(c);
    cr_expect(strstr(r.body, "\"overloaded\""), "%s", r.body);
    cr_expect_str_eq(r.retry_after, "1");
    cr_expect_str_eq(r.retry_after_ms, "20");
    cr_expect_geq(bf_metric(c->routers[0].port, "belfry_router_publishes_refused_total"), 2);
    cr_expect_eq(bf_metric(c->routers[0].port, "belfry_router_gateways_behind"), 1);

    report(c, "gw-test 3 0");
    w = (want){c, 204, NULL};
    cr_assert(bf_wait_for(publish_answers, &w, 2000), "still refused after the gateway caught up");

    /* silent, but a subscriber link named after it is open in Redis: a stopped gateway */
    redisContext *link = redisConnect("127.0.0.1", c->redis.port);
    cr_assert(link && !link->err);
    freeReplyObject(redisCommand(link, "CLIENT SETNAME %s", "belfry:gwsub:gw-test"));
    freeReplyObject(redisCommand(link, "SUBSCRIBE %s", "belfry:fan:{news}"));
    report(c, "gw-test 1 0");
    w = (want){c, 503, "gw-test has not reported its delivery backlog"};
    cr_assert(bf_wait_for(publish_answers, &w, 3000), "a silent gateway with a live link accepted");
    /* its link goes (it died): nothing queues for it any more */
    redisFree(link);
    report(c, "gw-test 1 0"); /* a new silence, judged by a new client list */
    w = (want){c, 204, NULL};
    cr_assert(bf_wait_for(publish_answers, &w, 3000), "a dead gateway still holds publishes off");
    usleep(600000);
    cr_expect_eq(publish(c).status, 204, "silent and without a link: ignored");

    /* leaving the membership forgets it, even in the middle of being behind */
    report(c, "gw-test 40 1");
    w = (want){c, 503, "gw-test is 40 ms behind"};
    cr_assert(bf_wait_for(publish_answers, &w, 2000));
    free(bf_redis_query(c, "ZREM belfry:{#}:gateways gw-test"));
    w = (want){c, 204, NULL};
    cr_assert(bf_wait_for(publish_answers, &w, 3000), "a gateway gone from the membership counts");

    /* malformed reports change nothing */
    report(c, "gw-test forty 1");
    cr_expect_eq(publish(c).status, 204);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(integration_backpressure, a_real_gateway_probes_and_reports_its_backlog)
{
    const char *gargs[] = {"--backlog-limit-ms", "10", NULL}; /* on (the harness turns it off) */
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = gargs};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    int gw = c->gateways[0].port;
    /* its reports, as a router reads them */
    redisContext *sub = redisConnect("127.0.0.1", c->redis.port);
    cr_assert(sub && !sub->err);
    freeReplyObject(redisCommand(sub, "SUBSCRIBE %s", "belfry:backlog"));
    long long t0 = bf_ms();
    int reports = 0;
    while (bf_ms() - t0 < 2000) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
        cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3);
        char id[80];
        unsigned long long ms;
        int behind;
        cr_expect_eq(sscanf(r->element[2]->str, "%79s %llu %d", id, &ms, &behind), 3, "%s",
                     r->element[2]->str);
        cr_expect_eq(behind, 0, "an idle gateway reported itself behind: %s", r->element[2]->str);
        cr_expect_lt(ms, 10);
        freeReplyObject(r);
        reports++;
    }
    redisFree(sub);
    /* every --backlog-report-ms (100 ms): ~20 in two seconds; the bounds leave room for a
     * scheduling hiccup of a few hundred ms on a loaded machine, not for a missing period */
    cr_expect_geq(reports, 13, "%d reports in two seconds", reports);
    cr_expect_leq(reports, 26, "%d reports in two seconds", reports);
    /* an idle loop wakes for its 100 ms tick (and the reports): a probe per wake-up at least */
    cr_expect_geq(bf_metric(gw, "belfry_gateway_backlog_probes_total"), 16);
    cr_expect_lt(bf_metric(gw, "belfry_gateway_backlog_ms"), 10);
    cr_expect_eq(bf_metric(gw, "belfry_gateway_backlog_behind_total"), 0);
    /* the router knows it, and nothing is behind */
    cr_expect_eq(bf_metric(c->routers[0].port, "belfry_router_gateways_behind"), 0);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
