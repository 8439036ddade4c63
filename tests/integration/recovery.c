/* Issue: history and recovery — no message lost across a reconnect. */
#include "common.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/wait.h>

static bf_cluster *C;

static void setup(void)
{
    static const char *const rargs[] = {"--history-size", "100", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 2, .router_args = rargs};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly");
}

TestSuite(recovery, .init = setup, .fini = teardown, .timeout = 90);

static json_t *subscribed(bf_ws *w)
{
    json_t *j = it_recv_json(w, 5000, "recovering client");
    cr_assert_str_eq(json_string_value(json_object_get(j, "event")), "belfry:subscribed",
                     "first frame: %s", json_dumps(j, 0));
    cr_assert_null(json_object_get(j, "seq"), "belfry:subscribed carries no seq of its own");
    json_t *d = json_incref(json_object_get(j, "data"));
    json_decref(j);
    return d;
}

static void publish_n(const char *ch, int from, int to)
{
    char body[96];
    for (int i = from; i <= to; i++) {
        snprintf(body, sizeof(body), "{\"event\":\"N\",\"data\":{\"i\":%d}}", i);
        it_publish(C, ch, body);
    }
}

static long long seq_of(json_t *j)
{
    return json_integer_value(json_object_get(j, "seq"));
}

Test(recovery, recover_one_reports_the_position_first)
{
    publish_n("pos", 1, 3);
    bf_ws *w = it_connect(C, 0, "/ws/pos?recover=1", NULL);
    json_t *d = subscribed(w);
    cr_expect_eq(json_integer_value(json_object_get(d, "seq")), 3);
    cr_expect(strlen(json_string_value(json_object_get(d, "epoch"))) > 4);
    cr_expect_null(json_object_get(d, "recovered"));
    json_decref(d);
    publish_n("pos", 4, 4);
    json_t *j = it_recv_json(w, 3000, "client");
    cr_expect_eq(seq_of(j), 4);
    json_decref(j);
    bf_ws_close(w);
    /* a client without recover sees nothing new */
    bf_ws *plain = it_connect(C, 1, "/ws/pos", NULL);
    it_wait_subscribed(C, "pos", 1);
    publish_n("pos", 5, 5);
    j = it_recv_json(plain, 3000, "plain client");
    cr_expect_str_eq(json_string_value(json_object_get(j, "event")), "N");
    json_decref(j);
    bf_ws_close(plain);
}

Test(recovery, reconnect_with_since_gets_exactly_what_was_missed_then_live)
{
    bf_ws *w = it_connect(C, 0, "/ws/miss?recover=1", NULL);
    json_t *d = subscribed(w);
    char epoch[64];
    snprintf(epoch, sizeof(epoch), "%s", json_string_value(json_object_get(d, "epoch")));
    json_decref(d);
    publish_n("miss", 1, 5);
    for (int i = 1; i <= 5; i++) json_decref(it_recv_json(w, 3000, "client"));
    bf_ws_close(w);
    publish_n("miss", 6, 55); /* 50 while away */
    char path[256];
    snprintf(path, sizeof(path), "/ws/miss?since=5&epoch=%s", epoch);
    w = it_connect(C, 1, path, NULL);
    d = subscribed(w);
    cr_expect(json_is_true(json_object_get(d, "recovered")), "%s", json_dumps(d, 0));
    cr_expect_eq(json_integer_value(json_object_get(d, "missed")), 50);
    cr_expect_eq(json_integer_value(json_object_get(d, "seq")), 55);
    cr_expect_str_eq(json_string_value(json_object_get(d, "epoch")), epoch);
    json_decref(d);
    for (int i = 6; i <= 55; i++) {
        json_t *j = it_recv_json(w, 3000, "recovered client");
        cr_assert_eq(seq_of(j), i);
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "data"), "i")), i);
        json_decref(j);
    }
    publish_n("miss", 56, 57);
    for (int i = 56; i <= 57; i++) {
        json_t *j = it_recv_json(w, 3000, "live");
        cr_assert_eq(seq_of(j), i);
        json_decref(j);
    }
    it_expect_silence(w, 300, "no duplicates");
    bf_ws_close(w);
}

Test(recovery, since_older_than_history_is_not_recovered)
{
    static const char *const rargs[] = {"--history-size", "10", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .router_args = rargs};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    bf_ws *w = it_connect(c, 0, "/ws/short?recover=1", NULL);
    json_t *j = it_recv_json(w, 5000, "client");
    char epoch[64];
    snprintf(epoch, sizeof(epoch), "%s",
             json_string_value(json_object_get(json_object_get(j, "data"), "epoch")));
    json_decref(j);
    bf_ws_close(w);
    for (int i = 0; i < 20; i++) it_publish(c, "short", "{\"event\":\"S\",\"data\":{}}");
    char path[256];
    /* the epoch did not exist before the first message: since=0 with no epoch */
    w = it_connect(c, 0, "/ws/short?since=0", NULL);
    j = it_recv_json(w, 5000, "client");
    json_t *d = json_object_get(j, "data");
    cr_expect(json_is_false(json_object_get(d, "recovered")), "%s", json_dumps(j, 0));
    cr_expect_eq(json_integer_value(json_object_get(d, "missed")), 20);
    json_decref(j);
    bf_ws_close(w);
    /* within the retained 10 it works */
    j = NULL;
    char *e = bf_redis_query(c, "GET belfry:epoch:{short}");
    snprintf(path, sizeof(path), "/ws/short?since=12&epoch=%s", e);
    free(e);
    w = it_connect(c, 0, path, NULL);
    j = it_recv_json(w, 5000, "client");
    cr_expect(json_is_true(json_object_get(json_object_get(j, "data"), "recovered")));
    json_decref(j);
    for (int i = 13; i <= 20; i++) {
        json_t *m = it_recv_json(w, 3000, "client");
        cr_expect_eq(seq_of(m), i);
        json_decref(m);
    }
    bf_ws_close(w);
    (void)epoch;
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(recovery, redis_data_loss_means_a_new_epoch_and_no_recovery)
{
    publish_n("lost", 1, 3);
    char *e = bf_redis_query(C, "GET belfry:epoch:{lost}");
    cr_assert(e && *e);
    cr_assert_eq(bf_cluster_restart_redis(C), 0);
    cr_assert_eq(bf_wait_http_ok(C->routers[0].port, "/readyz", 15000), 0);
    cr_assert_eq(bf_wait_http_ok(C->gateways[0].port, "/readyz", 15000), 0);
    publish_n("lost", 1, 1); /* the sequence starts again: seq 1 of a new epoch */
    char path[256];
    snprintf(path, sizeof(path), "/ws/lost?since=3&epoch=%s", e);
    bf_ws *w = it_connect(C, 0, path, NULL);
    json_t *d = subscribed(w);
    cr_expect(json_is_false(json_object_get(d, "recovered")));
    cr_expect_str_neq(json_string_value(json_object_get(d, "epoch")), e);
    cr_expect_eq(json_integer_value(json_object_get(d, "seq")), 1);
    json_decref(d);
    free(e);
    bf_ws_close(w);
}

Test(recovery, invalid_recovery_parameters_are_400)
{
    it_refused(C, 0, "/ws/x?since=abc", NULL, 400, "bad_recovery");
    it_refused(C, 0, "/ws/x?since=5", NULL, 400, "bad_recovery");
    it_refused(C, 0, "/ws/x?since=5&epoch=zz", NULL, 400, "bad_recovery");
    it_refused(C, 0, "/ws/x?epoch=abc", NULL, 400, "bad_recovery");
}

Test(recovery, history_endpoint)
{
    publish_n("hapi", 1, 5);
    int st;
    char *body = it_http_get(C, "/history/hapi?since=2&limit=2", &st);
    cr_assert_eq(st, 200, "%s", body);
    json_t *j = json_loads(body, 0, NULL);
    cr_expect_eq(json_integer_value(json_object_get(j, "seq")), 5);
    json_t *m = json_object_get(j, "messages");
    cr_expect_eq(json_array_size(m), 2, "%s", body);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(m, 0), "seq")), 3);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "event")), "N");
    cr_expect_eq(
        json_integer_value(json_object_get(json_object_get(json_array_get(m, 1), "data"), "i")), 4);
    json_decref(j);
    free(body);
    body = it_http_get(C, "/history/hapi", &st);
    j = json_loads(body, 0, NULL);
    cr_expect_eq(json_array_size(json_object_get(j, "messages")), 5, "%s", body);
    json_decref(j);
    free(body);
    body = it_http_get(C, "/history/hapi?limit=0", &st);
    cr_expect_eq(st, 400, "%s", body);
    free(body);
    body = it_http_get(C, "/history/never-used", &st);
    cr_expect_str_eq(body, "{\"epoch\":\"\",\"seq\":0,\"recovered\":true,\"messages\":[]}");
    free(body);
}

/* GET /history with the epoch a client holds: recovered in that epoch, not in another (the
 * router reads the epoch parameter after parsing the query: it must still be valid then). */
Test(recovery, history_endpoint_in_an_epoch)
{
    publish_n("hep", 1, 4);
    int st;
    char *body = it_http_get(C, "/history/hep", &st);
    json_t *j = json_loads(body, 0, NULL);
    char epoch[64], path[160];
    snprintf(epoch, sizeof(epoch), "%s", json_string_value(json_object_get(j, "epoch")));
    json_decref(j);
    free(body);
    cr_assert_neq(epoch[0], '\0');
    snprintf(path, sizeof(path), "/history/hep?since=1&epoch=%s", epoch);
    body = it_http_get(C, path, &st);
    cr_assert_eq(st, 200, "%s", body);
    j = json_loads(body, 0, NULL);
    cr_expect(json_is_true(json_object_get(j, "recovered")), "%s", body);
    cr_expect_eq(json_array_size(json_object_get(j, "messages")), 3, "%s", body);
    json_decref(j);
    free(body);
    body = it_http_get(C, "/history/hep?since=1&epoch=0a0b0c", &st);
    cr_assert_eq(st, 200, "%s", body);
    j = json_loads(body, 0, NULL);
    cr_expect(json_is_false(json_object_get(j, "recovered")), "another epoch: %s", body);
    json_decref(j);
    free(body);
}

/* A publisher in a child process: count messages at about rate/s through Redis ingress. */
static pid_t start_publisher(int port, const char *channel, int count, int rate)
{
    pid_t pid = fork();
    if (pid) return pid;
    redisContext *rc = redisConnect("127.0.0.1", port);
    long long start = bf_ms();
    for (int i = 1; i <= count; i++) {
        redisAppendCommand(rc, "PUBLISH belfry:publish:%s {\"event\":\"R\",\"data\":{\"i\":%d}}",
                           channel, i);
        if (i % 20 == 0) {
            for (int k = 0; k < 20; k++) {
                redisReply *r;
                if (redisGetReply(rc, (void **)&r) != REDIS_OK) _exit(1);
                freeReplyObject(r);
            }
            long long due = start + (long long)i * 1000 / rate;
            while (bf_ms() < due) usleep(500);
        }
    }
    _exit(0);
}

Test(recovery, twenty_clients_reconnecting_under_2000_per_second_stay_gapless)
{
    enum { NCL = 20, COUNT = 6000 };
    /* a gateway under valgrind falls further behind 2,000 publishes/s than the history holds */
    if (bf_daemons_wrapped()) cr_skip_test("timing-bound: not run with BELFRY_TEST_DAEMON_WRAPPER");
    /* A history longer than the whole run: what is tested is the hand-over from replay to live
     * messages on every reconnect, not how far behind this one-thread reader (20 clients, 2,000
     * messages/s each) may fall. With the suite's 100 (50 ms of messages) one run under ASan on
     * a busy machine ended with a client 110 messages short and two anomalies, which fits a
     * resume from further back than the history held: answered recovered:false, as it should be
     * (since_older_than_history_is_not_recovered). The anomalies are now printed. */
    static const char *const rargs[] = {"--history-size", "10000", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 2, .router_args = rargs};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c, "cluster did not start");
    /* everyone starts with the position, then publishing begins */
    static bf_ws *w[NCL];
    static long long last[NCL], got[NCL];
    static char epoch[NCL][64];
    for (int i = 0; i < NCL; i++) {
        w[i] = it_connect(c, i % 2, "/ws/race?recover=1", NULL);
        json_t *d = subscribed(w[i]);
        last[i] = json_integer_value(json_object_get(d, "seq"));
        /* the epoch exists from the first recovering subscriber on, before any message */
        snprintf(epoch[i], sizeof(epoch[i]), "%s", json_string_value(json_object_get(d, "epoch")));
        cr_assert(epoch[i][0]);
        json_decref(d);
    }
    it_wait_subscribed(c, "race", 2);
    pid_t pub = start_publisher(c->redis.port, "race", COUNT, 2000);
    int bad = 0, reconnects = 0;
    long long deadline = bf_ms() + 20000;
    while (bf_ms() < deadline) {
        bool done = true;
        for (int i = 0; i < NCL; i++) {
            bf_ws_msg m;
            int n = 0, rc = 0;
            bool lost = false;
            while (n++ < 50 && (rc = bf_ws_recv(w[i], &m, 0)) == 0) {
                if (m.opcode != 1) { /* closed (a slow consumer under load): resume below */
                    lost = m.opcode == 8;
                    bf_ws_msg_free(&m);
                    if (lost) break;
                    continue;
                }
                json_t *j = json_loads(m.data, 0, NULL);
                const char *ev = json_string_value(json_object_get(j, "event"));
                if (ev && !strcmp(ev, "belfry:subscribed")) {
                    json_t *d = json_object_get(j, "data");
                    if (!json_is_true(json_object_get(d, "recovered")) && bad++ < 5)
                        fprintf(stderr, "client %d: not recovered from since=%lld: %s\n", i,
                                last[i], m.data);
                } else {
                    long long s = json_integer_value(json_object_get(j, "seq"));
                    if (s != last[i] + 1 && bad++ < 5)
                        fprintf(stderr, "client %d: seq %lld after %lld (reconnects so far %d)\n",
                                i, s, last[i], reconnects);
                    last[i] = s;
                    got[i]++;
                }
                json_decref(j);
                bf_ws_msg_free(&m);
            }
            if (last[i] < COUNT) done = false;
            /* every client drops and resumes a few times mid-stream, as does any client whose
             * connection was closed under it */
            if (lost || rc == -2 || (last[i] > 0 && rand() % 40 == 0 && reconnects < 200)) {
                bf_ws_abort(w[i]);
                char path[2048];
                snprintf(path, sizeof(path), "/ws/race?since=%lld&epoch=%.63s", last[i], epoch[i]);
                w[i] = it_connect(c, (i + reconnects) % 2, path, NULL);
                reconnects++;
            }
        }
        if (done) break;
        usleep(1000);
    }
    int st;
    waitpid(pub, &st, 0);
    for (int i = 0; i < NCL; i++) {
        cr_expect_eq(last[i], COUNT, "client %d ended at seq %lld", i, last[i]);
        cr_expect_eq(got[i], COUNT, "client %d received %lld messages", i, got[i]);
        bf_ws_close(w[i]);
    }
    cr_expect_eq(bad, 0, "%d gaps, duplicates or failed recoveries", bad);
    fprintf(stderr, "recovery race: %d reconnects with since during %d publishes\n", reconnects,
            COUNT);
    cr_expect_eq(bf_cluster_stop_checked(c), 0, "a daemon did not exit cleanly");
}
