/* Issue: core slice — the binaries' configuration surface: --help, --version, flag > env >
 * default, one clear line and exit code 2 for bad configuration, secrets required. */
#include "common.h"

#include <sys/wait.h>

/* Runs build/bin/<bin> with args and env (NULL-terminated "K=V" list or NULL), capturing
 * stdout+stderr. Returns the exit status (or -1), output in *out (caller frees). */
static int run(const char *bin, const char *const *args, const char *const *env, char **out)
{
    char cmd[4096], path[1024];
    snprintf(path, sizeof(path), "%s/%s", BELFRY_BIN_DIR, bin);
    size_t n = (size_t)snprintf(cmd, sizeof(cmd), "env -i PATH=/usr/bin:/bin ");
    for (int i = 0; env && env[i]; i++)
        n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "'%s' ", env[i]);
    n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "timeout 5 %s", path);
    for (int i = 0; args && args[i]; i++)
        n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " '%s'", args[i]);
    snprintf(cmd + n, sizeof(cmd) - n, " 2>&1");
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 65536, len = 0;
    *out = malloc(cap);
    size_t k;
    while ((k = fread(*out + len, 1, cap - len - 1, p)) > 0) len += k;
    (*out)[len] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_bad(const char *bin, const char *const *args, const char *const *env,
                       const char *needle)
{
    char *out;
    int st = run(bin, args, env, &out);
    cr_expect_eq(st, 2, "%s %s: exit %d: %s", bin, args ? args[0] : "", st, out);
    cr_expect(strstr(out, needle) != NULL, "%s: output lacks '%s': %s", bin, needle, out);
    /* one clear line */
    cr_expect(strchr(out, '\n') == strrchr(out, '\n'), "%s: more than one line: %s", bin, out);
    free(out);
}

Test(daemons, help_and_version)
{
    const char *bins[] = {"belfry-gateway", "belfry-router", "belfryctl"};
    for (int i = 0; i < 3; i++) {
        char *out;
        const char *h[] = {"--help", NULL}, *v[] = {"--version", NULL};
        cr_expect_eq(run(bins[i], h, NULL, &out), 0, "%s --help", bins[i]);
        cr_expect(strstr(out, "Usage") != NULL, "%s", out);
        free(out);
        cr_expect_eq(run(bins[i], v, NULL, &out), 0);
        cr_expect(strstr(out, BELFRY_VERSION) != NULL, "%s", out);
        free(out);
    }
    char *out;
    const char *h[] = {"--help", NULL};
    run("belfry-gateway", h, NULL, &out);
    const char *flags[] = {"--listen",         "BELFRY_LISTEN",       "--redis",
                           "BELFRY_REDIS_URL", "--node-id",           "BELFRY_NODE_ID",
                           "--redis-prefix",   "BELFRY_REDIS_PREFIX", "--log-level",
                           "--log-format",     "--jwt-secret",        "--insecure-any-token"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(*flags); i++)
        cr_expect(strstr(out, flags[i]) != NULL, "gateway --help lacks %s", flags[i]);
    free(out);
    run("belfry-router", h, NULL, &out);
    cr_expect(strstr(out, "--api-key") && strstr(out, "BELFRY_API_KEY") &&
                  strstr(out, "--insecure-no-api-key") && strstr(out, "--max-message-bytes"),
              "%s", out);
    free(out);
}

Test(daemons, bad_configuration_fails_with_one_line_and_exit_2)
{
    const char *a1[] = {"--redis", "http://x", "--insecure-no-api-key", NULL};
    expect_bad("belfry-router", a1, NULL, "--redis");
    const char *a2[] = {"--listen", "127.0.0.1:notaport", "--insecure-no-api-key", NULL};
    expect_bad("belfry-router", a2, NULL, "--listen");
    const char *a3[] = {"--bogus", NULL};
    expect_bad("belfry-gateway", a3, NULL, "--bogus");
    const char *e4[] = {"BELFRY_REDIS_URL=redis://h:99999", NULL};
    expect_bad("belfry-gateway", NULL, e4, "BELFRY_REDIS_URL");
    /* the router refuses to run without a key unless told, loudly, that this is insecure */
    expect_bad("belfry-router", NULL, NULL, "--api-key");
    /* a JWT secret must be long enough */
    const char *a5[] = {"--jwt-secret", "short", NULL};
    expect_bad("belfry-gateway", a5, NULL, "--jwt-secret");
    const char *a6[] = {"--log-format", "xml", NULL};
    expect_bad("belfry-gateway", a6, NULL, "--log-format");
    /* Redis Cluster: database 0 only, said by the URL parser (flag and environment alike) */
    const char *a7[] = {"--redis", "cluster://127.0.0.1:7000,127.0.0.1:7001/2",
                        "--insecure-no-api-key", NULL};
    expect_bad("belfry-router", a7, NULL, "--redis");
    const char *e8[] = {"BELFRY_REDIS_URL=cluster://u:pw@127.0.0.1:7000/1", NULL};
    expect_bad("belfry-gateway", NULL, e8, "BELFRY_REDIS_URL");
}

Test(daemons, flag_beats_environment_beats_default)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    /* a router started with a key from the environment and another from the flag: the flag
     * wins; both talk to the cluster's Redis from the environment */
    int port = bf_free_port();
    char listen[64], log[512];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(log, sizeof(log), "%s/flags.log", c->dir);
    setenv("BELFRY_REDIS_URL", c->redis_url, 1);
    setenv("BELFRY_API_KEY", "from-the-environment", 1);
    setenv("BELFRY_LISTEN", "127.0.0.1:1", 1);
    const char *argv[] = {"--listen", listen, "--api-key", "from-the-flag", NULL};
    pid_t pid = bf_spawn("belfry-router", argv, log);
    unsetenv("BELFRY_API_KEY");
    unsetenv("BELFRY_LISTEN");
    unsetenv("BELFRY_REDIS_URL");
    cr_assert_eq(bf_wait_http_ok(port, "/readyz", 5000), 0, "router on the flag's port");
    bf_http_resp r;
    const char *body = "{\"event\":\"E\",\"data\":{}}";
    cr_assert_eq(bf_http(port, "POST", "/broadcast/k", "Authorization: Bearer from-the-flag\r\n",
                         body, strlen(body), &r, 2000),
                 0);
    cr_expect_eq(r.status, 204);
    bf_http_resp_free(&r);
    cr_assert_eq(bf_http(port, "POST", "/broadcast/k",
                         "Authorization: Bearer from-the-environment\r\n", body, strlen(body), &r,
                         2000),
                 0);
    cr_expect_eq(r.status, 401);
    bf_http_resp_free(&r);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

Test(daemons, a_token_from_belfryctl_opens_a_presence_channel)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 1, .jwt_secret = IT_SECRET};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    char *out;
    const char *args[] = {"token",          "--secret", IT_SECRET,
                          "--user",         "carl",     "--channel",
                          "presence-team*", "--info",   "{\"name\":\"Carl\"}",
                          "--ttl",          "10m",      NULL};
    cr_assert_eq(run("belfryctl", args, NULL, &out), 0, "%s", out);
    out[strcspn(out, "\n")] = '\0';
    char path[4096];
    snprintf(path, sizeof(path), "/ws/presence-team.1?token=%s", out);
    free(out);
    bf_ws *w = it_connect(c, 0, path, NULL);
    json_t *here = it_recv_event(w, "presence:here", 5000, "carl");
    json_t *m = json_array_get(json_object_get(json_object_get(here, "data"), "members"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(m, "id")), "carl");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(m, "info"), "name")),
                     "Carl");
    json_decref(here);
    bf_ws_close(w);
    const char *bad[] = {"token", "--secret", "short", "--user", "u", "--channel", "c", NULL};
    cr_expect_eq(run("belfryctl", bad, NULL, &out), 2, "%s", out);
    free(out);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}
