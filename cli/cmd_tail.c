/* belfryctl tail CHANNEL: subscribes like any client (libbelfry's reconnecting client on a libuv
 * loop) and prints every message as it arrives, until Ctrl-C.
 *
 * Failing fast versus riding it out: until the first connection opens, a failure ends the
 * command (3 when the gateway cannot be reached, 1 when it refuses the upgrade, e.g. a bad
 * token), because a typo should not spin forever. Once connected, the client reconnects on its
 * own, as an application would, and tail reports the drops and any seq gap on stderr. A kick
 * (4010) ends it with 1. SIGINT/SIGTERM close the WebSocket politely and exit 0. */
#include "args.h"
#include "channel.h"
#include "cli.h"
#include "credis.h"
#include "cluster.h"
#include "out.h"

#include <belfry/client.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const bf_cfg_opt table[] = {
    BF_CLI_OPTS_REDIS,
    BF_CLI_OPTS_APP,
    BF_CLI_OPTS_OUTPUT,
    {"gateway", BF_CFG_STRING, "BELFRY_GATEWAY_URL", NULL, 0, 0, NULL, BF_CLI_F(gateway),
     "ws://HOST:PORT of a gateway (default: a live one found in Redis)"},
    {"token", BF_CFG_STRING, "BELFRY_TOKEN", NULL, 0, 0, NULL, BF_CLI_F(token),
     "token for private and presence channels (see belfryctl token)"},
    {"count", BF_CFG_INT, NULL, "0", 0, 1000000000, NULL, BF_CLI_F(count),
     "exit 0 after this many messages (0: run until Ctrl-C)"},
    BF_CLI_OPTS_END,
};

static const bf_cli_spec spec = {
    .name = "tail",
    .synopsis = "CHANNEL",
    .summary = "Connects to a gateway as a client of CHANNEL and prints every message as it\n"
               "arrives (time, seq, event, data) until Ctrl-C. Connection changes and seq gaps\n"
               "are reported on stderr; the client reconnects by itself once it has connected.",
    .details = "Output: one line per message, TIME SEQ EVENT DATA (seq \"-\" for whispers and\n"
               "errors). \"connected to URL\" goes to stderr once the subscription is in\n"
               "effect: every message published after it is shown. With --json, one JSON\n"
               "object per line:\n"
               "  {\"channel\",\"event\",\"seq\" (null if none),\"data\"[,\"user_id\"]}\n"
               "Exit status 0 on Ctrl-C or after --count messages, 1 when the gateway refuses\n"
               "the connection (bad token...) or the user is kicked, 3 when it cannot be reached.\n"
               "Without --gateway, the address a live gateway registered in Redis is used (a\n"
               "wildcard listen address becomes the loopback address).\n\n"
               "Examples:\n"
               "  belfryctl tail news\n"
               "  belfryctl tail presence-room.1 --token \"$(belfryctl token --secret \"$S\" \\\n"
               "      --user ops --channel presence-room.1)\" --gateway ws://gw1:8080\n"
               "  belfryctl tail orders --json | jq -c 'select(.event == \"OrderShipped\")'\n",
    .table = table,
    .min_pos = 1,
    .max_pos = 1,
};

typedef struct tail {
    bf_cli_cfg *cfg;
    bf_client *client;
    uv_signal_t sigint, sigterm;
    char shown[800]; /* the URL without the token, for messages */
    bool opened, stopping, finished;
    long long got;
    int rc;
} tail;

/* Ends the run: frees the client (allowed inside its callbacks) and closes the signal handles,
 * after which the loop has nothing left and uv_run returns. */
static void finish(tail *t, int rc)
{
    if (t->finished) return;
    t->finished = true;
    t->rc = rc;
    bf_client_free(t->client);
    t->client = NULL;
    uv_close((uv_handle_t *)&t->sigint, NULL);
    uv_close((uv_handle_t *)&t->sigterm, NULL);
}

/* Asks for a polite close (on_disconnect then finishes), or finishes at once if not open. */
static void stop(tail *t, int rc)
{
    t->rc = rc;
    if (t->stopping || !t->client) {
        finish(t, t->rc);
        return;
    }
    t->stopping = true;
    bf_client_close(t->client);
    if (bf_client_get_state(t->client) == BF_CLIENT_CLOSED) finish(t, rc);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    stop(s->data, BF_CLI_OK);
}

static void on_connect(bf_client *c, void *arg)
{
    tail *t = arg;
    (void)c;
    t->opened = true;
    fprintf(stderr, "belfryctl tail: connected to %s (Ctrl-C to stop)\n", t->shown);
}

static void on_disconnect(bf_client *c, int code, const char *reason, void *arg)
{
    tail *t = arg;
    if (t->stopping || bf_client_get_state(c) == BF_CLIENT_CLOSED) {
        finish(t, t->rc);
    } else if (!t->opened && (code < 1000 || code == 1006)) {
        /* an HTTP status or no connection at all; a close code (1011, 1012...) means the
         * upgrade went through, so the gateway is there: ride it out like a reconnection */
        bool refused = code >= 400 && code < 500;
        bf_cli_error(spec.name, "%s %s: %d %s", refused ? "gateway refused" : "cannot reach",
                     t->shown, code, reason && *reason ? reason : "");
        finish(t, refused ? BF_CLI_FAILED : BF_CLI_UNREACHABLE);
    } else if (code == 4010) {
        bf_cli_error(spec.name, "kicked: %s", reason && *reason ? reason : "by an operator");
        finish(t, BF_CLI_FAILED);
    } else {
        fprintf(stderr, "belfryctl tail: disconnected (%d %s); reconnecting\n", code,
                reason ? reason : "");
    }
}

static void on_gap(bf_client *c, uint64_t expected, uint64_t got, void *arg)
{
    (void)c;
    (void)arg;
    fprintf(stderr, "belfryctl tail: seq gap: expected %llu, got %llu (%s)\n",
            (unsigned long long)expected, (unsigned long long)got,
            got > expected ? "messages were missed" : "the channel's sequence restarted");
}

static void print_line(const tail *t, const bf_client_msg *m)
{
    if (t->cfg->json) {
        json_t *data = json_loadb(m->data, m->data_len, JSON_DECODE_ANY, NULL);
        json_t *j = json_pack("{s:s,s:s,s:o,s:o}", "channel", m->channel, "event", m->event, "seq",
                              m->seq ? json_integer((json_int_t)m->seq) : json_null(), "data",
                              data ? data : json_null());
        if (m->user_id) json_object_set_new(j, "user_id", json_string(m->user_id));
        json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        fputc('\n', stdout);
        return;
    }
    struct timespec ts;
    struct tm tm;
    char when[32] = "", seq[24] = "-";
    clock_gettime(CLOCK_REALTIME, &ts);
    if (localtime_r(&ts.tv_sec, &tm)) strftime(when, sizeof(when), "%H:%M:%S", &tm);
    if (m->seq) snprintf(seq, sizeof(seq), "%llu", (unsigned long long)m->seq);
    bool col = t->cfg->color;
    printf("%s%s.%03ld%s  %s%6s%s  %s%-16s%s  %.*s\n", col ? BF_CLI_DIM : "", when,
           ts.tv_nsec / 1000000, col ? "\033[0m" : "", col ? BF_CLI_DIM : "", seq,
           col ? "\033[0m" : "", col ? BF_CLI_CYAN : "", m->event, col ? "\033[0m" : "",
           (int)m->data_len, m->data);
}

static void on_message(bf_client *c, const bf_client_msg *m, void *arg)
{
    tail *t = arg;
    (void)c;
    if (t->stopping) return;
    print_line(t, m);
    if (fflush(stdout) || ferror(stdout)) { /* a reader that went away (| head) is not an error */
        if (errno != EPIPE) bf_cli_error(spec.name, "cannot write the output: %s", strerror(errno));
        stop(t, errno == EPIPE ? BF_CLI_OK : BF_CLI_FAILED);
        return;
    }
    if (t->cfg->count && ++t->got == t->cfg->count) stop(t, BF_CLI_OK);
}

/* Fills base with ws://HOST:PORT of a live gateway registered in Redis. Returns 0 or an exit code
 * (reported). */
static int discover(bf_cli_cfg *cfg, char *base, size_t cap)
{
    int rc;
    bf_cli_redis *r = bf_cli_redis_open(cfg, spec.name, &rc);
    if (!r) return rc;
    bf_cli_cluster c = {0};
    const bf_cli_node *pick = NULL;
    if (!(rc = bf_cli_cluster_load(r, &c, true))) {
        for (size_t i = c.nrouters; i < c.n && !pick; i++)
            if (c.nodes[i].address && bf_cli_node_status_of(&c, &c.nodes[i]) == BF_CLI_NODE_LIVE)
                pick = &c.nodes[i];
        if (!pick) {
            bf_cli_error(spec.name, "no live gateway registered in Redis (give --gateway)");
            rc = BF_CLI_UNREACHABLE;
        } else if (!strncmp(pick->address, "0.0.0.0:", 8)) {
            snprintf(base, cap, "ws://127.0.0.1:%s", pick->address + 8);
        } else if (!strncmp(pick->address, "[::]:", 5) || !strncmp(pick->address, ":::", 3)) {
            snprintf(base, cap, "ws://[::1]:%s", strrchr(pick->address, ':') + 1);
        } else {
            snprintf(base, cap, "ws://%s", pick->address);
        }
    }
    bf_cli_cluster_deinit(&c);
    bf_cli_redis_free(r);
    return rc;
}

/* Appends s to out percent-encoded (RFC 3986 unreserved characters are kept). */
static void append_encoded(char *out, size_t cap, const char *s)
{
    size_t n = strlen(out);
    for (; *s && n + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~", ch))
            out[n++] = (char)ch;
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", ch);
    }
    out[n] = '\0';
}

int bf_cli_tail(int argc, char **argv)
{
    bf_cli_cfg cfg;
    int rc = bf_cli_args_parse(&spec, &cfg, argc, argv);
    if (rc != BF_CLI_CONTINUE) return rc;
    const char *ch = cfg.pos[0];
    char err[BF_ERR_LEN], base[600], url[BF_CLIENT_URL_MAX];
    if ((rc = bf_cli_channel_arg(spec.name, ch))) return rc;
    if (cfg.app) { /* tail speaks the native protocol, which belongs to the default app */
        char sch[256];
        bf_cli_redis *r = bf_cli_redis_open_channel(&cfg, spec.name, ch, sch, sizeof(sch), &rc);
        if (!r) return rc;
        bf_cli_redis_free(r);
        if (strcmp(sch, ch))
            return bf_cli_usage_error(spec.name,
                                      "--app %s: tail speaks the native protocol, which belongs "
                                      "to the default app; follow app %s's channels with a "
                                      "Pusher client (docs/pusher.md)",
                                      cfg.app, cfg.app);
    }
    if (cfg.gateway) {
        if (strncmp(cfg.gateway, "ws://", 5) || strlen(cfg.gateway) >= sizeof(base))
            return bf_cli_usage_error(spec.name, "--gateway: expected ws://HOST:PORT, got '%s'",
                                      cfg.gateway);
        snprintf(base, sizeof(base), "%s", cfg.gateway);
    } else if ((rc = discover(&cfg, base, sizeof(base)))) {
        return rc;
    }
    size_t bl = strlen(base);
    while (bl > 5 && base[bl - 1] == '/') base[--bl] = '\0';
    if (bf_channel_type_of(ch) != BF_CH_PUBLIC && !cfg.token)
        fprintf(stderr, "belfryctl tail: note: %s channels need --token\n",
                bf_channel_type_name(bf_channel_type_of(ch)));

    tail t = {.cfg = &cfg, .rc = BF_CLI_OK};
    snprintf(t.shown, sizeof(t.shown), "%s/ws/%s", base, ch);
    snprintf(url, sizeof(url), "%s%s", t.shown, cfg.token ? "?token=" : "");
    if (cfg.token) append_encoded(url, sizeof(url), cfg.token);

    signal(SIGPIPE, SIG_IGN); /* as in any libuv program: write errors come back as codes */
    uv_loop_t loop;
    uv_loop_init(&loop);
    bf_client_opts o = {.url = url,
                        .initial_delay_ms = 500,
                        .max_delay_ms = 5000,
                        .connect_timeout_ms = (unsigned)cfg.timeout_ms,
                        .on_connect = on_connect,
                        .on_disconnect = on_disconnect,
                        .on_gap = on_gap,
                        .arg = &t};
    t.client = bf_client_new(&loop, &o, err);
    if (!t.client) {
        uv_loop_close(&loop);
        return bf_cli_usage_error(spec.name, "%s", err);
    }
    bf_client_subscribe(t.client, "*", on_message, &t);
    uv_signal_init(&loop, &t.sigint);
    uv_signal_init(&loop, &t.sigterm);
    t.sigint.data = t.sigterm.data = &t;
    uv_signal_start(&t.sigint, on_signal, SIGINT);
    uv_signal_start(&t.sigterm, on_signal, SIGTERM);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return t.rc;
}
