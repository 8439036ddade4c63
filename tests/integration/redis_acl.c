/* ACL users: against a Redis whose `default` user is disabled and whose only user is an ACL
 * user, redis://user:pass@host works in the gateway, the router and belfryctl (AUTH user pass,
 * two arguments), and a wrong password is a clear error, not a hang or a silent retry loop. */
#include "cli_common.h"

#include <hiredis/hiredis.h>
#include <signal.h>

TestSuite(redis_acl, .timeout = 90);

#define ACL_USER "belfry"
#define ACL_PASS "s3cret:with@odd%chars"
/* the same password, percent-encoded where a URL needs it */
#define ACL_PASS_URL "s3cret%3Awith%40odd%25chars"

static bf_cluster *start_acl_cluster(void)
{
    bf_cluster_opts o = {.routers = 1,
                         .gateways = 1,
                         .jwt_secret = IT_SECRET,
                         .redis_acl_user = ACL_USER,
                         .redis_acl_pass = ACL_PASS};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c, "gateway and router did not become ready against an ACL-only Redis");
    /* the premise: the default user really is off */
    redisContext *rc = redisConnect("127.0.0.1", c->redis.port);
    cr_assert(rc && !rc->err);
    redisReply *r = redisCommand(rc, "PING");
    cr_assert(r && r->type == REDIS_REPLY_ERROR, "an unauthenticated PING was answered");
    freeReplyObject(r);
    redisFree(rc);
    return c;
}

static void url_with(char *out, size_t cap, const bf_cluster *c, const char *user, const char *pass)
{
    snprintf(out, cap, "redis://%s:%s@127.0.0.1:%d", user, pass, c->redis.port);
}

Test(redis_acl, gateway_router_and_belfryctl_authenticate_as_an_acl_user)
{
    bf_cluster *c = start_acl_cluster();
    char url[256];
    url_with(url, sizeof(url), c, ACL_USER, ACL_PASS_URL);

    bf_ws *sub = it_connect(c, 0, "/ws/news", NULL);
    it_wait_subscribed(c, "news", 1);
    it_publish(c, "news", "{\"event\":\"Http\",\"data\":{}}");
    json_decref(it_recv_event(sub, "Http", 5000, "subscriber"));

    /* belfryctl publishes through Redis ingress (router) and reads what the daemons wrote */
    cli_res r = cli_run("publish", "news", "Cli", "{\"n\":1}", "--redis", url);
    cr_expect_eq(r.status, 0, "belfryctl publish: %d %s", r.status, r.err);
    cli_res_free(&r);
    json_decref(it_recv_event(sub, "Cli", 5000, "subscriber"));
    r = cli_run("nodes", "--redis", url);
    cr_expect_eq(r.status, 0, "belfryctl nodes: %d %s", r.status, r.err);
    cr_expect(strstr(r.out, c->routers[0].id) && strstr(r.out, c->gateways[0].id),
              "belfryctl nodes does not list both daemons: %s", r.out);
    cli_res_free(&r);
    /* the environment variable takes the same URL */
    char env[300];
    snprintf(env, sizeof(env), "BELFRY_REDIS_URL=%s", url);
    r = cli_run_env(ENV(env), "channels");
    cr_expect_eq(r.status, 0, "belfryctl channels (env): %d %s", r.status, r.err);
    cli_res_free(&r);

    bf_ws_close(sub);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

static bool log_has(const char *path, const char *needle)
{
    char *s = bf_read_file(path);
    bool ok = s && strstr(s, needle);
    free(s);
    return ok;
}

typedef struct log_wait {
    const char *path, *needle;
} log_wait;

static bool log_shows(void *arg)
{
    log_wait *w = arg;
    return log_has(w->path, w->needle);
}

Test(redis_acl, a_wrong_password_is_a_clear_error)
{
    bf_cluster *c = start_acl_cluster();
    char url[256], nodefault[256];
    url_with(url, sizeof(url), c, ACL_USER, "wrong");
    /* without a user name AUTH authenticates `default`, which is off */
    snprintf(nodefault, sizeof(nodefault), "redis://:%s@127.0.0.1:%d", ACL_PASS_URL, c->redis.port);

    const char *urls[] = {url, nodefault};
    for (int i = 0; i < 2; i++) {
        cli_res r = cli_run("nodes", "--redis", urls[i]);
        cr_expect_eq(r.status, 3, "belfryctl with %s: exit %d", urls[i], r.status);
        const char *want[] = {"refused AUTH as user 'belfry': WRONGPASS",
                              "refused AUTH as user 'default': ERR AUTH"};
        cr_expect(strstr(r.err, want[i]) != NULL, "belfryctl's error is not clear: %s", r.err);
        cr_expect(strstr(r.err, "wrong") == NULL && strstr(r.err, ACL_PASS) == NULL,
                  "belfryctl echoes the password: %s", r.err);
        cli_res_free(&r);
    }

    /* a router with the wrong password logs why, stays not-ready, and leaks nothing */
    int port = bf_free_port();
    char listen[64], log[600];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(log, sizeof(log), "%s/rt-wrong.log", c->dir);
    const char *argv[] = {"--listen", listen, "--redis", url, "--api-key", IT_API_KEY, NULL};
    pid_t pid = bf_spawn("belfry-router", argv, log);
    cr_assert_gt(pid, 0);
    log_wait w = {log, "refused AUTH as user 'belfry': WRONGPASS"};
    cr_expect(bf_wait_for(log_shows, &w, 5000), "the router's log does not say why");
    bf_http_resp hr;
    cr_expect_eq(bf_http(port, "GET", "/readyz", NULL, NULL, 0, &hr, 2000), 0);
    cr_expect_eq(hr.status, 503);
    bf_http_resp_free(&hr);
    cr_expect(!log_has(log, "wrong@") && !log_has(log, ":wrong"), "the router logs the password");
    kill(pid, SIGTERM);
    int st = 0;
    long long deadline = bf_ms() + 5000;
    while (waitpid(pid, &st, WNOHANG) == 0 && bf_ms() < deadline) usleep(20000);
    if (bf_ms() >= deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "router exit status %d", st);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
