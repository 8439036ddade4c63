/* belfry-storm: the reconnect-storm scenario (bench/run.sh 7).
 *
 * N clients (libbelfry's subscriber, which resumes with since/epoch by itself) connect to gateway
 * A and receive a first message. A is then killed with SIGKILL; while the clients wait for their
 * first retry, M messages are published over HTTP; every client then reconnects to gateway B at
 * once and must recover exactly those M messages. Reported: the time from the kill until the
 * last client has caught up, recoveries that failed, gaps, and the CPU that gateway B and Redis
 * spent (from /proc). One uv loop; publishing blocks it only while the clients are disconnected.
 * Prints a summary and one line "RESULT {json}"; exit 0 when every client caught up cleanly. */
#include <belfry/client.h>
#include <belfry/publisher.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

typedef struct storm {
    const char *urls[2];
    int cur; /* which gateway the URL factory hands out */
    int n, connected, gaps, failed;
    bf_client **clients;
} storm;

static char url_buf[2][512];

static int factory(char *buf, size_t len, void *arg)
{
    storm *s = arg;
    snprintf(buf, len, "%s", s->urls[s->cur]);
    return 0;
}

static void on_connect(bf_client *c, void *arg)
{
    (void)c;
    ((storm *)arg)->connected++;
}

static void on_gap(bf_client *c, uint64_t expected, uint64_t got, void *arg)
{
    (void)c;
    (void)expected;
    (void)got;
    ((storm *)arg)->gaps++;
}

static void on_failed(bf_client *c, const bf_client_recovery *r, void *arg)
{
    (void)c;
    (void)r;
    ((storm *)arg)->failed++;
}

static void on_msg(bf_client *c, const bf_client_msg *m, void *arg)
{
    (void)c;
    (void)m;
    (void)arg;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of pid in seconds, or -1. */
static double cpu_of(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Runs the loop until cond() holds or timeout; returns 1 if it held. */
static int run_until(uv_loop_t *loop, storm *s, int (*cond)(storm *, uint64_t), uint64_t arg,
                     double timeout)
{
    double end = now_s() + timeout;
    while (!cond(s, arg)) {
        if (now_s() > end) return 0;
        uv_run(loop, UV_RUN_NOWAIT);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 1;
}

static int all_connected(storm *s, uint64_t arg)
{
    (void)arg;
    return s->connected >= s->n;
}

static int all_at(storm *s, uint64_t seq)
{
    for (int i = 0; i < s->n; i++)
        if (bf_client_last_seq(s->clients[i]) < seq) return 0;
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"gateway-a", required_argument, 0, 'a'},
                                         {"gateway-b", required_argument, 0, 'b'},
                                         {"router", required_argument, 0, 'r'},
                                         {"api-key", required_argument, 0, 'k'},
                                         {"clients", required_argument, 0, 'n'},
                                         {"missed", required_argument, 0, 'm'},
                                         {"kill-pid", required_argument, 0, 'K'},
                                         {"gateway-pid", required_argument, 0, 'G'},
                                         {"redis-pid", required_argument, 0, 'R'},
                                         {"channel", required_argument, 0, 'c'},
                                         {0, 0, 0, 0}};
    storm s = {0};
    const char *router = NULL, *key = NULL, *channel = "storm";
    int missed = 100, kill_pid = 0, gw_pid = 0, redis_pid = 0, c;
    s.n = 1000;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            snprintf(url_buf[0], sizeof(url_buf[0]), "%s", optarg);
            break;
        case 'b':
            snprintf(url_buf[1], sizeof(url_buf[1]), "%s", optarg);
            break;
        case 'r':
            router = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'n':
            s.n = atoi(optarg);
            break;
        case 'm':
            missed = atoi(optarg);
            break;
        case 'K':
            kill_pid = atoi(optarg);
            break;
        case 'G':
            gw_pid = atoi(optarg);
            break;
        case 'R':
            redis_pid = atoi(optarg);
            break;
        case 'c':
            channel = optarg;
            break;
        default:
            fprintf(stderr, "usage: belfry-storm --gateway-a WS_URL --gateway-b WS_URL --router "
                            "HTTP_URL --kill-pid PID [--api-key K] [--clients N] [--missed M] "
                            "[--gateway-pid PID] [--redis-pid PID] [--channel C]\n");
            return 2;
        }
    }
    if (!url_buf[0][0] || !url_buf[1][0] || !router || !kill_pid || s.n < 1 || missed < 1) {
        fprintf(stderr, "belfry-storm: --gateway-a, --gateway-b, --router and --kill-pid are "
                        "required (see --help)\n");
        return 2;
    }
    s.urls[0] = url_buf[0];
    s.urls[1] = url_buf[1];
    char err[256];
    bf_publisher_opts po = {.url = router, .api_key = key};
    bf_publisher *pub = bf_publisher_new(&po, err);
    if (!pub) {
        fprintf(stderr, "belfry-storm: %s\n", err);
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    s.clients = calloc((size_t)s.n, sizeof(*s.clients));
    bf_client_opts co = {.url_factory = factory,
                         .initial_delay_ms = 1000,
                         .on_connect = on_connect,
                         .on_gap = on_gap,
                         .on_recovery_failed = on_failed,
                         .arg = &s};
    for (int i = 0; i < s.n; i++) {
        s.clients[i] = bf_client_new(&loop, &co, err);
        if (!s.clients[i]) {
            fprintf(stderr, "belfry-storm: client %d: %s\n", i, err);
            return 1;
        }
        bf_client_subscribe(s.clients[i], "*", on_msg, NULL);
    }
    int ok = run_until(&loop, &s, all_connected, 0, 60);
    /* a first message gives every client its position */
    bf_channel_result res;
    memset(&res, 0, sizeof(res));
    if (ok) ok = bf_publisher_publish(pub, channel, "Warm", "{}", &res) == 0;
    if (ok) ok = run_until(&loop, &s, all_at, 1, 30);
    if (!ok) {
        fprintf(stderr, "belfry-storm: setup failed (%d/%d connected) %s\n", s.connected, s.n,
                res.message);
        return 1;
    }
    double cpu_gw0 = gw_pid ? cpu_of(gw_pid) : -1, cpu_r0 = redis_pid ? cpu_of(redis_pid) : -1;
    double t0 = now_s();
    kill(kill_pid, SIGKILL);
    s.cur = 1;
    for (int i = 0; i < missed && ok; i++) {
        char data[64];
        snprintf(data, sizeof(data), "{\"i\":%d}", i);
        ok = bf_publisher_publish(pub, channel, "Missed", data, &res) == 0;
    }
    double t_pub = now_s() - t0;
    uint64_t final = 1 + (uint64_t)missed;
    int caught = ok && run_until(&loop, &s, all_at, final, 60);
    double t1 = now_s() - t0;
    double cpu_gw = gw_pid ? cpu_of(gw_pid) - cpu_gw0 : -1;
    double cpu_r = redis_pid ? cpu_of(redis_pid) - cpu_r0 : -1;
    int behind = 0;
    for (int i = 0; i < s.n; i++) behind += bf_client_last_seq(s.clients[i]) < final;
    printf("reconnect storm: %d clients, %d messages missed each\n"
           "  publishing while down   %.3f s\n"
           "  kill -> all caught up   %.3f s%s\n"
           "  failed recoveries       %d\n  gaps reported           %d\n"
           "  gateway B CPU           %.2f s\n  Redis CPU               %.2f s\n",
           s.n, missed, t_pub, t1, caught ? "" : " (NOT all caught up)", s.failed, s.gaps, cpu_gw,
           cpu_r);
    printf("RESULT {\"mode\":\"storm\",\"clients\":%d,\"missed\":%d,\"caught_up\":%s,"
           "\"behind\":%d,\"catchup_s\":%.4f,\"publish_s\":%.4f,\"recovery_failed\":%d,"
           "\"gaps\":%d,\"gateway_cpu_s\":%.3f,\"redis_cpu_s\":%.3f}\n",
           s.n, missed, caught ? "true" : "false", behind, t1, t_pub, s.failed, s.gaps, cpu_gw,
           cpu_r);
    for (int i = 0; i < s.n; i++) bf_client_free(s.clients[i]);
    uv_run(&loop, UV_RUN_NOWAIT);
    bf_publisher_free(pub);
    free(s.clients);
    return caught && !s.failed && !s.gaps ? 0 : 1;
}
