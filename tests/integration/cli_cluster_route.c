/* belfryctl's Redis Cluster client (cli/credis.c) against the harness' real three-primary cluster,
 * driven through its API so that slots can be moved between two of its commands: a MOVED is
 * followed and the slot map updated, an ASK is followed with ASKING and the map left alone,
 * pipelined commands answered MOVED/ASK are each resent on their own with the others' replies
 * kept in order, a MULTI...EXEC (the membership snapshot) is resent whole, a redirect loop stops
 * after 5 redirects with a clear error, and the seeds are tried in order. The files are compiled
 * into the test (bf_cli_error below replaces args.c's, to keep the error line). */
#include "cli/credis.c"
#include "cli/cluster.c"
#include "cli/route.c"
#include "redis_cluster.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>

static char last_error[1024];

void bf_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(last_error, sizeof(last_error), "belfryctl %s: ", cmd);
    vsnprintf(last_error + n, sizeof(last_error) - (size_t)n, fmt, ap);
    va_end(ap);
}

static bf_rcl T;
static bf_cli_redis *R;

static void fini(void)
{
    bf_cli_redis_free(R);
    R = NULL;
    bf_rcl_stop(&T);
}

TestSuite(cli_cluster_route, .timeout = 120, .fini = fini);

static bf_cli_redis *open_url(const char *url, int *rc)
{
    bf_cli_cfg cfg = {.redis = url, .redis_prefix = "belfry:", .timeout_ms = 2000};
    return bf_cli_redis_open(&cfg, "test", rc);
}

/* The reply of a single command as text ("(nil)", the integer, the string); asserts success. */
static char *text_of(redisReply *rep)
{
    char *s = NULL;
    if (rep->type == REDIS_REPLY_NIL)
        s = strdup("(nil)");
    else if (rep->type == REDIS_REPLY_INTEGER)
        cr_assert_geq(asprintf(&s, "%lld", rep->integer), 0);
    else if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS)
        s = strdup(rep->str);
    else
        s = strdup("(other)");
    freeReplyObject(rep);
    return s;
}

#define EXPECT_CMD(want, ...)                                                                      \
    do {                                                                                           \
        redisReply *rep_;                                                                          \
        int rc_ = bf_cli_redis_cmd(R, &rep_, __VA_ARGS__);                                         \
        cr_assert_eq(rc_, 0, "%s: rc %d: %s", #__VA_ARGS__, rc_, last_error);                      \
        char *got_ = text_of(rep_);                                                                \
        cr_expect_str_eq(got_, want, "%s", #__VA_ARGS__);                                          \
        free(got_);                                                                                \
    } while (0)

#define EXPECT_NEXT(want)                                                                          \
    do {                                                                                           \
        redisReply *rep_;                                                                          \
        int rc_ = bf_cli_redis_next(R, &rep_);                                                     \
        cr_assert_eq(rc_, 0, "rc %d: %s", rc_, last_error);                                        \
        char *got_ = text_of(rep_);                                                                \
        cr_expect_str_eq(got_, want);                                                              \
        free(got_);                                                                                \
    } while (0)

/* A key "belfry:seq:{tagN}" whose slot's owner is (or, when not_on, is not) node `on`. */
static void key_on(char *key, size_t cap, const char *tag, int on, bool not_on)
{
    for (int k = 0; k < 10000; k++) {
        snprintf(key, cap, "belfry:seq:{%s%d}", tag, k);
        int o = bf_rcl_owner(&T, bf_slot_of_key(key, strlen(key)));
        if ((o == on) != not_on) return;
    }
    cr_assert_fail("no key for node %d", on);
}

static unsigned slot_of(const char *key)
{
    return bf_slot_of_key(key, strlen(key));
}

/* The index, in R, of harness node i. */
static int r_node(int i)
{
    for (int k = 0; k < R->nnodes; k++)
        if (R->nodes[k].port == T.nodes[i].port) return k;
    return -1;
}

Test(cli_cluster_route, moved_and_ask_are_followed_singly_and_in_pipelines)
{
    cr_assert_eq(bf_rcl_start(&T), 0, "the redis cluster did not start");
    int rc;
    R = open_url(T.url, &rc);
    cr_assert_not_null(R, "open: %d %s", rc, last_error);
    cr_assert(bf_cli_redis_is_cluster(R));
    cr_expect_eq(bf_cli_redis_nprimaries(R), 3);

    char k[64], k2[64];
    int src = bf_rcl_owner(&T, 0);
    key_on(k, sizeof(k), "mv", src, false);
    int dst = bf_rcl_other_primary(&T, src);
    key_on(k2, sizeof(k2), "stay", src, true); /* on a third node or dst: not moved */
    EXPECT_CMD("OK", "SET %s %s", k, "41");
    EXPECT_CMD("OK", "SET %s %s", k2, "2");
    EXPECT_CMD("41", "GET %s", k);
    cr_expect_eq(bf_cli_redis_redirects(R), 0, "the slot map routes without redirects");

    /* MOVED: the slot moved under the client; the map is updated, so only once */
    cr_assert_eq(bf_rcl_move_slot(&T, slot_of(k), src, dst), 0);
    EXPECT_CMD("41", "GET %s", k);
    cr_expect_eq(bf_cli_redis_redirects(R), 1);
    cr_expect_eq(R->slots[slot_of(k)], r_node(dst), "the map names the new owner");
    EXPECT_CMD("41", "GET %s", k);
    cr_expect_eq(bf_cli_redis_redirects(R), 1, "no redirect once the map is updated");

    /* a pipeline: three commands for the moved slot, all answered MOVED, each resent on its
     * own; the other's reply is kept and every reply comes back in order */
    cr_assert_eq(bf_rcl_move_slot(&T, slot_of(k), dst, src), 0);
    bf_cli_redis_append(R, "GET %s", k);
    bf_cli_redis_append(R, "GET %s", k2);
    bf_cli_redis_append(R, "INCR %s", k);
    bf_cli_redis_append(R, "GET %s", k);
    EXPECT_NEXT("41");
    EXPECT_NEXT("2");
    EXPECT_NEXT("42");
    EXPECT_NEXT("42");
    cr_expect_eq(bf_cli_redis_redirects(R), 4, "three MOVED followed, got %llu",
                 bf_cli_redis_redirects(R));

    /* ASK: the slot is migrating from a to b and the key is not on a (any more): ASKING + the
     * command on b; the map keeps naming a */
    char k3[64], aid[41], bid[41];
    int a = src, b = dst;
    key_on(k3, sizeof(k3), "ask", a, false);
    cr_assert_eq(bf_rcl_id(&T, a, aid), 0);
    cr_assert_eq(bf_rcl_id(&T, b, bid), 0);
    freeReplyObject(bf_rcl_cmd(&T, b, "CLUSTER SETSLOT %u IMPORTING %s", slot_of(k3), aid));
    freeReplyObject(bf_rcl_cmd(&T, a, "CLUSTER SETSLOT %u MIGRATING %s", slot_of(k3), bid));
    unsigned long long before = bf_cli_redis_redirects(R);
    bf_cli_redis_append(R, "SET %s %s", k3, "on-b");
    bf_cli_redis_append(R, "GET %s", k2);
    bf_cli_redis_append(R, "GET %s", k3);
    EXPECT_NEXT("OK");
    EXPECT_NEXT("2");
    EXPECT_NEXT("on-b");
    cr_expect_eq(bf_cli_redis_redirects(R), before + 2, "two ASK followed");
    cr_expect_eq(R->slots[slot_of(k3)], r_node(a), "an ASK does not change the map");
    redisReply *on_a = bf_rcl_cmd(&T, a, "EXISTS %s", k3);
    cr_expect_eq(on_a->integer, 0, "the key was written on the importing node");
    freeReplyObject(on_a);

    /* a loop (a says ASK b, b is not importing and says MOVED a): given up after 5 */
    freeReplyObject(bf_rcl_cmd(&T, b, "CLUSTER SETSLOT %u STABLE", slot_of(k3)));
    EXPECT_CMD("(nil)", "GET %s",
               "belfry:seq:{nothing-here}"); /* an ordinary command still works */
    /* in a pipeline, with the replies of two more commands on their way */
    bf_cli_redis_append(R, "GET %s", k3);
    bf_cli_redis_append(R, "GET %s", k2);
    bf_cli_redis_append(R, "GET %s", k);
    redisReply *rep = NULL;
    rc = bf_cli_redis_next(R, &rep);
    cr_expect_eq(rc, BF_CLI_FAILED, "a redirect loop fails (rc %d)", rc);
    cr_expect_null(rep);
    cr_expect(strstr(last_error, "gave up after 5 redirects"), "%s", last_error);
    freeReplyObject(bf_rcl_cmd(&T, a, "CLUSTER SETSLOT %u STABLE", slot_of(k3)));
    /* a failed pipeline leaves nothing behind: the next commands get their own replies */
    EXPECT_CMD("42", "GET %s", k);
    EXPECT_CMD("2", "GET %s", k2);
    EXPECT_CMD("(nil)", "GET %s", k3); /* written on b while importing; a owns the slot */
    bf_cli_redis_free(R);
    R = NULL;
}

Test(cli_cluster_route, a_transaction_is_resent_whole_and_scans_cover_every_primary)
{
    cr_assert_eq(bf_rcl_start(&T), 0, "the redis cluster did not start");
    const char *P = "belfry:";
    char kr[BF_KEY_MAX], ke[BF_KEY_MAX];
    bf_key(kr, P, BF_KEY_ROUTERS, NULL);
    bf_key(ke, P, BF_KEY_RING_EPOCH, NULL);
    int g = bf_rcl_owner(&T, slot_of(kr));
    freeReplyObject(
        bf_rcl_cmd(&T, g, "ZADD %s %s rt-a %s rt-b", kr, "99999999999999", "99999999999999"));
    freeReplyObject(bf_rcl_cmd(&T, g, "SET %s 7", ke));
    /* one conns:{channel} key on every primary */
    char chans[3][32];
    int n = 0;
    for (int k = 0; n < 3 && k < 1000; k++) {
        char ch[32], key[BF_KEY_MAX];
        snprintf(ch, sizeof(ch), "room.%d", k);
        bf_key(key, P, BF_KEY_CONNS, ch);
        int o = bf_rcl_owner(&T, slot_of(key)), seen = 0;
        for (int j = 0; j < n; j++) {
            char kj[BF_KEY_MAX];
            bf_key(kj, P, BF_KEY_CONNS, chans[j]);
            seen |= bf_rcl_owner(&T, slot_of(kj)) == o;
        }
        if (seen) continue;
        freeReplyObject(bf_rcl_cmd(&T, o, "HSET %s gw-1 1", key));
        snprintf(chans[n++], sizeof(chans[0]), "%s", ch);
    }
    cr_assert_eq(n, 3);

    /* the first seed is closed: the next one is asked */
    char url[600];
    snprintf(url, sizeof(url), "cluster://127.0.0.1:%d,%s", bf_free_port(), T.url + 10);
    int rc;
    R = open_url(url, &rc);
    cr_assert_not_null(R, "open: %d %s", rc, last_error);

    /* the membership's slot moves: MULTI .. EXEC is aborted there and resent whole */
    cr_assert_eq(bf_rcl_move_slot(&T, slot_of(kr), g, bf_rcl_other_primary(&T, g)), 0);
    bf_cli_cluster c;
    rc = bf_cli_cluster_load(R, &c, true);
    cr_assert_eq(rc, 0, "%s", last_error);
    cr_expect_eq(c.live_routers, 2);
    cr_expect_eq(c.epoch, 7);
    cr_expect_gt(c.now_ms, 0);
    cr_expect_eq(bf_cli_redis_redirects(R), 1, "one redirect for the whole transaction: %llu",
                 bf_cli_redis_redirects(R));
    bf_cli_cluster_deinit(&c);

    /* SCAN on every primary: the three channels, each on its own node */
    bf_cli_chanlist l;
    cr_assert_eq(bf_cli_chanlist_scan(R, &l), 0, "%s", last_error);
    cr_expect_eq(l.n, 3, "got %zu channels", l.n);
    for (int j = 0; j < 3; j++) {
        bool found = false;
        for (size_t i = 0; i < l.n; i++) found |= !strcmp(l.names[i], chans[j]);
        cr_expect(found, "%s listed", chans[j]);
    }
    bf_cli_chanlist_deinit(&l);
    bf_cli_redis_free(R);
    R = NULL;

    /* no seed answering: exit 3, naming the last one */
    int p1 = bf_free_port();
    snprintf(url, sizeof(url), "cluster://127.0.0.1:%d", p1);
    R = open_url(url, &rc);
    cr_expect_null(R);
    cr_expect_eq(rc, BF_CLI_UNREACHABLE);
    cr_expect(strstr(last_error, "no seed of the cluster (1 given)"), "%s", last_error);
}
