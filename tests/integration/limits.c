/* Issue: hardening — connection limits, handshake deadline (slowloris), header size. */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

TestSuite(limits, .timeout = 90);

static bf_ws *try_connect(bf_cluster *c, const char *path, int *status, char **body)
{
    return bf_ws_connect(c->gateways[0].port, path, NULL, status, body, 3000);
}

static void expect_refused(bf_cluster *c, const char *path, int want, const char *code)
{
    it_refused(c, 0, path, NULL, want, code);
}

Test(limits, per_gateway_per_ip_and_per_user_limits)
{
    static const char *const args[] = {"--max-connections",
                                       "6",
                                       "--max-connections-per-ip",
                                       "4",
                                       "--max-connections-per-user",
                                       "2",
                                       NULL};
    bf_cluster_opts o = {
        .routers = 1, .gateways = 1, .jwt_secret = IT_SECRET, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    /* per user: two connections of alice, the third is refused with 429 */
    char *t = it_token("alice", "[\"private-l\"]", 600);
    char path[4096];
    snprintf(path, sizeof(path), "/ws/private-l?token=%s", t);
    free(t);
    bf_ws *a1 = it_connect(c, 0, path, NULL), *a2 = it_connect(c, 0, path, NULL);
    expect_refused(c, path, 429, "too_many_connections");
    /* per IP (all from 127.0.0.1): two more public connections make four, the fifth is refused */
    bf_ws *p1 = it_connect(c, 0, "/ws/pub", NULL), *p2 = it_connect(c, 0, "/ws/pub", NULL);
    expect_refused(c, "/ws/pub", 429, "too_many_connections");
    /* closing one frees its slot */
    bf_ws_close(a1);
    long long deadline = bf_ms() + 3000;
    bf_ws *again = NULL;
    while (!again && bf_ms() < deadline) {
        int st;
        again = try_connect(c, "/ws/pub", &st, NULL);
        if (!again) usleep(50000);
    }
    cr_expect_not_null(again, "a freed slot was not reusable");
    bf_ws_close(again);
    bf_ws_close(a2);
    bf_ws_close(p1);
    bf_ws_close(p2);
    bf_http_resp r;
    cr_assert_eq(bf_http(c->gateways[0].port, "GET", "/metrics", NULL, NULL, 0, &r, 2000), 0);
    cr_expect(strstr(r.body, "belfry_gateway_limit_rejections_total{limit=\"user\"} 1"), "%s",
              r.body);
    cr_expect(strstr(r.body, "belfry_gateway_limit_rejections_total{limit=\"ip\"} 1"), "%s",
              r.body);
    bf_http_resp_free(&r);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(limits, gateway_full_is_503)
{
    static const char *const args[] = {"--max-connections", "3", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    bf_ws *w[3];
    for (int i = 0; i < 3; i++) w[i] = it_connect(c, 0, "/ws/full", NULL);
    expect_refused(c, "/ws/full", 503, "gateway_full");
    for (int i = 0; i < 3; i++) bf_ws_close(w[i]);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        close(fd);
        return -1;
    }
    return fd;
}

/* How many of the n sockets the gateway has closed (EOF or reset), waiting 1 ms on each. */
/* How many of fds the gateway has closed (FIN or RST already received). One poll over all of
 * them, not a timed read each: under load, per-socket waits added up to seconds and let other
 * deadlines (the handshake timeout) pass while counting. */
static int count_closed(const int *fds, int n)
{
    static struct pollfd pf[2048];
    cr_assert(n <= 2048);
    for (int i = 0; i < n; i++) pf[i] = (struct pollfd){fds[i], POLLIN | POLLRDHUP, 0};
    cr_assert(poll(pf, (nfds_t)n, 0) >= 0);
    int closed = 0;
    for (int i = 0; i < n; i++) {
        if (!pf[i].revents) continue;
        char b[64];
        ssize_t r = recv(fds[i], b, sizeof(b), MSG_DONTWAIT);
        closed += r == 0 || (r < 0 && errno == ECONNRESET);
    }
    return closed;
}

Test(limits, slowloris_does_not_block_and_half_open_handshakes_expire)
{
    static const char *const args[] = {"--handshake-timeout", "2", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    enum { N = 1000 };
    static int fds[N];
    const char *partial = "GET /ws/slow HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";
    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect(c->gateways[0].port);
        cr_assert(fds[i] >= 0, "connect %d failed", i);
        cr_assert(send(fds[i], partial, strlen(partial), MSG_NOSIGNAL) > 0);
    }
    /* a normal client still connects within a second */
    long long t0 = bf_ms();
    int st;
    bf_ws *w = bf_ws_connect(c->gateways[0].port, "/ws/normal", NULL, &st, NULL, 1000);
    long long took = bf_ms() - t0;
    cr_expect_not_null(w, "a normal client could not connect among 1000 half-open handshakes");
    cr_expect(took < 1000, "took %lld ms", took);
    bf_ws_close(w);
    /* after the deadline the gateway has closed the half-open ones */
    usleep(3500000);
    int closed = count_closed(fds, N);
    for (int i = 0; i < N; i++) close(fds[i]);
    cr_expect(closed >= N * 99 / 100, "only %d of %d half-open handshakes were closed", closed, N);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

/* --max-connections also sizes libwebsockets' descriptor table (every close scans it). More
 * sockets than the table holds are closed at accept, counted, and the gateway carries on. */
Test(limits, sockets_beyond_the_descriptor_table_are_closed_and_counted)
{
    /* handshakes that never come must not expire while the test counts */
    static const char *const args[] = {"--max-connections", "2", "--handshake-timeout", "60", NULL};
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .gateway_args = args};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    char *log = bf_read_file(c->gateways[0].log);
    /* 2 connections + 64 reserved + 1,024 for handshakes refused with 503 */
    cr_expect(log && strstr(log, "descriptor table 1090 slots"), "%s", log ? log : "(no log)");
    free(log);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    enum { N = 1300 };
    static int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect(c->gateways[0].port);
        cr_assert(fds[i] >= 0, "connect %d failed", i);
    }
    /* the table's worth stay open (half-open handshakes), the rest are closed at once */
    usleep(500000);
    int closed = count_closed(fds, N);
    cr_expect(closed >= N - 1090 && closed < N - 1000, "%d of %d closed at accept", closed, N);
    for (int i = 0; i < N; i++) close(fds[i]);
    /* the gateway still serves, and says what it did */
    usleep(200000);
    bf_ws *w = it_connect(c, 0, "/ws/after", NULL);
    cr_expect_not_null(w);
    bf_ws_close(w);
    bf_http_resp r;
    cr_assert_eq(bf_http(c->gateways[0].port, "GET", "/metrics", NULL, NULL, 0, &r, 2000), 0);
    const char *m = strstr(r.body, "belfry_gateway_limit_rejections_total{limit=\"gateway\"} ");
    cr_assert_not_null(m, "%s", r.body);
    long long n = atoll(m + strlen("belfry_gateway_limit_rejections_total{limit=\"gateway\"} "));
    cr_expect_eq(n, closed, "counted %lld, closed %d", n, closed);
    bf_http_resp_free(&r);
    log = bf_read_file(c->gateways[0].log);
    cr_expect(log && strstr(log, "closed an accepted connection at descriptor"), "%s",
              log ? log : "(no log)");
    free(log);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(limits, oversized_request_headers_are_refused)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    char *big = malloc(20000);
    strcpy(big, "X-Filler: ");
    memset(big + 10, 'a', 19000);
    strcpy(big + 19010, "\r\n");
    int st = 0;
    bf_ws *w = bf_ws_connect(c->gateways[0].port, "/ws/h", big, &st, NULL, 3000);
    cr_expect_null(w, "a 19 KB header was accepted");
    bf_ws_abort(w);
    free(big);
    /* and the gateway still serves */
    bf_ws *ok = it_connect(c, 0, "/ws/h", NULL);
    bf_ws_close(ok);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
