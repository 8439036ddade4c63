/* Issue: admin CLI belfryctl — tail, as an operator runs it: in a pseudo-terminal (forkpty), with
 * Ctrl-C typed on the terminal; and in pipelines (--json, --count), with tokens, refusals and
 * kicks. forkpty is in glibc's libc since 2.34 (Debian 12 has 2.36), so no -lutil is needed. */
#include "cli_common.h"

#include <pty.h>
#include <termios.h>

static bf_cluster *C;
static char gw_url[64], redis_env[160];

static void setup(void)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .jwt_secret = IT_SECRET};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
    snprintf(gw_url, sizeof(gw_url), "ws://127.0.0.1:%d", C->gateways[0].port);
    snprintf(redis_env, sizeof(redis_env), "BELFRY_REDIS_URL=%s", C->redis_url);
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly");
}

TestSuite(cli_tail, .init = setup, .fini = teardown, .timeout = 60);

/* ---- a belfryctl in a pseudo-terminal ----------------------------------------------------- */

typedef struct pty_proc {
    pid_t pid;
    int fd; /* the terminal's master side: what the user sees, and where they type */
    char out[65536];
    size_t len;
} pty_proc;

static void pty_start(pty_proc *p, const char *const *env, const char *const *args)
{
    memset(p, 0, sizeof(*p));
    struct winsize ws = {.ws_row = 40, .ws_col = 160};
    p->pid = forkpty(&p->fd, NULL, NULL, &ws);
    cr_assert(p->pid >= 0, "forkpty failed");
    if (p->pid == 0) cli_exec(env, args);
}

/* Reads what the terminal shows for up to ms; returns false once the child closed it. */
static bool pty_read(pty_proc *p, int ms)
{
    struct pollfd pf = {p->fd, POLLIN, 0};
    if (poll(&pf, 1, ms) <= 0) return true;
    ssize_t n = read(p->fd, p->out + p->len, sizeof(p->out) - 1 - p->len);
    if (n <= 0) return false; /* EIO: every slave descriptor is closed */
    p->len += (size_t)n;
    p->out[p->len] = '\0';
    return true;
}

static void pty_expect(pty_proc *p, const char *needle, int timeout_ms)
{
    long long deadline = bf_ms() + timeout_ms;
    while (!strstr(p->out, needle) && bf_ms() < deadline)
        if (!pty_read(p, 50)) break;
    cr_assert(strstr(p->out, needle), "the terminal never showed \"%s\"; it shows:\n%s", needle,
              p->out);
}

/* Waits for the child to exit (draining the terminal) and returns its exit status or -1. */
static int pty_wait(pty_proc *p, int timeout_ms)
{
    long long deadline = bf_ms() + timeout_ms;
    int st;
    while (bf_ms() < deadline) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            close(p->fd);
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        pty_read(p, 20);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    close(p->fd);
    cr_assert_fail("belfryctl did not exit; the terminal shows:\n%s", p->out);
    return -1;
}

/* A copy of s without ANSI colour sequences (caller frees). */
static char *strip_ansi(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    while (*s) {
        if (*s == '\033' && s[1] == '[') {
            s += 2;
            while (*s && *s != 'm') s++;
            if (*s) s++;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

/* Types Ctrl-C: the terminal driver sends SIGINT to the foreground process group. */
static void pty_ctrl_c(pty_proc *p)
{
    cr_assert_eq(write(p->fd, "\x03", 1), 1);
}

Test(cli_tail, prints_messages_in_a_terminal_until_ctrl_c)
{
    pty_proc p;
    const char *args[] = {"tail", "news", NULL}; /* the gateway comes from Redis */
    pty_start(&p, ENV(redis_env), args);
    pty_expect(&p, "connected to ", 5000);
    cr_expect(strstr(p.out, gw_url), "discovered the harness' gateway: %s", p.out);
    it_wait_subscribed(C, "news", 1);
    it_publish(C, "news", "{\"event\":\"First\",\"data\":{\"n\":1}}");
    it_publish(C, "news", "{\"event\":\"Second\",\"data\":\"two\"}");
    pty_expect(&p, "\"two\"", 5000);
    char *first = strstr(p.out, "First"), *second = strstr(p.out, "Second");
    cr_assert(first && second && first < second, "in order:\n%s", p.out);
    cr_expect(strstr(p.out, "\033["), "a terminal gets colour:\n%s", p.out);
    char *plain = strip_ansi(p.out); /* TIME  SEQ  EVENT  DATA */
    cr_expect(strstr(plain, "     1  First             {\"n\":1}"), "%s", plain);
    cr_expect(strstr(plain, "     2  Second            \"two\""), "%s", plain);
    free(plain);
    pty_ctrl_c(&p);
    cr_expect_eq(pty_wait(&p, 5000), 0, "Ctrl-C is a clean exit 0; terminal:\n%s", p.out);
    it_wait_subscribed(C, "news", 0); /* the WebSocket was closed, so the gateway let go */
}

Test(cli_tail, no_color_in_a_terminal_when_NO_COLOR_is_set)
{
    pty_proc p;
    const char *args[] = {"tail", "news", "--gateway", gw_url, NULL};
    pty_start(&p, ENV("NO_COLOR=1"), args);
    pty_expect(&p, "connected to ", 5000);
    it_wait_subscribed(C, "news", 1);
    it_publish(C, "news", "{\"event\":\"Plain\",\"data\":1}");
    pty_expect(&p, "Plain", 5000);
    cr_expect_null(strstr(p.out, "\033["), "NO_COLOR: no escape codes:\n%s", p.out);
    kill(p.pid, SIGTERM); /* SIGTERM is a clean exit too */
    cr_expect_eq(pty_wait(&p, 5000), 0, "%s", p.out);
}

/* ---- in pipelines ------------------------------------------------------------------------- */

static char *token(const char *user, const char *channel)
{
    char claims[512];
    snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"exp\":%lld,\"channels\":[\"%s\"]}", user,
             (long long)time(NULL) + 600, channel);
    return bf_mint_token(IT_SECRET, "HS256", claims);
}

Test(cli_tail, json_lines_on_a_private_channel_with_a_token_then_exits_after_count)
{
    char *t = token("ops", "private-chat.7");
    const char *args[] = {"tail", "private-chat.7", "--gateway", gw_url, "--token",
                          t,      "--json",         "--count",   "2",    NULL};
    cli_proc p = cli_spawn(NULL, NULL, args);
    cli_wait_err(&p, "connected to ", 5000); /* subscribed: what is published now reaches it */
    it_publish(C, "private-chat.7", "{\"event\":\"Message\",\"data\":{\"text\":\"hi\"}}");
    it_publish(C, "private-chat.7", "{\"event\":\"Typing\",\"data\":null}");
    cli_res r = cli_finish(p, 10000);
    free(t);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_expect_eq(cli_lines(r.out), 2, "one JSON line per message: %s", r.out);
    cr_expect_null(strchr(r.out, '\033'), "no colour in a pipe");
    char *nl = strchr(r.out, '\n');
    json_t *a = json_loadb(r.out, (size_t)(nl - r.out), 0, NULL), *b = json_loads(nl + 1, 0, NULL);
    cr_assert(a && b, "%s", r.out);
    cr_expect_str_eq(json_string_value(json_object_get(a, "event")), "Message");
    cr_expect_str_eq(json_string_value(json_object_get(a, "channel")), "private-chat.7");
    cr_expect_eq(json_integer_value(json_object_get(a, "seq")), 1);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(a, "data"), "text")), "hi");
    cr_expect_str_eq(json_string_value(json_object_get(b, "event")), "Typing");
    cr_expect_eq(json_integer_value(json_object_get(b, "seq")), 2);
    cr_expect(json_is_null(json_object_get(b, "data")));
    json_decref(a);
    json_decref(b);
    cli_res_free(&r);
}

Test(cli_tail, refusals_and_unreachable_gateways_end_it_with_1_and_3)
{
    char *wrong = token("ops", "private-other");
    char closed[64];
    snprintf(closed, sizeof(closed), "ws://127.0.0.1:%d", bf_free_port());
    struct {
        int status;
        const char *err;
        const char *args[8];
    } cases[] = {
        {1, "401", {"tail", "private-chat.7", "--gateway", gw_url}},
        {1, "403", {"tail", "private-chat.7", "--gateway", gw_url, "--token", wrong}},
        {3, "cannot reach", {"tail", "news", "--gateway", closed}},
        {2, "--gateway", {"tail", "news", "--gateway", "http://x"}},
        {2, "invalid channel", {"tail", "bad channel", "--gateway", gw_url}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        cli_res r = cli_runv(NULL, NULL, cases[i].args);
        cr_expect_eq(r.status, cases[i].status, "case %zu: exit %d, %s", i, r.status, r.err);
        cr_expect(strstr(r.err, cases[i].err), "case %zu: %s", i, r.err);
        cr_expect_str_empty(r.out, "case %zu", i);
        cli_res_free(&r);
    }
    free(wrong);
}

static bool is_member(void *channel)
{
    cli_res r = cli_run("presence", channel, "--redis", C->redis_url);
    bool joined = strstr(r.out, "1 member,") != NULL;
    cli_res_free(&r);
    return joined;
}

Test(cli_tail, a_kicked_tail_exits_1)
{
    const char *ch = "presence-ops";
    char *t = token("watcher", ch);
    const char *args[] = {"tail", ch, "--gateway", gw_url, "--token", t, NULL};
    cli_proc p = cli_spawn(NULL, NULL, args);
    it_wait_subscribed(C, ch, 1);
    /* wait until the owner has run the join, so the presence snapshot was sent first */
    cr_assert(bf_wait_for(is_member, (void *)ch, 5000), "watcher never became a member");
    cli_res k = cli_run_env(ENV(redis_env), "kick", ch, "watcher");
    cr_expect_eq(k.status, 0, "%s", k.err);
    cli_res_free(&k);
    cli_res r = cli_finish(p, 10000);
    free(t);
    cr_expect_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, "kicked"), "%s", r.err);
    cr_expect(strstr(r.out, "presence:here"), "the presence snapshot came first: %s", r.out);
    cli_res_free(&r);
}
