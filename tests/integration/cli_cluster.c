/* belfryctl with --redis cluster://... against the harness' real three-primary cluster. The
 * cluster's state is written with hiredis in the key schema (common/redis_keys.h), each key on the
 * node owning its slot, as routers and gateways write it: membership zsets and node hashes in the
 * "{#}" slot, channels spread over every primary (conns, presence and pusers hashes, a history
 * stream). Then the real binary reads it back through the cluster: channels (SCAN on every
 * primary), nodes, owner, presence (the script's single-slot form), history; publish reaches an
 * ingress subscriber on another node (a cluster forwards PUBLISH); kick records its operation in
 * the channel's slot and the channel in the ppending set; tail finds its gateway through the
 * cluster. */
#include "cli_common.h"
#include "common/redis_keys.h"
#include "common/slot.h"
#include "redis_cluster.h"

#include <stdarg.h>

#define P "belfry:"

static bf_rcl T;
static redisContext *sub;

static void fini(void)
{
    if (sub) redisFree(sub);
    sub = NULL;
    bf_rcl_stop(&T);
}

TestSuite(cli_cluster, .timeout = 120, .fini = fini);

/* A command on the node owning key's slot; asserts a non-error reply. */
static void on_owner(const char *key, const char *fmt, ...)
{
    int o = bf_rcl_owner(&T, bf_slot_of_key(key, strlen(key)));
    cr_assert_geq(o, 0);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = bf_redis_vcommand_at(T.nodes[o].port, 2, fmt, ap);
    va_end(ap);
    cr_assert(r && r->type != REDIS_REPLY_ERROR, "%s: %s", fmt, r ? r->str : "no reply");
    freeReplyObject(r);
}

static int owner_of_channel(const char *ch)
{
    char key[BF_KEY_MAX];
    bf_key(key, P, BF_KEY_CONNS, ch);
    return bf_rcl_owner(&T, bf_slot_of_key(key, strlen(key)));
}

#define NPUB 3
static char pub[NPUB][32]; /* public channels, one per primary */
static const char *pres = NULL;
static char pres_name[32];
static int gw_port;

static void write_state(void)
{
    redisReply *t = bf_rcl_cmd(&T, 0, "TIME");
    cr_assert(t && t->type == REDIS_REPLY_ARRAY);
    long long now = atoll(t->element[0]->str) * 1000 + atoll(t->element[1]->str) / 1000;
    freeReplyObject(t);
    char k[BF_KEY_MAX];
    bf_key(k, P, BF_KEY_ROUTERS, NULL);
    on_owner(k, "ZADD %s %lld rt-a %lld rt-b", k, now + 60000, now + 60000);
    bf_key(k, P, BF_KEY_GATEWAYS, NULL);
    on_owner(k, "ZADD %s %lld gw-1", k, now + 60000);
    bf_key(k, P, BF_KEY_RING_EPOCH, NULL);
    on_owner(k, "SET %s 5", k);
    gw_port = bf_free_port(); /* nothing listens there: tail must fail reaching it */
    const char *ids[] = {"rt-a", "rt-b", "gw-1"};
    for (int i = 0; i < 3; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", i == 2 ? gw_port : 18090 + i);
        bf_key(k, P, BF_KEY_NODE, ids[i]);
        on_owner(k,
                 "HSET %s kind %s address %s pid 1 version t started_ms %lld last_seen_ms %lld "
                 "connections 6",
                 k, i == 2 ? "gateway" : "router", addr, now - 1000, now);
    }
    /* a public channel on every primary, with 1, 2, 3 connections on gw-1 */
    int n = 0;
    for (int i = 0; n < NPUB && i < 1000; i++) {
        char ch[32];
        snprintf(ch, sizeof(ch), "news.%d", i);
        bool taken = false;
        for (int j = 0; j < n; j++) taken |= owner_of_channel(pub[j]) == owner_of_channel(ch);
        if (taken) continue;
        snprintf(pub[n], sizeof(pub[n]), "%s", ch);
        bf_key(k, P, BF_KEY_CONNS, ch);
        on_owner(k, "HSET %s gw-1 %d", k, n + 1);
        n++;
    }
    cr_assert_eq(n, NPUB, "a channel on every primary");
    /* a presence channel: alice (joined first) and bob */
    snprintf(pres_name, sizeof(pres_name), "presence-room.1");
    pres = pres_name;
    bf_key(k, P, BF_KEY_PRESENCE, pres);
    on_owner(k, "HSET %s gw-1/1 %s gw-1/2 %s", k,
             "{\"id\":\"alice\",\"joinedAt\":1000,\"info\":{\"name\":\"Alice\"}}",
             "{\"id\":\"bob\",\"joinedAt\":2000,\"info\":{}}");
    bf_key(k, P, BF_KEY_PUSERS, pres);
    on_owner(k, "HSET %s alice 1 bob 1", k);
    bf_key(k, P, BF_KEY_CONNS, pres);
    on_owner(k, "HSET %s gw-1 2", k);
    /* history of pub[0]: two frames */
    bf_seq_keys s;
    bf_key_seq_keys(&s, P, pub[0]);
    on_owner(s.seq, "SET %s 2", s.seq);
    on_owner(s.epoch, "SET %s e-1", s.epoch);
    on_owner(s.hist, "XADD %s 1-1 f %s", s.hist, "{\"event\":\"A\",\"data\":{\"n\":1},\"seq\":1}");
    on_owner(s.hist, "XADD %s 2-1 f %s", s.hist, "{\"event\":\"B\",\"data\":\"two\",\"seq\":2}");
}

static const char *ring_owner(const char *ch)
{
    static char out[16];
    bf_ring *r = bf_ring_new();
    const char *ids[] = {"rt-a", "rt-b"};
    bf_ring_set(r, ids, 2, 5);
    snprintf(out, sizeof(out), "%s", bf_ring_owner(r, ch, strlen(ch)));
    bf_ring_free(r);
    return out;
}

Test(cli_cluster, read_commands_see_every_primary)
{
    cr_assert_eq(bf_rcl_start(&T), 0, "the redis cluster did not start");
    write_state();
    const char *url = T.url;

    json_t *j = cli_run_json("channels", "--redis", url);
    cr_expect_eq(json_integer_value(json_object_get(j, "count")), NPUB + 1, "%s", json_dumps(j, 0));
    cr_expect_eq(json_integer_value(json_object_get(j, "epoch")), 5);
    size_t i;
    json_t *c;
    long long subs = 0;
    json_array_foreach(json_object_get(j, "channels"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "channel"));
        subs += json_integer_value(json_object_get(c, "subscribers"));
        cr_expect_str_eq(json_string_value(json_object_get(c, "owner")), ring_owner(name), "%s",
                         name);
        if (!strcmp(name, pres)) cr_expect_eq(json_integer_value(json_object_get(c, "members")), 2);
    }
    cr_expect_eq(subs, 1 + 2 + 3 + 2, "every primary's channels counted");
    json_decref(j);

    j = cli_run_json("nodes", "--redis", url);
    json_t *nodes = json_object_get(j, "nodes");
    cr_expect_eq(json_array_size(nodes), 3);
    json_array_foreach(nodes, i, c)
    {
        cr_expect_str_eq(json_string_value(json_object_get(c, "status")), "live");
        cr_expect(json_is_string(json_object_get(c, "address")), "node info read");
    }
    cr_expect_eq(json_integer_value(json_object_get(j, "active_channels")), NPUB + 1);
    json_decref(j);

    j = cli_run_json("owner", pub[1], "--redis", url);
    cr_expect_str_eq(json_string_value(json_object_get(j, "owner")), ring_owner(pub[1]));
    json_decref(j);

    j = cli_run_json("presence", pres, "--redis", url);
    cr_expect_eq(json_integer_value(json_object_get(j, "count")), 2);
    cr_expect_eq(json_integer_value(json_object_get(j, "connections")), 2);
    json_t *m = json_object_get(j, "members");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "id")), "alice");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(m, 1), "id")), "bob");
    json_decref(j);

    j = cli_run_json("history", pub[0], "--redis", url);
    cr_expect_eq(json_integer_value(json_object_get(j, "seq")), 2);
    cr_expect_str_eq(json_string_value(json_object_get(j, "epoch")), "e-1");
    json_t *msgs = json_object_get(j, "messages");
    cr_expect_eq(json_array_size(msgs), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(msgs, 1), "event")), "B");
    json_decref(j);

    /* the same through the environment, a seed that is down first, and a table for people */
    char env[700];
    snprintf(env, sizeof(env), "BELFRY_REDIS_URL=cluster://127.0.0.1:%d,%s", bf_free_port(),
             url + 10);
    cli_res r = cli_run_env(ENV(env), "presence", pres);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "2 members, 2 connections"), "%s", r.out);
    cli_res_free(&r);
}

Test(cli_cluster, publish_kick_and_tail)
{
    cr_assert_eq(bf_rcl_start(&T), 0, "the redis cluster did not start");
    write_state();
    /* an ingress subscriber, as a router's, on a node other than the first seed */
    sub = redisConnect("127.0.0.1", T.nodes[1].port);
    cr_assert(sub && !sub->err);
    redisReply *r0 = redisCommand(sub, "PSUBSCRIBE %s", P "publish:*");
    cr_assert_not_null(r0);
    freeReplyObject(r0);

    cli_res r = cli_run("publish", pub[2], "Hello", "{\"a\":1}", "--redis", T.url);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "published Hello to"), "%s", r.out);
    cli_res_free(&r);
    struct timeval tv = {5, 0};
    redisSetTimeout(sub, tv);
    void *got = NULL;
    cr_assert_eq(redisGetReply(sub, &got), REDIS_OK, "the publish reached another node");
    redisReply *msg = got;
    cr_assert(msg->type == REDIS_REPLY_ARRAY && msg->elements == 4);
    char subject[BF_KEY_MAX];
    bf_key(subject, P, BF_KEY_PUBLISH, pub[2]);
    cr_expect_str_eq(msg->element[2]->str, subject);
    json_t *body = json_loads(msg->element[3]->str, 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(body, "event")), "Hello");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(body, "data"), "a")), 1);
    json_decref(body);
    freeReplyObject(msg);

    /* another app's channel: its own ingress subject, the default app read from the {#} slot */
    r = cli_run("publish", pub[2], "Hi", "--app", "1002", "--redis", T.url);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cli_res_free(&r);
    cr_assert_eq(redisGetReply(sub, &got), REDIS_OK, "the app's publish reached another node");
    msg = got;
    char scoped[64];
    snprintf(scoped, sizeof(scoped), "1002/%s", pub[2]);
    bf_key(subject, P, BF_KEY_PUBLISH, scoped);
    cr_expect_str_eq(msg->element[2]->str, subject);
    freeReplyObject(msg);

    /* with no live router under the prefix (and nobody on the node it reached), exit 1 */
    r = cli_run("publish", pub[2], "Hello", "--redis", T.url, "--redis-prefix", "nobody:");
    cr_expect_eq(r.status, 1, "%s", r.err);
    cr_expect(strstr(r.err, "no router is live"), "%s", r.err);
    cli_res_free(&r);
    /* a reserved event name: exit 2 before anything is sent */
    r = cli_run("publish", pub[2], "presence:join", "--redis", T.url);
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect(strstr(r.err, "bad_event"), "%s", r.err);
    cli_res_free(&r);

    /* kick: recorded in the channel's slot (pops:{channel}), then the channel indexed in the
     * cluster-wide ppending set, where the owners' sweep finds it */
    r = cli_run("kick", pres, "alice", "--redis", T.url, "--reason", "bye");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "kick of alice on"), "%s", r.out);
    cli_res_free(&r);
    char pops[BF_KEY_MAX], pp[BF_KEY_MAX];
    bf_key(pops, P, BF_KEY_POPS, pres);
    bf_key(pp, P, BF_KEY_PPENDING, NULL);
    redisReply *k =
        bf_rcl_cmd(&T, bf_rcl_owner(&T, bf_slot_of_key(pops, strlen(pops))), "LLEN %s", pops);
    cr_expect(k && k->type == REDIS_REPLY_INTEGER && k->integer == 1, "one operation queued");
    freeReplyObject(k);
    k = bf_rcl_cmd(&T, bf_rcl_owner(&T, bf_slot_of_key(pp, strlen(pp))), "SISMEMBER %s %s", pp,
                   pres);
    cr_expect(k && k->type == REDIS_REPLY_INTEGER && k->integer == 1, "the channel is pending");
    freeReplyObject(k);

    /* tail finds the gateway gw-1 registered (through the cluster) and tries it: closed */
    char want[64];
    snprintf(want, sizeof(want), "ws://127.0.0.1:%d/ws/%s", gw_port, pub[0]);
    r = cli_run("tail", pub[0], "--redis", T.url, "--timeout-ms", "1000");
    cr_expect_eq(r.status, 3, "%s", r.err);
    cr_expect(strstr(r.err, want), "tail tried the registered gateway %s: %s", want, r.err);
    cli_res_free(&r);
}
