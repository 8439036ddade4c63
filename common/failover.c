#include "failover.h"
#include "alloc.h"
#include "log.h"
#include "redis_keys.h"

#include <stdlib.h>
#include <string.h>

#define SCAN_COUNT "1000"

typedef struct gate {
    bf_failover *f;
    bool cluster;  /* a cluster node's link: the record and the SCAN are this shard's */
    char node[48]; /* cluster: the node's id, for the log */
    int slot;      /* cluster: the lowest slot the node owns (names the record), -1 for none */
    char replid[64];
    char kreplid[BF_KEY_MAX];
    char pattern[2 * BF_KEY_MAX]; /* epoch:* with the prefix's glob characters escaped */
    char cursor[32];
    uint64_t forgotten;
} gate;

/* The link behind ac, or NULL when it was reset meanwhile (then g is freed). */
static bf_redis *link_of(redisAsyncContext *ac, gate *g)
{
    bf_redis *r = ac->data;
    if (!r) free(g);
    return r;
}

static void finish(bf_redis *r, gate *g, bool ok, const char *why)
{
    free(g);
    bf_redis_gate_done(r, ok, why);
}

static void on_set(redisAsyncContext *ac, void *reply, void *priv)
{
    gate *g = priv;
    bf_redis *r = link_of(ac, g);
    if (!r) return;
    redisReply *rep = reply;
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        finish(r, g, false, "cannot record the primary's replication id");
        return;
    }
    g->f->epochs_forgotten += g->forgotten;
    if (g->cluster)
        bf_warn("new Redis primary of the shard of slot %d (node %s, replication id %s): forgot "
                "%llu channel epochs on it; clients recovering on its channels get "
                "recovered:false",
                g->slot, g->node, g->replid, (unsigned long long)g->forgotten);
    else
        bf_warn("new Redis primary (replication id %s): forgot %llu channel epochs; clients "
                "recovering across the change get recovered:false",
                g->replid, (unsigned long long)g->forgotten);
    finish(r, g, true, NULL);
}

static void scan(redisAsyncContext *ac, gate *g);

static void on_scan(redisAsyncContext *ac, void *reply, void *priv)
{
    gate *g = priv;
    bf_redis *r = link_of(ac, g);
    if (!r) return;
    redisReply *rep = reply;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY) {
        finish(r, g, false, "SCAN of the channel epochs failed");
        return;
    }
    redisReply *keys = rep->element[1];
    if (keys->elements && g->cluster) {
        /* one node, but the keys are in many slots: a multi-key UNLINK would be CROSSSLOT */
        for (size_t i = 0; i < keys->elements; i++)
            redisAsyncCommand(ac, NULL, NULL, "UNLINK %b", keys->element[i]->str,
                              (size_t)keys->element[i]->len);
        g->forgotten += keys->elements;
    } else if (keys->elements) {
        const char **argv = bf_malloc((keys->elements + 1) * sizeof(*argv));
        size_t *lens = bf_malloc((keys->elements + 1) * sizeof(*lens));
        argv[0] = "UNLINK";
        lens[0] = 6;
        for (size_t i = 0; i < keys->elements; i++) {
            argv[i + 1] = keys->element[i]->str;
            lens[i + 1] = (size_t)keys->element[i]->len;
        }
        redisAsyncCommandArgv(ac, NULL, NULL, (int)keys->elements + 1, argv, lens);
        free(argv);
        free(lens);
        g->forgotten += keys->elements;
    }
    snprintf(g->cursor, sizeof(g->cursor), "%s", rep->element[0]->str);
    if (strcmp(g->cursor, "0")) {
        scan(ac, g);
        return;
    }
    /* every epoch of the old history is gone: from now on this primary's ids are current */
    redisAsyncCommand(ac, on_set, g, "SET %s %s", g->kreplid, g->replid);
}

static void scan(redisAsyncContext *ac, gate *g)
{
    redisAsyncCommand(ac, on_scan, g, "SCAN %s MATCH %s COUNT " SCAN_COUNT, g->cursor, g->pattern);
}

static void on_get(redisAsyncContext *ac, void *reply, void *priv)
{
    gate *g = priv;
    bf_redis *r = link_of(ac, g);
    if (!r) return;
    redisReply *rep = reply;
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        finish(r, g, false, "cannot read the recorded replication id");
        return;
    }
    if (rep->type == REDIS_REPLY_STRING && !strcmp(rep->str, g->replid)) {
        finish(r, g, true, NULL); /* the same primary as before: nothing was lost by a change */
        return;
    }
    g->f->new_primaries++;
    snprintf(g->cursor, sizeof(g->cursor), "0");
    scan(ac, g);
}

/* The lowest slot that the "myself" line of CLUSTER NODES owns (ranges "a-b" or single slots
 * from the ninth field on) and is not migrating away ("[s->-id]": its keys, the record among
 * them, may already be on the importing node, where a GET here would be redirected); "[s-<-id]"
 * (importing) is not owned. -1 if none; the node's id into node. */
static int own_lowest_slot(const char *nodes, char *node, size_t nodelen)
{
    for (const char *line = nodes; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *buf = bf_malloc(len + 1); /* a fragmented shard's line can be long */
        memcpy(buf, line, len);
        buf[len] = '\0';
        char *save = NULL, *f[9];
        int nf = 0, low = -2;
        /* the first nine fields, and not one more: the slots after the ninth are read below */
        for (char *t = strtok_r(buf, " ", &save); t; t = nf < 9 ? strtok_r(NULL, " ", &save) : NULL)
            f[nf++] = t;
        if (nf >= 3 && strstr(f[2], "myself")) {
            snprintf(node, nodelen, "%s", f[0]);
            low = -1;
            /* 2 KiB of flags: slots migrating away, ranges owned */
            uint8_t migrating[16384 / 8] = {0}, owned[16384 / 8] = {0};
            for (char *t = nf == 9 ? f[8] : NULL; t; t = strtok_r(NULL, " ", &save)) {
                int a = atoi(t + (*t == '['));
                if (a < 0 || a >= 16384) continue;
                if (*t == '[') {
                    if (strstr(t, "->-")) migrating[a / 8] |= (uint8_t)(1u << (a % 8));
                    continue;
                }
                const char *dash = strchr(t, '-');
                int b = dash ? atoi(dash + 1) : a;
                for (int s = a; s <= b && s < 16384; s++) owned[s / 8] |= (uint8_t)(1u << (s % 8));
            }
            for (int s = 0; s < 16384 && low < 0; s++)
                if ((owned[s / 8] & ~migrating[s / 8]) & (1u << (s % 8))) low = s;
        }
        free(buf);
        if (low > -2) return low;
        line = end ? end + 1 : NULL;
    }
    return -1;
}

static void on_nodes(redisAsyncContext *ac, void *reply, void *priv)
{
    gate *g = priv;
    bf_redis *r = link_of(ac, g);
    if (!r) return;
    redisReply *rep = reply;
    if (!rep || rep->type != REDIS_REPLY_STRING) {
        finish(r, g, false, "CLUSTER NODES failed");
        return;
    }
    g->slot = own_lowest_slot(rep->str, g->node, sizeof(g->node));
    if (g->slot < 0) {
        /* a primary without slots serves no channel's keys; if it gets slots later, keys move
         * in with their epochs intact (MIGRATE), and its next failover is checked as any other */
        finish(r, g, true, NULL);
        return;
    }
    if (bf_key_shard_replid(g->kreplid, g->f->prefix, (unsigned)g->slot) < 0) {
        finish(r, g, false, "cannot name the shard's replication id key");
        return;
    }
    redisAsyncCommand(ac, on_get, g, "GET %s", g->kreplid);
}

static void on_info(redisAsyncContext *ac, void *reply, void *priv)
{
    gate *g = priv;
    bf_redis *r = link_of(ac, g);
    if (!r) return;
    redisReply *rep = reply;
    if (!rep) {
        finish(r, g, false, "connection lost during INFO");
        return;
    }
    const char *id =
        rep->type == REDIS_REPLY_STRING && rep->str ? strstr(rep->str, "master_replid:") : NULL;
    if (!id) {
        /* an ACL user without INFO, or a Redis that does not say: the epochs cannot be
         * protected across a failover; say so rather than refuse to run */
        bf_warn("INFO replication gave no master_replid (%s): channel epochs are not reset "
                "after a failover",
                rep->type == REDIS_REPLY_ERROR ? rep->str : "no such field");
        finish(r, g, true, NULL);
        return;
    }
    id += strlen("master_replid:");
    size_t n = strcspn(id, "\r\n");
    if (n >= sizeof(g->replid)) n = sizeof(g->replid) - 1;
    memcpy(g->replid, id, n);
    g->replid[n] = '\0';
    if (g->cluster) {
        redisAsyncCommand(ac, on_nodes, g, "CLUSTER NODES");
        return;
    }
    redisAsyncCommand(ac, on_get, g, "GET %s", g->kreplid);
}

void bf_failover_gate(bf_redis *r, redisAsyncContext *ac, void *arg)
{
    bf_failover *f = arg;
    gate *g = bf_calloc(1, sizeof(*g));
    g->f = f;
    g->cluster = bf_redis_is_cluster_node(r);
    g->slot = -1;
    bf_key(g->kreplid, f->prefix, BF_KEY_REDIS_REPLID, NULL);
    char raw[BF_KEY_MAX];
    bf_key_stem(raw, f->prefix, BF_KEY_EPOCH); /* "<prefix>epoch:": a channel's is epoch:{name} */
    size_t n = 0;
    for (const char *p = raw; *p && n + 3 < sizeof(g->pattern); p++) {
        if (strchr("*?[]\\", *p)) g->pattern[n++] = '\\';
        g->pattern[n++] = *p;
    }
    g->pattern[n++] = '*';
    g->pattern[n] = '\0';
    if (redisAsyncCommand(ac, on_info, g, "INFO replication") != REDIS_OK) {
        free(g);
        bf_redis_gate_done(r, false, "cannot send INFO");
    }
}
