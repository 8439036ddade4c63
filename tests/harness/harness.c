#include "harness.h"
#include "http_client.h"
#include "redis_cluster.h"

#include "slot.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ctype.h>
#include <hiredis/hiredis.h>
#include <jwt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_API_KEY "test-api-key-0123456789abcdef0123456789"

long long bf_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool bf_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    long long deadline = bf_ms() + timeout_ms;
    for (;;) {
        if (cond(arg)) return true;
        if (bf_ms() >= deadline) return false;
        usleep(20000);
    }
}

int bf_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
        getsockname(fd, (struct sockaddr *)&sa, &sl)) {
        close(fd);
        return -1;
    }
    int port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

char *bf_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    return b;
}

/* BELFRY_TEST_DAEMON_WRAPPER (e.g. "valgrind --error-exitcode=99 ..."): a command line, split at
 * spaces, that the cluster's gateways and routers run under (`make test-valgrind`). */
static const char *daemon_wrapper(void)
{
    const char *w = getenv("BELFRY_TEST_DAEMON_WRAPPER");
    return w && *w ? w : NULL;
}

bool bf_daemons_wrapped(void)
{
    return daemon_wrapper() != NULL;
}

int bf_slow(int ms)
{
    return bf_daemons_wrapped() ? ms * 10 : ms;
}

static pid_t spawn(const char *bin, const char *const *argv, const char *log, bool wrapped)
{
    char path[1024], wrapper[512];
    if (!strncmp(bin, "belfry", 6))
        snprintf(path, sizeof(path), "%s/%s", BELFRY_BIN_DIR, bin);
    else
        snprintf(path, sizeof(path), "%s", bin);
    const char *args[96];
    int n = 0;
    if (wrapped && daemon_wrapper()) {
        snprintf(wrapper, sizeof(wrapper), "%s", daemon_wrapper());
        for (char *save = NULL, *t = strtok_r(wrapper, " ", &save); t && n < 30;
             t = strtok_r(NULL, " ", &save))
            args[n++] = t;
    }
    args[n++] = path;
    for (int i = 0; argv && argv[i] && n < 95; i++) args[n++] = argv[i];
    args[n] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127); /* parent already gone */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        /* nothing else of the test's may live on in the child: a client socket it inherited
         * would stay open there when the test closes its own copy (an abort would send no RST) */
        closefrom(3);
        execvp(args[0], (char *const *)args);
        fprintf(stderr, "exec %s: %s\n", args[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

pid_t bf_spawn(const char *bin, const char *const *argv, const char *log)
{
    return spawn(bin, argv, log, false);
}

int bf_wait_http_ok(int port, const char *path, int timeout_ms)
{
    long long deadline = bf_ms() + timeout_ms;
    while (bf_ms() < deadline) {
        bf_http_resp r;
        if (bf_http(port, "GET", path, NULL, NULL, 0, &r, 1000) == 0) {
            int ok = r.status == 200;
            bf_http_resp_free(&r);
            if (ok) return 0;
        }
        usleep(20000);
    }
    return -1;
}

/* ---- processes --------------------------------------------------------------------------- */

static int wait_exit(bf_proc *p, int timeout_ms)
{
    long long deadline = bf_ms() + timeout_ms;
    while (p->pid > 0) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (r < 0 || bf_ms() >= deadline) return -1;
        usleep(10000);
    }
    return -1;
}

/* Creates the ACL user of opts, disables `default`, and names the user in redis_url. */
static int apply_acl(bf_cluster *c)
{
    redisContext *rc = redisConnect("127.0.0.1", c->redis.port);
    bool ok = rc && !rc->err;
    const char *rules[] = {"on", "~*", "&*", "+@all"};
    char pass[300];
    snprintf(pass, sizeof(pass), ">%s", c->o.redis_acl_pass);
    redisReply *r = ok ? redisCommand(rc, "ACL SETUSER %s %s %s %s %s %s", c->o.redis_acl_user,
                                      rules[0], pass, rules[1], rules[2], rules[3])
                       : NULL;
    ok = r && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    r = ok ? redisCommand(rc, "ACL SETUSER default off") : NULL;
    ok = r && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (rc) redisFree(rc);
    if (!ok) {
        fprintf(stderr, "harness: cannot set up the Redis ACL user\n");
        return -1;
    }
    /* percent-encoded, as a URL needs: a password may hold ':', '@', '%' */
    char enc[2][48];
    const char *raw[2] = {c->o.redis_acl_user, c->o.redis_acl_pass};
    for (int k = 0; k < 2; k++) {
        size_t n = 0;
        for (const unsigned char *q = (const unsigned char *)raw[k]; *q && n + 4 < sizeof(enc[k]);
             q++)
            n +=
                (size_t)(isalnum(*q) || strchr("-._~", *q) ? snprintf(enc[k] + n, 2, "%c", *q)
                                                           : snprintf(enc[k] + n, 4, "%%%02X", *q));
        enc[k][n] = '\0';
    }
    snprintf(c->redis_url, sizeof(c->redis_url), "redis://%s:%s@127.0.0.1:%d", enc[0], enc[1],
             c->redis.port);
    return 0;
}

/* Starts redis-server on fixed_port, or on a free port when fixed_port is 0 (retrying with
 * another port if it is taken meanwhile). Waits until it answers PING. */
static int start_redis(bf_cluster *c, int fixed_port)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = fixed_port ? fixed_port : bf_free_port();
        char ports[16];
        snprintf(ports, sizeof(ports), "%d", port);
        snprintf(c->redis.log, sizeof(c->redis.log), "%s/redis.log", c->dir);
        const char *argv[] = {"--port",       ports, "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no",  "--dir",  c->dir,      NULL};
        c->redis.pid = bf_spawn("redis-server", argv, c->redis.log);
        c->redis.port = port;
        if (c->redis.pid > 0 && bf_redis_await_own(&c->redis.pid, port) == 0) {
            snprintf(c->redis_url, sizeof(c->redis_url), "redis://127.0.0.1:%d", port);
            return c->o.redis_acl_user ? apply_acl(c) : 0;
        }
        if (fixed_port) usleep(200000); /* the old socket may linger briefly */
    }
    fprintf(stderr, "harness: redis-server did not start\n");
    return -1;
}

static int start_node(bf_cluster *c, bf_proc *p, bool router)
{
    char port[16], listen[64];
    const char *argv[64];
    int n = 0;
    if (!p->port) p->port = bf_free_port();
    snprintf(port, sizeof(port), "%d", p->port);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", p->port);
    argv[n++] = "--listen";
    argv[n++] = listen;
    char proxied_url[128];
    argv[n++] = "--redis";
    argv[n++] = c->redis_url;
    if (!router && c->proxy.port && p == &c->gateways[c->o.proxied_gateway - 1]) {
        snprintf(proxied_url, sizeof(proxied_url), "redis://127.0.0.1:%d", c->proxy.port);
        argv[n - 1] = proxied_url;
    }
    argv[n++] = "--node-id";
    argv[n++] = p->id;
    argv[n++] = "--redis-prefix";
    argv[n++] = c->o.prefix;
    argv[n++] = "--log-level";
    argv[n++] = getenv("BELFRY_TEST_LOG_LEVEL") ? getenv("BELFRY_TEST_LOG_LEVEL") : "debug";
    if (router) {
        argv[n++] = "--api-key";
        argv[n++] = c->o.api_key;
        for (int i = 0; c->o.router_args && c->o.router_args[i] && n < 60; i++)
            argv[n++] = c->o.router_args[i];
    } else {
        argv[n++] = "--drain-timeout";
        argv[n++] = "3";
        /* back-pressure off: a test machine's scheduling hiccups would otherwise turn publishes
         * into 503 overloaded at random; the tests of it turn it on in gateway_args (the last
         * occurrence of a flag wins) */
        argv[n++] = "--backlog-limit-ms";
        argv[n++] = "0";
        if (c->o.jwt_secret) {
            argv[n++] = "--jwt-secret";
            argv[n++] = c->o.jwt_secret;
        }
        for (int i = 0; c->o.gateway_args && c->o.gateway_args[i] && n < 60; i++)
            argv[n++] = c->o.gateway_args[i];
    }
    argv[n] = NULL;
    p->pid = spawn(router ? "belfry-router" : "belfry-gateway", argv, p->log, true);
    if (p->pid < 0) return -1;
    if (bf_wait_http_ok(p->port, "/readyz", bf_slow(10000))) {
        fprintf(stderr, "harness: %s did not become ready (log %s)\n", p->id, p->log);
        return -1;
    }
    return 0;
}

static void set_log(const bf_cluster *c, bf_proc *p)
{
    char log[sizeof(p->log)];
    snprintf(log, sizeof(log), "%s/%s.log", c->dir, p->id);
    memcpy(p->log, log, sizeof(log));
}

bf_cluster *bf_cluster_start(const bf_cluster_opts *o)
{
    bf_cluster *c = calloc(1, sizeof(*c));
    if (o) c->o = *o;
    if (!c->o.routers) c->o.routers = 1;
    if (!c->o.gateways) c->o.gateways = 1;
    if (!c->o.api_key) c->o.api_key = DEFAULT_API_KEY;
    if (!c->o.prefix) c->o.prefix = "belfry:";
    signal(SIGPIPE, SIG_IGN);
    snprintf(c->dir, sizeof(c->dir), "/tmp/belfry-test-XXXXXX");
    if (!mkdtemp(c->dir)) {
        free(c);
        return NULL;
    }
    const char *topo = getenv("BELFRY_TEST_TOPOLOGY");
    if (topo && !c->o.sentinel && !c->o.redis_cluster && !c->o.redis_acl_user &&
        !c->o.proxied_gateway) {
        c->o.sentinel = !strcmp(topo, "sentinel");
        c->o.redis_cluster = !strcmp(topo, "cluster");
        if (!c->o.sentinel && !c->o.redis_cluster && strcmp(topo, "single")) {
            fprintf(stderr, "harness: BELFRY_TEST_TOPOLOGY=%s: single, sentinel or cluster\n",
                    topo);
            goto fail;
        }
    }
    if (c->o.redis_cluster) {
        c->rcl = calloc(1, sizeof(*c->rcl));
        if (bf_rcl_start(c->rcl)) goto fail;
        size_t n = strlen(c->rcl->url); /* six loopback seeds: about 105 bytes */
        if (n >= sizeof(c->redis_url)) goto fail;
        memcpy(c->redis_url, c->rcl->url, n + 1);
        c->redis.port = c->rcl->nodes[0].port;
    } else if (start_redis(c, 0)) {
        goto fail;
    }
    if (c->o.sentinel && bf__sentinel_start(c)) goto fail;
    for (int i = 0; i < c->o.routers && i < BF_MAX_NODES; i++) {
        bf_proc *p = &c->routers[i];
        snprintf(p->id, sizeof(p->id), "rt-%d", i);
        set_log(c, p);
        c->nrouters++;
        if (start_node(c, p, true)) goto fail;
    }
    if (c->o.proxied_gateway) {
        char lp[16], tp[16], bin[600];
        c->proxy.port = bf_free_port();
        snprintf(lp, sizeof(lp), "%d", c->proxy.port);
        snprintf(tp, sizeof(tp), "%d", c->redis.port);
        snprintf(c->proxy.log, sizeof(c->proxy.log), "%s/proxy.log", c->dir);
        snprintf(bin, sizeof(bin), "%s/../tests/bin/belfry-test-proxy", BELFRY_BIN_DIR);
        const char *argv[] = {lp, tp, NULL};
        c->proxy.pid = bf_spawn(bin, argv, c->proxy.log);
        if (c->proxy.pid < 0) goto fail;
        usleep(100000); /* it listens before its first poll; a refused connect is retried */
    }
    for (int i = 0; i < c->o.gateways && i < BF_MAX_NODES; i++) {
        bf_proc *p = &c->gateways[i];
        snprintf(p->id, sizeof(p->id), "gw-%d", i);
        set_log(c, p);
        c->ngateways++;
        if (start_node(c, p, false)) goto fail;
    }
    return c;
fail:
    c->keep_logs = true;
    bf_cluster_stop(c);
    return NULL;
}

static int stop_proc(bf_proc *p, const char *what)
{
    if (p->pid <= 0) return 0;
    kill(p->pid, SIGTERM);
    int st = wait_exit(p, bf_slow(5000));
    if (st < 0) {
        kill(p->pid, SIGKILL);
        wait_exit(p, 2000);
        fprintf(stderr, "harness: %s %s did not stop on SIGTERM (log %s)\n", what, p->id, p->log);
        return 1;
    }
    if (st != 0) {
        fprintf(stderr, "harness: %s %s exited with status %d (log %s)\n", what, p->id, st, p->log);
        return 1;
    }
    return 0;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int bf_cluster_stop_checked(bf_cluster *c)
{
    if (!c) return 0;
    int bad = 0;
    for (int i = 0; i < c->ngateways; i++) bad += stop_proc(&c->gateways[i], "gateway");
    for (int i = 0; i < c->nrouters; i++) bad += stop_proc(&c->routers[i], "router");
    if (c->redis.pid > 0) {
        kill(c->redis.pid, SIGKILL);
        wait_exit(&c->redis, 2000);
    }
    bf__sentinel_stop(c);
    if (c->rcl) {
        c->rcl->keep_logs = bad || c->keep_logs || getenv("BELFRY_KEEP_LOGS");
        bf_rcl_stop(c->rcl);
        free(c->rcl);
    }
    if (c->proxy.pid > 0) {
        kill(c->proxy.pid, SIGKILL);
        wait_exit(&c->proxy, 2000);
    }
    if (bad || c->keep_logs || getenv("BELFRY_KEEP_LOGS"))
        fprintf(stderr, "harness: logs kept in %s\n", c->dir);
    else
        rm_dir(c->dir);
    free(c);
    return bad;
}

void bf_cluster_stop(bf_cluster *c)
{
    bf_cluster_stop_checked(c);
}

static int signal_proc(bf_proc *p, int sig)
{
    if (p->pid <= 0) return -1;
    if (kill(p->pid, sig)) return -1;
    if (sig == SIGKILL) wait_exit(p, 5000);
    return 0;
}

int bf_cluster_signal_gateway(bf_cluster *c, int i, int sig)
{
    return signal_proc(&c->gateways[i], sig);
}

int bf_cluster_signal_router(bf_cluster *c, int i, int sig)
{
    return signal_proc(&c->routers[i], sig);
}

int bf_cluster_wait_gateway(bf_cluster *c, int i, int timeout_ms)
{
    return wait_exit(&c->gateways[i], timeout_ms);
}

int bf_cluster_wait_router(bf_cluster *c, int i, int timeout_ms)
{
    return wait_exit(&c->routers[i], timeout_ms);
}

int bf_cluster_restart_gateway(bf_cluster *c, int i)
{
    if (c->gateways[i].pid > 0) signal_proc(&c->gateways[i], SIGKILL);
    return start_node(c, &c->gateways[i], false);
}

int bf_cluster_restart_router(bf_cluster *c, int i)
{
    if (c->routers[i].pid > 0) signal_proc(&c->routers[i], SIGKILL);
    return start_node(c, &c->routers[i], true);
}

int bf_cluster_signal_redis_stop(bf_cluster *c)
{
    if (c->rcl) return -1; /* a cluster's nodes: bf_rcl_kill */
    return signal_proc(&c->redis, SIGKILL);
}

int bf_cluster_restart_redis(bf_cluster *c)
{
    if (c->rcl) return -1;
    int port = c->redis.port;
    if (c->redis.pid > 0) signal_proc(&c->redis, SIGKILL);
    return start_redis(c, port);
}

const char *bf_cluster_topology(const bf_cluster *c)
{
    return c->rcl ? "cluster" : c->o.sentinel ? "sentinel" : "single";
}

/* Redis Cluster: the port of a live node (keyless commands, and the first try of the others). */
static int rcl_any_port(bf_cluster *c)
{
    for (int i = 0; i < BF_RCL_NODES; i++)
        if (c->rcl->nodes[i].pid > 0) return c->rcl->nodes[i].port;
    return -1;
}

char *bf_redis_query(bf_cluster *c, const char *fmt, ...)
{
    int port = c->rcl          ? rcl_any_port(c)
               : c->o.sentinel ? bf_cluster_primary_port(c)
                               : c->redis.port;
    redisContext *rc = port > 0 ? redisConnect("127.0.0.1", port) : NULL;
    if (!rc || rc->err) {
        if (rc) redisFree(rc);
        return NULL;
    }
    if (c->o.redis_acl_user) {
        redisReply *a = redisCommand(rc, "AUTH %s %s", c->o.redis_acl_user, c->o.redis_acl_pass);
        bool ok = a && a->type == REDIS_REPLY_STATUS;
        freeReplyObject(a);
        if (!ok) {
            redisFree(rc);
            return NULL;
        }
    }
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    /* a cluster's MOVED: the same command on the named node (a few times at most) */
    for (int hops = 0; c->rcl && hops < 5 && r && r->type == REDIS_REPLY_ERROR &&
                       !strncmp(r->str, "MOVED ", 6) && strrchr(r->str, ':');
         hops++) {
        int to = atoi(strrchr(r->str, ':') + 1);
        freeReplyObject(r);
        r = NULL;
        redisFree(rc);
        rc = redisConnect("127.0.0.1", to);
        if (!rc || rc->err) break;
        va_start(ap, fmt);
        r = redisvCommand(rc, fmt, ap);
        va_end(ap);
    }
    if (!rc || rc->err) {
        if (rc) redisFree(rc);
        freeReplyObject(r);
        return NULL;
    }
    char *out = NULL;
    if (r) {
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        switch (r->type) {
        case REDIS_REPLY_INTEGER:
            fprintf(f, "%lld", r->integer);
            break;
        case REDIS_REPLY_ARRAY:
            for (size_t i = 0; i < r->elements; i++) {
                redisReply *e = r->element[i];
                if (e->type == REDIS_REPLY_INTEGER)
                    fprintf(f, "%s%lld", i ? "\n" : "", e->integer);
                else if (e->str)
                    fprintf(f, "%s%s", i ? "\n" : "", e->str);
            }
            break;
        case REDIS_REPLY_NIL:
            break;
        default:
            if (r->str) fwrite(r->str, 1, (size_t)r->len, f);
        }
        fclose(f);
        freeReplyObject(r);
    }
    redisFree(rc);
    return out;
}

static char *b64url(const char *s)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(s), o = 0;
    char *out = malloc(n * 4 / 3 + 4);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n) v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)s[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = tbl[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = tbl[v & 63];
    }
    out[o] = '\0';
    return out;
}

char *bf_mint_token(const char *secret, const char *alg, const char *claims_json)
{
    if (!strcmp(alg, "none")) {
        char *h = b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}"), *p = b64url(claims_json);
        size_t n = strlen(h) + strlen(p) + 3;
        char *t = malloc(n);
        snprintf(t, n, "%s.%s.", h, p);
        free(h);
        free(p);
        return t;
    }
    jwt_t *jwt = NULL;
    char *tok = NULL;
    if (jwt_new(&jwt) == 0 && jwt_add_grants_json(jwt, claims_json) == 0 &&
        jwt_set_alg(jwt, !strcmp(alg, "HS512") ? JWT_ALG_HS512 : JWT_ALG_HS256,
                    (const unsigned char *)secret, (int)strlen(secret)) == 0)
        tok = jwt_encode_str(jwt);
    jwt_free(jwt);
    return tok;
}

int bf_cluster_partition(bf_cluster *c, int on)
{
    if (c->proxy.pid <= 0) return -1;
    return kill(c->proxy.pid, on ? SIGUSR1 : SIGUSR2);
}

typedef struct numsub_arg {
    bf_cluster *c;
    const char *channel;
    int want;
} numsub_arg;

static bool numsub_is(void *arg)
{
    numsub_arg *a = arg;
    if (a->c->rcl) { /* sharded pub/sub: counted by the node owning the fan-out's slot */
        char key[512];
        snprintf(key, sizeof(key), "%sfan:{%s}", a->c->o.prefix, a->channel);
        int owner = bf_rcl_owner(a->c->rcl, bf_slot_of_key(key, strlen(key)));
        redisReply *r =
            owner >= 0 ? bf_rcl_cmd(a->c->rcl, owner, "PUBSUB SHARDNUMSUB %s", key) : NULL;
        bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  r->element[1]->integer == a->want;
        freeReplyObject(r);
        return ok;
    }
    char *r = bf_redis_query(a->c, "PUBSUB NUMSUB %sfan:{%s}", a->c->o.prefix, a->channel);
    bool ok = r && strchr(r, '\n') && atoi(strchr(r, '\n') + 1) == a->want;
    free(r);
    return ok;
}

bool bf_cluster_wait_subscribed(bf_cluster *c, const char *channel, int want, int timeout_ms)
{
    numsub_arg a = {c, channel, want};
    return bf_wait_for(numsub_is, &a, timeout_ms);
}

int bf_lone_redis_start(bf_lone_redis *lr)
{
    memset(lr, 0, sizeof(*lr));
    snprintf(lr->dir, sizeof(lr->dir), "/tmp/belfry-lone-redis-XXXXXX");
    if (!mkdtemp(lr->dir)) return -1;
    char log[128], ports[16];
    snprintf(log, sizeof(log), "%s/redis.log", lr->dir);
    for (int attempt = 0; attempt < 5 && !lr->ctx; attempt++) {
        lr->port = bf_free_port();
        snprintf(ports, sizeof(ports), "%d", lr->port);
        const char *argv[] = {"--port",       ports, "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no",  "--dir",  lr->dir,     NULL};
        lr->pid = bf_spawn("redis-server", argv, log);
        if (lr->pid <= 0) return -1;
        if (bf_redis_await_own(&lr->pid, lr->port)) continue; /* port taken: another one */
        lr->ctx = redisConnect("127.0.0.1", lr->port);
        if (!lr->ctx || lr->ctx->err) {
            if (lr->ctx) redisFree(lr->ctx);
            lr->ctx = NULL;
            kill(lr->pid, SIGKILL);
            waitpid(lr->pid, NULL, 0);
            lr->pid = 0;
        }
    }
    return lr->ctx ? 0 : -1;
}

void bf_lone_redis_stop(bf_lone_redis *lr)
{
    if (lr->ctx) redisFree(lr->ctx);
    lr->ctx = NULL;
    if (lr->pid > 0) {
        kill(lr->pid, SIGKILL);
        waitpid(lr->pid, NULL, 0);
        lr->pid = 0;
    }
    if (lr->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", lr->dir);
        if (system(cmd) != 0) fprintf(stderr, "harness: could not remove %s\n", lr->dir);
        lr->dir[0] = '\0';
    }
}
