/* Chaos: a gateway partitioned from Redis (a proxy that blackholes its traffic). The liveness
 * probe detects the stalled subscriber link within its timeout, the gateway reconnects and
 * resubscribes when the network heals, its clients are closed with 1012 when the stream resumes
 * past what they missed and recover it exactly, and the other gateway is unaffected
 * throughout. */
#include "../integration/common.h"

#include <signal.h>

TestSuite(chaos_partition, .timeout = 90);

static bool not_ready(void *arg)
{
    bf_http_resp r;
    if (bf_http(*(int *)arg, "GET", "/readyz", NULL, NULL, 0, &r, 500)) return false;
    bool nr = r.status == 503;
    bf_http_resp_free(&r);
    return nr;
}

static bool ready(void *arg)
{
    return !not_ready(arg) && bf_wait_http_ok(*(int *)arg, "/readyz", 100) == 0;
}

/* gateways gateways, the first one reaching Redis through the partitioning proxy, with a fast
 * liveness probe so that a partition is detected within seconds */
static bf_cluster *start_partitionable(int gateways)
{
    static const char *const args[] = {"--redis-probe-ms", "300", "--redis-probe-timeout-ms",
                                       "1500", NULL};
    bf_cluster_opts o = {
        .routers = 1, .gateways = gateways, .proxied_gateway = 1, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    return c;
}

Test(chaos_partition, stalled_gateway_is_detected_recovers_and_others_are_unaffected)
{
    bf_cluster *c = start_partitionable(2);
    bf_ws *cut = it_connect(c, 0, "/ws/part", NULL), *fine = it_connect(c, 1, "/ws/part", NULL);
    it_wait_subscribed(c, "part", 2);
    it_publish(c, "part", "{\"event\":\"A\",\"data\":{}}");
    json_decref(it_recv_event(cut, "A", 3000, "partitioned client"));
    json_decref(it_recv_event(fine, "A", 3000, "other client"));

    cr_assert_eq(bf_cluster_partition(c, 1), 0);
    long long t0 = bf_ms();
    int port = c->gateways[0].port;
    cr_expect(bf_wait_for(not_ready, &port, 8000), "partition not detected");
    fprintf(stderr, "chaos_partition: detected after %lld ms\n", bf_ms() - t0);
    /* publishes during the partition: the other gateway delivers them all */
    for (int i = 0; i < 5; i++) it_publish(c, "part", "{\"event\":\"During\",\"data\":{}}");
    for (int i = 0; i < 5; i++) json_decref(it_recv_event(fine, "During", 3000, "other client"));

    cr_assert_eq(bf_cluster_partition(c, 0), 0);
    cr_expect(bf_wait_for(ready, &port, 15000), "gateway did not recover");
    it_wait_subscribed(c, "part", 2);
    it_publish(c, "part", "{\"event\":\"After\",\"data\":{}}");
    json_decref(it_recv_event(fine, "After", 3000, "other client"));
    /* A was seq 1, five (2-6) were published while its subscription lapsed: After (7) comes past
     * that gap, so the gateway closes the client to recover instead of letting it skip them */
    long long last;
    cut = it_closed_then_recovered(c, cut, 0, "part", 1, 6, &last);
    cr_expect_eq(last, 7);
    bf_http_resp r;
    cr_assert_eq(bf_http(port, "GET", "/metrics", NULL, NULL, 0, &r, 2000), 0);
    cr_expect(!strstr(r.body, "belfry_gateway_redis_probe_failures_total 0"), "%s", r.body);
    bf_http_resp_free(&r);
    bf_ws_close(cut);
    bf_ws_close(fine);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

static bool vacated(void *arg)
{
    return it_conns_in_redis(arg, "occ") == 0;
}

/* A channel emptied while its gateway was cut off from Redis (the count change went into a
 * blackholed link) is not left looking occupied: after the reconnection the gateway sets every
 * count Redis holds for it (gwchans:{gateway}) to what it holds now. */
Test(chaos_partition, a_channel_emptied_during_a_partition_is_not_left_occupied)
{
    bf_cluster *c = start_partitionable(1);
    bf_ws *w = it_connect(c, 0, "/ws/occ", NULL);
    it_wait_subscribed(c, "occ", 1);
    long long t0 = bf_ms();
    while (it_conns_in_redis(c, "occ") != 1 && bf_ms() - t0 < 3000) usleep(20000);
    cr_assert_eq(it_conns_in_redis(c, "occ"), 1, "the connection was not counted");

    /* closed at once: the gateway does not know about the partition yet and sends the count
     * change into the blackholed link, where it is lost */
    cr_assert_eq(bf_cluster_partition(c, 1), 0);
    bf_ws_close(w);
    int port = c->gateways[0].port;
    cr_expect(bf_wait_for(not_ready, &port, 8000), "partition not detected");
    cr_assert_eq(bf_cluster_partition(c, 0), 0);
    cr_expect(bf_wait_for(ready, &port, 15000), "gateway did not recover");
    cr_expect(bf_wait_for(vacated, c, 5000), "conns:occ still counts %ld connection(s)",
              it_conns_in_redis(c, "occ"));
    int status;
    char *body = it_http_get(c, "/channels/occ", &status);
    cr_expect_str_eq(body, "{\"occupied\":false,\"subscription_count\":0,\"user_count\":0}");
    free(body);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

typedef struct relinked {
    bf_cluster *c;
    long long before;
} relinked;

static bool gateway_relinked(void *arg)
{
    relinked *r = arg;
    return bf_metric(r->c->gateways[0].port, "belfry_gateway_redis_reconnects_total") > r->before;
}

/* One router, one gateway, a client of channel that has received "A" (seq 1); *r counts the
 * gateway's reconnections from now. */
static bf_cluster *one_client_after_a(bf_ws **w, const char *channel, relinked *r)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    char path[128];
    snprintf(path, sizeof(path), "/ws/%s", channel);
    *w = it_connect(c, 0, path, NULL);
    it_wait_subscribed(c, channel, 1);
    it_publish(c, channel, "{\"event\":\"A\",\"data\":{}}");
    json_decref(it_recv_event(*w, "A", 3000, "client"));
    *r = (relinked){c, bf_metric(c->gateways[0].port, "belfry_gateway_redis_reconnects_total")};
    return c;
}

/* Redis drops the gateway's subscriber link (CLIENT KILL, as its output-buffer limit would) while
 * nothing is published: the gateway subscribes again and its client, which missed nothing, is not
 * closed; the next message follows the last one. */
Test(chaos_partition, a_lost_subscriber_link_that_missed_nothing_closes_nobody)
{
    bf_ws *w;
    relinked r;
    bf_cluster *c = one_client_after_a(&w, "calm", &r);
    free(bf_redis_query(c, "CLIENT KILL TYPE pubsub"));
    cr_assert(bf_wait_for(gateway_relinked, &r, 10000), "the gateway did not reconnect");
    it_wait_subscribed(c, "calm", 1);
    it_publish(c, "calm", "{\"event\":\"B\",\"data\":{}}");
    json_t *j = it_recv_json(w, 5000, "client"); /* a close would fail here, with its reason */
    cr_expect_str_eq(json_string_value(json_object_get(j, "event")), "B");
    cr_expect_eq(json_integer_value(json_object_get(j, "seq")), 2);
    json_decref(j);
    cr_expect_eq(bf_metric(c->gateways[0].port, "belfry_gateway_resubscribe_closes_total"), 0);
    bf_ws_close(w);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

/* The same with messages published while the link is down (the gateway stopped meanwhile, so that
 * it cannot subscribe again first) and none after: the gateway asks Redis for the channel's seq
 * when its subscription is confirmed again, and closes the client to recover the three it missed
 * without waiting for a next message. */
Test(chaos_partition, a_lost_subscriber_link_that_missed_messages_closes_without_a_next_message)
{
    bf_ws *w;
    relinked r;
    bf_cluster *c = one_client_after_a(&w, "quiet", &r);
    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGSTOP), 0);
    free(bf_redis_query(c, "CLIENT KILL TYPE pubsub"));
    /* no subscriber link left for the stopped gateway: it is not behind, publishes are taken */
    for (int i = 0; i < 3; i++) it_publish(c, "quiet", "{\"event\":\"During\",\"data\":{}}");
    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGCONT), 0);
    cr_assert(bf_wait_for(gateway_relinked, &r, 10000), "the gateway did not reconnect");
    long long last;
    w = it_closed_then_recovered(c, w, 0, "quiet", 1, 3, &last);
    cr_expect_eq(last, 4);
    cr_expect_eq(bf_metric(c->gateways[0].port, "belfry_gateway_resubscribe_closes_total"), 1);
    bf_ws_close(w);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
