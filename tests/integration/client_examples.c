/* The examples in client/examples/ are tests too: run them against a live cluster, over HTTP and
 * over Redis, and check what they print. Under ASan a leak makes their exit status non-zero. */
#include "harness.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define API_KEY "test-api-key-0123456789abcdef0123456789"

static bf_cluster *C;

static void setup(void)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly (leak or crash?)");
    C = NULL;
}

TestSuite(client_examples, .init = setup, .fini = teardown, .timeout = 60);

typedef struct child {
    pid_t pid;
    int status;
    char log[600];
} child;

static bool exited(void *arg)
{
    child *ch = arg;
    return waitpid(ch->pid, &ch->status, WNOHANG) == ch->pid;
}

static int wait_exit(child *ch)
{
    if (!bf_wait_for(exited, ch, 10000)) {
        kill(ch->pid, SIGKILL);
        waitpid(ch->pid, &ch->status, 0);
        cr_assert_fail("%s did not exit in time", ch->log);
    }
    return WIFEXITED(ch->status) ? WEXITSTATUS(ch->status) : 128 + WTERMSIG(ch->status);
}

typedef struct grep_arg {
    const char *path, *needle;
} grep_arg;

static bool log_has(void *arg)
{
    grep_arg *g = arg;
    char *s = bf_read_file(g->path);
    bool ok = s && strstr(s, g->needle);
    free(s);
    return ok;
}

static void spawn(child *ch, const char *bin, const char *const *argv, const char *name)
{
    snprintf(ch->log, sizeof(ch->log), "%s/%s.log", C->dir, name);
    ch->pid = bf_spawn(bin, argv, ch->log);
    cr_assert_gt(ch->pid, 0, "cannot start %s", bin);
}

/* Starts the subscriber example on "dashboard", waiting for `count` messages. */
static void start_subscriber(child *sub, const char *count, const char *name)
{
    char url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/dashboard", C->gateways[0].port);
    const char *argv[] = {url, count, "10", NULL};
    spawn(sub, "belfry-example-subscribe", argv, name);
    grep_arg g = {sub->log, "connected to dashboard"};
    cr_assert(bf_wait_for(log_has, &g, 8000), "the subscriber did not connect (log %s)", sub->log);
    cr_assert(bf_cluster_wait_subscribed(C, "dashboard", 1, 5000), "the gateway did not subscribe");
}

static void expect_in(const char *path, const char *needle)
{
    char *s = bf_read_file(path);
    cr_expect(s && strstr(s, needle), "%s lacks \"%s\":\n%s", path, needle, s ? s : "(none)");
    free(s);
}

Test(client_examples, subscribe_prints_what_publish_event_sends_over_http_and_redis)
{
    child sub, pub;
    start_subscriber(&sub, "2", "subscribe");

    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", C->routers[0].port);
    setenv("BELFRY_URL", url, 1);
    setenv("BELFRY_API_KEY", API_KEY, 1);
    const char *argv[] = {"42", NULL};
    spawn(&pub, "belfry-example-publish-event", argv, "publish-http");
    cr_expect_eq(wait_exit(&pub), 0, "publish_event over HTTP failed (log %s)", pub.log);
    expect_in(pub.log, "published order.shipped to dashboard");
    expect_in(pub.log, "published order.shipped to private-orders.42");

    setenv("BELFRY_URL", C->redis_url, 1);
    unsetenv("BELFRY_API_KEY");
    const char *argv2[] = {"43", NULL};
    spawn(&pub, "belfry-example-publish-event", argv2, "publish-redis");
    cr_expect_eq(wait_exit(&pub), 0, "publish_event over Redis failed (log %s)", pub.log);

    cr_expect_eq(wait_exit(&sub), 0, "the subscriber failed (log %s)", sub.log);
    expect_in(sub.log, "order.shipped 1 {\"id\":42,\"carrier\":\"ups\"}");
    expect_in(sub.log, "order.shipped 2 {\"id\":43,\"carrier\":\"ups\"}");
    expect_in(sub.log, "disconnected: 1000");
}

Test(client_examples, publish_event_explains_a_missing_configuration)
{
    unsetenv("BELFRY_URL");
    child pub;
    const char *argv[] = {NULL};
    spawn(&pub, "belfry-example-publish-event", argv, "publish-noenv");
    cr_expect_eq(wait_exit(&pub), 2);
    expect_in(pub.log, "BELFRY_URL is not set");
}
