/* The harness' Redis Sentinel topology: the cluster's redis-server is the primary; a replica of
 * it and three sentinels (Debian's redis-server binary in --sentinel mode) start on ephemeral
 * ports with their own config files in the cluster's directory. Failure detection is tuned down
 * (down-after-milliseconds 1000, failover-timeout 3000) so that a failover takes a few seconds.
 * Readiness is polled, never slept: the replica's link is up, and every sentinel knows the
 * primary, the replica and the two other sentinels (without which no quorum could elect a
 * leader for a failover). */
#include "harness.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MASTER "mymaster"

redisReply *bf_redis_vcommand_at(int port, int timeout_s, const char *fmt, va_list ap)
{
    struct timeval tv = {timeout_s, 0};
    redisContext *rc = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!rc || rc->err) {
        if (rc) redisFree(rc);
        return NULL;
    }
    redisSetTimeout(rc, tv);
    redisReply *r = redisvCommand(rc, fmt, ap);
    redisFree(rc);
    return r;
}

static redisReply *cmd(int port, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = bf_redis_vcommand_at(port, 1, fmt, ap);
    va_end(ap);
    return r;
}

bool bf_redis_is_pid(int port, pid_t pid)
{
    redisReply *r = cmd(port, "INFO server");
    const char *at = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "\nprocess_id:") : NULL;
    bool ok = pid > 0 && at && atoll(at + strlen("\nprocess_id:")) == (long long)pid;
    freeReplyObject(r);
    return ok;
}

int bf_redis_await_own(pid_t *pid, int port)
{
    long long deadline = bf_ms() + 5000;
    while (*pid > 0 && bf_ms() < deadline && waitpid(*pid, NULL, WNOHANG) == 0) {
        if (bf_redis_is_pid(port, *pid)) return 0;
        usleep(20000);
    }
    if (*pid > 0 && waitpid(*pid, NULL, WNOHANG) == 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    *pid = 0;
    return -1;
}

int bf_cluster_primary_port(bf_cluster *c)
{
    if (!c->o.sentinel) return c->redis.port;
    for (int i = 0; i < c->nsentinels; i++) {
        if (c->sentinels[i].pid <= 0) continue;
        redisReply *r = cmd(c->sentinels[i].port, "SENTINEL get-master-addr-by-name %s", MASTER);
        int port =
            r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? atoi(r->element[1]->str) : -1;
        freeReplyObject(r);
        if (port > 0) return port;
    }
    return -1;
}

bf_proc *bf_cluster_redis_proc(bf_cluster *c, int port)
{
    if (c->redis.port == port) return &c->redis;
    if (c->replica.port == port) return &c->replica;
    return NULL;
}

char *bf_sentinel_query(bf_cluster *c, int i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = bf_redis_vcommand_at(c->sentinels[i].port, 1, fmt, ap);
    va_end(ap);
    if (!r) return NULL;
    char *out = NULL;
    if (r->type == REDIS_REPLY_INTEGER) {
        if (asprintf(&out, "%lld", r->integer) < 0) out = NULL;
    } else if (r->str) {
        out = strdup(r->str);
    } else {
        out = strdup("");
    }
    freeReplyObject(r);
    return out;
}

static bool wait_until(bool (*cond)(bf_cluster *, int), bf_cluster *c, int arg, int timeout_ms)
{
    long long deadline = bf_ms() + timeout_ms;
    while (bf_ms() < deadline) {
        if (cond(c, arg)) return true;
        usleep(50000);
    }
    return false;
}

static bool replica_linked(bf_cluster *c, int unused)
{
    (void)unused;
    redisReply *r = cmd(c->replica.port, "INFO replication");
    bool ok = r && r->str && strstr(r->str, "master_link_status:up");
    freeReplyObject(r);
    return ok;
}

static long long count_of(int port, const char *what)
{
    redisReply *r = cmd(port, "SENTINEL %s %s", what, MASTER);
    long long n = r && r->type == REDIS_REPLY_ARRAY ? (long long)r->elements : -1;
    freeReplyObject(r);
    return n;
}

static bool sentinel_sees_all(bf_cluster *c, int i)
{
    return count_of(c->sentinels[i].port, "replicas") >= 1 &&
           count_of(c->sentinels[i].port, "sentinels") >= c->nsentinels - 1;
}

static int start_replica(bf_cluster *c)
{
    char ports[16], pports[16];
    snprintf(pports, sizeof(pports), "%d", c->redis.port);
    snprintf(c->replica.id, sizeof(c->replica.id), "replica");
    char log[sizeof(c->replica.log)];
    snprintf(log, sizeof(log), "%s/replica.log", c->dir);
    memcpy(c->replica.log, log, sizeof(log));
    for (int attempt = 0; attempt < 5; attempt++) { /* another port if one is taken meanwhile */
        c->replica.port = bf_free_port();
        snprintf(ports, sizeof(ports), "%d", c->replica.port);
        const char *rargv[] = {
            "--port",      ports,       "--bind",       "127.0.0.1",
            "--save",      "",          "--appendonly", "no",
            "--dir",       c->dir,      "--dbfilename", "replica.rdb",
            "--replicaof", "127.0.0.1", pports,         "--repl-diskless-sync-delay",
            "0",           NULL};
        c->replica.pid = bf_spawn("redis-server", rargv, c->replica.log);
        if (c->replica.pid < 0) return -1;
        if (bf_redis_await_own(&c->replica.pid, c->replica.port) == 0) return 0;
    }
    return -1;
}

static int start_sentinel(bf_cluster *c, bf_proc *s, int i)
{
    snprintf(s->id, sizeof(s->id), "sentinel-%d", i);
    char log[sizeof(s->log)]; /* not straight into s->log: s lives inside c, like c->dir */
    snprintf(log, sizeof(log), "%s/%s.log", c->dir, s->id);
    memcpy(s->log, log, sizeof(log));
    char conf[600];
    snprintf(conf, sizeof(conf), "%s/%s.conf", c->dir, s->id);
    for (int attempt = 0; attempt < 5; attempt++) { /* another port if one is taken meanwhile */
        s->port = bf_free_port();
        FILE *f = fopen(conf, "w");
        if (!f) return -1;
        fprintf(f,
                "port %d\nbind 127.0.0.1\ndir %s\n"
                "sentinel monitor " MASTER " 127.0.0.1 %d 2\n"
                "sentinel down-after-milliseconds " MASTER " 1000\n"
                "sentinel failover-timeout " MASTER " 3000\n"
                "sentinel parallel-syncs " MASTER " 1\n",
                s->port, c->dir, c->redis.port);
        fclose(f);
        const char *sargv[] = {conf, "--sentinel", NULL};
        s->pid = bf_spawn("redis-server", sargv, s->log);
        if (s->pid < 0) return -1;
        if (bf_redis_await_own(&s->pid, s->port) == 0) return 0;
    }
    return -1;
}

int bf__sentinel_start(bf_cluster *c)
{
    /* a replica syncs at once instead of after the default 5 s diskless-sync delay */
    freeReplyObject(cmd(c->redis.port, "CONFIG SET repl-diskless-sync-delay 0"));
    if (start_replica(c) || !wait_until(replica_linked, c, 0, 10000)) {
        fprintf(stderr, "harness: the replica did not sync (log %s)\n", c->replica.log);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        if (start_sentinel(c, &c->sentinels[i], i)) {
            fprintf(stderr, "harness: sentinel %d did not start (log %s)\n", i,
                    c->sentinels[i].log);
            return -1;
        }
        c->nsentinels++;
    }
    for (int i = 0; i < c->nsentinels; i++) {
        if (!wait_until(sentinel_sees_all, c, i, 20000)) {
            fprintf(stderr, "harness: sentinel %d did not discover the topology (log %s)\n", i,
                    c->sentinels[i].log);
            return -1;
        }
    }
    snprintf(c->redis_url, sizeof(c->redis_url),
             "sentinel://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/" MASTER, c->sentinels[0].port,
             c->sentinels[1].port, c->sentinels[2].port);
    return 0;
}

static void kill_proc(bf_proc *p)
{
    if (p->pid <= 0) return;
    kill(p->pid, SIGCONT); /* a test may have stopped it */
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

void bf__sentinel_stop(bf_cluster *c)
{
    for (int i = 0; i < c->nsentinels; i++) kill_proc(&c->sentinels[i]);
    kill_proc(&c->replica);
}
