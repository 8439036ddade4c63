/* Issue: private and presence channels — connection liveness (pings) and slow consumers. */
#include "common.h"

#include <hiredis/hiredis.h>
#include <arpa/inet.h>
#include <netinet/in.h>
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
    /* the slow reader must start reading within BF_CONN_CLOSE_TIMEOUT_S of being cut off, or it
     * is (rightly) reset without a close frame; a daemon under valgrind is too slow for that */
    if (bf_daemons_wrapped()) cr_skip_test("timing-bound: not run with BELFRY_TEST_DAEMON_WRAPPER");
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

/* Frames queued for one socket go out coalesced, several per write, and when the socket is full
 * lws keeps the rest of a write. Nothing else may land inside that rest: the client pings while
 * the server is backed up, so lws has pongs to send in between. Every frame must arrive whole and
 * in order. */
Test(connections, backed_up_socket_gets_every_frame_whole_and_in_order, .timeout = 120)
{
    static const char *const args[] = {"--send-queue-bytes", "8388608", "--send-queue-messages",
                                       "4096", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    bf_ws *lag = it_connect(c, 0, "/ws/backlog", NULL);
    bf_ws_set_raw(lag, 1); /* pongs are returned to us, so we can count them */
    int small = 65536;
    setsockopt(bf_ws_fd(lag), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    it_wait_subscribed(c, "backlog", 1);
    long long writes0 = bf_metric(c->gateways[0].port, "belfry_gateway_socket_writes_total");
    long long frames0 = bf_metric(c->gateways[0].port, "belfry_gateway_frames_written_total");
    long long queued0 = bf_metric(c->gateways[0].port, "belfry_gateway_messages_out_total");
    redisContext *rc = redisConnect("127.0.0.1", c->redis.port);
    cr_assert(rc && !rc->err);
    enum { N = 1500, PAD = 5000, ROUNDS = 15 };
    char *body = malloc(PAD + 128);
    int pings = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = round * (N / ROUNDS) + 1; k <= (round + 1) * (N / ROUNDS); k++) {
            int n =
                snprintf(body, PAD + 128, "{\"event\":\"Blob\",\"data\":{\"i\":%d,\"pad\":\"", k);
            memset(body + n, 'a' + k % 26, PAD);
            strcpy(body + n + PAD, "\"}}");
            redisAppendCommand(rc, "PUBLISH belfry:publish:backlog %s", body);
        }
        for (int k = 0; k < N / ROUNDS; k++) {
            redisReply *r;
            cr_assert_eq(redisGetReply(rc, (void **)&r), REDIS_OK);
            freeReplyObject(r);
        }
        char ping[8];
        int pl = snprintf(ping, sizeof(ping), "p%d", round);
        cr_assert_eq(bf_ws_send_frame(lag, 1, 9, ping, (size_t)pl, 1), 0);
        pings++;
        usleep(20000);
    }
    redisFree(rc);
    /* until the gateway has taken in every message (a sanitizer build lags behind Redis): then
     * the socket is backed up, lws holds a rest and our queue holds more */
    long long deadline = bf_ms() + 20000;
    while (bf_metric(c->gateways[0].port, "belfry_gateway_messages_out_total") - queued0 < N &&
           bf_ms() < deadline)
        usleep(20000);
    int got = 0, pongs = 0, bad = 0;
    bf_ws_msg m;
    while (got < N && bf_ws_recv(lag, &m, 5000) == 0) {
        if (m.opcode == 10) {
            pongs++;
        } else if (m.opcode == 1) {
            got++;
            json_t *j = json_loads(m.data, 0, NULL);
            json_t *d = j ? json_object_get(j, "data") : NULL;
            const char *pad = d ? json_string_value(json_object_get(d, "pad")) : NULL;
            int i = d ? (int)json_integer_value(json_object_get(d, "i")) : -1;
            if (i != got || !pad || strlen(pad) != PAD || pad[0] != 'a' + i % 26 ||
                pad[PAD - 1] != 'a' + i % 26) {
                if (!bad++) cr_log_error("frame %d is not message %d: %.80s", got, i, m.data);
            }
            json_decref(j);
        } else {
            bad++;
            cr_log_error("unexpected opcode %d after %d frames", m.opcode, got);
        }
        bf_ws_msg_free(&m);
    }
    cr_expect_eq(got, N, "received %d of %d", got, N);
    cr_expect_eq(bad, 0, "%d frames were not the expected message", bad);
    /* lws answers at most one ping at a time; some pongs must have come through the backlog */
    while (pongs < 1 && bf_ws_recv(lag, &m, 1000) == 0) {
        pongs += m.opcode == 10;
        bf_ws_msg_free(&m);
    }
    cr_expect(pongs >= 1 && pongs <= pings, "%d pongs for %d pings", pongs, pings);
    long long writes =
        bf_metric(c->gateways[0].port, "belfry_gateway_socket_writes_total") - writes0;
    long long frames =
        bf_metric(c->gateways[0].port, "belfry_gateway_frames_written_total") - frames0;
    cr_expect_eq(frames, N, "frames written %lld", frames);
    cr_expect(bf_metric(c->gateways[0].port, "belfry_gateway_socket_writes_partial_total") > 0,
              "the socket never backed up: the test did not test the partial-write path");
    cr_expect(writes > 0 && writes < frames, "%lld writes carried %lld frames: nothing coalesced",
              writes, frames);
    free(body);
    bf_ws_close(lag);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

static long evalsha_calls(bf_cluster *c)
{
    char *info = bf_redis_query(c, "INFO commandstats");
    const char *p = info ? strstr(info, "cmdstat_evalsha:calls=") : NULL;
    long n = p ? strtol(p + strlen("cmdstat_evalsha:calls="), NULL, 10) : 0;
    free(info);
    return n;
}

/* Every channel listed in some gateway's channel set (gwchans:{gateway}), '\n'-separated. */
static char *gwchans_members(bf_cluster *c)
{
    char *known = bf_redis_query(c, "KEYS belfry:{#}:gwchans:*"), *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    for (char *k = known; k && *k;) {
        char *nl = strchr(k, '\n');
        if (nl) *nl = 0;
        char *members = bf_redis_query(c, "SMEMBERS %s", k);
        fprintf(f, "%s\n", members ? members : "");
        free(members);
        k = nl ? nl + 1 : k + strlen(k);
    }
    fclose(f);
    free(known);
    return out;
}

static bool wait_counts(bf_cluster *c, int channels, long want, int timeout_ms)
{
    long long start = bf_ms();
    for (;;) {
        bool all = true;
        for (int i = 0; i < channels && all; i++) {
            char ch[32];
            snprintf(ch, sizeof(ch), "storm-%d", i);
            all = it_conns_in_redis(c, ch) == want;
        }
        if (all) return true;
        if (bf_ms() - start > timeout_ms) return false;
        usleep(20000);
    }
}

/* Connection counts reach Redis batched (one script call for all the channels whose count changed
 * in a loop turn), and stay exact: 40 channels × 3 connections opened at once count 3 each, and
 * go back to nothing, with the channels gone from the gateway's channel set, when they close. */
Test(connections, connection_counts_in_redis_are_batched_and_exact)
{
    enum { CHANNELS = 40, PER = 3, N = CHANNELS * PER };
    bf_cluster_opts o = {.routers = 1, .gateways = 1};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    int fds[N];
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)c->gateways[0].port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_eq(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
    }
    long calls0 = evalsha_calls(c);
    /* every upgrade request written before any answer is read */
    for (int i = 0; i < N; i++) {
        char req[256];
        int len = snprintf(req, sizeof(req),
                           "GET /ws/storm-%d HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           i % CHANNELS);
        cr_assert_eq(send(fds[i], req, (size_t)len, 0), len);
    }
    for (int i = 0; i < N; i++) {
        char resp[13] = {0};
        struct timeval tv = {5, 0};
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        cr_assert_eq(recv(fds[i], resp, 12, MSG_WAITALL), 12);
        cr_assert_str_eq(resp, "HTTP/1.1 101", "connection %d: %s", i, resp);
    }
    cr_expect(wait_counts(c, CHANNELS, PER, 5000), "the counts in Redis are not %d each", PER);
    long calls = evalsha_calls(c) - calls0;
    fprintf(stderr, "connections: %d connects on %d channels took %ld script calls\n", N, CHANNELS,
            calls);
    cr_expect(calls < N, "%ld script calls for %d connections: not batched", calls, N);
    char *listed = gwchans_members(c);
    cr_expect(strstr(listed, "storm-0\n") && strstr(listed, "storm-39\n"),
              "the gateway's channel set lacks the storm channels: %s", listed);
    free(listed);
    for (int i = 0; i < N; i++) close(fds[i]);
    cr_expect(wait_counts(c, CHANNELS, 0, 5000), "the counts did not go back to 0");
    char *keys = bf_redis_query(c, "KEYS belfry:conns:{storm-*}");
    cr_expect(!keys || !*keys, "conns hashes left behind: %s", keys ? keys : "");
    free(keys);
    listed = gwchans_members(c);
    cr_expect(!strstr(listed, "storm-"), "a gateway's channel set still lists: %s", listed);
    free(listed);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

/* The gateway writes at most BF_CONN_FLUSH_CHUNK (64) connections per loop iteration, first listed
 * first written, and keeps the loop turning until every listed connection is written: 300
 * subscribers of one channel, two rounds of 20 messages published back to back via Redis ingress
 * (the second after the first was read everywhere, so the list of connections to write has
 * emptied and fills again), each subscriber gets all of them in order. */
Test(connections, fan_out_wider_than_a_write_chunk_reaches_everyone_in_order)
{
    enum { SUBS = 300, MSGS = 20, ROUNDS = 2 };
    bf_cluster_opts o = {.routers = 1, .gateways = 1};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    bf_ws **subs = calloc(SUBS, sizeof(*subs));
    for (int i = 0; i < SUBS; i++) subs[i] = it_connect(c, 0, "/ws/wide", NULL);
    it_wait_subscribed(c, "wide", 1);
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < MSGS; k++) {
            char body[64];
            snprintf(body, sizeof(body), "{\"event\":\"W\",\"data\":{\"i\":%d}}", r * MSGS + k);
            free(bf_redis_query(c, "PUBLISH belfry:publish:wide %s", body));
        }
        for (int i = 0; i < SUBS; i++) {
            for (int k = 0; k < MSGS; k++) {
                json_t *j = it_recv_event(subs[i], "W", 5000, "subscriber");
                long long got =
                    json_integer_value(json_object_get(json_object_get(j, "data"), "i"));
                json_decref(j);
                cr_assert_eq(got, r * MSGS + k, "subscriber %d: message %lld where %d was due", i,
                             got, r * MSGS + k);
            }
        }
    }
    for (int i = 0; i < SUBS; i++) bf_ws_close(subs[i]);
    free(subs);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
