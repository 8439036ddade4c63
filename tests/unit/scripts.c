/* Unit tests for common/scripts.c and scripts_args.c, the C <-> Lua contract, against a real
 * redis-server:
 *   - the envelope constants of wire.lib.lua equal common/wire.h's enums, and no script packs an
 *     envelope with a bare number;
 *   - every embedded script loads (SCRIPT LOAD answers bf_script_sha) and every .lua script file
 *     has a bf_script_id;
 *   - every script declares its arity on a "-- keys: K  argv: A" line (N, N+ or N-M), its body
 *     agrees (the KEYS[n] / ARGV[n] it reads), and the typed C builders pass what it declares. */
#include "embed.h"
#include "harness.h"
#include "scripts.h"
#include "wire.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

TestSuite(scripts, .init = setup, .fini = teardown, .timeout = 30);

/* ---- the envelope constants ---------------------------------------------------------------- */

Test(scripts, wire_lib_constants_equal_the_c_enums)
{
    const bf_embed_file *lib = bf_embed_find(bf_lua_files, bf_lua_count, "wire.lib.lua");
    cr_assert_not_null(lib, "wire.lib.lua is not embedded");
    static const struct {
        const char *name;
        long long c;
    } want[] = {
        {"BF_WIRE_VERSION", BF_WIRE_VERSION},
        {"BF_FAN_MESSAGE", BF_FAN_MESSAGE},
        {"BF_FAN_EPHEMERAL", BF_FAN_EPHEMERAL},
        {"BF_FAN_DIRECT", BF_FAN_DIRECT},
        {"BF_FAN_KICK", BF_FAN_KICK},
        {"BF_OP_JOIN", BF_OP_JOIN},
        {"BF_OP_LEAVE", BF_OP_LEAVE},
        {"BF_OP_REJOIN", BF_OP_REJOIN},
        {"BF_OP_KICK", BF_OP_KICK},
        {"BF_OP_APPLY", BF_OP_APPLY},
    };
    size_t n = sizeof(want) / sizeof(*want);
    char *src = malloc(lib->len + 1024), *o = src;
    o += sprintf(o, "%s\nreturn {", lib->data);
    for (size_t i = 0; i < n; i++) o += sprintf(o, "%s%s", i ? ", " : "", want[i].name);
    sprintf(o, "}");
    redisReply *r = redisCommand(R, "EVAL %s 0", src);
    free(src);
    cr_assert_not_null(r);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", r->type == REDIS_REPLY_ERROR ? r->str : "");
    /* a name the library does not define is nil, which ends a Lua array early */
    cr_assert_eq(r->elements, n, "wire.lib.lua defines %zu of the %zu constants", r->elements, n);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(r->element[i]->integer, want[i].c, "%s: Lua %lld, wire.h %lld", want[i].name,
                     r->element[i]->integer, want[i].c);
    freeReplyObject(r);
}

Test(scripts, no_script_packs_an_envelope_with_a_bare_number)
{
    for (int id = 0; id < BF_SCRIPT__COUNT; id++) {
        const char *s = bf_script_source((bf_script_id)id, NULL);
        for (const char *p = strstr(s, "cmsgpack.pack({"); p;
             p = strstr(p + 1, "cmsgpack.pack({")) {
            const char *q = p + strlen("cmsgpack.pack({");
            while (isspace((unsigned char)*q)) q++;
            cr_expect(!isdigit((unsigned char)*q),
                      "script %d packs an envelope with a bare number: %.40s (use wire.lib.lua)",
                      id, p);
        }
    }
}

/* ---- loading --------------------------------------------------------------------------------- */

Test(scripts, every_script_loads_with_its_sha_and_every_file_has_an_id)
{
    for (int sharded = 0; sharded < 2; sharded++) /* both variants (scripts.h, BF_SHARDED) */
        for (int id = 0; id < BF_SCRIPT__COUNT; id++) {
            size_t len;
            const char *src = bf_script_source_for((bf_script_id)id, sharded, &len);
            redisReply *r = redisCommand(R, "SCRIPT LOAD %b", src, len);
            cr_assert_not_null(r);
            cr_expect_eq(r->type, REDIS_REPLY_STRING, "script %d: %s", id,
                         r->type == REDIS_REPLY_ERROR ? r->str : "not a string");
            if (r->type == REDIS_REPLY_STRING)
                cr_expect_str_eq(r->str, bf_script_sha_for((bf_script_id)id, sharded), "script %d",
                                 id);
            freeReplyObject(r);
        }
    cr_expect_str_eq(bf_script_sha(BF_SCRIPT_PUBLISH), bf_script_sha_for(BF_SCRIPT_PUBLISH, 0));
    cr_expect_str_neq(bf_script_sha_for(BF_SCRIPT_PUBLISH, 0),
                      bf_script_sha_for(BF_SCRIPT_PUBLISH, 1));
    size_t files = 0;
    for (size_t i = 0; i < bf_lua_count; i++)
        if (!strstr(bf_lua_files[i].name, ".lib.lua")) files++;
    cr_expect_eq(files, (size_t)BF_SCRIPT__COUNT,
                 "%zu script files in common/lua, %d bf_script_ids: a script without an id", files,
                 BF_SCRIPT__COUNT);
}

/* ---- arity ------------------------------------------------------------------------------------
 */

typedef struct range {
    int lo, hi; /* hi INT_MAX: variadic */
} range;

typedef struct arity {
    range keys, argv;
} arity;

static const char *parse_range(const char *p, range *r)
{
    char *end;
    r->lo = r->hi = (int)strtol(p, &end, 10);
    cr_assert(end > p, "a count is expected at '%.20s'", p);
    if (*end == '+') {
        r->hi = INT_MAX;
        end++;
    } else if (*end == '-') {
        p = end + 1;
        r->hi = (int)strtol(p, &end, 10);
        cr_assert(end > p && r->hi > r->lo, "bad range at '%.20s'", p);
    }
    return end;
}

/* The script's "-- keys: K  argv: A" line; *body: the text after it (the script's own code: the
 * libraries prepended before it have no such line). */
static arity declared(bf_script_id id, const char **body)
{
    const char *src = bf_script_source(id, NULL);
    const char *d = !strncmp(src, "-- keys: ", 9) ? src : strstr(src, "\n-- keys: ");
    cr_assert_not_null(d, "script %d has no \"-- keys: K  argv: A\" line", id);
    arity a;
    const char *p = parse_range(strstr(d, "-- keys: ") + 9, &a.keys);
    while (*p == ' ') p++;
    cr_assert(!strncmp(p, "argv: ", 6), "script %d: \"argv: \" expected after the keys", id);
    p = parse_range(p + 6, &a.argv);
    cr_assert(*p == '\n', "script %d: junk after the declaration", id);
    *body = p;
    return a;
}

/* The highest literal index of name[n] in the code (comments skipped), 0 if none. */
static int max_index(const char *body, const char *name)
{
    int max = 0;
    size_t nl = strlen(name);
    for (const char *line = body; *line;) {
        size_t len = strcspn(line, "\n");
        const char *cut = line;
        const char *end = line + len;
        for (const char *c = line; c + 1 < end; c++)
            if (c[0] == '-' && c[1] == '-') {
                end = c;
                break;
            }
        for (const char *p = cut; p + nl + 1 < end; p++) {
            if (strncmp(p, name, nl) || p[nl] != '[' || (p > line && isalnum((unsigned char)p[-1])))
                continue;
            if (!isdigit((unsigned char)p[nl + 1])) continue;
            char *e;
            int n = (int)strtol(p + nl + 1, &e, 10);
            if (*e == ']' && n > max) max = n;
        }
        line += len + (line[len] == '\n');
    }
    return max;
}

static void check_body(const char *what, range r, int used, int id)
{
    if (r.hi == INT_MAX)
        cr_expect_leq(used, r.lo, "script %d reads %s[%d] but declares at least %d", id, what, used,
                      r.lo);
    else
        cr_expect_eq(used, r.hi, "script %d reads up to %s[%d] but declares %d-%d", id, what, used,
                     r.lo, r.hi);
}

Test(scripts, every_script_declares_its_arity_and_its_body_agrees)
{
    for (int id = 0; id < BF_SCRIPT__COUNT; id++) {
        const char *body;
        arity a = declared((bf_script_id)id, &body);
        check_body("KEYS", a.keys, max_index(body, "KEYS"), id);
        check_body("ARGV", a.argv, max_index(body, "ARGV"), id);
    }
}

static void check_call(const bf_script_args *a, int rc)
{
    cr_assert_eq(rc, 0, "builder of script %d failed", a->id);
    const char *body;
    arity d = declared(a->id, &body);
    int nargs = a->argc - a->nkeys;
    cr_expect(a->nkeys >= d.keys.lo && a->nkeys <= d.keys.hi,
              "script %d: the C call passes %d keys, the script declares %d-%d", a->id, a->nkeys,
              d.keys.lo, d.keys.hi);
    cr_expect(nargs >= d.argv.lo && nargs <= d.argv.hi,
              "script %d: the C call passes %d args, the script declares %d-%d", a->id, nargs,
              d.argv.lo, d.argv.hi);
}

Test(scripts, the_typed_calls_pass_what_each_script_declares)
{
    bf_script_args a;
    const char *P = "belfry:", *ch = "presence-room";
    bf_presence_enqueue e = {.prefix = P,
                             .channel = ch,
                             .gateway = "gw",
                             .envelope = "x",
                             .envelope_len = 1,
                             .join = true,
                             .owner = "rt"};
    check_call(&a, bf_presence_enqueue_args(&a, &e));
    e.cluster = true;
    check_call(&a, bf_presence_enqueue_args(&a, &e));
    bf_presence_apply pa = {.prefix = P, .channel = ch, .history_size = 10, .history_ttl_ms = 1};
    check_call(&a, bf_presence_apply_args(&a, &pa));
    pa.cluster = true, pa.gateways = "gw";
    check_call(&a, bf_presence_apply_args(&a, &pa));
    check_call(&a, bf_presence_audit_args(&a, P, "gw", ch, false));
    check_call(&a, bf_presence_audit_args(&a, P, "gw", ch, true));
    check_call(&a, bf_presence_members_args(&a, P, ch));
    bf_sweep sw = {.prefix = P, .channel = ch, .gateway = "gw", .ring_epoch = 3};
    check_call(&a, bf_sweep_args(&a, &sw));
    sw.cluster = true;
    check_call(&a, bf_sweep_args(&a, &sw));
    check_call(&a, bf_sweep_index_args(&a, P, "gw", NULL, false));
    check_call(&a, bf_fandone_args(&a, P, "gw", ch, 42, 60000));
    for (int fenced = 0; fenced < 2; fenced++) {
        bf_publish p = {.prefix = P,
                        .channel = ch,
                        .frame_prefix = "{",
                        .frame_prefix_len = 1,
                        .fenced = fenced,
                        .ring_epoch = 7};
        check_call(&a, bf_publish_args(&a, &p));
        p.cluster = true;
        check_call(&a, bf_publish_args(&a, &p));
    }
    for (int router = 0; router < 2; router++) {
        bf_leave l = {.prefix = P, .node_id = "n1", .router = router, .clean = true};
        check_call(&a, bf_leave_args(&a, &l));
        l.cluster = true;
        check_call(&a, bf_leave_args(&a, &l));
    }
    bf_history h = {.prefix = P, .channel = ch, .since = "", .epoch = "", .limit = 5};
    check_call(&a, bf_history_args(&a, &h));
    check_call(&a, bf_channel_info_args(&a, P, ch, false));
    check_call(&a, bf_channel_info_args(&a, P, ch, true));
    check_call(&a, bf_channels_args(&a, P, "", 1));
    check_call(&a, bf_webhook_due_args(&a, P, 100));
    bf_webhook_event we = {.prefix = P, .name = "client_event", .channel = ch};
    check_call(&a, bf_webhook_event_args(&a, &we));
    we.event = "client-x", we.data = "{}", we.data_len = 2, we.socket_id = "1.2", we.user_id = "u";
    check_call(&a, bf_webhook_event_args(&a, &we));
    for (int router = 0; router < 2; router++) {
        bf_heartbeat hb = {.prefix = P,
                           .node_id = "n1",
                           .router = router,
                           .ttl_ms = 3000,
                           .host = "127.0.0.1",
                           .port = 1,
                           .version = "0",
                           .connections = router ? NULL : "5"};
        check_call(&a, bf_heartbeat_args(&a, &hb));
    }
}

/* ---- the fan-out command of each variant ---------------------------------------------------- */

/* Runs publish.lua's variant on one Redis (7: SPUBLISH exists there too) with a classic and a
 * shard subscriber on the channel's fan-out subject; returns which of them got the message. */
static void publish_variant(bool sharded, bool *classic, bool *shard)
{
    redisContext *sub = redisConnect("127.0.0.1", LR.port),
                 *ssub = redisConnect("127.0.0.1", LR.port);
    cr_assert(sub && !sub->err && ssub && !ssub->err);
    char key[BF_KEY_MAX];
    bf_key(key, "belfry:", BF_KEY_FAN, "news");
    freeReplyObject(redisCommand(sub, "SUBSCRIBE %s", key));
    freeReplyObject(redisCommand(ssub, "SSUBSCRIBE %s", key));
    bf_publish p = {.prefix = "belfry:",
                    .channel = "news",
                    .frame_prefix = "{\"seq\":",
                    .frame_prefix_len = 7,
                    .history_size = 0};
    bf_script_args a;
    cr_assert_eq(bf_publish_args(&a, &p), 0);
    size_t len;
    const char *src = bf_script_source_for(BF_SCRIPT_PUBLISH, sharded, &len);
    const char *argv[40] = {"EVAL", src};
    size_t lens[40] = {4, len};
    char nk[8];
    snprintf(nk, sizeof(nk), "%d", a.nkeys);
    argv[2] = nk;
    lens[2] = strlen(nk);
    for (int i = 0; i < a.argc; i++) argv[3 + i] = a.argv[i], lens[3 + i] = a.lens[i];
    redisReply *r = redisCommandArgv(R, 3 + a.argc, argv, lens);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER, "%s", r && r->str ? r->str : "no reply");
    freeReplyObject(r);
    /* a PING behind the publish on each subscriber: the first thing read back is the delivery,
     * if there was one, else the PING's answer */
    struct timeval tv = {2, 0};
    redisSetTimeout(sub, tv);
    redisSetTimeout(ssub, tv);
    redisAppendCommand(sub, "PING");
    redisAppendCommand(ssub, "PING");
    *classic = *shard = false;
    for (int k = 0; k < 2; k++) {
        redisContext *c = k ? ssub : sub;
        void *rep = NULL;
        cr_assert_eq(redisGetReply(c, &rep), REDIS_OK);
        redisReply *m = rep;
        /* a subscribed RESP2 link answers PING with ["pong", ""] */
        bool got =
            m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
            (!strcmp(m->element[0]->str, "message") || !strcmp(m->element[0]->str, "smessage"));
        if (k)
            *shard = got;
        else
            *classic = got;
        freeReplyObject(m);
    }
    redisFree(sub);
    redisFree(ssub);
}

Test(scripts, the_cluster_variant_spublishes_the_fan_out)
{
    bool classic, shard;
    publish_variant(false, &classic, &shard);
    cr_expect(classic && !shard, "one Redis: PUBLISH (classic %d, shard %d)", classic, shard);
    publish_variant(true, &classic, &shard);
    cr_expect(!classic && shard, "Redis Cluster: SPUBLISH (classic %d, shard %d)", classic, shard);
}

/* ---- webhook events of a channel script on a cluster ----------------------------------------- */

/* Runs a script's variant by its source (EVAL: no SHA bookkeeping) with the given keys/args. */
static redisReply *eval_variant(bf_script_id id, bool sharded, int nkeys, int argc,
                                const char *const *argv)
{
    size_t len;
    const char *src = bf_script_source_for(id, sharded, &len);
    const char *a[32];
    size_t l[32];
    char nk[8];
    snprintf(nk, sizeof(nk), "%d", nkeys);
    a[0] = "EVAL", l[0] = 4;
    a[1] = src, l[1] = len;
    a[2] = nk, l[2] = strlen(nk);
    for (int i = 0; i < argc; i++) a[3 + i] = argv[i], l[3 + i] = strlen(argv[i]);
    return redisCommandArgv(R, argc + 3, a, l);
}

static long long xlen(const char *key)
{
    redisReply *r = redisCommand(R, "XLEN %s", key);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* The cluster variant of conns.lua records its occupancy events instead of queuing them, replies
 * {counts, P, events...}, and webhook_transitions.lua queues them as one Redis would have. */
Test(scripts, a_channel_scripts_cluster_variant_hands_its_webhook_events_to_its_caller)
{
    const char *P = "belfry:";
    char gwchans[BF_KEY_MAX], gwknown[BF_KEY_MAX], conns[BF_KEY_MAX], on[BF_KEY_MAX],
        stream[BF_KEY_MAX], vacating[BF_KEY_MAX], global[BF_KEY_MAX];
    bf_key(gwchans, P, BF_KEY_GWCHANS, "gw1");
    bf_key(gwknown, P, BF_KEY_GWKNOWN, NULL);
    bf_key(conns, P, BF_KEY_CONNS, "room");
    bf_key(on, P, BF_KEY_WEBHOOKS_ON, NULL);
    bf_key(stream, P, BF_KEY_WEBHOOKS, NULL);
    bf_key(vacating, P, BF_KEY_WEBHOOKS_VACATING, NULL);
    snprintf(global, sizeof(global), "%.*s", (int)(strlen(on) - strlen("webhooks:on")), on);
    freeReplyObject(
        redisCommand(R, "DEL %s %s %s %s %s", stream, vacating, conns, gwchans, gwknown));
    freeReplyObject(redisCommand(R, "SET %s 1000", on));

    /* the cluster form declares the channels' conns keys only (the index is its caller's) */
    const char *up[] = {gwchans, gwknown, conns, "gw1", "2", "room"};
    const char *up_cl[] = {conns, "gw1", "2", "room"};
    redisReply *r = eval_variant(BF_SCRIPT_CONNS, true, 1, 4, up_cl);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", r->type == REDIS_REPLY_ERROR ? r->str : "");
    cr_assert_eq(r->elements, 5, "{counts, P, 'o', channel, '1'}: %zu elements", r->elements);
    cr_expect_eq(r->element[0]->type, REDIS_REPLY_ARRAY);
    cr_expect_eq(r->element[0]->element[0]->integer, 2, "the counts are the caller's reply");
    cr_expect_str_eq(r->element[1]->str, global, "P, the cluster-wide keys' stem");
    cr_expect_str_eq(r->element[2]->str, "o");
    cr_expect_str_eq(r->element[3]->str, "room");
    cr_expect_str_eq(r->element[4]->str, "1");
    freeReplyObject(r);
    cr_expect_eq(xlen(stream), 0, "the cluster variant must not touch the cluster-wide slot");
    r = redisCommand(R, "EXISTS %s %s", gwchans, gwknown);
    cr_expect_eq(r->integer, 0, "the cluster variant must not touch the gateway's index");
    freeReplyObject(r);

    const char *occ[] = {on, "o", "room", "1"};
    r = eval_variant(BF_SCRIPT_WEBHOOK_TRANSITIONS, true, 1, 4, occ);
    cr_expect_eq(r->integer, 1, "%s", r->type == REDIS_REPLY_ERROR ? r->str : "");
    freeReplyObject(r);
    r = redisCommand(R, "XRANGE %s - +", stream);
    cr_assert_eq(r->elements, 1);
    cr_expect_str_eq(r->element[0]->element[1]->element[1]->str, "channel_occupied");
    freeReplyObject(r);

    /* the last connections leave: vacated after the delay, as on one Redis */
    const char *down[] = {conns, "gw1", "-2", "room"};
    r = eval_variant(BF_SCRIPT_CONNS, true, 1, 4, down);
    cr_assert_eq(r->elements, 5);
    cr_expect_str_eq(r->element[4]->str, "0");
    const char *vac[] = {on, "o", "room", "0", "m", "member_added", "room", "u1"};
    freeReplyObject(r);
    r = eval_variant(BF_SCRIPT_WEBHOOK_TRANSITIONS, true, 1, 8, vac);
    cr_expect_eq(r->integer, 2);
    freeReplyObject(r);
    r = redisCommand(R, "ZSCORE %s room", vacating);
    cr_expect_eq(r->type, REDIS_REPLY_STRING, "channel_vacated is held for the delay");
    freeReplyObject(r);
    cr_expect_eq(xlen(stream), 2, "member_added queued");

    /* a bad record is an error, not a silent drop; off: nothing queued */
    const char *bad[] = {on, "x", "room"};
    r = eval_variant(BF_SCRIPT_WEBHOOK_TRANSITIONS, true, 1, 3, bad);
    cr_expect_eq(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    freeReplyObject(redisCommand(R, "DEL %s", on));
    r = eval_variant(BF_SCRIPT_WEBHOOK_TRANSITIONS, true, 1, 4, occ);
    cr_expect_eq(r->integer, 0);
    freeReplyObject(r);
    cr_expect_eq(xlen(stream), 2);

    /* on one Redis the same script queues the event itself and replies the counts alone (no
     * vacate pending, which an occupy would cancel instead) */
    freeReplyObject(redisCommand(R, "SET %s 1000", on));
    freeReplyObject(redisCommand(R, "DEL %s", vacating));
    r = eval_variant(BF_SCRIPT_CONNS, false, 3, 6, up);
    cr_expect_eq(r->type, REDIS_REPLY_ARRAY);
    cr_expect_eq(r->elements, 1);
    freeReplyObject(r);
    cr_expect_eq(xlen(stream), 3);
}

/* ---- the fan-out window (bf_admit in sequence.lib.lua) --------------------------------------- */

/* publish.lua with a window of 1 on channel "big": the reply (caller frees). */
static redisReply *publish_windowed(void)
{
    bf_publish p = {.prefix = "belfry:",
                    .channel = "big",
                    .frame_prefix = "{\"seq\":",
                    .frame_prefix_len = 7,
                    .fw = {1, 60000}};
    bf_script_args a;
    cr_assert_eq(bf_publish_args(&a, &p), 0);
    const char *argv[24];
    for (int i = 0; i < a.argc; i++) argv[i] = a.argv[i];
    return eval_variant(BF_SCRIPT_PUBLISH, false, a.nkeys, a.argc, argv);
}

static long long redis_now_ms(void)
{
    redisReply *t = redisCommand(R, "TIME");
    long long ms = atoll(t->element[0]->str) * 1000 + atoll(t->element[1]->str) / 1000;
    freeReplyObject(t);
    return ms;
}

Test(scripts, the_window_refuses_while_a_gateway_writes_and_gives_each_publisher_its_own_slot)
{
    freeReplyObject(redisCommand(R, "DEL belfry:fdone:{big} belfry:seq:{big}"));
    /* nobody reports on the channel: never held */
    redisReply *r = publish_windowed();
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", r->str ? r->str : "");
    freeReplyObject(r);
    /* gw-1 has written seq 1, its last fan-out took 40 ms: caught up, so seq 2 is taken and
     * starts its clock */
    freeReplyObject(redisCommand(R, "HSET belfry:fdone:{big} gw-1 %s", "1 0 40"));
    r = publish_windowed();
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", r->str ? r->str : "");
    cr_expect_eq(r->integer, 2);
    freeReplyObject(r);
    long long started = redis_now_ms();
    /* seq 2 is being written: three publishers are refused, each told to come back at the
     * fan-out's estimated end (40 ms after it started) */
    long long left[3];
    for (int i = 0; i < 3; i++) {
        r = publish_windowed();
        cr_assert_eq(r->type, REDIS_REPLY_ERROR);
        char gw[32];
        long long n, age;
        cr_assert_eq(sscanf(r->str, "FANOUT_BUSY %31s %lld %lld %lld", gw, &n, &age, &left[i]), 4,
                     "%s", r->str);
        cr_expect_str_eq(gw, "gw-1");
        cr_expect_eq(n, 1);
        freeReplyObject(r);
    }
    long long elapsed = redis_now_ms() - started;
    for (int i = 0; i < 3; i++)
        cr_expect(left[i] <= 40 && left[i] >= 40 - elapsed - 1, "refusal %d: back in %lld ms", i,
                  left[i]);
    /* nothing refused was sequenced */
    r = redisCommand(R, "GET belfry:seq:{big}");
    cr_expect_str_eq(r->str, "2");
    freeReplyObject(r);
    /* gw-1 reports seq 2 written: taken again, and its entry records how long seq 2 took */
    bf_script_args a;
    cr_assert_eq(bf_fandone_args(&a, "belfry:", "gw-1", "big", 2, 60000), 0);
    const char *argv[24];
    for (int i = 0; i < a.argc; i++) argv[i] = a.argv[i];
    freeReplyObject(eval_variant(BF_SCRIPT_FANDONE, false, a.nkeys, a.argc, argv));
    r = redisCommand(R, "HGET belfry:fdone:{big} gw-1");
    long long s, at, d;
    cr_assert_eq(sscanf(r->str, "%lld %lld %lld", &s, &at, &d), 3, "%s", r->str);
    cr_expect_eq(s, 2);
    cr_expect(d >= 0 && d <= redis_now_ms() - started + 1, "duration %lld", d);
    freeReplyObject(r);
    r = publish_windowed();
    cr_expect_eq(r->type, REDIS_REPLY_INTEGER, "%s", r->str ? r->str : "");
    freeReplyObject(r);
    /* an entry writing for longer than the stale time is dropped, not waited for */
    freeReplyObject(redisCommand(R, "HSET belfry:fdone:{big} gw-1 %s", "1 1 40"));
    r = publish_windowed();
    cr_expect_eq(r->type, REDIS_REPLY_INTEGER, "a stale entry held the channel: %s",
                 r->str ? r->str : "");
    freeReplyObject(r);
    r = redisCommand(R, "HEXISTS belfry:fdone:{big} gw-1");
    cr_expect_eq(r->integer, 0);
    freeReplyObject(r);
}
