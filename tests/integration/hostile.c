/* Issue: hardening — hostile input that needs no product change to be refused or contained.
 *
 *   - Redis argument injection: user ids (spaces, quotes, RESP fragments, format strings) and
 *     presence info (also CR/LF) travel as single values (hiredis %s/%b, Lua ARGV) and come back
 *     intact; control characters in user ids are refused.
 *   - Presence spoofing: a whisper's user_id is always the verified one; clients and publishers
 *     cannot emit presence events.
 *   - The HTTP API without (or with a near-miss of) the key: 401; bodies over the limit: 413.
 *   - Cross-site WebSocket hijacking: the Origin allowlist matches exactly.
 *   - Garbage on the internal Redis subjects (fan:, inbox:, publish:): dropped, counted in
 *     /metrics, and both daemons keep serving.
 *   - A client flooding messages without reading the answers is cut off. */
#include "common.h"

#include "wire.h"

#include <signal.h>
#include <sys/socket.h>

static bf_cluster *C;

static void setup(void)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .jwt_secret = IT_SECRET};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly");
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 90);

/* ---- helpers ------------------------------------------------------------------------------- */

/* A presence/private connection for user with optional info (a JSON object), built with jansson
 * so that any byte in user or info is encoded correctly. */
static bf_ws *join(const char *channel, const char *user, json_t *info, int *status)
{
    json_t *claims = json_pack("{s:s,s:I,s:[s]}", "sub", user, "exp", (json_int_t)time(NULL) + 600,
                               "channels", channel);
    if (info) json_object_set(claims, "info", info);
    char *cj = json_dumps(claims, JSON_COMPACT);
    char *t = bf_mint_token(IT_SECRET, "HS256", cj);
    cr_assert_not_null(t);
    char path[8192];
    snprintf(path, sizeof(path), "/ws/%s?token=%s", channel, t);
    bf_ws *w = bf_ws_connect(C->gateways[0].port, path, NULL, status, NULL, 5000);
    free(t);
    free(cj);
    json_decref(claims);
    return w;
}

/* The value of an unlabelled metric on port (a gateway or router), or -1. */
static long long metric(int port, const char *name)
{
    bf_http_resp r;
    long long v = -1;
    if (bf_http(port, "GET", "/metrics", NULL, NULL, 0, &r, 3000)) return -1;
    size_t nl = strlen(name);
    for (const char *p = r.body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, name, nl) && p[nl] == ' ') {
            v = strtoll(p + nl + 1, NULL, 10);
            break;
        }
    }
    bf_http_resp_free(&r);
    return v;
}

typedef struct metric_wait {
    int port;
    const char *name;
    long long want;
} metric_wait;

static bool metric_reached(void *arg)
{
    metric_wait *m = arg;
    return metric(m->port, m->name) >= m->want;
}

static void expect_metric(int port, const char *name, long long want)
{
    metric_wait m = {port, name, want};
    bf_wait_for(metric_reached, &m, 5000);
    cr_expect_eq(metric(port, name), want, "%s", name);
}

static int publish_status(const char *channel, const char *headers, const char *body, size_t len)
{
    char path[256];
    bf_http_resp r;
    snprintf(path, sizeof(path), "/broadcast/%s", channel);
    cr_assert_eq(bf_http(C->routers[0].port, "POST", path, headers, body, len, &r, 5000), 0);
    int st = r.status;
    bf_http_resp_free(&r);
    return st;
}

/* ---- Redis argument injection -------------------------------------------------------------- */

typedef struct hostile_user {
    const char *id;
    const char *info; /* JSON text or NULL */
} hostile_user;

static const hostile_user users[] = {
    {"alice bob carol", NULL},
    {"quote\"d 'single' `back`", "{\"q\":\"\\\"'\",\"html\":\"<script>alert(1)</script>\"}"},
    {"*3 $3 DEL belfry:canary",
     "{\"note\":\"*3\\r\\n$3\\r\\nDEL\\r\\n$13\\r\\nbelfry:canary\\r\\n\"}"},
    {"DEL belfry:canary\\r\\n", "{\"crlf\":\"a\\r\\nSET belfry:canary pwned\\r\\n\"}"},
    {"%s%n%x%p", "{\"nested\":{\"a\":[1,2,{\"b\":null}]},\"n\":-0.5}"},
    {"{\"id\":\"fake\",\"joinedAt\":0}", "{\"id\":\"not-the-id\"}"},
    {"caf\xc3\xa9 \xf0\x9f\x94\x94 \xe4\xb8\xad", "{\"name\":\"\\u00e9\\ud83d\\udd14\"}"},
};
#define NUSERS (sizeof(users) / sizeof(users[0]))

static json_t *member_with_id(json_t *members, const char *id)
{
    for (size_t i = 0; i < json_array_size(members); i++) {
        json_t *m = json_array_get(members, i);
        const char *mid = json_string_value(json_object_get(m, "id"));
        if (mid && !strcmp(mid, id)) return m;
    }
    return NULL;
}

static bool presence_empty(void *arg)
{
    int status;
    char *b = it_http_get(C, (const char *)arg, &status);
    bool empty = status == 200 && strstr(b, "\"members\":[]");
    free(b);
    return empty;
}

Test(hostile, user_ids_and_info_reach_redis_as_single_values_and_come_back_intact)
{
    const char *ch = "presence-inject";
    free(bf_redis_query(C, "SET belfry:canary 1"));
    bf_ws *w[NUSERS];
    for (size_t i = 0; i < NUSERS; i++) {
        json_t *info = users[i].info ? json_loads(users[i].info, 0, NULL) : NULL;
        cr_assert(!users[i].info || info, "bad test info %s", users[i].info);
        int status = 0;
        w[i] = join(ch, users[i].id, info, &status);
        cr_assert_not_null(w[i], "user '%s' refused: %d", users[i].id, status);
        json_decref(it_recv_event(w[i], "presence:here", 5000, users[i].id));
        json_decref(info);
    }
    /* the first user saw every later one join, with the exact id */
    for (size_t i = 1; i < NUSERS; i++) {
        json_t *j = it_recv_event(w[0], "presence:join", 5000, "first user");
        const char *id = json_string_value(
            json_object_get(json_object_get(json_object_get(j, "data"), "member"), "id"));
        cr_expect(id && !strcmp(id, users[i].id), "join of '%s' arrived as '%s'", users[i].id,
                  id ? id : "(none)");
        json_decref(j);
    }
    int status;
    char path[128];
    snprintf(path, sizeof(path), "/presence/%s", ch);
    char *body = it_http_get(C, path, &status);
    cr_assert_eq(status, 200, "%s", body);
    json_t *j = json_loads(body, 0, NULL);
    json_t *members = json_object_get(j, "members");
    cr_expect_eq(json_array_size(members), NUSERS, "%s", body);
    for (size_t i = 0; i < NUSERS; i++) {
        json_t *m = member_with_id(members, users[i].id);
        cr_expect_not_null(m, "'%s' missing from %s", users[i].id, body);
        json_t *want = users[i].info ? json_loads(users[i].info, 0, NULL) : json_object();
        cr_expect(m && json_equal(json_object_get(m, "info"), want), "info of '%s' changed: %s",
                  users[i].id, body);
        json_decref(want);
    }
    json_decref(j);
    free(body);
    snprintf(path, sizeof(path), "/channels/%s", ch);
    body = it_http_get(C, path, &status);
    char want_users[64];
    snprintf(want_users, sizeof(want_users), "\"user_count\":%zu", NUSERS);
    cr_expect(strstr(body, want_users), "%s", body);
    free(body);
    /* nothing was executed on the side */
    char *canary = bf_redis_query(C, "GET belfry:canary");
    cr_expect(canary && !strcmp(canary, "1"), "canary is %s", canary ? canary : "(gone)");
    free(canary);
    /* every leave finds its member again: the channel ends up empty */
    for (size_t i = 0; i < NUSERS; i++) bf_ws_close(w[i]);
    snprintf(path, sizeof(path), "/presence/%s", ch);
    cr_expect(bf_wait_for(presence_empty, path, 5000), "members left behind after the leaves");
}

Test(hostile, control_characters_in_a_user_id_are_refused)
{
    const char *bad[] = {"a\r\nDEL belfry:canary", "soh\x01", "tab\tid", "esc\x1b[31m"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int status = 0;
        bf_ws *w = join("presence-ctl", bad[i], NULL, &status);
        cr_expect_null(w, "user id %zu was accepted", i);
        cr_expect_eq(status, 403, "user id %zu: status %d", i, status);
        bf_ws_abort(w);
    }
}

/* ---- presence spoofing --------------------------------------------------------------------- */

Test(hostile, whispers_carry_the_verified_user_id_and_clients_cannot_forge_presence)
{
    const char *ch = "presence-spoof";
    int status;
    bf_ws *a = join(ch, "alice", NULL, &status);
    cr_assert_not_null(a);
    json_decref(it_recv_event(a, "presence:here", 5000, "alice"));
    bf_ws *b = join(ch, "bob", NULL, &status);
    cr_assert_not_null(b);
    json_decref(it_recv_event(b, "presence:here", 5000, "bob"));
    json_decref(it_recv_event(a, "presence:join", 5000, "alice"));
    const char *spoof = "{\"event\":\"whisper\",\"user_id\":\"bob\",\"data\":{\"user_id\":\"bob\","
                        "\"event\":\"presence:leave\"}}";
    cr_assert_eq(bf_ws_send_text(a, spoof, strlen(spoof)), 0);
    json_t *j = it_recv_json(b, 3000, "bob");
    cr_expect_str_eq(json_string_value(json_object_get(j, "event")), "whisper");
    cr_expect_str_eq(json_string_value(json_object_get(j, "user_id")), "alice",
                     "the whisper's user_id is not the verified sender");
    /* the payload is the application's: it is relayed as is, inside data */
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "data"), "event")),
                     "presence:leave");
    json_decref(j);
    /* duplicate keys are refused outright (no first-wins/last-wins confusion) */
    const char *dup = "{\"event\":\"whisper\",\"data\":1,\"user_id\":\"x\",\"user_id\":\"bob\"}";
    bf_ws_send_text(a, dup, strlen(dup));
    j = it_recv_event(a, "error", 3000, "alice");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "data"), "code")),
                     "bad_json");
    json_decref(j);
    /* a client cannot send presence events, and a publisher cannot either (HTTP or Redis) */
    const char *forge = "{\"event\":\"presence:leave\",\"data\":{\"member\":{\"id\":\"bob\"}}}";
    bf_ws_send_text(a, forge, strlen(forge));
    j = it_recv_event(a, "error", 3000, "alice");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "data"), "code")),
                     "unknown_event");
    json_decref(j);
    cr_expect_eq(publish_status(ch, IT_KEY_HDR, forge, strlen(forge)), 400);
    free(bf_redis_query(C, "PUBLISH belfry:publish:%s %s", ch, forge));
    it_expect_silence(b, 500, "bob (nothing forged may arrive)");
    bf_ws_close(a);
    bf_ws_close(b);
}

/* ---- the HTTP API -------------------------------------------------------------------------- */

Test(hostile, publish_without_the_exact_key_is_401_and_oversized_bodies_are_413)
{
    const char *body = "{\"event\":\"E\",\"data\":{}}";
    char h[256];
    const char *key = IT_API_KEY;
    size_t kl = strlen(key);
    struct {
        const char *name;
        char hdr[256];
        int want;
    } cases[8];
    int n = 0;
#define CASE(nm, st, ...)                                                                          \
    do {                                                                                           \
        cases[n].name = nm;                                                                        \
        snprintf(cases[n].hdr, sizeof(cases[n].hdr), __VA_ARGS__);                                 \
        cases[n++].want = st;                                                                      \
    } while (0)
    CASE("no header", 401, "%s", "");
    CASE("wrong key", 401, "Authorization: Bearer wrong\r\n");
    CASE("key prefix", 401, "Authorization: Bearer %.*s\r\n", (int)(kl - 1), key);
    CASE("key plus a byte", 401, "Authorization: Bearer %sx\r\n", key);
    CASE("empty bearer", 401, "Authorization: Bearer \r\n");
    CASE("basic scheme", 401, "Authorization: Basic %s\r\n", key);
    CASE("key in another header", 401, "X-Api-Key: %s\r\n", key);
    CASE("scheme in lower case", 204, "Authorization: bearer %s\r\n", key);
#undef CASE
    for (int i = 0; i < n; i++) {
        int st = publish_status("room", cases[i].hdr[0] ? cases[i].hdr : NULL, body, strlen(body));
        cr_expect_eq(st, cases[i].want, "%s: %d", cases[i].name, st);
    }
    snprintf(h, sizeof(h), "/broadcast/room?api_key=%s", key);
    bf_http_resp r;
    cr_assert_eq(bf_http(C->routers[0].port, "POST", h, NULL, body, strlen(body), &r, 5000), 0);
    cr_expect_eq(r.status, 401, "key in the query string: %d", r.status);
    bf_http_resp_free(&r);
    /* the read endpoints need the key too */
    cr_assert_eq(
        bf_http(C->routers[0].port, "GET", "/presence/presence-x", NULL, NULL, 0, &r, 5000), 0);
    cr_expect_eq(r.status, 401, "GET /presence without key: %d", r.status);
    bf_http_resp_free(&r);
    /* bodies: exactly the 65536-byte limit passes, one byte more is 413 */
    enum { LIMIT = 65536 };
    char *big = malloc(LIMIT + 2);
    int pre = snprintf(big, LIMIT, "{\"event\":\"Big\",\"data\":\"");
    memset(big + pre, 'x', LIMIT - pre - 2);
    memcpy(big + LIMIT - 2, "\"}", 2);
    cr_expect_eq(publish_status("room", IT_KEY_HDR, big, LIMIT), 204, "body of exactly the limit");
    memcpy(big + LIMIT - 2, "x\"}", 3);
    cr_expect_eq(publish_status("room", IT_KEY_HDR, big, LIMIT + 1), 413, "limit + 1");
    free(big);
    /* far over the limit and without a key: libevent refuses it before buffering it all (its
     * max body size is the limit + 64 KiB), answering 413 or hanging up mid-upload */
    enum { HUGE = 4 << 20 };
    char *huge = malloc(HUGE);
    memset(huge, '{', HUGE);
    int hs = bf_http(C->routers[0].port, "POST", "/broadcast/room", NULL, huge, HUGE, &r, 5000);
    cr_expect(hs == -1 || r.status == 413, "4 MiB body: rc %d status %d", hs, hs ? 0 : r.status);
    if (hs == 0) bf_http_resp_free(&r);
    free(huge);
    cr_expect_eq(publish_status("room", IT_KEY_HDR, body, strlen(body)), 204, "still serving");
}

/* Cross-site WebSocket hijacking: with --allowed-origins, only exact origins may connect. */
Test(hostile_origins, origin_allowlist_matches_exactly, .timeout = 60)
{
    static const char *const args[] = {"--allowed-origins", "https://app.example", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    static const char *const refused[] = {
        "https://app.example.evil.com", "https://evil.com/https://app.example",
        "https://app.exampl",           "http://app.example",
        "https://app.example:443",      "null",
        "HTTPS://APP.EXAMPLE",          "https://app.example\r\nOrigin: x", /* two Origin headers */
    };
    char hdr[256];
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(hdr, sizeof(hdr), "Origin: %s\r\n", refused[i]);
        it_refused(c, 0, "/ws/lobby", hdr, 403, "origin_forbidden");
    }
    bf_ws *ok = it_connect(c, 0, "/ws/lobby", "Origin: https://app.example\r\n");
    bf_ws_close(ok);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

/* ---- garbage on the internal subjects ------------------------------------------------------ */

/* Deterministic garbage: xorshift bytes whose first byte can never open a 5..15-element array,
 * so no buffer can be a valid envelope by chance, plus hand-made attacks on the decoder. */
static size_t garbage(unsigned i, unsigned char *out, size_t cap)
{
    static const unsigned char attacks[][16] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01},                   /* array32 of 4 G elements */
        {0x97, 0x01, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xf0, 'x'},  /* str32 of 4 GiB */
        {0x97, 0x02, 0x01, 0xa1, 'c', 0x01, 0xa2, '{', '}'},    /* version 2 */
        {0x97, 0x01, 0x09, 0xa1, 'c', 0x01, 0xa2, '{', '}'},    /* unknown kind/op */
        {0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91}, /* nesting */
        {0xc1},                                                 /* never-used byte */
    };
    enum { NATT = sizeof(attacks) / sizeof(attacks[0]) };
    if (i < NATT) {
        memcpy(out, attacks[i], 16);
        return 9;
    }
    uint32_t x = 2463534242u ^ (i * 2654435761u);
    size_t n = (x % 300);
    if (n > cap) n = cap;
    for (size_t k = 0; k < n; k++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[k] = (unsigned char)x;
    }
    if (n && ((out[0] >= 0x95 && out[0] <= 0x9f) || out[0] == 0xdc || out[0] == 0xdd))
        out[0] = 0x00;
    return n;
}

Test(hostile, garbage_on_internal_subjects_is_dropped_counted_and_both_daemons_keep_serving)
{
    enum { N = 200 };
    const char *ch = "presence-garbage";
    int status;
    bf_ws *a = join(ch, "alice", NULL, &status);
    cr_assert_not_null(a);
    json_decref(it_recv_event(a, "presence:here", 5000, "alice"));
    int gw = C->gateways[0].port, rt = C->routers[0].port;
    long long fan0 = metric(gw, "belfry_gateway_fanout_malformed_total");
    long long inbox0 = metric(rt, "belfry_router_inbox_malformed_total");
    long long ing0 = metric(rt, "belfry_router_ingress_malformed_total");
    cr_assert(fan0 >= 0 && inbox0 >= 0 && ing0 >= 0, "metrics missing");

    unsigned char buf[512];
    char fan[128], inbox[128];
    snprintf(fan, sizeof(fan), "belfry:fan:{%s}", ch);
    snprintf(inbox, sizeof(inbox), "belfry:inbox:%s", C->routers[0].id);
    for (unsigned i = 0; i < N; i++) {
        size_t n = garbage(i, buf, sizeof(buf));
        free(bf_redis_query(C, "PUBLISH %s %b", fan, buf, n));
        free(bf_redis_query(C, "PUBLISH %s %b", inbox, buf, n));
        free(bf_redis_query(C, "PUBLISH belfry:publish:%s %b", ch, buf, n));
    }
    /* well-formed envelopes that still break the rules */
    bf_fanout other = {
        .kind = BF_FAN_MESSAGE, .channel = {"elsewhere", 9}, .seq = 1, .frame = {"{}", 2}};
    char *env;
    size_t envlen;
    cr_assert_eq(bf_wire_encode_fanout(&other, &env, &envlen), 0);
    free(bf_redis_query(C, "PUBLISH %s %b", fan, env, envlen)); /* channel != subject */
    free(env);
    char longuser[300];
    memset(longuser, 'u', sizeof(longuser));
    bf_inbox join_op = {BF_OP_JOIN, {ch, strlen(ch)}, {"gw-0/1", 6}, {longuser, 300}, {"{}", 2}, 0};
    cr_assert_eq(bf_wire_encode_inbox(&join_op, &env, &envlen), 0);
    free(bf_redis_query(C, "PUBLISH %s %b", inbox, env, envlen)); /* user id over 200 bytes */
    free(env);
    bf_inbox bad_channel = {BF_OP_LEAVE, {"a b", 3}, {"gw-0/1", 6}, {"u", 1}, {"", 0}, 0};
    cr_assert_eq(bf_wire_encode_inbox(&bad_channel, &env, &envlen), 0);
    free(bf_redis_query(C, "PUBLISH %s %b", inbox, env, envlen)); /* invalid channel name */
    free(env);
    free(bf_redis_query(C, "PUBLISH %s %s", "belfry:publish:bad name", "{\"event\":\"E\"}"));
    free(bf_redis_query(C, "PUBLISH %s %s", "belfry:publish:", "{\"event\":\"E\"}"));
    char *huge = malloc(70000);
    memset(huge, ' ', 70000);
    memcpy(huge, "{\"event\":\"E\",\"data\":1}", 22);
    free(bf_redis_query(C, "PUBLISH belfry:publish:%s %b", ch, huge, (size_t)70000));
    free(huge);

    expect_metric(gw, "belfry_gateway_fanout_malformed_total", fan0 + N + 1);
    expect_metric(rt, "belfry_router_inbox_malformed_total", inbox0 + N + 2);
    expect_metric(rt, "belfry_router_ingress_malformed_total", ing0 + N + 3);
    cr_expect_eq(kill(C->gateways[0].pid, 0), 0, "the gateway died");
    cr_expect_eq(kill(C->routers[0].pid, 0), 0, "the router died");

    /* still serving: nothing of the garbage reached the client, a normal publish does, and
     * presence still works (a new member joins and is announced) */
    it_publish(C, ch, "{\"event\":\"Good\",\"data\":{\"i\":1}}");
    json_t *j = it_recv_json(a, 3000, "alice");
    cr_expect_str_eq(json_string_value(json_object_get(j, "event")), "Good",
                     "the first frame after the garbage is not the good publish");
    json_decref(j);
    bf_ws *b = join(ch, "bob", NULL, &status);
    cr_assert_not_null(b);
    json_decref(it_recv_event(b, "presence:here", 5000, "bob"));
    j = it_recv_event(a, "presence:join", 5000, "alice");
    json_decref(j);
    bf_ws_close(a);
    bf_ws_close(b);
}

/* A client that floods messages the gateway must answer (here: not JSON) and never reads the
 * answers gets its own error frames queued until its send queue (--send-queue-messages, 1024)
 * overflows: it is cut off as a slow consumer instead of growing the gateway's memory, and other
 * clients are served. (The 4008 close frame itself is lost: the gateway closes a socket that
 * still holds unread flood, so the kernel resets it; what is observable is the cut-off after a
 * queue's worth of answers plus what the socket buffers took.) Returns the number of error frames
 * the flooder got. */
static int flood_until_cut_off(bf_cluster *c, bf_ws *other, int batch, int pause_us)
{
    bf_ws *flood = it_connect(c, 0, "/ws/flood", NULL);
    /* a small receive window, so the kernel cannot absorb megabytes of answers for it */
    int small = 4096;
    setsockopt(bf_ws_fd(flood), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    /* far more than the socket buffers between us take: the sends stop when the gateway cuts
     * the connection (reset), not because we ran out */
    enum { MAX = 10000000 };
    unsigned char *buf = malloc((size_t)batch * 7), *o;
    int sent = 0, failed = 0;
    long long start = bf_ms();
    while (sent < MAX && !failed && bf_ms() - start < 20000) {
        o = buf;
        for (int k = 0; k < batch; k++) {
            *o++ = 0x81; /* FIN, text, 1 byte, zero mask */
            *o++ = 0x80 | 1;
            memset(o, 0, 4);
            o += 4;
            *o++ = 'x';
        }
        failed = bf_ws_send_raw(flood, buf, (size_t)(o - buf)) != 0;
        sent += batch;
        if (pause_us) usleep((useconds_t)pause_us);
    }
    free(buf);
    bf_ws_msg m;
    int frames = 0, rc;
    while ((rc = bf_ws_recv(flood, &m, 3000)) == 0) {
        frames += m.opcode == 1;
        bf_ws_msg_free(&m);
    }
    fprintf(stderr, "hostile: %d bad messages sent in %lld ms; %d error frames, then %s\n", sent,
            bf_ms() - start, frames, rc == -2 ? "cut off" : "still open");
    cr_expect(failed, "the gateway accepted %d messages without cutting the flooder off", sent);
    cr_expect_eq(rc, -2, "the flooding connection is still open");
    /* a queue's worth plus what the kernel buffers took before the queue filled */
    cr_expect(frames < 20000 && frames < sent / 10, "%d error frames for %d messages", frames,
              sent);
    bf_ws_abort(flood);
    it_publish(c, "flood", "{\"event\":\"Still\",\"data\":{}}");
    json_decref(it_recv_event(other, "Still", 3000, "other client"));
    return frames;
}

Test(hostile, flood_of_bad_messages_without_reading_is_cut_off)
{
    bf_ws *other = it_connect(C, 0, "/ws/flood", NULL);
    it_wait_subscribed(C, "flood", 1);
    flood_until_cut_off(C, other, 1000, 0);
    bf_ws_close(other);
}

/* The same flood is counted: the error replies fill the flooder's queue and it is closed as a
 * slow consumer (the metric operators alert on), not merely dropped. */
Test(hostile, flood_cut_off_is_counted_as_a_slow_consumer)
{
    bf_ws *other = it_connect(C, 0, "/ws/flood", NULL);
    it_wait_subscribed(C, "flood", 1);
    flood_until_cut_off(C, other, 1000, 0);
    expect_metric(C->gateways[0].port, "belfry_gateway_slow_consumer_disconnects_total", 1);
    bf_ws_close(other);
}
