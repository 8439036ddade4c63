#include "redis_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* A port whose cluster bus port (port + 10000) is free too: both bound at once, then released. */
static int free_cluster_port(void)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        int p = bf_free_port();
        if (p <= 0 || p + 10000 > 65535) continue;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(p + 10000))};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        if (ok) return p;
    }
    return -1;
}

redisReply *bf_rcl_cmd(bf_rcl *t, int i, const char *fmt, ...)
{
    if (t->nodes[i].pid <= 0) return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = bf_redis_vcommand_at(t->nodes[i].port, 2, fmt, ap);
    va_end(ap);
    return r;
}

static int index_of_port(bf_rcl *t, long long port)
{
    for (int i = 0; i < BF_RCL_NODES; i++)
        if (t->nodes[i].port == port) return i;
    return -1;
}

int bf_rcl_owner(bf_rcl *t, unsigned slot)
{
    for (int i = 0; i < BF_RCL_NODES; i++) {
        redisReply *r = bf_rcl_cmd(t, i, "CLUSTER SLOTS");
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            continue;
        }
        int owner = -1;
        for (size_t k = 0; k < r->elements; k++) {
            redisReply *e = r->element[k];
            if (e->elements >= 3 && (unsigned)e->element[0]->integer <= slot &&
                slot <= (unsigned)e->element[1]->integer)
                owner = index_of_port(t, e->element[2]->element[1]->integer);
        }
        freeReplyObject(r);
        return owner;
    }
    return -1;
}

static bool is_primary(bf_rcl *t, int i)
{
    redisReply *r = bf_rcl_cmd(t, i, "ROLE");
    bool p =
        r && r->type == REDIS_REPLY_ARRAY && r->elements && !strcmp(r->element[0]->str, "master");
    freeReplyObject(r);
    return p;
}

int bf_rcl_other_primary(bf_rcl *t, int i)
{
    for (int k = 0; k < BF_RCL_NODES; k++)
        if (k != i && t->nodes[k].pid > 0 && is_primary(t, k)) {
            /* a primary with slots (a revived old primary would be one without) */
            for (unsigned s = 0; s < 16384; s += 64)
                if (bf_rcl_owner(t, s) == k) return k;
        }
    return -1;
}

int bf_rcl_id(bf_rcl *t, int i, char *id)
{
    redisReply *r = bf_rcl_cmd(t, i, "CLUSTER MYID");
    int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
    if (ok) memcpy(id, r->str, 41);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

static bool reply_ok(redisReply *r)
{
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (!ok)
        fprintf(stderr, "harness: cluster command failed: %s\n", r && r->str ? r->str : "no reply");
    freeReplyObject(r);
    return ok;
}

int bf_rcl_move_slot(bf_rcl *t, unsigned slot, int src, int dst)
{
    char sid[41], did[41];
    if (bf_rcl_id(t, src, sid) || bf_rcl_id(t, dst, did)) return -1;
    if (!reply_ok(bf_rcl_cmd(t, dst, "CLUSTER SETSLOT %u IMPORTING %s", slot, sid)) ||
        !reply_ok(bf_rcl_cmd(t, src, "CLUSTER SETSLOT %u MIGRATING %s", slot, did)))
        return -1;
    for (;;) {
        redisReply *k = bf_rcl_cmd(t, src, "CLUSTER GETKEYSINSLOT %u 100", slot);
        if (!k || k->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(k);
            return -1;
        }
        size_t n = k->elements;
        for (size_t j = 0; j < n; j++) {
            redisReply *m = bf_rcl_cmd(t, src, "MIGRATE 127.0.0.1 %d %s 0 2000", t->nodes[dst].port,
                                       k->element[j]->str);
            if (!reply_ok(m)) {
                freeReplyObject(k);
                return -1;
            }
        }
        freeReplyObject(k);
        if (!n) break;
    }
    /* the destination first, then the source, then the others (as redis-cli does) */
    int order[BF_RCL_NODES], no = 0;
    order[no++] = dst;
    order[no++] = src;
    for (int i = 0; i < BF_RCL_NODES; i++)
        if (i != src && i != dst && t->nodes[i].pid > 0 && is_primary(t, i)) order[no++] = i;
    for (int k = 0; k < no; k++)
        if (!reply_ok(bf_rcl_cmd(t, order[k], "CLUSTER SETSLOT %u NODE %s", slot, did))) return -1;
    return 0;
}

static bool all_ok(bf_rcl *t)
{
    for (int i = 0; i < BF_RCL_NODES; i++) {
        if (t->nodes[i].pid <= 0) continue;
        redisReply *r = bf_rcl_cmd(t, i, "CLUSTER INFO");
        bool ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok");
        freeReplyObject(r);
        if (!ok) return false;
        r = bf_rcl_cmd(t, i, "INFO replication");
        ok = r && r->type == REDIS_REPLY_STRING &&
             (strstr(r->str, "role:master") || strstr(r->str, "master_link_status:up"));
        freeReplyObject(r);
        if (!ok) return false;
    }
    return true;
}

int bf_rcl_wait_ok(bf_rcl *t, int timeout_ms)
{
    long long deadline = bf_ms() + timeout_ms;
    while (bf_ms() < deadline) {
        if (all_ok(t)) return 0;
        usleep(50000);
    }
    return -1;
}

/* From INFO replication: master_repl_offset into *want, the smallest replica offset into *have
 * (-1 when there is no replica). */
static bool repl_offsets(bf_rcl *t, int i, long long *want, long long *have)
{
    redisReply *r = bf_rcl_cmd(t, i, "INFO replication");
    const char *m =
        r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "master_repl_offset:") : NULL;
    if (!m) {
        freeReplyObject(r);
        return false;
    }
    *want = atoll(m + strlen("master_repl_offset:"));
    *have = -1;
    for (const char *p = r->str; (p = strstr(p, "\nslave")) != NULL; p++) {
        const char *o = strstr(p, "offset=");
        const char *eol = strchr(p + 1, '\n');
        if (!o || (eol && o > eol)) continue;
        long long v = atoll(o + strlen("offset="));
        if (*have < 0 || v < *have) *have = v;
    }
    freeReplyObject(r);
    return true;
}

int bf_rcl_wait_replicated(bf_rcl *t, int i, int timeout_ms)
{
    long long want, have;
    if (!repl_offsets(t, i, &want, &have)) return -1;
    long long target = want, deadline = bf_ms() + timeout_ms;
    while (bf_ms() < deadline) {
        if (!repl_offsets(t, i, &want, &have)) return -1;
        if (have >= target) return 0;
        usleep(10000);
    }
    return -1;
}

void bf_rcl_kill(bf_rcl *t, int i)
{
    if (t->nodes[i].pid <= 0) return;
    kill(t->nodes[i].pid, SIGKILL);
    waitpid(t->nodes[i].pid, NULL, 0);
    t->nodes[i].pid = 0;
}

static int start_node(bf_rcl *t, int i)
{
    bf_proc *p = &t->nodes[i];
    for (int attempt = 0; attempt < 5; attempt++) {
        p->port = free_cluster_port();
        if (p->port < 0) return -1;
        char port[16], conf[128];
        snprintf(port, sizeof(port), "%d", p->port);
        snprintf(conf, sizeof(conf), "nodes-%d.conf", p->port);
        snprintf(p->log, sizeof(p->log), "%s/redis-%d.log", t->dir, p->port);
        const char *argv[] = {"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
                              "no", "--dir", t->dir, "--cluster-enabled", "yes",
                              "--cluster-config-file", conf, "--cluster-node-timeout", "1000",
                              /* a replica may always take over: the test kills primaries */
                              "--cluster-replica-validity-factor", "0", NULL};
        p->pid = bf_spawn("redis-server", argv, p->log);
        if (p->pid <= 0) return -1;
        if (bf_redis_await_own(&p->pid, p->port) == 0) return 0;
        /* the port was taken meanwhile: another one */
    }
    return -1;
}

int bf_rcl_start(bf_rcl *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/belfry-rcluster-XXXXXX");
    if (!mkdtemp(t->dir)) return -1;
    char create[1024];
    /* bounded: redis-cli waits for the nodes to agree with no limit of its own, and a process
     * left waiting would hold the test runner's output open after the test is gone */
    int n = snprintf(create, sizeof(create), "timeout -s KILL 30 redis-cli --cluster create");
    int u = snprintf(t->url, sizeof(t->url), "cluster://");
    for (int i = 0; i < BF_RCL_NODES; i++) {
        if (start_node(t, i)) {
            bf_rcl_stop(t);
            return -1;
        }
        n += snprintf(create + n, sizeof(create) - (size_t)n, " 127.0.0.1:%d", t->nodes[i].port);
        u += snprintf(t->url + u, sizeof(t->url) - (size_t)u, "%s127.0.0.1:%d", i ? "," : "",
                      t->nodes[i].port);
    }
    snprintf(create + n, sizeof(create) - (size_t)n,
             " --cluster-replicas 1 --cluster-yes > %s/create.log 2>&1", t->dir);
    if (system(create) != 0 || bf_rcl_wait_ok(t, 20000)) {
        fprintf(stderr, "harness: redis cluster did not come up (%s/create.log)\n", t->dir);
        t->keep_logs = true;
        bf_rcl_stop(t);
        return -1;
    }
    return 0;
}

void bf_rcl_stop(bf_rcl *t)
{
    for (int i = 0; i < BF_RCL_NODES; i++) bf_rcl_kill(t, i);
    if (!t->dir[0]) return;
    if (t->keep_logs) {
        fprintf(stderr, "harness: redis cluster logs kept in %s\n", t->dir);
    } else {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
        if (system(cmd) != 0) fprintf(stderr, "harness: could not remove %s\n", t->dir);
    }
    t->dir[0] = '\0';
}
