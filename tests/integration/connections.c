/* Issue: private and presence channels — connection liveness (pings) and slow consumers. */
#include "common.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

TestSuite(connections, .timeout = 120);

Test(connections, unanswered_pings_close_the_connection, .timeout = 60)
{
    static const char *const args[] = {"--ping-interval", "1", "--ping-timeout", "1", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    bf_ws *mute = it_connect(c, 0, "/ws/pings", NULL);
    bf_ws *live = it_connect(c, 0, "/ws/pings", NULL);
    bf_ws_set_raw(mute, 1); /* sees pings, never answers */
    long long start = bf_ms();
    int pings = 0, closed = 0;
    bf_ws_msg m;
    while (bf_ms() - start < 8000 && !closed) {
        int rc = bf_ws_recv(mute, &m, 500);
        if (rc == -2) closed = 1;
        if (rc == 0) {
            pings += m.opcode == 9;
            closed = m.opcode == 8;
            bf_ws_msg_free(&m);
        }
        bf_ws_recv(live, &m, 10) == 0 ? bf_ws_msg_free(&m) : (void)0; /* answers pings */
    }
    cr_expect(pings >= 1, "no ping seen");
    cr_expect(closed, "the silent connection was not closed within 8 s");
    /* the answering client is still connected and served */
    it_wait_subscribed(c, "pings", 1);
    it_publish(c, "pings", "{\"event\":\"Still\",\"data\":{}}");
    json_t *j = it_recv_event(live, "Still", 3000, "live client");
    json_decref(j);
    bf_ws_abort(mute);
    bf_ws_close(live);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(connections, slow_consumer_is_closed_4008_while_others_keep_receiving, .timeout = 120)
{
    static const char *const args[] = {"--send-queue-bytes", "262144", "--send-queue-messages",
                                       "256", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    bf_ws *slow = it_connect(c, 0, "/ws/firehose", NULL);
    bf_ws *fast = it_connect(c, 0, "/ws/firehose", NULL);
    it_wait_subscribed(c, "firehose", 1);
    redisContext *rc = redisConnect("127.0.0.1", c->redis.port);
    cr_assert(rc && !rc->err);
    /* far more than the kernel buffers of the slow socket can absorb */
    enum { N = 3000, BATCH = 20 };
    char *body = malloc(8192);
    int received = 0;
    bf_ws_msg m;
    for (int i = 1; i <= N; i += BATCH) {
        for (int k = i; k < i + BATCH; k++) {
            int n = snprintf(body, 8192, "{\"event\":\"Blob\",\"data\":{\"i\":%d,\"pad\":\"", k);
            memset(body + n, 'x', 6000);
            strcpy(body + n + 6000, "\"}}");
            redisAppendCommand(rc, "PUBLISH belfry:publish:firehose %s", body);
        }
        for (int k = 0; k < BATCH; k++) {
            redisReply *r;
            cr_assert_eq(redisGetReply(rc, (void **)&r), REDIS_OK);
            freeReplyObject(r);
        }
        while (bf_ws_recv(fast, &m, received < i - 1 ? 200 : 0) == 0) { /* keeps up */
            received += m.opcode == 1;
            bf_ws_msg_free(&m);
        }
    }
    redisFree(rc);
    while (received < N && bf_ws_recv(fast, &m, 3000) == 0) {
        received += m.opcode == 1;
        bf_ws_msg_free(&m);
    }
    cr_expect_eq(received, N, "the fast client got %d of %d", received, N);
    /* the slow one now reads: what was buffered, then the close with 4008 */
    int code = 0, frames = 0, got;
    while ((got = bf_ws_recv(slow, &m, 3000)) == 0) {
        frames++;
        if (m.opcode == 8) code = m.close_code;
        bf_ws_msg_free(&m);
        if (code) break;
    }
    cr_expect_eq(code, 4008, "slow consumer close code %d after %d frames (got %d)", code, frames,
                 got);
    bf_http_resp r;
    cr_assert_eq(bf_http(c->gateways[0].port, "GET", "/metrics", NULL, NULL, 0, &r, 2000), 0);
    cr_expect(strstr(r.body, "belfry_gateway_slow_consumer_disconnects_total 1"), "%s", r.body);
    bf_http_resp_free(&r);
    free(body);
    bf_ws_abort(slow);
    bf_ws_close(fast);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
