/* Issue 23: a gateway's reconciliation (gateway/reconcile.h) repairs presence entries and
 * connection counts that Redis holds wrongly for it — a ghost entry, a live connection's missing
 * entry, a wrong count — through the normal leave/join/count paths, with the events an observer
 * expects, and counts each repair in belfry_gateway_presence_repairs_total{kind}. While nothing
 * is wrong it repairs nothing. */
#include "common.h"

#include "redis_keys.h"
#include "wire.h"

#define CH "presence-heal"

static bf_cluster *C;

static void setup(void)
{
    static const char *const gw_args[] = {"--presence-reconcile-interval", "1", NULL};
    bf_cluster_opts o = {
        .routers = 1, .gateways = 1, .jwt_secret = IT_SECRET, .gateway_args = gw_args};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly");
}

TestSuite(presence_reconcile, .init = setup, .fini = teardown, .timeout = 60);

static bf_ws *join(const char *user)
{
    char *t = it_token(user, "[\"" CH "\"]", 600);
    char path[4096];
    snprintf(path, sizeof(path), "/ws/" CH "?token=%s", t);
    free(t);
    bf_ws *w = it_connect(C, 0, path, NULL);
    json_decref(it_recv_event(w, "presence:here", 5000, user));
    return w;
}

/* The gateway's metric line value, e.g. name = "presence_repairs_total{kind=\"conns\"}". */
static long long gw_metric(const char *name)
{
    bf_http_resp r;
    cr_assert_eq(bf_http(C->gateways[0].port, "GET", "/metrics", NULL, NULL, 0, &r, 3000), 0);
    char want[256];
    snprintf(want, sizeof(want), "\nbelfry_gateway_%s ", name);
    const char *p = strstr(r.body, want);
    long long v = p ? atoll(p + strlen(want)) : -1;
    bf_http_resp_free(&r);
    return v;
}

static long long repairs(const char *kind)
{
    char name[128];
    snprintf(name, sizeof(name), "presence_repairs_total{kind=\"%s\"}", kind);
    return gw_metric(name);
}

/* The gateway's instance id (its --node-id plus the suffix it chose at start). */
static char *instance_id(void)
{
    char *id = bf_redis_query(C, "ZRANGE belfry:{#}:gateways 0 -1");
    cr_assert(id && *id && !strchr(id, '\n'), "one gateway expected: %s", id ? id : "");
    return id;
}

static const char *member_id(json_t *ev)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(ev, "data"), "member"), "id"));
}

static bool passes_done(void *arg)
{
    return gw_metric("presence_reconcile_passes_total") >= *(long long *)arg;
}

Test(presence_reconcile, repairs_nothing_while_nothing_is_wrong)
{
    bf_ws *a = join("ann"), *b = join("bob");
    long long want = gw_metric("presence_reconcile_passes_total") + 3;
    cr_assert(bf_wait_for(passes_done, &want, 8000), "three reconcile passes");
    cr_expect_eq(repairs("presence_ghost"), 0);
    cr_expect_eq(repairs("presence_missing"), 0);
    cr_expect_eq(repairs("conns"), 0);
    bf_ws_close(a);
    bf_ws_close(b);
}

Test(presence_reconcile, a_ghost_entry_is_removed_with_its_leave)
{
    bf_ws *obs = join("obs");
    char *gw = instance_id();
    /* an operation of a connection this gateway does not have, recorded as a gateway would */
    char conn[200], member[] = "{\"id\":\"ghost\",\"joinedAt\":1,\"info\":{}}";
    snprintf(conn, sizeof(conn), "%s/999999", gw);
    bf_inbox m = {.op = BF_OP_JOIN,
                  .channel = {CH, strlen(CH)},
                  .conn_id = {conn, strlen(conn)},
                  .user_id = {"ghost", 5},
                  .payload = {member, strlen(member)}};
    char *env;
    size_t len;
    cr_assert_eq(bf_wire_encode_inbox(&m, &env, &len), 0);
    free(bf_redis_query(C, "RPUSH belfry:pops:{" CH "} %b", env, len));
    free(bf_redis_query(C, "SADD belfry:{#}:ppending " CH));
    free(env);
    json_t *j = it_recv_event(obs, "presence:join", 8000, "obs");
    cr_expect_str_eq(member_id(j), "ghost", "the router applies the recorded join");
    json_decref(j);
    j = it_recv_event(obs, "presence:leave", 5000, "obs");
    cr_expect_str_eq(member_id(j), "ghost", "the reconciliation removes it through the leave path");
    json_decref(j);
    cr_expect_geq(repairs("presence_ghost"), 1);
    char *left = bf_redis_query(C, "HEXISTS belfry:presence:{" CH "} %s", conn);
    cr_expect_str_eq(left, "0");
    free(left);
    free(gw);
    bf_ws_close(obs);
}

Test(presence_reconcile, a_missing_entry_is_re_added_with_its_join)
{
    bf_ws *obs = join("obs"), *ann = join("ann");
    json_decref(it_recv_event(obs, "presence:join", 5000, "obs")); /* ann's real join */
    /* ann's entry lost behind the scripts' back (as with a Redis data loss) */
    char *fields = bf_redis_query(C, "HKEYS belfry:presence:{" CH "}");
    char conn[200] = "";
    for (char *save = NULL, *f = strtok_r(fields, "\n", &save); f;
         f = strtok_r(NULL, "\n", &save)) {
        char *v = bf_redis_query(C, "HGET belfry:presence:{" CH "} %s", f);
        if (strstr(v, "\"ann\"")) snprintf(conn, sizeof(conn), "%s", f);
        free(v);
    }
    free(fields);
    cr_assert(*conn, "ann's entry");
    free(bf_redis_query(C, "HDEL belfry:presence:{" CH "} %s", conn));
    free(bf_redis_query(C, "HDEL belfry:pusers:{" CH "} ann"));
    free(bf_redis_query(C, "ZREM belfry:phere:{" CH "} ann"));
    free(bf_redis_query(C, "HDEL belfry:prep:{" CH "} ann"));
    json_t *j = it_recv_event(obs, "presence:join", 5000, "obs");
    cr_expect_str_eq(member_id(j), "ann", "re-added through the join path");
    json_decref(j);
    cr_expect_geq(repairs("presence_missing"), 1);
    int status;
    char *body = it_http_get(C, "/presence/" CH, &status);
    cr_expect(strstr(body, "\"ann\""), "GET /presence lists ann again: %s", body);
    free(body);
    it_expect_silence(ann, 300, "ann (a rejoin sends no second presence:here)");
    bf_ws_close(ann);
    bf_ws_close(obs);
}

static bool count_is_two(void *arg)
{
    (void)arg;
    return it_conns_in_redis(C, CH) == 2;
}

Test(presence_reconcile, a_wrong_connection_count_is_set_right)
{
    bf_ws *a = join("ann"), *b = join("bob");
    cr_assert(bf_wait_for(count_is_two, NULL, 3000));
    char *gw = instance_id();
    free(bf_redis_query(C, "HSET belfry:conns:{" CH "} %s 42", gw));
    free(bf_redis_query(C, "SREM belfry:{#}:gwchans:%s " CH, gw));
    cr_expect(bf_wait_for(count_is_two, NULL, 5000), "the count is set back to 2");
    char *listed = bf_redis_query(C, "SISMEMBER belfry:{#}:gwchans:%s " CH, gw);
    cr_expect_str_eq(listed, "1", "and the channel is in gwchans again");
    free(listed);
    cr_expect_geq(repairs("conns"), 1);
    free(gw);
    bf_ws_close(a);
    bf_ws_close(b);
}

Test(presence_reconcile, a_join_refused_before_its_presence_here_is_repaired_with_one)
{
    bf_ws *obs = join("obs");
    char *gw = instance_id();
    /* the owners take the gateway for dead until its next heartbeat (as after a stall longer than
     * its ttl): the join of a connection opened now is refused, and it gets no presence:here */
    free(bf_redis_query(C, "ZREM belfry:{#}:gateways %s", gw));
    char *t = it_token("late", "[\"" CH "\"]", 600);
    char path[4096];
    snprintf(path, sizeof(path), "/ws/" CH "?token=%s", t);
    free(t);
    bf_ws *late = it_connect(C, 0, path, NULL);
    json_t *j = it_recv_event(late, "presence:here", 8000, "late");
    json_decref(j);
    j = it_recv_event(obs, "presence:join", 5000, "obs");
    cr_expect_str_eq(member_id(j), "late");
    json_decref(j);
    free(gw);
    bf_ws_close(late);
    bf_ws_close(obs);
}
