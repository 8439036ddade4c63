/* Helpers for the belfryctl suites (tests/integration/cli_*.c): run the real binary with
 * arguments and environment, capture stdout, stderr and the exit status, bounded in time. */
#ifndef BF_IT_CLI_COMMON_H
#define BF_IT_CLI_COMMON_H

#include "common.h"
#include "ring.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#define CLI_BIN BELFRY_BIN_DIR "/belfryctl"
#define CLI_TIMEOUT_MS 20000

typedef struct cli_proc {
    pid_t pid;
    int out, err;     /* read ends of the child's stdout and stderr */
    char early[4096]; /* stderr read by cli_wait_err, given back by cli_finish */
    size_t early_len;
} cli_proc;

typedef struct cli_res {
    int status; /* exit status; -1 if killed by a signal */
    char *out, *err;
} cli_res;

/* Variables a developer's shell may set that would change what the CLI does. */
static const char *const cli_scrubbed[] = {"BELFRY_REDIS_URL",
                                           "BELFRY_REDIS_PREFIX",
                                           "BELFRY_API_KEY",
                                           "BELFRY_GATEWAY_URL",
                                           "BELFRY_TOKEN",
                                           "BELFRY_JWT_SECRET",
                                           "BELFRY_CLI_TIMEOUT_MS",
                                           "NO_COLOR",
                                           NULL};

/* In a forked child: a clean environment plus env ("K=V", NULL-terminated, may be NULL), then
 * exec belfryctl with args (NULL-terminated, without argv[0]). */
static inline void cli_exec(const char *const *env, const char *const *args)
{
    for (int i = 0; cli_scrubbed[i]; i++) unsetenv(cli_scrubbed[i]);
    for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
    const char *argv[64] = {"belfryctl"};
    int n = 1;
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    execv(CLI_BIN, (char *const *)argv);
    _exit(127);
}

/* Starts belfryctl with its stdout and stderr on pipes and stdin from stdin_data (or empty). */
static inline cli_proc cli_spawn(const char *const *env, const char *stdin_data,
                                 const char *const *args)
{
    int o[2], e[2], i[2];
    cr_assert(pipe(o) == 0 && pipe(e) == 0 && pipe(i) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(i[0], 0);
        dup2(o[1], 1);
        dup2(e[1], 2);
        close(o[0]), close(o[1]), close(e[0]), close(e[1]), close(i[0]), close(i[1]);
        cli_exec(env, args);
    }
    close(o[1]), close(e[1]), close(i[0]);
    if (stdin_data) cr_assert(write(i[1], stdin_data, strlen(stdin_data)) >= 0);
    close(i[1]);
    return (cli_proc){.pid = pid, .out = o[0], .err = e[0]};
}

/* Reads the child's stderr until it shows needle (e.g. tail's "connected to", after which every
 * publish reaches it); fails the test after timeout_ms. */
static inline void cli_wait_err(cli_proc *p, const char *needle, int timeout_ms)
{
    long long deadline = bf_ms() + timeout_ms;
    while (!strstr(p->early, needle) && bf_ms() < deadline) {
        struct pollfd pf = {p->err, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0) continue;
        ssize_t n = read(p->err, p->early + p->early_len, sizeof(p->early) - 1 - p->early_len);
        if (n <= 0) break;
        p->early_len += (size_t)n;
        p->early[p->early_len] = '\0';
    }
    cr_assert(strstr(p->early, needle), "belfryctl never wrote \"%s\" on stderr: %s", needle,
              p->early);
}

/* Collects the output until the child exits; kills it and fails the test after timeout_ms. */
static inline cli_res cli_finish(cli_proc p, int timeout_ms)
{
    char *buf[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    FILE *f[2] = {open_memstream(&buf[0], &len[0]), open_memstream(&buf[1], &len[1])};
    fwrite(p.early, 1, p.early_len, f[1]);
    int fds[2] = {p.out, p.err}, open_fds = 2;
    long long deadline = bf_ms() + timeout_ms;
    while (open_fds > 0 && bf_ms() < deadline) {
        struct pollfd pf[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        if (poll(pf, 2, 100) <= 0) continue;
        for (int k = 0; k < 2; k++) {
            if (fds[k] < 0 || !(pf[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char chunk[4096];
            ssize_t n = read(fds[k], chunk, sizeof(chunk));
            if (n > 0) {
                fwrite(chunk, 1, (size_t)n, f[k]);
            } else {
                close(fds[k]);
                fds[k] = -1;
                open_fds--;
            }
        }
    }
    if (open_fds > 0) kill(p.pid, SIGKILL);
    for (int k = 0; k < 2; k++)
        if (fds[k] >= 0) close(fds[k]);
    int st = 0;
    waitpid(p.pid, &st, 0);
    fclose(f[0]);
    fclose(f[1]);
    cr_assert(open_fds == 0, "belfryctl did not finish within %d ms; stdout: %s stderr: %s",
              timeout_ms, buf[0], buf[1]);
    return (cli_res){WIFEXITED(st) ? WEXITSTATUS(st) : -1, buf[0], buf[1]};
}

static inline cli_res cli_runv(const char *const *env, const char *stdin_data,
                               const char *const *args)
{
    return cli_finish(cli_spawn(env, stdin_data, args), CLI_TIMEOUT_MS);
}

/* cli_run("nodes", "--json") */
#define cli_run(...) cli_runv(NULL, NULL, (const char *const[]){__VA_ARGS__, NULL})
/* cli_run_env(ENV("BELFRY_REDIS_URL=..."), "nodes") */
#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define cli_run_env(env, ...) cli_runv(env, NULL, (const char *const[]){__VA_ARGS__, NULL})

static inline void cli_res_free(cli_res *r)
{
    free(r->out);
    free(r->err);
}

/* Asserts exit status 0 and returns stdout parsed as one JSON document (caller decrefs). */
static inline json_t *cli_json(const cli_res *r, const char *what)
{
    cr_assert_eq(r->status, 0, "%s: exit %d, stderr: %s", what, r->status, r->err);
    json_error_t je;
    json_t *j = json_loads(r->out, 0, &je);
    cr_assert_not_null(j, "%s: stdout is not one JSON document (%s): %s", what, je.text, r->out);
    return j;
}

/* Runs a command with --json and returns the parsed output (caller decrefs). */
#define cli_run_json(...)                                                                          \
    ({                                                                                             \
        cli_res r_ = cli_run(__VA_ARGS__, "--json");                                               \
        json_t *j_ = cli_json(&r_, #__VA_ARGS__);                                                  \
        cli_res_free(&r_);                                                                         \
        j_;                                                                                        \
    })

/* Lines in s ('\n' count), for "one clear line" checks. */
static inline int cli_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* The live routers of cluster c, as the ring every node builds (caller frees). */
static inline bf_ring *cli_ring(bf_cluster *c, const char *prefix)
{
    char *now = bf_redis_query(c, "TIME");
    cr_assert_not_null(now);
    long long ms = atoll(now) * 1000 + atoll(strchr(now, '\n') + 1) / 1000;
    free(now);
    char *ids = bf_redis_query(c, "ZRANGEBYSCORE %s{#}:routers (%lld +inf", prefix, ms);
    cr_assert_not_null(ids);
    const char *list[BF_MAX_NODES];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(ids, "\n", &save); t && n < BF_MAX_NODES;
         t = strtok_r(NULL, "\n", &save))
        list[n++] = t;
    bf_ring *r = bf_ring_new();
    bf_ring_set(r, list, n, 0);
    free(ids);
    return r;
}

#endif
