/* libbelfry's WebSocket client against a scripted server thread: what the real gateway rarely or
 * never does (fragments, interleaved pings, server-initiated closes with codes, protocol
 * violations, silence) and the gap rules for presence:here. The test drives the client's loop. */
#include "client/src/ws_proto.h"

#include <belfry/client.h>

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the scripted server (blocking sockets, in its own thread) ---------------------------- */

typedef struct server server;
typedef void (*script_fn)(server *s);

struct server {
    int lfd, port, fd; /* listening socket, its port, the current connection */
    script_fn script;
    pthread_t thread;
    char got[8][512]; /* what the script received, for the test to check */
    int ngot;
    char req[8][512]; /* the request line of each upgrade */
    int nreq;
    int failed; /* the script's own checks */
    bool joined;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int read_full(int fd, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 3000) != 1) return -1;
        ssize_t r = recv(fd, (char *)p + got, n - got, 0);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Accepts a connection, records its request line and answers its upgrade (with a wrong accept
 * key when asked to; not at all unless answer). */
static void accept_request(server *s, bool bad_accept, bool answer)
{
    struct pollfd pf = {.fd = s->lfd, .events = POLLIN};
    if (poll(&pf, 1, 3000) != 1) {
        s->failed = 1;
        return;
    }
    s->fd = accept(s->lfd, NULL, NULL);
    char req[2048];
    size_t len = 0;
    while (!strstr(req, "\r\n\r\n") || !len) {
        if (read_full(s->fd, req + len, 1)) {
            s->failed = 1;
            return;
        }
        req[++len] = '\0';
    }
    if (s->nreq < 8)
        snprintf(s->req[s->nreq++], sizeof(s->req[0]), "%.*s", (int)strcspn(req, "\r"), req);
    if (!answer) return;
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    char key[32] = "", accept_key[BF__WS_ACCEPT_LEN + 1];
    if (k) sscanf(k + 19, "%31[^\r]", key);
    bf__ws_accept_for(key, accept_key);
    if (bad_accept) accept_key[0] = accept_key[0] == 'A' ? 'B' : 'A';
    char resp[256];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept_key);
    send(s->fd, resp, (size_t)n, MSG_NOSIGNAL);
}

static void accept_upgrade(server *s, bool bad_accept)
{
    accept_request(s, bad_accept, true);
}

static void send_frame(server *s, int fin, int opcode, const void *p, size_t len, bool mask)
{
    uint8_t h[14];
    size_t n = 0;
    h[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        h[n++] = (uint8_t)((mask ? 0x80 : 0) | len);
    } else {
        h[n++] = (uint8_t)((mask ? 0x80 : 0) | 126);
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    }
    uint8_t *buf = malloc(n + 4 + len);
    memcpy(buf, h, n);
    if (mask) {
        memset(buf + n, 0, 4);
        n += 4;
    }
    memcpy(buf + n, p, len);
    send(s->fd, buf, n + len, MSG_NOSIGNAL);
    free(buf);
}

static void send_text(server *s, const char *text)
{
    send_frame(s, 1, BF__WS_TEXT, text, strlen(text), false);
}

/* Receives one client frame (unmasked into out, NUL-terminated); returns its opcode or -1. */
static int recv_frame(server *s, char *out, size_t cap, size_t *len)
{
    uint8_t h[2], ext[8], mask[4];
    if (read_full(s->fd, h, 2)) return -1;
    uint64_t n = h[1] & 0x7f;
    if (n == 126) {
        if (read_full(s->fd, ext, 2)) return -1;
        n = (uint64_t)ext[0] << 8 | ext[1];
    } else if (n == 127) {
        return -1;
    }
    if (!(h[1] & 0x80) || n >= cap || read_full(s->fd, mask, 4) || read_full(s->fd, out, n))
        return -1;
    for (uint64_t i = 0; i < n; i++) out[i] ^= (char)mask[i & 3];
    out[n] = '\0';
    if (len) *len = n;
    return h[0] & 0x0f;
}

/* Records the next client frame as "OPCODE:payload" (close frames: "8:CODE reason"). */
static void expect_frame(server *s)
{
    char p[512];
    size_t n;
    int op = recv_frame(s, p, sizeof(p), &n);
    char *g = s->got[s->ngot++ % 8];
    if (op == BF__WS_CLOSE && n >= 2)
        snprintf(g, sizeof(s->got[0]), "8:%d %.400s", (uint8_t)p[0] << 8 | (uint8_t)p[1], p + 2);
    else
        snprintf(g, sizeof(s->got[0]), "%d:%.400s", op, op < 0 ? "" : p);
}

/* Waits until the client closes the TCP connection (or 3 s), then closes ours. */
static void wait_hangup(server *s)
{
    char b[256];
    long long deadline = now_ms() + 3000;
    while (now_ms() < deadline) {
        struct pollfd pf = {.fd = s->fd, .events = POLLIN};
        if (poll(&pf, 1, 100) == 1 && recv(s->fd, b, sizeof(b), 0) <= 0) break;
    }
    close(s->fd);
    s->fd = -1;
}

static void *run_script(void *arg)
{
    server *s = arg;
    s->script(s);
    return NULL;
}

/* ---- the client side --------------------------------------------------------------------- */

static server S;
static uv_loop_t loop;
static uv_timer_t tick;
static bf_client *client;

static struct {
    int connects, disconnects, msgs, gaps;
    int code;
    char reason[200];
    char events[16][64];
    char data[16][300];
    unsigned long long seqs[16];
    int connects_at[16]; /* connects when message i was dispatched */
    char user[64];
    unsigned long long gap_expected[4], gap_got[4];
    int failed_recoveries, connects_at_failure;
    bf_client_recovery recovery; /* the last one (epoch copied below) */
    char recovery_epoch[40];
} seen;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void on_connect(bf_client *c, void *arg)
{
    (void)c;
    (void)arg;
    seen.connects++;
}

static void on_disconnect(bf_client *c, int code, const char *reason, void *arg)
{
    (void)arg;
    seen.disconnects++;
    seen.code = code;
    snprintf(seen.reason, sizeof(seen.reason), "%s", reason);
    bf_client_close(c); /* one attempt per test, unless a test says otherwise */
}

static void on_gap(bf_client *c, uint64_t expected, uint64_t got, void *arg)
{
    (void)c;
    (void)arg;
    if (seen.gaps < 4) {
        seen.gap_expected[seen.gaps] = expected;
        seen.gap_got[seen.gaps] = got;
    }
    seen.gaps++;
}

static void on_msg(bf_client *c, const bf_client_msg *m, void *arg)
{
    (void)c;
    (void)arg;
    int i = seen.msgs++ % 16;
    snprintf(seen.events[i], sizeof(seen.events[0]), "%s", m->event);
    snprintf(seen.data[i], sizeof(seen.data[0]), "%s", m->data);
    seen.seqs[i] = m->seq;
    seen.connects_at[i] = seen.connects;
    if (m->user_id) snprintf(seen.user, sizeof(seen.user), "%s", m->user_id);
}

static void start_server(script_fn script)
{
    memset(&S, 0, sizeof(S));
    S.fd = -1;
    S.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    cr_assert_eq(bind(S.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(S.lfd, 4), 0);
    getsockname(S.lfd, (struct sockaddr *)&sa, &sl);
    S.port = ntohs(sa.sin_port);
    S.script = script;
    pthread_create(&S.thread, NULL, run_script, &S);
}

static void print_log(bf_client *c, const char *line, void *arg)
{
    (void)c;
    (void)arg;
    fprintf(stderr, "client: %s\n", line);
}

static bf_client *start_client_at(bf_client_opts o, const char *query)
{
    char url[BF_CLIENT_URL_MAX], err[BF_ERR_LEN];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/room%s", S.port, query);
    o.url = url;
    o.on_connect = on_connect;
    if (!o.on_disconnect) o.on_disconnect = on_disconnect;
    o.on_gap = on_gap;
    if (getenv("CLIENT_WS_LOG")) o.on_log = print_log;
    client = bf_client_new(&loop, &o, err);
    cr_assert_not_null(client, "%s", err);
    bf_client_subscribe(client, "room", on_msg, NULL);
    return client;
}

static bf_client *start_client(bf_client_opts o)
{
    return start_client_at(o, "");
}

static void join_server(void)
{
    if (!S.joined) pthread_join(S.thread, NULL);
    S.joined = true;
}

static void setup(void)
{
    memset(&seen, 0, sizeof(seen));
    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    client = NULL;
}

static void teardown(void)
{
    bf_client_free(client);
    client = NULL;
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0, "handles left on the loop");
    join_server();
    if (S.fd >= 0) close(S.fd);
    close(S.lfd);
    cr_expect_eq(S.failed, 0, "the scripted server's own checks failed");
}

TestSuite(client_ws, .init = setup, .fini = teardown, .timeout = 20);

static bool run_until(bool (*cond)(void), int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    while (!cond()) {
        if (now_ms() >= deadline) return false;
        uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
}

static bool one_disconnect(void)
{
    return seen.disconnects >= 1;
}

/* Runs the loop for ms (to check that something does not happen). */
static void run_for(int ms)
{
    long long deadline = now_ms() + ms;
    while (now_ms() < deadline) uv_run(&loop, UV_RUN_ONCE);
}

/* ---- scripts and tests ------------------------------------------------------------------- */

static void fragments_and_pings(server *s)
{
    accept_upgrade(s, false);
    send_frame(s, 0, BF__WS_TEXT, "{\"event\":\"Frag", 14, false);
    send_frame(s, 1, BF__WS_PING, "p1", 2, false); /* control frames may interleave */
    send_frame(s, 0, BF__WS_CONT, "\",\"data\":{\"n\":", 14, false);
    send_frame(s, 1, BF__WS_CONT, "1},\"seq\":1}", 11, false);
    expect_frame(s); /* the pong */
    send_text(s, "{\"event\":\"whisper\",\"data\":{\"event\":\"typing\",\"data\":null},"
                 "\"user_id\":\"u-7\"}");
    expect_frame(s);                                                    /* the client's whisper */
    send_frame(s, 1, BF__WS_CLOSE, "\x0f\xa8slow consumer", 15, false); /* 4008 */
    expect_frame(s);                                                    /* the echoed close */
    close(s->fd);
    s->fd = -1;
}

static bool got_two(void)
{
    return seen.msgs >= 2;
}

Test(client_ws, fragments_pings_whispers_and_a_server_close)
{
    start_server(fragments_and_pings);
    start_client((bf_client_opts){0});
    cr_assert(run_until(got_two, 5000), "%d messages", seen.msgs);
    cr_expect_str_eq(seen.events[0], "Frag");
    cr_expect_str_eq(seen.data[0], "{\"n\":1}");
    cr_expect_eq(seen.seqs[0], 1);
    cr_expect_str_eq(seen.events[1], "whisper");
    cr_expect_str_eq(seen.data[1], "{\"event\":\"typing\",\"data\":null}");
    cr_expect_eq(seen.seqs[1], 0);
    cr_expect_str_eq(seen.user, "u-7");
    cr_expect_eq(bf_client_whisper(client, NULL, "typing", "{\"a\":[1,2]}"), 0);
    cr_assert(run_until(one_disconnect, 5000));
    cr_expect_eq(seen.code, 4008);
    cr_expect_str_eq(seen.reason, "slow consumer");
    cr_expect_eq(bf_client_get_state(client), BF_CLIENT_CLOSED);
    join_server();
    cr_expect_str_eq(S.got[0], "10:p1", "pong with the ping's payload");
    cr_expect_str_eq(S.got[1], "1:{\"event\":\"whisper\",\"channel\":\"room\",\"data\":{\"event\":"
                               "\"typing\",\"data\":{\"a\":[1,2]}}}");
    cr_expect_str_eq(S.got[2], "8:4008 ", "the close code is echoed");
}

/* A violation by the server: the client closes with `code` and hangs up. */
#define VIOLATION(name, ...)                                                                       \
    static void name(server *s)                                                                    \
    {                                                                                              \
        accept_upgrade(s, false);                                                                  \
        __VA_ARGS__;                                                                               \
        expect_frame(s);                                                                           \
        wait_hangup(s);                                                                            \
    }
VIOLATION(masked_frame, send_frame(s, 1, BF__WS_TEXT, "{}", 2, true))
VIOLATION(too_big,
          send_text(s, "{\"event\":\"E\",\"data\":\"0123456789012345678901234567890123456789"
                       "0123456789012345678901234567890123456789\"}"))
VIOLATION(bad_utf8, send_text(s, "{\"event\":\"\xc0\x80\"}"))
VIOLATION(binary, send_frame(s, 1, BF__WS_BINARY, "\x01", 1, false))
VIOLATION(stray_continuation, send_frame(s, 1, BF__WS_CONT, "x", 1, false))

static void check_violation(script_fn script, int code, const char *reason)
{
    start_server(script);
    start_client((bf_client_opts){.max_message_bytes = 64});
    cr_assert(run_until(one_disconnect, 5000));
    cr_expect_eq(seen.code, code, "%d %s", seen.code, seen.reason);
    cr_expect_str_eq(seen.reason, reason);
    join_server();
    char want[128];
    snprintf(want, sizeof(want), "8:%d %s", code, reason);
    cr_expect_str_eq(S.got[0], want, "the close frame the server got");
    cr_expect_eq(seen.msgs, 0);
}

Test(client_ws, a_masked_server_frame_is_a_protocol_error)
{
    check_violation(masked_frame, 1002, "protocol error");
}

Test(client_ws, a_message_over_the_limit_closes_with_1009)
{
    check_violation(too_big, 1009, "message too big");
}

Test(client_ws, invalid_utf8_closes_with_1007)
{
    check_violation(bad_utf8, 1007, "text message is not valid UTF-8");
}

Test(client_ws, binary_messages_close_with_1003)
{
    check_violation(binary, 1003, "binary messages are not supported");
}

Test(client_ws, a_continuation_without_a_start_is_a_protocol_error)
{
    check_violation(stray_continuation, 1002, "continuation frame without a message");
}

static void bad_accept(server *s)
{
    accept_upgrade(s, true);
    wait_hangup(s);
}

Test(client_ws, a_wrong_accept_key_fails_the_attempt)
{
    start_server(bad_accept);
    start_client((bf_client_opts){0});
    cr_assert(run_until(one_disconnect, 5000));
    cr_expect_eq(seen.code, 1006);
    cr_expect(strstr(seen.reason, "wrong or missing Sec-WebSocket-Accept") != NULL, "%s",
              seen.reason);
    cr_expect_eq(seen.connects, 0);
}

static void silent_after_upgrade(server *s)
{
    accept_upgrade(s, false);
    expect_frame(s); /* the client's ping, unanswered */
    wait_hangup(s);
}

Test(client_ws, a_silent_server_is_pinged_then_given_up)
{
    start_server(silent_after_upgrade);
    long long t0 = now_ms();
    start_client((bf_client_opts){.ping_interval_ms = 100});
    cr_assert(run_until(one_disconnect, 5000));
    long long took = now_ms() - t0;
    cr_expect_eq(seen.connects, 0,
                 "without belfry:subscribed the client never counts as connected");
    cr_expect_eq(seen.code, 1006);
    cr_expect_str_eq(seen.reason, "no answer to a ping within 100 ms");
    cr_expect(took >= 190 && took < 1500, "gave up after %lld ms", took);
    join_server();
    cr_expect_str_eq(S.got[0], "9:", "an empty ping");
}

static void never_upgrades(server *s)
{
    struct pollfd pf = {.fd = s->lfd, .events = POLLIN};
    if (poll(&pf, 1, 3000) != 1) {
        s->failed = 1;
        return;
    }
    s->fd = accept(s->lfd, NULL, NULL);
    wait_hangup(s);
}

Test(client_ws, an_upgrade_without_answer_times_out)
{
    start_server(never_upgrades);
    start_client((bf_client_opts){.connect_timeout_ms = 200});
    cr_assert(run_until(one_disconnect, 5000));
    cr_expect_eq(seen.code, 1006);
    cr_expect_str_eq(seen.reason, "timed out after 200 ms while upgrading");
}

static bool upgrading(void)
{
    return S.fd >= 0 && bf_client_get_state(client) == BF_CLIENT_CONNECTING;
}

Test(client_ws, close_during_the_upgrade_ends_quietly)
{
    start_server(never_upgrades);
    start_client((bf_client_opts){0});
    cr_assert(run_until(upgrading, 5000));
    run_for(50); /* the request is on its way */
    bf_client_close(client);
    cr_expect_eq(bf_client_get_state(client), BF_CLIENT_CLOSED);
    run_for(200);
    cr_expect_eq(seen.disconnects, 0, "no callback for an attempt closed before it opened");
    join_server(); /* the server saw the hang-up */
}

static void sequences(server *s)
{
    accept_upgrade(s, false);
    send_text(s, "{\"event\":\"A\",\"data\":1,\"seq\":1}");
    send_text(s, "{\"event\":\"A\",\"data\":2,\"seq\":2}");
    send_text(s, "{\"event\":\"presence:here\",\"data\":{\"members\":[]},\"seq\":10}");
    send_text(s, "{\"event\":\"A\",\"data\":11,\"seq\":11}");
    send_text(s, "{\"event\":\"error\",\"data\":{\"code\":\"x\",\"message\":\"y\"}}");
    send_text(s, "{\"event\":\"A\",\"data\":13,\"seq\":13}");
    send_text(s, "{\"event\":\"A\",\"data\":5,\"seq\":5}");
    send_text(s, "not json at all");
    send_text(s, "{\"event\":\"A\",\"data\":6,\"seq\":6}");
    expect_frame(s); /* the client's close */
    send_frame(s, 1, BF__WS_CLOSE, "\x03\xe8", 2, false);
    close(s->fd);
    s->fd = -1;
}

static bool got_eight(void)
{
    return seen.msgs >= 8;
}

Test(client_ws, gaps_and_the_presence_snapshot_baseline)
{
    start_server(sequences);
    start_client((bf_client_opts){0});
    cr_assert(run_until(got_eight, 5000), "%d messages", seen.msgs);
    cr_expect_str_eq(seen.events[2], "presence:here");
    cr_expect_eq(seen.seqs[2], 10);
    cr_expect_str_eq(seen.events[4], "error");
    cr_expect_eq(seen.seqs[4], 0);
    cr_assert_eq(seen.gaps, 2, "12 missing, then a restart; not at presence:here or error");
    cr_expect_eq(seen.gap_expected[0], 12);
    cr_expect_eq(seen.gap_got[0], 13);
    cr_expect_eq(seen.gap_expected[1], 14);
    cr_expect_eq(seen.gap_got[1], 5);
    cr_expect_eq(seen.msgs, 8, "the non-JSON frame is dropped");
    cr_expect_eq(bf_client_last_seq(client), 6);
    bf_client_close(client);
    cr_assert(run_until(one_disconnect, 5000));
    cr_expect_eq(seen.code, 1000);
    join_server();
    cr_expect_str_eq(S.got[0], "8:1000 ");
}

/* ---- recovery ---------------------------------------------------------------------------- */

static void keep_going(bf_client *c, int code, const char *reason, void *arg)
{
    (void)c;
    (void)arg;
    seen.disconnects++;
    seen.code = code;
    snprintf(seen.reason, sizeof(seen.reason), "%s", reason);
}

static void on_recovery_failed(bf_client *c, const bf_client_recovery *r, void *arg)
{
    (void)arg;
    seen.failed_recoveries++;
    seen.connects_at_failure = seen.connects;
    seen.recovery = *r;
    snprintf(seen.recovery_epoch, sizeof(seen.recovery_epoch), "%s", r->epoch);
    seen.recovery.epoch = NULL;
    cr_expect_eq(bf_client_last_seq(c), r->seq, "the new baseline is set before the callback");
}

/* The client's next upgrade; checks its request line. */
static void expect_request(server *s, const char *want)
{
    accept_upgrade(s, false);
    if (strcmp(s->req[s->nreq - 1], want)) {
        fprintf(stderr, "request line: %s\n          want: %s\n", s->req[s->nreq - 1], want);
        s->failed = 1;
    }
}

static void drop(server *s)
{
    close(s->fd);
    s->fd = -1;
}

static void position_then_resume_then_failure(server *s)
{
    /* the client owns recover/since/epoch and puts them first; the rest of the query stays */
    expect_request(s, "GET /ws/room?recover=1&a=1&b=x%20y HTTP/1.1");
    send_text(s, "{\"event\":\"belfry:subscribed\",\"data\":{\"epoch\":\"abc123\",\"seq\":7}}");
    send_text(s, "{\"event\":\"A\",\"data\":8,\"seq\":8}");
    send_text(s, "{\"event\":\"A\",\"data\":9,\"seq\":9}");
    drop(s);
    expect_request(s, "GET /ws/room?since=9&epoch=abc123&a=1&b=x%20y HTTP/1.1");
    send_text(s, "{\"event\":\"belfry:subscribed\",\"data\":{\"epoch\":\"abc123\",\"seq\":12,"
                 "\"recovered\":true,\"missed\":3}}");
    for (int i = 10; i <= 13; i++) { /* three replayed, then one live */
        char f[64];
        snprintf(f, sizeof(f), "{\"event\":\"A\",\"data\":%d,\"seq\":%d}", i, i);
        send_text(s, f);
    }
    drop(s);
    expect_request(s, "GET /ws/room?since=13&epoch=abc123&a=1&b=x%20y HTTP/1.1");
    send_text(s, "{\"event\":\"belfry:subscribed\",\"data\":{\"epoch\":\"def456\",\"seq\":4,"
                 "\"recovered\":false,\"missed\":4}}");
    send_text(s, "{\"event\":\"A\",\"data\":5,\"seq\":5}");
    expect_frame(s); /* the client's close */
    send_frame(s, 1, BF__WS_CLOSE, "\x03\xe8", 2, false);
    drop(s);
}

static bool got_seven(void)
{
    return seen.msgs >= 7;
}

Test(client_ws, recovery_position_resume_and_a_failed_recovery)
{
    start_server(position_then_resume_then_failure);
    start_client_at((bf_client_opts){.on_disconnect = keep_going,
                                     .on_recovery_failed = on_recovery_failed,
                                     .initial_delay_ms = 10,
                                     .jitter_pct = -1},
                    "?a=1&since=9&b=x%20y&epoch=zz&recover=0#frag");
    cr_expect_str_eq(bf_client_epoch(client), "");
    cr_assert(run_until(got_seven, 5000), "%d messages", seen.msgs);
    unsigned long long want[] = {8, 9, 10, 11, 12, 13, 5};
    int connects[] = {1, 1, 2, 2, 2, 2, 3}; /* on_connect came with each belfry:subscribed */
    for (int i = 0; i < 7; i++) {
        cr_expect_str_eq(seen.events[i], "A", "belfry:subscribed is not delivered");
        cr_expect_eq(seen.seqs[i], want[i], "message %d", i);
        cr_expect_eq(seen.connects_at[i], connects[i], "connects at message %d", i);
    }
    cr_expect_eq(seen.gaps, 0, "the replay is checked like live frames; a failure is no gap");
    cr_assert_eq(seen.failed_recoveries, 1);
    cr_expect_eq(seen.connects_at_failure, 3, "on_connect runs before on_recovery_failed");
    cr_expect_eq(seen.recovery.since, 13);
    cr_expect_eq(seen.recovery.seq, 4);
    cr_expect_eq(seen.recovery.missed, 4);
    cr_expect(seen.recovery.epoch_changed);
    cr_expect_str_eq(seen.recovery_epoch, "def456");
    cr_expect_str_eq(bf_client_epoch(client), "def456");
    cr_expect_eq(bf_client_last_seq(client), 5);
    bf_client_close(client);
    join_server();
}

/* Refuses the client's next upgrade (whose request line must be want) with status and body. */
static void refuse(server *s, const char *want, const char *status, const char *body)
{
    accept_request(s, false, false);
    if (strcmp(s->req[s->nreq - 1], want)) s->failed = 1;
    char resp[512];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, strlen(body), body);
    send(s->fd, resp, (size_t)n, MSG_NOSIGNAL);
    wait_hangup(s);
}

static void resets_presence_and_a_refusal(server *s)
{
    expect_request(s, "GET /ws/room?recover=1 HTTP/1.1");
    send_text(s, "{\"event\":\"belfry:subscribed\",\"data\":{\"epoch\":\"e1\",\"seq\":3}}");
    /* its own join (seq 4) is not sent to it: presence:here stands for it */
    send_text(s, "{\"event\":\"presence:here\",\"data\":{\"members\":[]},\"seq\":4}");
    send_text(s, "{\"event\":\"A\",\"data\":5,\"seq\":5}");
    send_text(s, "{\"event\":\"A\",\"data\":2,\"seq\":2}"); /* restarted under the client */
    drop(s);
    /* the old epoch is stale: resume by position, compare with the baseline right away */
    expect_request(s, "GET /ws/room?recover=1 HTTP/1.1");
    send_text(s, "{\"event\":\"belfry:subscribed\",\"data\":{\"epoch\":\"e2\",\"seq\":6}}");
    send_text(s, "{\"event\":\"presence:here\",\"data\":{\"members\":[]},\"seq\":6}");
    send_text(s, "{\"event\":\"A\",\"data\":7,\"seq\":7}");
    drop(s);
    refuse(s, "GET /ws/room?since=7&epoch=e2 HTTP/1.1", "400 Bad Request",
           "{\"error\":{\"code\":\"bad_recovery\",\"message\":\"since needs the epoch\"}}");
    expect_request(s, "GET /ws/room?recover=1 HTTP/1.1"); /* never insists */
    send_text(s, "{\"event\":\"belfry:subscribed\",\"data\":{\"epoch\":\"e2\",\"seq\":7}}");
    send_text(s, "{\"event\":\"presence:here\",\"data\":{\"members\":[]},\"seq\":9}");
    expect_frame(s); /* the client's close */
    send_frame(s, 1, BF__WS_CLOSE, "\x03\xe8", 2, false);
    drop(s);
}

static bool got_six(void)
{
    return seen.msgs >= 6;
}

Test(client_ws, recovery_after_a_restart_a_refusal_and_presence_in_order)
{
    start_server(resets_presence_and_a_refusal);
    start_client((bf_client_opts){.on_disconnect = keep_going,
                                  .on_recovery_failed = on_recovery_failed,
                                  .initial_delay_ms = 10,
                                  .jitter_pct = -1});
    cr_assert(run_until(got_six, 5000), "%d messages", seen.msgs);
    cr_expect_str_eq(seen.events[5], "presence:here");
    cr_assert_eq(seen.gaps, 3, "%d gaps", seen.gaps);
    cr_expect_eq(seen.gap_expected[0], 6, "the restart");
    cr_expect_eq(seen.gap_got[0], 2);
    cr_expect_eq(seen.gap_expected[1], 3, "position 6 after baseline 2: 3..6 missed");
    cr_expect_eq(seen.gap_got[1], 7);
    cr_expect_eq(seen.gap_expected[2], 8, "presence:here as of 9 after 7: 8 missed");
    cr_expect_eq(seen.gap_got[2], 9);
    cr_expect_eq(seen.failed_recoveries, 0);
    cr_expect_eq(seen.code, 400, "%d %s", seen.code, seen.reason);
    cr_expect_eq(bf_client_last_seq(client), 9);
    bf_client_close(client);
    join_server();
}

static void fails_recovery(server *s)
{
    expect_request(s, "GET /ws/room?recover=1 HTTP/1.1");
    send_text(s, "{\"event\":\"belfry:subscribed\",\"data\":{\"epoch\":\"ab\",\"seq\":2}}");
    drop(s);
    expect_request(s, "GET /ws/room?since=2&epoch=ab HTTP/1.1");
    send_text(s, "{\"event\":\"belfry:subscribed\",\"data\":{\"epoch\":\"ab\",\"seq\":30,"
                 "\"recovered\":false,\"missed\":28}}");
    send_text(s, "{\"event\":\"A\",\"data\":31,\"seq\":31}");
    expect_frame(s);
    send_frame(s, 1, BF__WS_CLOSE, "\x03\xe8", 2, false);
    drop(s);
}

static bool got_three(void)
{
    return seen.msgs >= 3;
}

Test(client_ws, without_on_recovery_failed_a_failure_is_a_gap_and_subscribed_can_be_delivered)
{
    start_server(fails_recovery);
    start_client((bf_client_opts){.on_disconnect = keep_going,
                                  .deliver_subscribed = true,
                                  .initial_delay_ms = 10,
                                  .jitter_pct = -1});
    cr_assert(run_until(got_three, 5000), "%d messages", seen.msgs);
    cr_expect_str_eq(seen.events[0], "belfry:subscribed");
    cr_expect_eq(seen.seqs[0], 0);
    cr_expect_str_eq(seen.data[0], "{\"epoch\":\"ab\",\"seq\":2}");
    cr_expect_str_eq(seen.events[1], "belfry:subscribed");
    cr_expect_str_eq(seen.events[2], "A");
    cr_assert_eq(seen.gaps, 1);
    cr_expect_eq(seen.gap_expected[0], 3, "messages 3..30 were missed");
    cr_expect_eq(seen.gap_got[0], 31);
    bf_client_close(client);
    join_server();
}

static void plain_request(server *s)
{
    expect_request(s, "GET /ws/room?type=public HTTP/1.1");
    expect_frame(s);
    send_frame(s, 1, BF__WS_CLOSE, "\x03\xe8", 2, false);
    drop(s);
}

static bool opened(void)
{
    return seen.connects >= 1;
}

Test(client_ws, no_recovery_leaves_the_url_alone)
{
    start_server(plain_request);
    start_client_at((bf_client_opts){.no_recovery = true}, "?type=public");
    cr_assert(run_until(opened, 5000));
    bf_client_close(client);
    cr_assert(run_until(one_disconnect, 5000));
    join_server();
}

static void no_server(server *s)
{
    (void)s;
}

Test(client_ws, a_url_too_long_for_the_recovery_parameters_fails_the_attempt)
{
    start_server(no_server);
    char q[4060];
    memset(q, 'x', sizeof(q) - 1);
    q[0] = '?';
    q[sizeof(q) - 1] = '\0';
    start_client_at((bf_client_opts){0}, q);
    cr_assert(run_until(one_disconnect, 5000));
    cr_expect_eq(seen.code, 1006);
    cr_expect_str_eq(seen.reason, "bad URL: too long with the recovery parameters");
}
