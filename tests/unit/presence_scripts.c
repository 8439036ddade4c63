/* Unit tests for the presence scripts (common/lua/presence_enqueue.lua, presence_apply.lua,
 * presence_audit.lua) against a real redis-server: operations are idempotent (a join of a
 * connection already in, a leave of one already gone, a join after its leave change nothing and
 * emit nothing), and per user presence:join and presence:leave alternate; the fenced scripts
 * (publish.lua, sweep.lua) refuse a caller of another ring epoch. The scripts are called
 * with the argument vectors the daemons send (common/scripts.h builders). */
#include "harness.h"
#include "redis_keys.h"
#include "scripts.h"
#include "wire.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define PFX "belfry:"
#define CH "presence-room"
#define GW "gw-a"

static bf_lone_redis LR;
static redisContext *R;

static void setup(void)
{
    cr_assert_eq(bf_lone_redis_start(&LR), 0, "redis-server did not start");
    R = LR.ctx;
}

static void teardown(void)
{
    bf_lone_redis_stop(&LR);
    R = NULL;
}

TestSuite(presence_scripts, .init = setup, .fini = teardown, .timeout = 30);

/* ---- helpers ----------------------------------------------------------------------------- */

static redisReply *cmd(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(R, fmt, ap);
    va_end(ap);
    cr_assert_not_null(r, "redis: %s", R->errstr);
    return r;
}

static long long cmd_int(const char *fmt, const char *arg)
{
    redisReply *r = cmd(fmt, arg);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

/* Runs a builder's script call synchronously (EVAL of the embedded source), whatever it answers.
 * Caller frees. */
static redisReply *run_any(const bf_script_args *a)
{
    size_t srclen;
    const char *src = bf_script_source(a->id, &srclen);
    const char *argv[32];
    size_t lens[32];
    char nk[16];
    argv[0] = "EVAL";
    lens[0] = 4;
    argv[1] = src;
    lens[1] = srclen;
    lens[2] = (size_t)snprintf(nk, sizeof(nk), "%d", a->nkeys);
    argv[2] = nk;
    for (int i = 0; i < a->argc; i++) {
        argv[i + 3] = a->argv[i];
        lens[i + 3] = a->lens[i];
    }
    redisReply *r = redisCommandArgv(R, a->argc + 3, argv, lens);
    cr_assert_not_null(r, "redis: %s", R->errstr);
    return r;
}

/* run_any, for a call that must succeed. Caller frees. */
static redisReply *run(const bf_script_args *a)
{
    redisReply *r = run_any(a);
    cr_assert_neq(r->type, REDIS_REPLY_ERROR, "script %d failed: %s", a->id, r->str);
    return r;
}

/* The gateway GW is alive for a minute (on the Redis clock, like the heartbeat). */
static void gateway_alive(void)
{
    redisReply *t = cmd("TIME");
    long long now = atoll(t->element[0]->str) * 1000 + atoll(t->element[1]->str) / 1000;
    freeReplyObject(t);
    char score[32];
    snprintf(score, sizeof(score), "%lld", now + 60000);
    freeReplyObject(cmd("ZADD %s %s %s", PFX "{#}:gateways", score, GW));
}

/* Enqueues op for connection n of GW (user, member JSON built from user) as the gateway does. */
static void enqueue(bf_inbox_op op, int n, const char *user)
{
    char conn[64], member[256];
    snprintf(conn, sizeof(conn), GW "/%d", n);
    snprintf(member, sizeof(member), "{\"id\":\"%s\",\"joinedAt\":%d,\"info\":{}}", user, 1000 + n);
    bf_inbox m = {.op = op,
                  .channel = {CH, strlen(CH)},
                  .conn_id = {conn, strlen(conn)},
                  .user_id = {user, strlen(user)}};
    if (op != BF_OP_LEAVE) m.payload = (bf_strview){member, strlen(member)};
    char *env;
    size_t len;
    cr_assert_eq(bf_wire_encode_inbox(&m, &env, &len), 0);
    bf_script_args a;
    bf_presence_enqueue e = {.prefix = PFX,
                             .channel = CH,
                             .gateway = GW,
                             .envelope = env,
                             .envelope_len = len,
                             .join = op != BF_OP_LEAVE};
    cr_assert_eq(bf_presence_enqueue_args(&a, &e), 0);
    freeReplyObject(run(&a));
    free(env);
}

typedef struct applied {
    long long applied, pending, joins, leaves, dropped, kicks;
} applied;

static applied apply(void)
{
    bf_script_args a;
    bf_presence_apply p = {
        .prefix = PFX, .channel = CH, .history_size = 100, .history_ttl_ms = 60000};
    cr_assert_eq(bf_presence_apply_args(&a, &p), 0);
    redisReply *r = run(&a);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 6);
    applied out = {r->element[0]->integer, r->element[1]->integer, r->element[2]->integer,
                   r->element[3]->integer, r->element[4]->integer, r->element[5]->integer};
    freeReplyObject(r);
    return out;
}

/* The channel's emitted presence events, from its history: "+u1 -u1 ..." (join +, leave -). */
static char *events(void)
{
    redisReply *r = cmd("XRANGE %s - +", PFX "hist:{" CH "}");
    char *out = calloc(1, 4096);
    for (size_t i = 0; i < r->elements; i++) {
        const char *f = r->element[i]->element[1]->element[1]->str;
        const char *id = strstr(f, "\"id\":\"");
        cr_assert_not_null(id, "%s", f);
        id += 6;
        char sign = strstr(f, "presence:join") ? '+' : strstr(f, "presence:leave") ? '-' : '?';
        size_t n = strcspn(id, "\"");
        snprintf(out + strlen(out), 4096 - strlen(out), "%s%c%.*s", i ? " " : "", sign, (int)n, id);
    }
    freeReplyObject(r);
    return out;
}

static void expect_events(const char *want)
{
    char *got = events();
    cr_expect_str_eq(got, want, "events: got \"%s\", want \"%s\"", got, want);
    free(got);
}

static long long members(void)
{
    return cmd_int("HLEN %s", PFX "presence:{" CH "}");
}

static long long user_conns(const char *user)
{
    redisReply *r = cmd("HGET %s %s", PFX "pusers:{" CH "}", user);
    long long v = r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    freeReplyObject(r);
    return v;
}

/* ---- idempotency ------------------------------------------------------------------------- */

Test(presence_scripts, double_join_changes_nothing_and_emits_nothing)
{
    gateway_alive();
    enqueue(BF_OP_JOIN, 1, "ann");
    enqueue(BF_OP_JOIN, 1, "ann"); /* a retry whose first acknowledgement was lost */
    applied a = apply();
    cr_expect_eq(a.applied, 2);
    cr_expect_eq(a.joins, 1);
    cr_expect_eq(a.pending, 0);
    enqueue(BF_OP_JOIN, 1, "ann"); /* and one after the first was applied */
    enqueue(BF_OP_REJOIN, 1, "ann");
    a = apply();
    cr_expect_eq(a.applied, 2);
    cr_expect_eq(a.joins, 0, "a join of a connection already in emits nothing");
    cr_expect_eq(members(), 1);
    cr_expect_eq(user_conns("ann"), 1, "counted once");
    expect_events("+ann");
    cr_expect_eq(cmd_int("SISMEMBER %s " CH, PFX "{#}:ppending"), 0, "nothing pending any more");
}

Test(presence_scripts, double_leave_emits_one_leave)
{
    gateway_alive();
    enqueue(BF_OP_JOIN, 1, "ann");
    apply();
    enqueue(BF_OP_LEAVE, 1, "ann");
    enqueue(BF_OP_LEAVE, 1, "ann");
    applied a = apply();
    cr_expect_eq(a.leaves, 1);
    enqueue(BF_OP_LEAVE, 1, "ann");
    a = apply();
    cr_expect_eq(a.leaves, 0, "a leave of a connection already gone emits nothing");
    cr_expect_eq(members(), 0);
    cr_expect_eq(user_conns("ann"), 0);
    cr_expect_eq(cmd_int("ZCARD %s", PFX "phere:{" CH "}"), 0);
    expect_events("+ann -ann");
}

Test(presence_scripts, leave_before_join_keeps_the_connection_out)
{
    gateway_alive();
    enqueue(BF_OP_LEAVE, 1, "ann");
    apply();
    enqueue(BF_OP_JOIN, 1, "ann"); /* late: delivered after its leave */
    applied a = apply();
    cr_expect_eq(a.applied, 1);
    cr_expect_eq(a.joins, 0);
    cr_expect_eq(members(), 0, "a join after its leave must not resurrect the connection");
    expect_events("");
    /* the same in one batch */
    enqueue(BF_OP_LEAVE, 2, "bob");
    enqueue(BF_OP_JOIN, 2, "bob");
    a = apply();
    cr_expect_eq(a.applied, 2);
    cr_expect_eq(members(), 0);
    expect_events("");
}

Test(presence_scripts, first_join_and_last_leave_per_user_alternate)
{
    gateway_alive();
    enqueue(BF_OP_JOIN, 1, "ann");
    enqueue(BF_OP_JOIN, 2, "ann"); /* a second tab */
    enqueue(BF_OP_JOIN, 3, "bob");
    enqueue(BF_OP_JOIN, 2, "ann");
    enqueue(BF_OP_LEAVE, 1, "ann"); /* ann keeps connection 2 */
    enqueue(BF_OP_LEAVE, 1, "ann");
    enqueue(BF_OP_LEAVE, 3, "bob");
    enqueue(BF_OP_JOIN, 3, "bob"); /* late join of bob's departed connection */
    enqueue(BF_OP_JOIN, 4, "bob");
    enqueue(BF_OP_LEAVE, 2, "ann");
    enqueue(BF_OP_LEAVE, 2, "ann");
    applied a = apply();
    cr_expect_eq(a.applied, 11);
    cr_expect_eq(a.joins, 3);
    cr_expect_eq(a.leaves, 2);
    expect_events("+ann +bob -bob +bob -ann");
    cr_expect_eq(members(), 1);
    cr_expect_eq(user_conns("bob"), 1);
    cr_expect_eq(user_conns("ann"), 0);
}

Test(presence_scripts, join_of_a_dead_gateway_changes_nothing)
{
    enqueue(BF_OP_JOIN, 1, "ann"); /* GW has no membership: swept, or never registered */
    applied a = apply();
    cr_expect_eq(a.applied, 1);
    cr_expect_eq(members(), 0);
    expect_events("");
    cr_expect_eq(cmd_int("SISMEMBER %s " CH, PFX "{#}:gwpres:" GW), 1, "indexed for the sweep");
    cr_expect_eq(cmd_int("SISMEMBER %s " GW, PFX "{#}:gwknown"), 1);
}

Test(presence_scripts, malformed_records_are_dropped_and_counted)
{
    gateway_alive();
    freeReplyObject(cmd("RPUSH %s %s", PFX "pops:{" CH "}", "not msgpack"));
    enqueue(BF_OP_JOIN, 1, "ann");
    applied a = apply();
    cr_expect_eq(a.applied, 2);
    cr_expect_eq(a.dropped, 1);
    cr_expect_eq(a.joins, 1, "the valid operation behind it is applied");
}

Test(presence_scripts, join_sends_presence_here_once)
{
    gateway_alive();
    redisContext *sub = redisConnect(R->tcp.host, R->tcp.port);
    cr_assert(sub && !sub->err);
    freeReplyObject(redisCommand(sub, "SUBSCRIBE %s", PFX "fan:{" CH "}"));
    enqueue(BF_OP_JOIN, 1, "ann");
    enqueue(BF_OP_JOIN, 1, "ann");
    enqueue(BF_OP_REJOIN, 2, "bob"); /* a rejoin gets no presence:here */
    apply();
    struct timeval tv = {0, 300000};
    redisSetTimeout(sub, tv);
    int here = 0, other = 0;
    redisReply *r;
    while (redisGetReply(sub, (void **)&r) == REDIS_OK && r) {
        bf_fanout f;
        cr_assert_eq(bf_wire_decode_fanout(r->element[2]->str, (size_t)r->element[2]->len, &f), 0);
        if (f.kind == BF_FAN_DIRECT) {
            here++;
            cr_expect_eq(f.only_conn.len, strlen(GW "/1"));
        } else {
            other++;
        }
        freeReplyObject(r);
    }
    redisFree(sub);
    cr_expect_eq(here, 1, "one presence:here for the joining connection");
    cr_expect_eq(other, 2, "one presence:join per user");
}

Test(presence_scripts, a_recorded_kick_is_fanned_out_once)
{
    redisContext *sub = redisConnect(R->tcp.host, R->tcp.port);
    cr_assert(sub && !sub->err);
    freeReplyObject(redisCommand(sub, "SUBSCRIBE %s", PFX "fan:{" CH "}"));
    bf_inbox m = {.op = BF_OP_KICK,
                  .channel = {CH, strlen(CH)},
                  .conn_id = {"belfryctl/1", 11},
                  .user_id = {"mallory", 7},
                  .payload = {"spamming", 8}};
    char *env;
    size_t len;
    cr_assert_eq(bf_wire_encode_inbox(&m, &env, &len), 0);
    bf_script_args a;
    bf_presence_enqueue e = {.prefix = PFX,
                             .channel = CH,
                             .gateway = "belfryctl",
                             .envelope = env,
                             .envelope_len = len,
                             .owner = "rt-1"};
    cr_assert_eq(bf_presence_enqueue_args(&a, &e), 0);
    redisReply *r = run(&a);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_expect_eq(r->element[0]->integer, 1, "one operation pending");
    cr_expect_eq(r->element[1]->integer, 0, "nobody listens on inbox:rt-1");
    freeReplyObject(r);
    free(env);
    applied ap = apply();
    cr_expect_eq(ap.kicks, 1);
    cr_expect_eq(apply().kicks, 0, "applied once");
    struct timeval tv = {0, 300000};
    redisSetTimeout(sub, tv);
    int kicks = 0;
    while (redisGetReply(sub, (void **)&r) == REDIS_OK && r) {
        bf_fanout f;
        cr_assert_eq(bf_wire_decode_fanout(r->element[2]->str, (size_t)r->element[2]->len, &f), 0);
        cr_expect_eq(f.kind, BF_FAN_KICK);
        cr_expect_eq(f.frame.len, 8, "the reason");
        kicks++;
        freeReplyObject(r);
    }
    redisFree(sub);
    cr_expect_eq(kicks, 1);
}

/* ---- the audit read by a gateway's reconciliation ---------------------------------------- */

Test(presence_scripts, audit_lists_the_gateways_entries)
{
    gateway_alive();
    enqueue(BF_OP_JOIN, 1, "ann");
    enqueue(BF_OP_JOIN, 2, "bob");
    apply();
    freeReplyObject(cmd("HSET %s %s %s", PFX "presence:{" CH "}", "gw-b/1", "{\"id\":\"eve\"}"));
    freeReplyObject(cmd("HSET %s %s 3", PFX "conns:{" CH "}", GW));
    bf_script_args a;
    cr_assert_eq(bf_presence_audit_args(&a, PFX, GW, CH, false), 0);
    redisReply *r = run(&a);
    cr_assert_eq(r->elements, 5);
    cr_expect_eq(r->element[0]->integer, 0, "nothing pending");
    cr_expect_eq(r->element[1]->integer, 3, "the gateway's count");
    cr_expect_eq(r->element[2]->integer, 0, "not in gwchans");
    bool one = false, two = false;
    for (size_t i = 3; i < r->elements; i++) {
        one |= !strcmp(r->element[i]->str, GW "/1");
        two |= !strcmp(r->element[i]->str, GW "/2");
    }
    cr_expect(one && two, "only the gateway's own entries");
    freeReplyObject(r);
    enqueue(BF_OP_LEAVE, 1, "ann");
    r = run(&a);
    cr_expect_eq(r->element[0]->integer, 1, "one operation pending");
    freeReplyObject(r);
}

/* The owner check of the fenced scripts on one Redis (sequence.lib.lua, bf_stale): a caller whose
 * ring epoch is not the current one is refused "STALE ring epoch <current>, caller has <its>" and
 * sequences nothing; the current epoch goes through. */
Test(presence_scripts, fenced_calls_of_another_ring_epoch_are_refused_stale)
{
    freeReplyObject(cmd("SET %s %s", PFX "{#}:ring:epoch", "5"));
    bf_script_args a;
    for (uint64_t epoch = 4; epoch <= 6; epoch++) {
        bf_publish p = {.prefix = PFX,
                        .channel = CH,
                        .frame_prefix = "{\"seq\":",
                        .frame_prefix_len = 7,
                        .fenced = true,
                        .ring_epoch = epoch};
        cr_assert_eq(bf_publish_args(&a, &p), 0);
        redisReply *r = run_any(&a);
        bf_sweep sw = {.prefix = PFX, .channel = CH, .gateway = GW, .ring_epoch = epoch};
        cr_assert_eq(bf_sweep_args(&a, &sw), 0);
        redisReply *sr = run_any(&a);
        if (epoch == 5) {
            cr_expect_eq(r->type, REDIS_REPLY_INTEGER, "the owner's publish: %s", r->str);
            cr_expect_eq(r->integer, 1);
            cr_expect_eq(sr->type, REDIS_REPLY_INTEGER, "the owner's sweep: %s", sr->str);
        } else {
            char want[64];
            snprintf(want, sizeof(want), "STALE ring epoch 5, caller has %llu",
                     (unsigned long long)epoch);
            cr_expect(r->type == REDIS_REPLY_ERROR && !strcmp(r->str, want), "publish: %s",
                      r->str ? r->str : "(not an error)");
            cr_expect(sr->type == REDIS_REPLY_ERROR && !strcmp(sr->str, want), "sweep: %s",
                      sr->str ? sr->str : "(not an error)");
        }
        freeReplyObject(r);
        freeReplyObject(sr);
    }
    redisReply *seq = cmd("GET %s", PFX "seq:{" CH "}");
    cr_expect(seq->type == REDIS_REPLY_STRING && !strcmp(seq->str, "1"),
              "only the owner's publish was sequenced");
    freeReplyObject(seq);
}
