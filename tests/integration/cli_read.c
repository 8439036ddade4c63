/* Issue: admin CLI belfryctl — the read commands (presence, channels, nodes, owner) against a
 * live cluster of 3 routers and 2 gateways, checked through --json and the human tables. */
#include "cli_common.h"

static bf_cluster *C;

static void setup(void)
{
    bf_cluster_opts o = {.routers = 3, .gateways = 2, .jwt_secret = IT_SECRET};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly");
}

TestSuite(cli_read, .init = setup, .fini = teardown, .timeout = 90);

/* Connects user to a private/presence channel on gateway gw with a minted token. */
static bf_ws *join(int gw, const char *channel, const char *user, const char *info)
{
    char claims[1024], path[4096];
    snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"exp\":%lld,\"channels\":[\"%s\"]%s%s}",
             user, (long long)time(NULL) + 600, channel, info ? ",\"info\":" : "",
             info ? info : "");
    char *t = bf_mint_token(IT_SECRET, "HS256", claims);
    snprintf(path, sizeof(path), "/ws/%s?token=%s", channel, t);
    free(t);
    bf_ws *w = it_connect(C, gw, path, NULL);
    if (!strncmp(channel, "presence-", 9))
        json_decref(it_recv_event(w, "presence:here", 5000, user));
    return w;
}

typedef struct count_arg {
    const char *const *args; /* a command whose --json output has an integer "count" */
    long long want;
} count_arg;

static bool count_is(void *arg)
{
    count_arg *a = arg;
    cli_res r = cli_runv(NULL, NULL, a->args);
    json_t *j = r.status == 0 ? json_loads(r.out, 0, NULL) : NULL;
    bool ok = j && json_integer_value(json_object_get(j, "count")) == a->want;
    json_decref(j);
    cli_res_free(&r);
    return ok;
}

Test(cli_read, presence_lists_members_sorted_by_join_with_connection_counts)
{
    const char *ch = "presence-room.1";
    bf_ws *a = join(0, ch, "alice", "{\"name\":\"Alice\"}");
    usleep(5000); /* joinedAt has millisecond resolution */
    bf_ws *b1 = join(1, ch, "bob", NULL);
    bf_ws *b2 = join(0, ch, "bob", NULL);
    const char *args[] = {"presence", ch, "--redis", C->redis_url, "--json", NULL};
    count_arg ca = {args, 2};
    cr_assert(bf_wait_for(count_is, &ca, 5000), "presence never showed 2 members");

    json_t *j = cli_run_json("presence", ch, "--redis", C->redis_url);
    json_t *m = json_object_get(j, "members");
    cr_assert_eq(json_array_size(m), 2);
    json_t *m0 = json_array_get(m, 0), *m1 = json_array_get(m, 1);
    cr_expect_str_eq(json_string_value(json_object_get(m0, "id")), "alice");
    cr_expect_str_eq(json_string_value(json_object_get(m1, "id")), "bob");
    cr_expect_lt(json_integer_value(json_object_get(m0, "joinedAt")),
                 json_integer_value(json_object_get(m1, "joinedAt")));
    cr_expect_eq(json_integer_value(json_object_get(m0, "connections")), 1);
    cr_expect_eq(json_integer_value(json_object_get(m1, "connections")), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(m0, "info"), "name")),
                     "Alice");
    cr_expect(json_is_object(json_object_get(m1, "info")));
    cr_expect_eq(json_integer_value(json_object_get(j, "connections")), 3);
    cr_expect_str_eq(json_string_value(json_object_get(j, "channel")), ch);
    json_decref(j);

    /* the human table, with the Redis URL from the environment this time */
    char env[160];
    snprintf(env, sizeof(env), "BELFRY_REDIS_URL=%s", C->redis_url);
    cli_res r = cli_run_env(ENV(env), "presence", ch);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "USER") && strstr(r.out, "JOINED") && strstr(r.out, "INFO"), "%s",
              r.out);
    char *pa = strstr(r.out, "alice"), *pb = strstr(r.out, "bob");
    cr_expect(pa && pb && pa < pb, "alice must come before bob:\n%s", r.out);
    cr_expect(strstr(r.out, "{\"name\":\"Alice\"}"), "%s", r.out);
    cr_expect(strstr(r.out, "2 members, 3 connections"), "%s", r.out);
    cr_expect_null(strchr(r.out, '\033'), "no colour when stdout is not a terminal");
    cli_res_free(&r);

    bf_ws_close(b1);
    bf_ws_close(b2);
    ca.want = 1;
    cr_assert(bf_wait_for(count_is, &ca, 5000), "bob's leave never showed");
    bf_ws_close(a);
}

/* belfryctl presence reads the ordered index (phere/prep) and the users' connection counts
 * (pusers), where presence.lib.lua applies the rule, and rebuilds a missing index. */
Test(cli_read, presence_reads_the_index_and_rebuilds_a_missing_one)
{
    const char *ch = "presence-indexed";
    bf_ws *a = join(0, ch, "ann", NULL);
    usleep(5000);
    bf_ws *b = join(1, ch, "ben", NULL);
    const char *args[] = {"presence", ch, "--redis", C->redis_url, "--json", NULL};
    count_arg ca = {args, 2};
    cr_assert(bf_wait_for(count_is, &ca, 5000), "presence never showed 2 members");

    free(bf_redis_query(C, "HSET belfry:prep:{%s} ann %s", ch,
                        "{\"id\":\"ann\",\"joinedAt\":1,\"info\":{\"src\":\"index\"}}"));
    free(bf_redis_query(C, "HSET belfry:pusers:{%s} ben 5", ch));
    json_t *j = cli_run_json("presence", ch, "--redis", C->redis_url);
    json_t *m0 = json_array_get(json_object_get(j, "members"), 0),
           *m1 = json_array_get(json_object_get(j, "members"), 1);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(m0, "info"), "src")),
                     "index");
    cr_expect_eq(json_integer_value(json_object_get(m0, "joinedAt")), 1);
    cr_expect_eq(json_integer_value(json_object_get(m1, "connections")), 5);
    cr_expect_eq(json_integer_value(json_object_get(j, "connections")), 6);
    json_decref(j);
    free(bf_redis_query(C, "HSET belfry:pusers:{%s} ben 1", ch));

    free(bf_redis_query(C, "DEL belfry:phere:{%s} belfry:prep:{%s}", ch, ch));
    j = cli_run_json("presence", ch, "--redis", C->redis_url);
    cr_expect_eq(json_array_size(json_object_get(j, "members")), 2);
    cr_expect_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "members"), 0), "id")),
        "ann");
    json_decref(j);
    char *n = bf_redis_query(C, "ZCARD belfry:phere:{%s}", ch);
    cr_expect_str_eq(n, "2", "belfryctl presence rebuilt the index");
    free(n);

    bf_ws_close(a);
    bf_ws_close(b);
    ca.want = 0;
    cr_assert(bf_wait_for(count_is, &ca, 5000), "the leaves never showed");
}

Test(cli_read, presence_of_an_unknown_or_public_channel_is_an_empty_result)
{
    json_t *j = cli_run_json("presence", "presence-nobody", "--redis", C->redis_url);
    cr_expect_eq(json_integer_value(json_object_get(j, "count")), 0);
    cr_expect_eq(json_array_size(json_object_get(j, "members")), 0);
    json_decref(j);
    /* global options before the command (the README's belfryctl --redis URL presence X) */
    j = cli_run_json("--redis", C->redis_url, "presence", "presence-nobody");
    cr_expect_eq(json_integer_value(json_object_get(j, "count")), 0);
    json_decref(j);
    cli_res r = cli_run("presence", "news", "--redis", C->redis_url);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "0 members"), "%s", r.out);
    cr_expect(strstr(r.err, "public channel"), "a note explains why: %s", r.err);
    cli_res_free(&r);
}

static json_t *find_channel(json_t *list, const char *name)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i);
        if (!strcmp(json_string_value(json_object_get(e, "channel")), name)) return e;
    }
    return NULL;
}

Test(cli_read, channels_lists_subscribers_members_and_ring_owners)
{
    bf_ws *n0 = it_connect(C, 0, "/ws/news", NULL), *n1 = it_connect(C, 1, "/ws/news", NULL);
    bf_ws *n2 = it_connect(C, 1, "/ws/news", NULL);
    bf_ws *o = join(0, "private-orders.1", "ops", NULL);
    bf_ws *p1 = join(0, "presence-lobby", "ann", NULL),
          *p2 = join(1, "presence-lobby", "ben", NULL);
    const char *args[] = {"channels", "--redis", C->redis_url, "--json", NULL};
    count_arg ca = {args, 3};
    cr_assert(bf_wait_for(count_is, &ca, 5000), "channels never listed 3 channels");

    json_t *j = cli_run_json("channels", "--redis", C->redis_url);
    json_t *list = json_object_get(j, "channels");
    bf_ring *ring = cli_ring(C, "belfry:");
    struct {
        const char *name, *type;
        int subs, members;
    } want[] = {{"news", "public", 3, -1},
                {"presence-lobby", "presence", 2, 2},
                {"private-orders.1", "private", 1, -1}};
    cr_assert_eq(json_array_size(list), 3, "%s", json_dumps(j, 0));
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(list, i); /* sorted by name */
        cr_expect_str_eq(json_string_value(json_object_get(e, "channel")), want[i].name);
        cr_expect_str_eq(json_string_value(json_object_get(e, "type")), want[i].type);
        cr_expect_eq(json_integer_value(json_object_get(e, "subscribers")), want[i].subs, "%s",
                     want[i].name);
        if (want[i].members < 0)
            cr_expect(json_is_null(json_object_get(e, "members")), "%s", want[i].name);
        else
            cr_expect_eq(json_integer_value(json_object_get(e, "members")), want[i].members);
        const char *owner = bf_ring_owner(ring, want[i].name, strlen(want[i].name));
        cr_expect_str_eq(json_string_value(json_object_get(e, "owner")), owner, "%s", want[i].name);
    }
    char *epoch = bf_redis_query(C, "GET belfry:{#}:ring:epoch");
    cr_expect_eq(json_integer_value(json_object_get(j, "epoch")), atoll(epoch));
    free(epoch);
    json_decref(j);

    j = cli_run_json("channels", "--redis", C->redis_url, "--type", "presence");
    cr_expect_eq(json_integer_value(json_object_get(j, "count")), 1);
    cr_expect_not_null(find_channel(json_object_get(j, "channels"), "presence-lobby"));
    json_decref(j);
    j = cli_run_json("channels", "--redis", C->redis_url, "--pattern", "*orders*");
    cr_expect_eq(json_integer_value(json_object_get(j, "count")), 1);
    cr_expect_not_null(find_channel(json_object_get(j, "channels"), "private-orders.1"));
    json_decref(j);

    cli_res r = cli_run("channels", "--redis", C->redis_url);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "CHANNEL") && strstr(r.out, "SUBSCRIBERS") && strstr(r.out, "OWNER"));
    cr_expect(strstr(r.out, "3 channels, 6 subscribers"), "%s", r.out);
    cli_res_free(&r);

    bf_ring_free(ring);
    bf_ws_close(n1);
    bf_ws_close(n2);
    bf_ws_close(p2);
    bf_ws_close(n0);
    bf_ws_close(o);
    bf_ws_close(p1);
}

static json_t *node(json_t *nodes, const char *id_prefix)
{
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *e = json_array_get(nodes, i);
        const char *id = json_string_value(json_object_get(e, "id"));
        if (!strncmp(id, id_prefix, strlen(id_prefix))) return e;
    }
    return NULL;
}

typedef struct gw_arg {
    const char *id_prefix, *field;
    const char *want_status;
    long long want_int;
} gw_arg;

static bool gw_is(void *arg)
{
    gw_arg *a = arg;
    cli_res r = cli_run("nodes", "--redis", C->redis_url, "--json");
    json_t *j = r.status == 0 ? json_loads(r.out, 0, NULL) : NULL;
    json_t *n = node(json_object_get(j, "nodes"), a->id_prefix);
    bool ok = n && (a->want_status
                        ? !strcmp(json_string_value(json_object_get(n, "status")), a->want_status)
                        : json_integer_value(json_object_get(n, a->field)) == a->want_int);
    json_decref(j);
    cli_res_free(&r);
    return ok;
}

Test(cli_read, nodes_lists_the_routers_and_gateways_with_their_load)
{
    bf_ws *w = it_connect(C, 0, "/ws/news", NULL);
    gw_arg conns = {"gw-0.", "connections", NULL, 1};
    cr_assert(bf_wait_for(gw_is, &conns, 5000), "gw-0 never reported 1 connection");

    json_t *j = cli_run_json("nodes", "--redis", C->redis_url);
    json_t *nodes = json_object_get(j, "nodes");
    cr_assert_eq(json_array_size(nodes), 5, "%s", json_dumps(j, 0));
    long long owned = 0;
    for (int i = 0; i < 3; i++) {
        json_t *n = json_array_get(nodes, (size_t)i); /* routers first, sorted by id */
        char id[16], addr[64];
        snprintf(id, sizeof(id), "rt-%d", i);
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", C->routers[i].port);
        cr_expect_str_eq(json_string_value(json_object_get(n, "id")), id);
        cr_expect_str_eq(json_string_value(json_object_get(n, "kind")), "router");
        cr_expect_str_eq(json_string_value(json_object_get(n, "status")), "live");
        cr_expect_str_eq(json_string_value(json_object_get(n, "address")), addr);
        cr_expect_eq(json_integer_value(json_object_get(n, "pid")), C->routers[i].pid);
        cr_expect_geq(json_integer_value(json_object_get(n, "uptime_ms")), 0);
        cr_expect_leq(json_integer_value(json_object_get(n, "heartbeat_age_ms")), 2500);
        owned += json_integer_value(json_object_get(n, "owned_channels"));
    }
    cr_expect_eq(owned, json_integer_value(json_object_get(j, "active_channels")));
    cr_expect_eq(json_integer_value(json_object_get(j, "active_channels")), 1);
    for (int i = 0; i < 2; i++) {
        char id[16], addr[64];
        snprintf(id, sizeof(id), "gw-%d.", i);
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", C->gateways[i].port);
        json_t *n = node(nodes, id);
        cr_assert_not_null(n, "%s missing", id);
        cr_expect_str_eq(json_string_value(json_object_get(n, "kind")), "gateway");
        cr_expect_str_eq(json_string_value(json_object_get(n, "status")), "live");
        cr_expect_str_eq(json_string_value(json_object_get(n, "address")), addr);
        cr_expect_eq(json_integer_value(json_object_get(n, "connections")), i == 0 ? 1 : 0);
    }
    json_decref(j);

    cli_res r = cli_run("nodes", "--redis", C->redis_url);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "3 routers (3 live), 2 gateways (2 live), 0 flagged"), "%s", r.out);
    cr_expect(strstr(r.out, "rt-2") && strstr(r.out, "gw-1."), "%s", r.out);
    cli_res_free(&r);
    bf_ws_close(w);
}

Test(cli_read, nodes_flags_a_gateway_that_stops_heartbeating)
{
    cr_assert_eq(bf_cluster_signal_gateway(C, 1, SIGSTOP), 0);
    gw_arg stale = {"gw-1.", NULL, "stale", 0};
    bool seen = bf_wait_for(gw_is, &stale, 6000);
    bf_cluster_signal_gateway(C, 1, SIGCONT);
    cr_assert(seen, "a stopped gateway was never flagged stale");
    gw_arg live = {"gw-1.", NULL, "live", 0};
    cr_assert(bf_wait_for(gw_is, &live, 8000), "the resumed gateway is not live again");
}

Test(cli_read, expired_and_stale_members_are_flagged_and_not_counted)
{
    /* a prefix no daemon uses, so nothing removes the dead entries while we look */
    char *t = bf_redis_query(C, "TIME");
    long long now = atoll(t) * 1000 + atoll(strchr(t, '\n') + 1) / 1000;
    free(t);
    free(bf_redis_query(C, "ZADD fake:{#}:routers %lld rt-dead %lld rt-ok", now - 1000,
                        now + 60000));
    free(bf_redis_query(C, "ZADD fake:{#}:gateways %lld gw-slow", now + 20000));
    free(bf_redis_query(
        C, "HSET fake:{#}:node:rt-ok kind router address 10.0.0.1:8090 last_seen_ms %lld",
        now - 1000));
    free(bf_redis_query(
        C, "HSET fake:{#}:node:gw-slow kind gateway connections 7 last_seen_ms %lld", now - 40000));
    /* connections on an expired gateway do not count, before any sweep removes them */
    free(bf_redis_query(C, "ZADD fake:{#}:gateways %lld gw-dead", now - 1000));
    free(bf_redis_query(C, "HSET fake:conns:{news} gw-slow 2 gw-dead 5"));
    json_t *j = cli_run_json("channels", "--redis", C->redis_url, "--redis-prefix", "fake:");
    json_t *news = find_channel(json_object_get(j, "channels"), "news");
    cr_assert_not_null(news);
    cr_expect_eq(json_integer_value(json_object_get(news, "subscribers")), 2);
    cr_expect_str_eq(json_string_value(json_object_get(news, "owner")), "rt-ok");
    json_decref(j);

    j = cli_run_json("nodes", "--redis", C->redis_url, "--redis-prefix", "fake:");
    json_t *nodes = json_object_get(j, "nodes");
    cr_assert_eq(json_array_size(nodes), 4);
    cr_expect_str_eq(json_string_value(json_object_get(node(nodes, "rt-dead"), "status")),
                     "expired");
    cr_expect_str_eq(json_string_value(json_object_get(node(nodes, "rt-ok"), "status")), "live");
    cr_expect_str_eq(json_string_value(json_object_get(node(nodes, "gw-slow"), "status")), "stale");
    cr_expect_eq(json_integer_value(json_object_get(node(nodes, "gw-slow"), "connections")), 7);
    cr_expect(json_is_null(json_object_get(node(nodes, "rt-dead"), "address")));
    json_decref(j);
    cli_res r = cli_run("nodes", "--redis", C->redis_url, "--redis-prefix", "fake:");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "expired") && strstr(r.out, "stale"), "%s", r.out);
    cr_expect(strstr(r.out, "2 routers (1 live), 2 gateways (1 live), 3 flagged"), "%s", r.out);
    cli_res_free(&r);
}

Test(cli_read, owner_is_the_ring_owner_at_the_current_epoch)
{
    bf_ring *ring = cli_ring(C, "belfry:");
    char *epoch = bf_redis_query(C, "GET belfry:{#}:ring:epoch");
    const char *channels[] = {"news", "presence-room.1", "private-orders.42", "a", "z.9"};
    for (size_t i = 0; i < sizeof(channels) / sizeof(*channels); i++) {
        json_t *j = cli_run_json("owner", channels[i], "--redis", C->redis_url);
        cr_expect_str_eq(json_string_value(json_object_get(j, "owner")),
                         bf_ring_owner(ring, channels[i], strlen(channels[i])), "%s", channels[i]);
        cr_expect_eq(json_integer_value(json_object_get(j, "epoch")), atoll(epoch));
        cr_expect_eq(json_array_size(json_object_get(j, "routers")), 3);
        json_decref(j);
    }
    cli_res r = cli_run("owner", "news", "--redis", C->redis_url);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, bf_ring_owner(ring, "news", 4)), "%s", r.out);
    cr_expect(strstr(r.out, epoch), "%s", r.out);
    cli_res_free(&r);
    free(epoch);
    bf_ring_free(ring);

    r = cli_run("owner", "news", "--redis", C->redis_url, "--redis-prefix", "empty:", "--json");
    cr_expect_eq(r.status, 1, "no live router: exit 1, got %d", r.status);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_expect(json_is_null(json_object_get(j, "owner")), "%s", r.out);
    cr_expect(strstr(r.err, "no live router"), "%s", r.err);
    json_decref(j);
    cli_res_free(&r);
}

Test(cli_read, history_lists_retained_messages)
{
    for (int i = 1; i <= 4; i++) {
        char body[64];
        snprintf(body, sizeof(body), "{\"event\":\"H%d\",\"data\":{\"i\":%d}}", i, i);
        it_publish(C, "histy", body);
    }
    json_t *j = cli_run_json("history", "histy", "--since", "1", "--redis", C->redis_url);
    cr_expect_eq(json_integer_value(json_object_get(j, "seq")), 4);
    json_t *m = json_object_get(j, "messages");
    cr_assert_eq(json_array_size(m), 3);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(m, 0), "seq")), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(m, 2), "event")), "H4");
    char *epoch = bf_redis_query(C, "GET belfry:epoch:{histy}");
    cr_expect_str_eq(json_string_value(json_object_get(j, "epoch")), epoch);
    free(epoch);
    json_decref(j);
    cli_res r = cli_run("history", "histy", "--limit", "2", "--redis", C->redis_url);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "H1") && strstr(r.out, "H2") && !strstr(r.out, "H3"), "%s", r.out);
    cli_res_free(&r);
    r = cli_run("history", "no-such-channel", "--redis", C->redis_url);
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "0 message(s)"), "%s", r.out);
    cli_res_free(&r);
    r = cli_run("history", "bad name", "--redis", C->redis_url);
    cr_expect_eq(r.status, 2);
    cli_res_free(&r);
}
