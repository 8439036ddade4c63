/* Chaos, the headline: 300 subscribers on 3 gateways across 30 channels, a steady HTTP publisher
 * (400 messages/s, round-robin over the channels and the 2 routers), and one gateway killed with
 * SIGKILL mid-run. Its clients reconnect through the others (their URL factory moves on) and
 * resume with since/epoch. Afterwards every client must have received every message published on
 * its channel during the whole run: seq 1..N exactly once each, in order, no gap or failed
 * recovery reported. Prints how long after the kill the last client had caught up.
 *
 * 270 clients are libbelfry's, all on this process's one uv loop; 30 are client/js/belfry.js on
 * Node, in a child process (tests/chaos/headline_js.mjs) that reports its clients' progress on
 * stdout and checks them itself at the end. Without node or the `ws` package (npm ci in
 * client/js/test) all 300 are C clients, and the test says so. The publisher is a forked child
 * that shares its per-channel counts of acknowledged publishes (HTTP 204) through shared memory.
 *
 * "Caught up" at time t: every client whose gateway died has opened a new connection, and every
 * client has every message acknowledged before a snapshot taken after the kill and at least
 * SNAP_MS before t. The printed time is therefore at most SNAP_MS + one loop turn late (plus up
 * to 10 ms for the JS clients, which report their progress every 10 ms). */
#include "../integration/common.h"

#include <belfry/client.h>
#include <belfry/publisher.h>

#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

enum {
    GATEWAYS = 3,
    ROUTERS = 2,
    CHANNELS = 30,
    CLIENTS = 300,
    JS_PER_CHANNEL = 1, /* clients k with k / CHANNELS == 9 */
    RATE = 400,         /* messages per second, over all channels */
    PUBLISH_MS = 12000,
    KILL_AT_MS = 4000, /* after publishing started */
    VICTIM = 1,        /* the gateway killed */
    SNAP_MS = 20,
};

#define NODE_SCRIPT BELFRY_SOURCE_DIR "/tests/chaos/headline_js.mjs"
#define JS_TEST_DIR BELFRY_SOURCE_DIR "/client/js/test"

/* Shared with the publisher child (MAP_SHARED): it writes, the test reads. */
typedef struct shared {
    int go;                       /* set by the test: start publishing */
    int done;                     /* set by the publisher: every message was sent */
    uint64_t published[CHANNELS]; /* acknowledged publishes per channel: seq 1..n */
    uint64_t failed;
    char error[600];
} shared;

/* One subscriber; C clients have c, JS clients js_index >= 0. */
typedef struct sub {
    int ch, gw, first_gw;
    bf_client *c;
    int js_index;
    uint64_t last;
    int connects, gaps, failures, errors;
    char error[200];
} sub;

static bf_cluster *K;
static shared *sh;
static pid_t pub_pid;
static uv_loop_t loop;
static uv_timer_t tick;
static bool loop_ready;
static sub subs[CLIENTS];
static char chan_names[CHANNELS][32];

/* the Node child */
static struct {
    bool spawned, exited, ready, have_result;
    int64_t exit_status;
    uv_process_t proc;
    uv_pipe_t in, out;
    char buf[65536];
    size_t len;
    int n; /* its clients */
    uint64_t last[CLIENTS];
    int connects[CLIENTS];
    char result[4096];
} js;

/* ---- the publisher (a child process) ----------------------------------------------------- */

static void publisher_main(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    bf_publisher *p[ROUTERS];
    for (int r = 0; r < ROUTERS; r++) {
        char url[64], err[BF_ERR_LEN];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", K->routers[r].port);
        bf_publisher_opts o = {.url = url, .api_key = IT_API_KEY, .timeout_ms = 5000};
        if (!(p[r] = bf_publisher_new(&o, err))) {
            snprintf(sh->error, sizeof(sh->error), "publisher: %.256s", err);
            _exit(1);
        }
    }
    while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE)) usleep(1000);
    long long start = bf_ms();
    int total = RATE * PUBLISH_MS / 1000;
    for (int k = 0; k < total; k++) {
        long long due = start + (long long)k * 1000 / RATE;
        while (bf_ms() < due) usleep(200);
        int ch = k % CHANNELS, r = (k / CHANNELS) % ROUTERS;
        uint64_t i = sh->published[ch] + 1;
        char data[32];
        snprintf(data, sizeof(data), "{\"i\":%llu}", (unsigned long long)i);
        bf_channel_result res;
        if (bf_publisher_publish(p[r], chan_names[ch], "N", data, &res)) {
            if (!sh->failed++)
                snprintf(sh->error, sizeof(sh->error),
                         "publish to %s via router %d: %d %.47s %.256s", chan_names[ch], r,
                         res.status, res.code, res.message);
            continue;
        }
        __atomic_store_n(&sh->published[ch], i, __ATOMIC_RELEASE);
    }
    for (int r = 0; r < ROUTERS; r++) bf_publisher_free(p[r]);
    __atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
    _exit(0);
}

static uint64_t published(int ch)
{
    return __atomic_load_n(&sh->published[ch], __ATOMIC_ACQUIRE);
}

/* ---- the C clients ----------------------------------------------------------------------- */

static void fail_sub(sub *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_sub(sub *s, const char *fmt, ...)
{
    if (s->errors++) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof(s->error), fmt, ap);
    va_end(ap);
}

static int factory(char *buf, size_t len, void *arg)
{
    sub *s = arg;
    snprintf(buf, len, "ws://127.0.0.1:%d/ws/%s", K->gateways[s->gw].port, chan_names[s->ch]);
    return 0;
}

static void on_connect(bf_client *c, void *arg)
{
    (void)c;
    ((sub *)arg)->connects++;
}

/* the next gateway: a real application's factory would do the same with its list */
static void on_disconnect(bf_client *c, int code, const char *reason, void *arg)
{
    (void)c;
    (void)code;
    (void)reason;
    sub *s = arg;
    s->gw = (s->gw + 1) % GATEWAYS;
}

static void on_gap(bf_client *c, uint64_t expected, uint64_t got, void *arg)
{
    (void)c;
    sub *s = arg;
    s->gaps++;
    fail_sub(s, "gap: expected %llu, got %llu", (unsigned long long)expected,
             (unsigned long long)got);
}

static void on_recovery_failed(bf_client *c, const bf_client_recovery *r, void *arg)
{
    (void)c;
    sub *s = arg;
    s->failures++;
    fail_sub(s, "recovery failed: since %llu, seq %llu, missed %llu", (unsigned long long)r->since,
             (unsigned long long)r->seq, (unsigned long long)r->missed);
}

static void on_msg(bf_client *c, const bf_client_msg *m, void *arg)
{
    (void)c;
    sub *s = arg;
    const char *i = strstr(m->data, "\"i\":");
    unsigned long long v = i ? strtoull(i + 4, NULL, 10) : 0;
    if (strcmp(m->event, "N") || m->seq != s->last + 1 || v != m->seq)
        fail_sub(s, "%s seq %llu (i %llu) after %llu", m->event, (unsigned long long)m->seq, v,
                 (unsigned long long)s->last);
    if (m->seq) s->last = m->seq;
}

static void start_client(sub *s)
{
    char err[BF_ERR_LEN];
    bf_client_opts o = {.url_factory = factory,
                        .initial_delay_ms = 100,
                        .max_delay_ms = 1000,
                        .on_connect = on_connect,
                        .on_disconnect = on_disconnect,
                        .on_gap = on_gap,
                        .on_recovery_failed = on_recovery_failed,
                        .arg = s};
    s->c = bf_client_new(&loop, &o, err);
    cr_assert_not_null(s->c, "%s", err);
    cr_assert_neq(bf_client_subscribe(s->c, "*", on_msg, s), 0);
}

/* ---- the Node child ---------------------------------------------------------------------- */

static void js_line(char *line)
{
    if (!strcmp(line, "ready")) {
        js.ready = true;
    } else if (!strncmp(line, "s ", 2)) {
        char *p = line + 2;
        for (int j = 0; j < js.n && *p; j++) {
            js.last[j] = strtoull(p, &p, 10);
            if (*p == ':') js.connects[j] = (int)strtol(p + 1, &p, 10);
            if (*p == ',') p++;
        }
    } else if (!strncmp(line, "result ", 7)) {
        snprintf(js.result, sizeof(js.result), "%s", line + 7);
        js.have_result = true;
    }
}

static void js_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    *b = uv_buf_init(js.buf + js.len, (unsigned)(sizeof(js.buf) - 1 - js.len));
}

static void js_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n < 0) {
        uv_read_stop(st);
        return;
    }
    js.len += (size_t)n;
    js.buf[js.len] = '\0';
    char *start = js.buf, *nl;
    while ((nl = strchr(start, '\n'))) {
        *nl = '\0';
        js_line(start);
        start = nl + 1;
    }
    js.len -= (size_t)(start - js.buf);
    memmove(js.buf, start, js.len);
    if (js.len == sizeof(js.buf) - 1) js.len = 0; /* a line longer than the buffer: drop it */
}

static void js_exited(uv_process_t *p, int64_t status, int sig)
{
    (void)sig;
    js.exited = true;
    js.exit_status = status;
    uv_close((uv_handle_t *)p, NULL);
}

static void js_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void js_send(const char *line)
{
    size_t n = strlen(line);
    uv_write_t *w = malloc(sizeof(*w) + n);
    cr_assert_not_null(w);
    memcpy(w + 1, line, n);
    uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)n);
    cr_assert_eq(uv_write(w, (uv_stream_t *)&js.in, &b, 1, js_written), 0);
}

static bool have_file(const char *path)
{
    return access(path, R_OK) == 0;
}

/* Starts the Node child with the clients marked js_index >= 0; false if Node is unusable. */
static bool js_start(void)
{
    if (!have_file(JS_TEST_DIR "/node_modules/ws/package.json")) {
        fprintf(stderr, "headline: installing the JS test dependencies (npm ci)\n");
        if (system("cd '" JS_TEST_DIR "' && timeout 120 npm ci --no-audit --no-fund "
                   "--loglevel=error >&2") != 0 ||
            !have_file(JS_TEST_DIR "/node_modules/ws/package.json"))
            return false;
    }
    size_t cap = 64 * 1024, o = 0;
    char *cfg = malloc(cap);
    cr_assert_not_null(cfg);
    o += (size_t)snprintf(cfg + o, cap - o, "{\"ports\":[");
    for (int g = 0; g < GATEWAYS; g++)
        o += (size_t)snprintf(cfg + o, cap - o, "%s%d", g ? "," : "", K->gateways[g].port);
    o += (size_t)snprintf(cfg + o, cap - o, "],\"clients\":[");
    for (int k = 0, j = 0; k < CLIENTS; k++)
        if (subs[k].js_index >= 0)
            o += (size_t)snprintf(cfg + o, cap - o, "%s{\"channel\":\"%s\",\"gw\":%d}",
                                  j++ ? "," : "", chan_names[subs[k].ch], subs[k].gw);
    snprintf(cfg + o, cap - o, "]}");
    char *args[] = {"node", NODE_SCRIPT, cfg, NULL};
    uv_pipe_init(&loop, &js.in, 0);
    uv_pipe_init(&loop, &js.out, 0);
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&js.in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&js.out},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t po = {
        .file = "node", .args = args, .exit_cb = js_exited, .stdio_count = 3, .stdio = stdio};
    int r = uv_spawn(&loop, &js.proc, &po);
    free(cfg);
    if (r) {
        fprintf(stderr, "headline: cannot start node: %s\n", uv_strerror(r));
        uv_close((uv_handle_t *)&js.in, NULL);
        uv_close((uv_handle_t *)&js.out, NULL);
        uv_close((uv_handle_t *)&js.proc, NULL);
        return false;
    }
    js.spawned = true;
    uv_read_start((uv_stream_t *)&js.out, js_alloc, js_read);
    return true;
}

/* ---- the run ----------------------------------------------------------------------------- */

static uint64_t last_of(const sub *s)
{
    return s->js_index >= 0 ? js.last[s->js_index] : s->last;
}

static int connects_of(const sub *s)
{
    return s->js_index >= 0 ? js.connects[s->js_index] : s->connects;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void run_once(void)
{
    uv_run(&loop, UV_RUN_ONCE);
}

static bool all_positioned(void)
{
    for (int k = 0; k < CLIENTS; k++)
        if (subs[k].c && !bf_client_epoch(subs[k].c)[0]) return false;
    return !js.spawned || js.ready;
}

static bool caught_up(const uint64_t *snap)
{
    for (int k = 0; k < CLIENTS; k++) {
        const sub *s = &subs[k];
        if (s->first_gw == VICTIM && connects_of(s) < 2) return false;
        if (last_of(s) < snap[s->ch]) return false;
    }
    return true;
}

static void setup(void)
{
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(sh, MAP_FAILED);
    memset(sh, 0, sizeof(*sh));
    memset(&js, 0, sizeof(js));
    pub_pid = 0;
    loop_ready = false;
}

static void teardown(void)
{
    if (pub_pid > 0) {
        kill(pub_pid, SIGKILL);
        waitpid(pub_pid, NULL, 0);
    }
    if (loop_ready) {
        for (int k = 0; k < CLIENTS; k++) bf_client_free(subs[k].c);
        if (js.spawned) {
            if (!js.exited) uv_process_kill(&js.proc, SIGKILL);
            uv_close((uv_handle_t *)&js.in, NULL);
            uv_close((uv_handle_t *)&js.out, NULL);
        }
        uv_close((uv_handle_t *)&tick, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        cr_expect_eq(uv_loop_close(&loop), 0, "handles left on the loop");
    }
    munmap(sh, sizeof(*sh));
    cr_expect_eq(bf_cluster_stop_checked(K), 0, "a daemon did not exit cleanly");
}

TestSuite(chaos_headline, .init = setup, .fini = teardown, .timeout = 90);

Test(chaos_headline, kill9_a_gateway_under_load_and_every_client_recovers_everything)
{
    long long t_start = bf_ms();
    K = bf_cluster_start(&(bf_cluster_opts){.routers = ROUTERS, .gateways = GATEWAYS});
    cr_assert_not_null(K, "cluster did not start");
    for (int ch = 0; ch < CHANNELS; ch++)
        snprintf(chan_names[ch], sizeof(chan_names[0]), "headline.%02d", ch);
    /* fork before the loop and the clients exist: the child holds none of their descriptors */
    pub_pid = fork();
    cr_assert_geq(pub_pid, 0);
    if (pub_pid == 0) publisher_main();

    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    loop_ready = true;
    /* channel k % 30; every channel has clients on every gateway; the 10th round is JS */
    int njs = 0;
    for (int k = 0; k < CLIENTS; k++) {
        sub *s = &subs[k];
        memset(s, 0, sizeof(*s));
        s->ch = k % CHANNELS;
        s->gw = s->first_gw = (k / CHANNELS + k % CHANNELS) % GATEWAYS;
        s->js_index = k / CHANNELS == 9 ? njs++ : -1;
    }
    js.n = njs;
    if (!js_start()) {
        fprintf(stderr,
                "headline: node or the ws package is unavailable: all %d clients are C "
                "clients\n",
                CLIENTS);
        for (int k = 0; k < CLIENTS; k++) subs[k].js_index = -1;
        js.n = njs = 0;
    }
    for (int k = 0; k < CLIENTS; k++)
        if (subs[k].js_index < 0) start_client(&subs[k]);

    long long deadline = bf_ms() + 15000;
    while (!all_positioned()) {
        cr_assert(bf_ms() < deadline && !js.exited, "clients did not all get their position%s",
                  js.exited ? " (node exited)" : "");
        run_once();
    }
    long long t_ready = bf_ms();

    /* publish; kill -9 one gateway after KILL_AT_MS; measure the catch-up */
    __atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
    long long t_go = bf_ms(), t_kill = 0, t_caught = 0, t_snap = 0;
    uint64_t snap[CHANNELS] = {0};
    int moved = 0;
    for (int k = 0; k < CLIENTS; k++) moved += subs[k].first_gw == VICTIM;
    deadline = t_go + PUBLISH_MS + 15000;
    while (!__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE) || (t_kill && !t_caught)) {
        cr_assert(bf_ms() < deadline, "publishing did not finish (%llu failed: %s)",
                  (unsigned long long)sh->failed, sh->error);
        int st;
        cr_assert(waitpid(pub_pid, &st, WNOHANG) == 0 || sh->done, "the publisher died: %s",
                  sh->error);
        run_once();
        long long now = bf_ms();
        if (!t_kill && now - t_go >= KILL_AT_MS) {
            cr_assert_eq(bf_cluster_signal_gateway(K, VICTIM, SIGKILL), 0);
            t_kill = now;
        }
        if (t_kill && !t_caught && now - t_snap >= SNAP_MS) {
            if (t_snap > t_kill && caught_up(snap)) t_caught = now;
            for (int ch = 0; ch < CHANNELS; ch++) snap[ch] = published(ch);
            t_snap = now;
        }
    }
    waitpid(pub_pid, NULL, 0);
    pub_pid = 0;
    cr_expect_eq(sh->failed, 0, "%llu publishes failed: %s", (unsigned long long)sh->failed,
                 sh->error);

    /* the end: everyone has everything */
    uint64_t total = 0, counts[CHANNELS];
    for (int ch = 0; ch < CHANNELS; ch++) total += counts[ch] = published(ch);
    deadline = bf_ms() + 10000;
    while (!caught_up(counts) && bf_ms() < deadline) run_once();
    bool js_ok = true;
    if (js.spawned) {
        char done[2048];
        size_t o = (size_t)snprintf(done, sizeof(done), "done {");
        for (int ch = 0; ch < CHANNELS; ch++)
            o += (size_t)snprintf(done + o, sizeof(done) - o, "%s\"%s\":%llu", ch ? "," : "",
                                  chan_names[ch], (unsigned long long)counts[ch]);
        snprintf(done + o, sizeof(done) - o, "}\n");
        js_send(done);
        while (!js.have_result && !js.exited && bf_ms() < deadline + 5000) run_once();
        cr_expect(js.have_result, "the JS clients reported nothing (node exited: %d)", js.exited);
        js_ok = strncmp(js.result, "{\"ok\":true", 10) == 0;
        cr_expect(js_ok, "JS clients: %s", js.result);
    }
    int bad = 0;
    for (int k = 0; k < CLIENTS; k++) {
        sub *s = &subs[k];
        int want = 1 + (s->first_gw == VICTIM);
        if (s->js_index >= 0) { /* the rest the script checked itself */
            cr_expect_eq(connects_of(s), want, "JS client %d: %d connections, expected %d", k,
                         connects_of(s), want);
            continue;
        }
        if (s->last != counts[s->ch] && !s->errors)
            fail_sub(s, "ended at seq %llu of %llu", (unsigned long long)s->last,
                     (unsigned long long)counts[s->ch]);
        if (s->connects != want && !s->errors)
            fail_sub(s, "%d connections, expected %d", s->connects, want);
        if (s->errors && bad++ < 10)
            cr_expect_fail("client %d (%s, gateway %d): %s (%d problems)", k, chan_names[s->ch],
                           s->first_gw, s->error, s->errors);
    }
    cr_expect_eq(bad, 0, "%d of %d C clients missed, repeated or misordered messages", bad,
                 CLIENTS - njs);
    cr_expect(t_caught > 0, "the clients never caught up");
    fprintf(
        stderr,
        "headline_recovery: %d clients (%d C on one loop, %d JS on node) on %d gateways, %d "
        "channels; %llu messages at %d/s over %d routers; kill -9 of gateway %d at +%lld ms "
        "moved %d clients; the last client caught up %lld ms after the kill; %s; setup %lld ms, "
        "whole test %lld ms\n",
        CLIENTS, CLIENTS - njs, njs, GATEWAYS, CHANNELS, (unsigned long long)total, RATE, ROUTERS,
        VICTIM, t_kill - t_go, moved, t_caught ? t_caught - t_kill : -1LL,
        bad || !js_ok ? "SOME CLIENTS LOST, REPEATED OR MISORDERED MESSAGES (see above)"
                      : "every client got every message once, in order",
        t_ready - t_start, bf_ms() - t_start);
}
