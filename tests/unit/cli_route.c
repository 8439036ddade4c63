/* belfryctl's Redis Cluster routing (cli/route.c): the slot each command goes to, as hiredis
 * formats it; MOVED/ASK parsing; CLUSTER SLOTS parsing (fed as RESP through hiredis' reader, the
 * bytes a node sends). The redirects themselves are followed against a real cluster in
 * tests/integration/cli_cluster_route.c. */
#include "cli/route.c"
#include "common/redis_keys.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* The slot of a command formatted by hiredis from fmt and its arguments. */
#define SLOT_OF(...)                                                                               \
    ({                                                                                             \
        char *c_ = NULL;                                                                           \
        int l_ = redisFormatCommand(&c_, __VA_ARGS__);                                             \
        cr_assert_gt(l_, 0);                                                                       \
        int s_ = bf_cli_route_slot(c_, (size_t)l_);                                                \
        free(c_);                                                                                  \
        s_;                                                                                        \
    })

Test(cli_route, keyed_commands_go_to_their_keys_slot)
{
    /* the specification's vector: CRC16("123456789") = 0x31C3 */
    cr_expect_eq(SLOT_OF("GET %s", "123456789"), 0x31C3 % BF_SLOT_COUNT);
    unsigned news = bf_slot_of_key("news", 4);
    char k[BF_KEY_MAX];
    bf_key(k, "belfry:", BF_KEY_HIST, "news");
    cr_expect_eq(SLOT_OF("XRANGE %s 1-0 + COUNT 10", k), (int)news, "hist:{news} is news' slot");
    bf_key(k, "belfry:", BF_KEY_CONNS, "news");
    cr_expect_eq(SLOT_OF("hgetall %s", k), (int)news, "lower case verbs too");
    bf_key(k, "belfry:", BF_KEY_ROUTERS, NULL);
    cr_expect_eq(SLOT_OF("ZRANGE %s 0 -1 WITHSCORES", k), (int)bf_slot_of_key("#", 1));
    /* a value with spaces stays one argument (%s), and only the key is hashed */
    cr_expect_eq(SLOT_OF("SET %s %s", "a{b}c", "x y z"), (int)bf_slot_of_key("b", 1));
}

Test(cli_route, scripts_go_to_their_first_declared_key)
{
    cr_expect_eq(
        SLOT_OF("EVAL %s 2 %s %s %s", "return 1", "belfry:pops:{room}", "belfry:{#}:x", "arg"),
        (int)bf_slot_of_key("room", 4));
    cr_expect_eq(SLOT_OF("EVALSHA %s 1 %s", "abc", "k{z}"), (int)bf_slot_of_key("z", 1));
    cr_expect_eq(SLOT_OF("EVAL %s 0 %s", "return 1", "notakey"), BF_CLI_ROUTE_ANY);
    cr_expect_eq(SLOT_OF("EVAL %s -1 %s", "return 1", "notakey"), BF_CLI_ROUTE_ANY);
    cr_expect_eq(SLOT_OF("EVAL %s 1", "return 1"), BF_CLI_ROUTE_ANY, "a key missing: any");
}

Test(cli_route, keyless_commands_go_anywhere)
{
    cr_expect_eq(SLOT_OF("PUBLISH %s %s", "belfry:publish:news", "{}"), BF_CLI_ROUTE_ANY);
    cr_expect_eq(SLOT_OF("TIME"), BF_CLI_ROUTE_ANY);
    cr_expect_eq(SLOT_OF("MULTI"), BF_CLI_ROUTE_ANY);
    cr_expect_eq(SLOT_OF("EXEC"), BF_CLI_ROUTE_ANY);
    cr_expect_eq(SLOT_OF("SCAN %s MATCH %s", "0", "belfry:conns:{*}"), BF_CLI_ROUTE_ANY);
    cr_expect_eq(SLOT_OF("CLUSTER SLOTS"), BF_CLI_ROUTE_ANY);
    cr_expect_eq(SLOT_OF("ASKING"), BF_CLI_ROUTE_ANY);
    cr_expect_eq(bf_cli_route_slot("garbage", 7), BF_CLI_ROUTE_ANY);
    cr_expect_eq(bf_cli_route_slot("*2\r\n$3\r\nGET\r\n$10\r\nshort\r\n", 25), BF_CLI_ROUTE_ANY,
                 "a truncated argument is not read past the end");
}

Test(cli_route, verbs)
{
    char *c = NULL;
    int l = redisFormatCommand(&c, "exec");
    cr_expect(bf_cli_route_verb_is(c, (size_t)l, "EXEC"));
    cr_expect_not(bf_cli_route_verb_is(c, (size_t)l, "EXECX"));
    cr_expect_not(bf_cli_route_verb_is(c, (size_t)l, "EXE"));
    free(c);
}

Test(cli_route, redirects)
{
    bf_cli_redirect r;
    cr_assert_eq(bf_cli_route_redirect("MOVED 3999 127.0.0.1:6381", &r), 0);
    cr_expect_not(r.ask);
    cr_expect_eq(r.slot, 3999);
    cr_expect_str_eq(r.host, "127.0.0.1");
    cr_expect_eq(r.port, 6381);
    cr_assert_eq(bf_cli_route_redirect("ASK 16383 ::1:7000", &r), 0);
    cr_expect(r.ask);
    cr_expect_eq(r.slot, 16383);
    cr_expect_str_eq(r.host, "::1", "an IPv6 host: the port follows the last colon");
    cr_expect_eq(r.port, 7000);
    cr_assert_eq(bf_cli_route_redirect("MOVED 0 :7002", &r), 0);
    cr_expect_str_eq(r.host, "", "unknown endpoint: the node that answered");
    const char *bad[] = {
        "ERR unknown command", "MOVED",
        "MOVED 16384 h:1",     "MOVED x h:1",
        "MOVED 1 h",           "MOVED 1 h:0",
        "MOVED 1 h:70000",     "MOVED 1 h:12x",
        "ASKING 1 h:1",        "CROSSSLOT Keys in request don't hash to the same slot"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        cr_expect_eq(bf_cli_route_redirect(bad[i], &r), -1, "%s", bad[i]);
}

/* A reply parsed from RESP text, as a node would send it (caller frees). */
static redisReply *resp(const char *text)
{
    redisReader *rd = redisReaderCreate();
    redisReaderFeed(rd, text, strlen(text));
    void *rep = NULL;
    cr_assert_eq(redisReaderGetReply(rd, &rep), REDIS_OK);
    cr_assert_not_null(rep);
    redisReaderFree(rd);
    return rep;
}

Test(cli_route, cluster_slots)
{
    /* two ranges; the second's primary has an unknown endpoint ("?"), and a replica */
    redisReply *rep = resp("*2\r\n"
                           "*3\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n"
                           "*4\r\n:5461\r\n:16383\r\n*2\r\n$1\r\n?\r\n:7001\r\n"
                           "*2\r\n$9\r\n127.0.0.1\r\n:7004\r\n");
    bf_cli_slot_range out[4];
    size_t n;
    cr_assert_eq(bf_cli_route_slots(rep, out, 4, &n), 0);
    cr_assert_eq(n, 2);
    cr_expect_eq(out[0].start, 0);
    cr_expect_eq(out[0].end, 5460);
    cr_expect_str_eq(out[0].host, "127.0.0.1");
    cr_expect_eq(out[0].port, 7000);
    cr_expect_eq(out[1].start, 5461);
    cr_expect_eq(out[1].end, 16383);
    cr_expect_str_eq(out[1].host, "");
    cr_expect_eq(out[1].port, 7001, "the primary, not the replica");
    cr_expect_eq(bf_cli_route_slots(rep, out, 1, &n), -1, "more ranges than room");
    freeReplyObject(rep);

    const char *bad[] = {
        "-ERR This instance has cluster support disabled\r\n",
        "*1\r\n*2\r\n:0\r\n:1\r\n",                             /* no primary */
        "*1\r\n*3\r\n:5\r\n:1\r\n*2\r\n$1\r\nh\r\n:1\r\n",      /* end < start */
        "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n",  /* past the last slot */
        "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:0\r\n",      /* port 0 */
        "*1\r\n*3\r\n$1\r\n0\r\n:1\r\n*2\r\n$1\r\nh\r\n:1\r\n", /* a string slot */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        rep = resp(bad[i]);
        cr_expect_eq(bf_cli_route_slots(rep, out, 4, &n), -1, "case %zu", i);
        freeReplyObject(rep);
    }
}
