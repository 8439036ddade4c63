/* common/resp.c's routing: which slot a command goes to (the first key; EVAL/EVALSHA's
 * first declared key; XREAD's first stream; the channel of SPUBLISH; any node for PUBLISH and
 * keyless commands), read from the command exactly as hiredis formats it; and the redirect parser.
 * The real cluster is in tests/integration/rcluster*.c. */
#include "common/err.h"
#include "common/rcluster_int.h"

#include <criterion/criterion.h>

/* The slot bf_redis_cmdargv's command would go to. */
static int route(int argc, const char **argv)
{
    char *cmd;
    int len = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    cr_assert_gt(len, 0);
    bf_resp_arg a[SUB_ARGS_MAX];
    int n = bf_resp_args(cmd, (size_t)len, a, SUB_ARGS_MAX);
    cr_assert_eq(n, argc, "every argument read back");
    for (int i = 0; i < n && i < SUB_ARGS_MAX; i++)
        cr_assert(a[i].len == strlen(argv[i]) && !memcmp(a[i].p, argv[i], a[i].len), "arg %d", i);
    int s = bf_resp_slot_of(a, n);
    free(cmd);
    return s;
}

static int slot(const char *key)
{
    return (int)bf_slot_of_key(key, strlen(key));
}

#define R(...)                                                                                     \
    route((int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)),                           \
          (const char *[]){__VA_ARGS__})

Test(rcluster_route, the_first_key)
{
    cr_expect_eq(R("GET", "foo"), 12182); /* CLUSTER KEYSLOT foo */
    cr_expect_eq(R("SET", "bar", "1"), 5061);
    cr_expect_eq(R("HSET", "belfry:seq:{news}", "f", "v"), slot("news"), "hash tag");
    cr_expect_eq(R("MGET", "{u}a", "{u}b"), slot("u"));
    /* a binary key with spaces and CRLF stays one argument */
    cr_expect_eq(R("GET", "a b\r\nc"), slot("a b\r\nc"));
}

Test(rcluster_route, scripts_go_to_their_first_declared_key)
{
    cr_expect_eq(R("EVALSHA", "0123456789012345678901234567890123456789", "2", "{ch}k1", "k2", "a"),
                 slot("ch"));
    cr_expect_eq(R("EVAL", "return 1", "1", "foo"), 12182);
    cr_expect_eq(R("EVAL", "return 1", "0", "notakey"), -1, "no key declared: any node");
    cr_expect_eq(
        R("EVALSHA", "x", "12", "hello", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"),
        866, "two-digit numkeys");
    cr_expect_eq(R("FCALL", "fn", "1", "bar"), 5061);
}

Test(rcluster_route, pubsub_and_keyless)
{
    cr_expect_eq(R("SPUBLISH", "hello", "msg"), 866, "the shard channel's slot");
    cr_expect_eq(R("PUBLISH", "hello", "msg"), -1, "a cluster broadcasts PUBLISH: any node");
    cr_expect_eq(R("PING"), -1);
    cr_expect_eq(R("INFO", "replication"), -1);
    cr_expect_eq(R("CLUSTER", "SLOTS"), -1);
    cr_expect_eq(R("SCRIPT", "LOAD", "return 1"), -1, "keyless (the transport broadcasts it)");
    cr_expect_eq(R("AUTH", "user", "pass"), -1);
    cr_expect_eq(R("MULTI"), -1);
    cr_expect_eq(R("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "{w}s", ">"),
                 slot("w"));
    cr_expect_eq(R("XREAD", "STREAMS", "foo", "0"), 12182);
}

Test(rcluster_route, malformed_resp_is_not_read_past_its_end)
{
    bf_resp_arg a[4];
    cr_expect_eq(bf_resp_args("", 0, a, 4), 0);
    cr_expect_eq(bf_resp_args("PING\r\n", 6, a, 4), 0, "inline commands are not RESP");
    const char *cut = "*2\r\n$3\r\nGET\r\n$10\r\nabc";
    cr_expect_eq(bf_resp_args(cut, strlen(cut), a, 4), 1, "the truncated argument is not read");
}

Test(rcluster_route, redirect_targets)
{
    bf_redis_url u = {.kind = BF_REDIS_URL_CLUSTER, .nseeds = 1};
    snprintf(u.seeds[0].host, sizeof(u.seeds[0].host), "127.0.0.1");
    u.seeds[0].port = 1;
    bf_redis_opts o = {.url = &u, .name = "t"};
    bf_rcluster *c = bf_rcluster_new(NULL, &o);
    int s = -1;
    rcl_node *n = bf__rcluster_redirect_target(c, "MOVED 3999 10.0.0.7:6381", &s);
    cr_assert_not_null(n);
    cr_expect_eq(s, 3999);
    cr_expect_str_eq(n->host, "10.0.0.7");
    cr_expect_eq(n->port, 6381);
    cr_expect_eq(bf__rcluster_redirect_target(c, "ASK 1 10.0.0.7:6381", &s), n,
                 "the same node, not a new one");
    n = bf__rcluster_redirect_target(c, "ASK 12 ::1:7000", &s);
    cr_assert_not_null(n);
    cr_expect_str_eq(n->host, "::1", "an IPv6 address: the port is after the last colon");
    cr_expect_null(bf__rcluster_redirect_target(c, "MOVED 99999 h:1", &s), "slot out of range");
    cr_expect_null(bf__rcluster_redirect_target(c, "MOVED", &s));
    bf_redis_cluster_stats st;
    bf_rcluster_stats(c, &st);
    cr_expect_eq(st.nodes, 3, "the seed and two redirect targets");
    bf_rcluster_free(c);
}

Test(rcluster_route, cluster_stats_only_for_a_cluster_link)
{
    bf_redis_url u;
    char err[128];
    cr_assert_eq(bf_parse_redis_url("redis://127.0.0.1:1", &u, err, sizeof(err)), 0);
    bf_redis_opts o = {.url = &u, .name = "t"};
    bf_redis *r = bf_redis_new(&o);
    bf_redis_cluster_stats st;
    cr_expect_eq(bf_redis_cluster_stats_get(r, &st), BF_EINVAL);
    bf_redis_free(r);
    cr_assert_eq(bf_parse_redis_url("cluster://127.0.0.1:1,127.0.0.1:2", &u, err, sizeof(err)), 0);
    r = bf_redis_new(&o);
    cr_expect_eq(bf_redis_cluster_stats_get(r, &st), 0);
    cr_expect_eq(st.nodes, 2, "a link per seed, DOWN until the first tick");
    cr_expect_not(bf_redis_ready(r));
    cr_expect_eq(bf_redis_cmd(r, NULL, NULL, "GET %s", "k"), BF_EDISCONNECTED,
                 "not READY before the slot map is read");
    bf_redis_free(r);
}
