/* A subscriber that stops reading while the gateway has more for it than its socket takes: the
 * gateway's writes come back partial (lws keeps the rest, gateway/conn.c write_queue), the rest
 * of the queue waits for WRITEABLE, and once the reader resumes every message arrives, in order,
 * none lost or duplicated — a connection stuck behind a partial write would lose them silently. */
#include "common.h"

TestSuite(slow_reader, .timeout = 90);

#define N 300
#define PAYLOAD 60000 /* under the router's 65,536-byte publish limit */

Test(slow_reader, a_reader_that_pauses_gets_everything_after_partial_writes)
{
    /* the queue limits above what is published, so that the pause is not a slow consumer */
    static const char *const gw_args[] = {"--send-queue-messages", "4096", "--send-queue-bytes",
                                          "67108864", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = gw_args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    int st = 0;
    bf_ws *w = bf_ws_connect(c->gateways[0].port, "/ws/bulk", NULL, &st, NULL, 5000);
    cr_assert_not_null(w);
    cr_assert(bf_cluster_wait_subscribed(c, "bulk", 1, 5000), "the gateway did not subscribe");

    /* 18 MB published while the reader reads nothing: more than the two kernels' socket buffers
     * take (loopback autotuning: at most 4 MB sent + 6 MB received by default) */
    char *body = malloc(PAYLOAD + 128);
    for (int i = 0; i < N; i++) {
        int n = snprintf(body, 64, "{\"event\":\"e\",\"data\":{\"i\":%d,\"pad\":\"", i);
        memset(body + n, 'x', PAYLOAD);
        snprintf(body + n + PAYLOAD, 8, "\"}}");
        it_publish(c, "bulk", body);
    }
    free(body);
    sleep(1);
    long long partial =
        bf_metric(c->gateways[0].port, "belfry_gateway_socket_writes_partial_total");
    cr_expect_geq(partial, 1, "the socket never filled: the test did not reach a partial write");

    long long last = 0;
    for (int i = 0; i < N; i++) {
        json_t *j = it_recv_event(w, "e", 10000, "reader");
        json_t *d = json_object_get(j, "data");
        cr_assert_eq(json_integer_value(json_object_get(d, "i")), i, "message %d out of order", i);
        cr_assert_eq(strlen(json_string_value(json_object_get(d, "pad"))), (size_t)PAYLOAD);
        long long seq = json_integer_value(json_object_get(j, "seq"));
        cr_assert_eq(seq, last + 1, "seq %lld after %lld", seq, last);
        last = seq;
        json_decref(j);
    }
    it_expect_silence(w, 200, "reader");
    cr_expect_eq(bf_metric(c->gateways[0].port, "belfry_gateway_slow_consumer_disconnects_total"),
                 0);
    bf_ws_close(w);
    bf_cluster_stop(c);
}
