/* Issue: private and presence channels — presence semantics across two gateways. */
#include "common.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static bf_cluster *C;

static void setup(void)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 2, .jwt_secret = IT_SECRET};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly");
}

TestSuite(presence, .init = setup, .fini = teardown, .timeout = 60);

/* Connects user to channel on gateway gw with a token, optionally with presence info. */
static bf_ws *join(int gw, const char *channel, const char *user, const char *info)
{
    char claims[1024], path[4096];
    snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"exp\":%lld,\"channels\":[\"%s\"]%s%s}",
             user, (long long)time(NULL) + 600, channel, info ? ",\"info\":" : "",
             info ? info : "");
    char *t = bf_mint_token(IT_SECRET, "HS256", claims);
    snprintf(path, sizeof(path), "/ws/%s?token=%s", channel, t);
    free(t);
    return it_connect(C, gw, path, NULL);
}

static json_t *data_of(json_t *j)
{
    return json_object_get(j, "data");
}

static const char *member_id(json_t *ev)
{
    return json_string_value(json_object_get(json_object_get(data_of(ev), "member"), "id"));
}

static long long seq_of(json_t *j)
{
    return json_integer_value(json_object_get(j, "seq"));
}

/* Reads the presence:here a joining connection gets first, returns its member ids joined by ','. */
static char *here_ids(bf_ws *w, const char *who, long long *seq)
{
    json_t *h = it_recv_json(w, 5000, who);
    cr_assert_str_eq(json_string_value(json_object_get(h, "event")), "presence:here", "%s", who);
    json_t *members = json_object_get(data_of(h), "members");
    char *out = calloc(1, 1024);
    for (size_t i = 0; i < json_array_size(members); i++) {
        json_t *m = json_array_get(members, i);
        cr_assert(json_is_integer(json_object_get(m, "joinedAt")), "%s: no joinedAt", who);
        cr_assert(json_is_object(json_object_get(m, "info")), "%s: no info object", who);
        strcat(out, i ? "," : "");
        strcat(out, json_string_value(json_object_get(m, "id")));
    }
    if (seq) *seq = seq_of(h);
    json_decref(h);
    return out;
}

static char *presence_ids(const char *channel)
{
    char path[256];
    int status;
    snprintf(path, sizeof(path), "/presence/%s", channel);
    char *body = it_http_get(C, path, &status);
    cr_assert_eq(status, 200, "GET %s: %d %s", path, status, body);
    json_t *j = json_loads(body, 0, NULL);
    json_t *members = json_object_get(j, "members");
    cr_assert(json_is_array(members), "%s", body);
    char *out = calloc(1, 1024);
    for (size_t i = 0; i < json_array_size(members); i++) {
        strcat(out, i ? "," : "");
        strcat(out, json_string_value(json_object_get(json_array_get(members, i), "id")));
    }
    json_decref(j);
    free(body);
    return out;
}

typedef struct ids_arg {
    const char *channel, *want;
} ids_arg;

static bool presence_is(void *arg)
{
    ids_arg *a = arg;
    char *ids = presence_ids(a->channel);
    bool ok = !strcmp(ids, a->want);
    free(ids);
    return ok;
}

static void wait_presence(const char *channel, const char *want)
{
    ids_arg a = {channel, want};
    if (!bf_wait_for(presence_is, &a, 5000)) {
        char *ids = presence_ids(channel);
        cr_assert_fail("GET /presence/%s: [%s], want [%s]", channel, ids, want);
        free(ids);
    }
}

/* it_recv_event with 5 s, which on a timeout first puts on stderr what the daemons say of the
 * presence path: members, operations applied and deferred, subscriptions made again. */
static json_t *recv_or_explain(bf_ws *w, const char *ev, const char *who)
{
    long long deadline = bf_ms() + 5000;
    for (;;) {
        bf_ws_msg m;
        long long left = deadline - bf_ms();
        if (left <= 0 || bf_ws_recv(w, &m, (int)left)) {
            it_dump_metrics(C, "presence|owner_op|fanout_received|messages_out|resubscribe|redis_");
            cr_assert_fail("%s: no %s within 5000 ms (the daemons' metrics above)", who, ev);
        }
        cr_assert_eq(m.opcode, 1, "%s: opcode %d (close code %d: %s)", who, m.opcode, m.close_code,
                     m.data);
        json_t *j = json_loads(m.data, 0, NULL);
        cr_assert_not_null(j, "%s: not JSON: %s", who, m.data);
        bf_ws_msg_free(&m);
        const char *e = json_string_value(json_object_get(j, "event"));
        if (e && !strcmp(e, ev)) return j;
        fprintf(stderr, "%s: skipped %s\n", who, e ? e : "(no event)");
        json_decref(j);
    }
}

Test(presence, join_and_leave_seen_by_a_third_client_across_gateways)
{
    const char *ch = "presence-room1";
    bf_ws *obs = join(0, ch, "observer", "{\"name\":\"Olive\"}");
    long long s0;
    char *ids = here_ids(obs, "observer", &s0);
    cr_expect_str_eq(ids, "observer");
    free(ids);
    usleep(5000); /* joinedAt has millisecond resolution (equal times sort by id) */
    bf_ws *b = join(1, ch, "bob", "{\"name\":\"Bob\"}");
    long long sb;
    ids = here_ids(b, "bob", &sb);
    cr_expect_str_eq(ids, "observer,bob"); /* sorted by joinedAt */
    free(ids);
    json_t *j = recv_or_explain(obs, "presence:join", "observer");
    cr_expect_str_eq(member_id(j), "bob");
    cr_expect_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(data_of(j), "member"), "info"), "name")),
                     "Bob");
    long long sj = seq_of(j);
    cr_expect_eq(sj, s0 + 1, "join seq %lld after here seq %lld", sj, s0);
    cr_expect_eq(sb, sj, "bob's here must carry the seq of his own join");
    json_decref(j);
    /* bob never sees his own join */
    it_expect_silence(b, 200, "bob");
    wait_presence(ch, "observer,bob");
    bf_ws_close(b);
    j = recv_or_explain(obs, "presence:leave", "observer");
    cr_expect_str_eq(member_id(j), "bob");
    cr_expect_eq(seq_of(j), sj + 1);
    json_decref(j);
    wait_presence(ch, "observer");
    bf_ws_close(obs);
    wait_presence(ch, "");
}

Test(presence, a_user_with_several_tabs_is_one_member)
{
    const char *ch = "presence-tabs";
    bf_ws *obs = join(0, ch, "observer", NULL);
    free(here_ids(obs, "observer", NULL));
    usleep(5000); /* joinedAt has millisecond resolution (equal times sort by id) */
    bf_ws *t1 = join(0, ch, "carol", NULL);
    free(here_ids(t1, "carol tab 1", NULL));
    bf_ws *t2 = join(1, ch, "carol", NULL);
    char *ids = here_ids(t2, "carol tab 2", NULL);
    cr_expect_str_eq(ids, "observer,carol");
    free(ids);
    bf_ws *t3 = join(1, ch, "carol", NULL);
    free(here_ids(t3, "carol tab 3", NULL));
    json_t *j = it_recv_event(obs, "presence:join", 5000, "observer");
    cr_expect_str_eq(member_id(j), "carol");
    json_decref(j);
    it_expect_silence(obs, 300, "observer (second join)");
    wait_presence(ch, "observer,carol");
    bf_ws_close(t1);
    bf_ws_close(t3);
    it_expect_silence(obs, 300, "observer (leave while a tab remains)");
    wait_presence(ch, "observer,carol");
    bf_ws_close(t2);
    j = it_recv_event(obs, "presence:leave", 5000, "observer");
    cr_expect_str_eq(member_id(j), "carol");
    json_decref(j);
    it_expect_silence(obs, 200, "observer (second leave)");
    wait_presence(ch, "observer");
    bf_ws_close(obs);
}

Test(presence, abrupt_client_death_removes_the_member)
{
    const char *ch = "presence-kill";
    bf_ws *obs = join(1, ch, "observer", NULL);
    free(here_ids(obs, "observer", NULL));
    usleep(5000); /* joinedAt has millisecond resolution (equal times sort by id) */
    /* a separate client process that is killed with SIGKILL */
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        bf_ws *w = join(0, ch, "dave", NULL);
        bf_ws_msg m;
        bf_ws_recv(w, &m, 5000); /* presence:here: joined */
        if (write(pipefd[1], "x", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char x;
    cr_assert_eq(read(pipefd[0], &x, 1), 1);
    wait_presence(ch, "observer,dave");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    json_t *j = it_recv_event(obs, "presence:leave", 5000, "observer");
    cr_expect_str_eq(member_id(j), "dave");
    json_decref(j);
    wait_presence(ch, "observer");
    bf_ws_close(obs);
}

Test(presence, channels_endpoint_counts_connections_and_users)
{
    const char *ch = "presence-count";
    bf_ws *a = join(0, ch, "u1", NULL), *b = join(1, ch, "u1", NULL), *c = join(1, ch, "u2", NULL);
    free(here_ids(a, "a", NULL));
    free(here_ids(b, "b", NULL));
    free(here_ids(c, "c", NULL));
    wait_presence(ch, "u1,u2");
    int status;
    char *body = it_http_get(C, "/channels/presence-count", &status);
    cr_expect_eq(status, 200);
    cr_expect_str_eq(body, "{\"occupied\":true,\"subscription_count\":3,\"user_count\":2}");
    free(body);
    body = it_http_get(C, "/channels/nobody-here", &status);
    cr_expect_str_eq(body, "{\"occupied\":false,\"subscription_count\":0,\"user_count\":0}");
    free(body);
    body = it_http_get(C, "/presence/bad%20name", &status);
    cr_expect_eq(status, 400);
    free(body);
    bf_http_resp r;
    cr_assert_eq(
        bf_http(C->routers[0].port, "GET", "/presence/presence-count", NULL, NULL, 0, &r, 2000), 0);
    cr_expect_eq(r.status, 401, "GET /presence needs the API key");
    bf_http_resp_free(&r);
    bf_ws_close(a);
    bf_ws_close(b);
    bf_ws_close(c);
}

Test(presence, publishes_and_presence_events_share_one_gapless_sequence)
{
    const char *ch = "presence-seq";
    bf_ws *obs = join(0, ch, "observer", NULL);
    long long s;
    free(here_ids(obs, "observer", &s));
    for (int i = 0; i < 5; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"event\":\"Msg\",\"data\":{\"i\":%d}}", i);
        it_publish(C, ch, body);
        bf_ws *x = join(i % 2, ch, i % 2 ? "xavier" : "yolanda", NULL);
        free(here_ids(x, "joiner", NULL));
        bf_ws_close(x);
    }
    /* 5 publishes + 5 joins + 5 leaves, strictly consecutive */
    for (int k = 0; k < 15; k++) {
        json_t *j = it_recv_json(obs, 5000, "observer");
        cr_expect_eq(seq_of(j), s + 1 + k, "frame %d: %s", k, json_dumps(j, 0));
        json_decref(j);
    }
    bf_ws_close(obs);
}

/* presence:here for a joiner: the first member per user in join order. When a user's earliest tab
 * leaves, the user stays, now placed (and described) by its next tab; presence data written
 * without the ordered index (phere/prep, e.g. by an older version) is indexed on the next join. */
Test(presence, here_follows_join_order_and_a_users_remaining_tab)
{
    const char *ch = "presence-order";
    bf_ws *obs = join(0, ch, "observer", NULL);
    free(here_ids(obs, "observer", NULL));
    usleep(5000); /* joinedAt has millisecond resolution */
    bf_ws *c1 = join(0, ch, "carol", "{\"tab\":1}");
    free(here_ids(c1, "carol tab 1", NULL));
    usleep(5000);
    bf_ws *dave = join(1, ch, "dave", NULL);
    free(here_ids(dave, "dave", NULL));
    usleep(5000);
    bf_ws *c2 = join(1, ch, "carol", "{\"tab\":2}");
    char *ids = here_ids(c2, "carol tab 2", NULL);
    cr_expect_str_eq(ids, "observer,carol,dave");
    free(ids);
    usleep(5000);
    bf_ws *erin = join(0, ch, "erin", NULL);
    ids = here_ids(erin, "erin", NULL);
    cr_expect_str_eq(ids, "observer,carol,dave,erin");
    free(ids);

    bf_ws_close(c1); /* carol stays (tab 2), now after dave */
    wait_presence(ch, "observer,dave,carol,erin");
    bf_ws *frank = join(1, ch, "frank", NULL);
    json_t *h = it_recv_json(frank, 5000, "frank");
    json_t *members = json_object_get(data_of(h), "members");
    char got[256] = "";
    int tab = 0;
    for (size_t i = 0; i < json_array_size(members); i++) {
        json_t *m = json_array_get(members, i);
        const char *id = json_string_value(json_object_get(m, "id"));
        if (!strcmp(id, "carol"))
            tab = (int)json_integer_value(json_object_get(json_object_get(m, "info"), "tab"));
        strcat(got, i ? "," : "");
        strcat(got, id);
    }
    json_decref(h);
    cr_expect_str_eq(got, "observer,dave,carol,erin,frank");
    cr_expect_eq(tab, 2, "carol is described by the tab that remains");

    /* as if written before the index existed */
    free(bf_redis_query(C, "DEL belfry:phere:{%s} belfry:prep:{%s}", ch, ch));
    bf_ws *gina = join(0, ch, "gina", NULL);
    ids = here_ids(gina, "gina", NULL);
    cr_expect_str_eq(ids, "observer,dave,carol,erin,frank,gina");
    free(ids);
    char *n = bf_redis_query(C, "ZCARD belfry:phere:{%s}", ch);
    cr_expect_str_eq(n, "6", "the index was rebuilt");
    free(n);

    bf_ws *all[] = {obs, c2, dave, erin, frank, gina};
    for (size_t i = 0; i < sizeof(all) / sizeof(*all); i++) bf_ws_close(all[i]);
    wait_presence(ch, "");
    char *left = bf_redis_query(C, "EXISTS belfry:phere:{%s} belfry:prep:{%s}", ch, ch);
    cr_expect_str_eq(left, "0", "the index outlived its members");
    free(left);
}

/* GET /presence reads the ordered index (phere/prep, presence.lib.lua), the one place the rule
 * "one member per user, the earliest joinedAt" is applied, and rebuilds it when it is missing
 * (presence data written before the index existed). */
Test(presence, get_presence_reads_the_index_and_rebuilds_a_missing_one)
{
    const char *ch = "presence-indexed";
    bf_ws *a = join(0, ch, "ann", NULL);
    free(here_ids(a, "ann", NULL));
    usleep(5000);
    bf_ws *b1 = join(1, ch, "ben", NULL);
    free(here_ids(b1, "ben", NULL));
    usleep(5000);
    bf_ws *b2 = join(0, ch, "ben", "{\"tab\":2}");
    free(here_ids(b2, "ben tab 2", NULL));
    wait_presence(ch, "ann,ben");

    /* the representative the index names is the one served, not a fold of presence:{channel} */
    free(bf_redis_query(C, "HSET belfry:prep:{%s} ann %s", ch,
                        "{\"id\":\"ann\",\"joinedAt\":1,\"info\":{\"src\":\"index\"}}"));
    int status;
    char path[128];
    snprintf(path, sizeof(path), "/presence/%s", ch);
    char *body = it_http_get(C, path, &status);
    cr_assert_eq(status, 200, "%s", body);
    cr_expect(strstr(body, "{\"id\":\"ann\",\"joinedAt\":1,\"info\":{\"src\":\"index\"}}"), "%s",
              body);
    free(body);

    free(bf_redis_query(C, "DEL belfry:phere:{%s} belfry:prep:{%s}", ch, ch));
    wait_presence(ch, "ann,ben");
    char *n = bf_redis_query(C, "ZCARD belfry:phere:{%s}", ch);
    cr_expect_str_eq(n, "2", "GET /presence rebuilt the index");
    free(n);
    body = it_http_get(C, path, &status);
    cr_expect_null(strstr(body, "index"), "the rebuilt index describes ann again: %s", body);
    free(body);

    bf_ws_close(a);
    bf_ws_close(b1);
    bf_ws_close(b2);
    wait_presence(ch, "");
}
