#include "credis.h"
#include "alloc.h"
#include "cli.h"
#include "err.h"
#include "redis_keys.h"
#include "route.h"
#include "slot.h"

#include "apps.h"

#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* One Redis server: the only one, or a node of a cluster. Its connection is opened on first use
 * and kept until bf_cli_redis_free (a cluster command may visit a node several times). */
typedef struct node {
    char host[256];
    int port;
    redisContext *ctx;
    /* the queued commands (indices into the queue) sent here whose replies are not read yet, in
     * the order they were sent: replies come back in that order, so each one read belongs to the
     * head. ASKING_MARK stands for an ASKING sent before a redirected command. */
    size_t *fifo;
    size_t head, n, cap;
} node;

#define ASKING_MARK ((size_t)-1)

/* A queued command (bf_cli_redis_append, or one bf_cli_redis_cmd). */
typedef struct entry {
    char *cmd; /* as hiredis formatted it; owned */
    size_t len;
    int slot;           /* BF_CLI_ROUTE_ANY: any node */
    size_t first, last; /* the MULTI and EXEC of its transaction (its own index outside one) */
    int on;             /* the node it was last sent to; -1 before */
    int redirects;      /* MOVED/ASK followed for it (for a transaction: kept on its MULTI) */
    redisReply *reply;  /* read, not yet handed out; owned */
} entry;

struct bf_cli_redis {
    const char *cmd;
    char where[300]; /* "redis HOST:PORT" of the last node that answered, for error lines */
    char prefix[BF_PREFIX_MAX + 1];
    bf_redis_url url;
    struct timeval tv;
    bool cluster;
    node nodes[BF_CLI_REDIS_NODES_MAX];
    int nnodes;
    int any;                               /* where keyless commands go: the server, or the seed */
    short slots[BF_SLOT_COUNT];            /* cluster: the node serving each slot, -1 none */
    int primaries[BF_CLI_REDIS_NODES_MAX]; /* nodes owning slots (the server on one Redis) */
    int nprimaries;
    entry *q; /* the pipeline: q[head..n) not handed out yet, q[sent..n) not sent yet */
    size_t qhead, qsent, qn, qcap;
    size_t txn; /* the open MULTI's index, or SIZE_MAX */
    unsigned long long redirects;
};

static void set_where(bf_cli_redis *r, const node *n)
{
    snprintf(r->where, sizeof(r->where), "redis %s%s:%d", r->cluster ? "node " : "", n->host,
             n->port);
}

static int io_failure(bf_cli_redis *r, node *n)
{
    set_where(r, n);
    bf_cli_error(r->cmd, "cannot reach %s: %s", r->where,
                 n->ctx && n->ctx->errstr[0] ? n->ctx->errstr : "connection lost");
    return BF_CLI_UNREACHABLE;
}

/* Takes over a reply from node n: 0 for a usable one, an exit code (reported) for none or an
 * error reply. */
static int check(bf_cli_redis *r, node *n, redisReply *rep, redisReply **out)
{
    *out = NULL;
    set_where(r, n);
    if (!rep) return io_failure(r, n);
    if (rep->type == REDIS_REPLY_ERROR) {
        bf_cli_error(r->cmd, "%s answered: %s", r->where, rep->str);
        freeReplyObject(rep);
        return BF_CLI_FAILED;
    }
    *out = rep;
    return 0;
}

/* sentinel:// — asks the sentinels in turn for the primary and puts its address in u->host and
 * u->port (a sentinel that is down, slow or does not know the master is skipped, as the daemons
 * do). Returns 0, or -1 with the error reported. */
static int sentinel_primary(bf_redis_url *u, struct timeval tv, const char *cmd)
{
    for (int i = 0; i < u->nsentinels; i++) {
        const bf_redis_addr *a = &u->sentinels[i];
        redisContext *c = redisConnectWithTimeout(a->host, a->port, tv);
        if (!c) abort();
        redisReply *rep = NULL;
        if (!c->err) {
            redisSetTimeout(c, tv);
            if (u->password[0]) /* a sentinel without a password refuses AUTH: ignored */
                freeReplyObject(u->user[0] ? redisCommand(c, "AUTH %s %s", u->user, u->password)
                                           : redisCommand(c, "AUTH %s", u->password));
            rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", u->master);
        }
        bool ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
                  rep->element[0]->type == REDIS_REPLY_STRING &&
                  rep->element[1]->type == REDIS_REPLY_STRING &&
                  strlen(rep->element[0]->str) < sizeof(u->host);
        if (ok) {
            snprintf(u->host, sizeof(u->host), "%s", rep->element[0]->str);
            u->port = atoi(rep->element[1]->str);
        }
        freeReplyObject(rep);
        redisFree(c);
        if (ok) return 0;
    }
    bf_cli_error(cmd, "no sentinel of %d named a primary for '%s'", u->nsentinels, u->master);
    return -1;
}

/* The node at host:port, added if new; -1 past BF_CLI_REDIS_NODES_MAX (reported). */
static int node_at(bf_cli_redis *r, const char *host, int port)
{
    for (int i = 0; i < r->nnodes; i++)
        if (r->nodes[i].port == port && !strcmp(r->nodes[i].host, host)) return i;
    if (r->nnodes == BF_CLI_REDIS_NODES_MAX) {
        bf_cli_error(r->cmd, "the cluster names more than %d nodes", BF_CLI_REDIS_NODES_MAX);
        return -1;
    }
    node *n = &r->nodes[r->nnodes];
    memset(n, 0, sizeof(*n));
    snprintf(n->host, sizeof(n->host), "%s", host);
    n->port = port;
    return r->nnodes++;
}

/* Connects node i if it is not yet (AUTH and SELECT as the URL says). Returns 0 or an exit code;
 * the failure is reported unless quiet (then its text is in why). */
static int connect_node(bf_cli_redis *r, int i, bool quiet, char *why, size_t whylen)
{
    node *n = &r->nodes[i];
    if (n->ctx && !n->ctx->err) return 0;
    if (n->ctx) redisFree(n->ctx);
    set_where(r, n);
    n->ctx = redisConnectWithTimeout(n->host, n->port, r->tv);
    if (!n->ctx) abort(); /* hiredis returns NULL only when out of memory */
    char msg[600] = "";
    int rc = 0;
    redisReply *rep = NULL;
    if (n->ctx->err) {
        snprintf(msg, sizeof(msg), "cannot reach %s: %s", r->where, n->ctx->errstr);
        rc = BF_CLI_UNREACHABLE;
        goto out;
    }
    redisSetTimeout(n->ctx, r->tv);
    const bf_redis_url *u = &r->url;
    if (u->password[0]) {
        /* with a user name, two arguments (an ACL user); without, Redis' `default` user */
        rep = u->user[0] ? redisCommand(n->ctx, "AUTH %s %s", u->user, u->password)
                         : redisCommand(n->ctx, "AUTH %s", u->password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            /* Redis is there but will not let us in: as unusable as unreachable */
            snprintf(msg, sizeof(msg), "%s refused AUTH as user '%s': %s", r->where,
                     u->user[0] ? u->user : "default", rep ? rep->str : n->ctx->errstr);
            rc = BF_CLI_UNREACHABLE;
            goto out;
        }
        freeReplyObject(rep);
        rep = NULL;
    }
    if (u->db) {
        rep = redisCommand(n->ctx, "SELECT %d", u->db);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            snprintf(msg, sizeof(msg), "%s answered: %s", r->where,
                     rep ? rep->str : n->ctx->errstr);
            rc = BF_CLI_UNREACHABLE;
        }
    }
out:
    if (rep) freeReplyObject(rep);
    if (rc) {
        redisFree(n->ctx);
        n->ctx = NULL;
        if (!quiet) bf_cli_error(r->cmd, "%s", msg);
        if (why) snprintf(why, whylen, "%s", msg);
    }
    return rc;
}

/* Reads the slot map from node i (CLUSTER SLOTS). Returns 0, or -1 with the reason in why. */
static int load_slots(bf_cli_redis *r, int i, char *why, size_t whylen)
{
    node *seed = &r->nodes[i];
    redisReply *rep = redisCommand(seed->ctx, "CLUSTER SLOTS");
    size_t cap = rep && rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0, n;
    bf_cli_slot_range *ranges = bf_calloc(cap + 1, sizeof(*ranges));
    int rc = -1;
    if (!rep) {
        snprintf(why, whylen, "cannot reach redis %s:%d: %s", seed->host, seed->port,
                 seed->ctx->errstr);
    } else if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(why, whylen, "redis %s:%d answered CLUSTER SLOTS with: %s", seed->host, seed->port,
                 rep->str);
    } else if (bf_cli_route_slots(rep, ranges, cap, &n)) {
        snprintf(why, whylen, "unexpected reply to CLUSTER SLOTS from redis %s:%d", seed->host,
                 seed->port);
    } else {
        char host[256];
        snprintf(host, sizeof(host), "%s", seed->host); /* nodes[] may move on below */
        rc = 0;
        for (size_t k = 0; k < n && !rc; k++) {
            int at = node_at(r, ranges[k].host[0] ? ranges[k].host : host, ranges[k].port);
            if (at < 0) {
                snprintf(why, whylen, "too many nodes");
                rc = -1;
                break;
            }
            for (unsigned s = ranges[k].start; s <= ranges[k].end; s++) r->slots[s] = (short)at;
            bool known = false;
            for (int p = 0; p < r->nprimaries; p++) known |= r->primaries[p] == at;
            if (!known) r->primaries[r->nprimaries++] = at;
        }
    }
    if (rep) freeReplyObject(rep);
    free(ranges);
    return rc;
}

/* cluster:// — the seeds in order until one answers CLUSTER SLOTS; keyless commands go to it. */
static int open_cluster(bf_cli_redis *r)
{
    char why[600] = "";
    for (int s = 0; s < r->url.nseeds; s++) {
        int i = node_at(r, r->url.seeds[s].host, r->url.seeds[s].port);
        if (i < 0) return BF_CLI_USAGE;
        if (connect_node(r, i, true, why, sizeof(why))) continue;
        if (!load_slots(r, i, why, sizeof(why))) {
            r->any = i;
            return 0;
        }
    }
    bf_cli_error(r->cmd, "no seed of the cluster (%d given) gave its slot map; the last: %s",
                 r->url.nseeds, why);
    return BF_CLI_UNREACHABLE;
}

bf_cli_redis *bf_cli_redis_open(const bf_cli_cfg *cfg, const char *cmd, int *rc)
{
    bf_cli_redis *r = bf_calloc(1, sizeof(*r));
    char err[BF_ERR_LEN];
    r->cmd = cmd;
    r->txn = SIZE_MAX;
    if (bf_parse_redis_url(cfg->redis, &r->url, err, sizeof(err))) { /* checked by args already */
        bf_cli_error(cmd, "--redis: %s", err);
        *rc = BF_CLI_USAGE;
        goto fail;
    }
    r->tv = (struct timeval){(time_t)(cfg->timeout_ms / 1000),
                             (suseconds_t)(cfg->timeout_ms % 1000) * 1000};
    snprintf(r->prefix, sizeof(r->prefix), "%s", cfg->redis_prefix);
    memset(r->slots, 0xff, sizeof(r->slots)); /* -1: no node */
    if (r->url.kind == BF_REDIS_URL_CLUSTER) {
        r->cluster = true;
        if ((*rc = open_cluster(r))) goto fail;
        return r;
    }
    if (r->url.kind == BF_REDIS_URL_SENTINEL && sentinel_primary(&r->url, r->tv, cmd)) {
        *rc = BF_CLI_UNREACHABLE;
        goto fail;
    }
    r->any = node_at(r, r->url.host, r->url.port);
    r->primaries[r->nprimaries++] = r->any;
    if ((*rc = connect_node(r, r->any, false, NULL, 0))) goto fail;
    return r;
fail:
    bf_cli_redis_free(r);
    return NULL;
}

static void clear_queue(bf_cli_redis *r)
{
    for (size_t i = 0; i < r->qn; i++) {
        free(r->q[i].cmd);
        if (r->q[i].reply) freeReplyObject(r->q[i].reply);
    }
    r->qn = r->qhead = r->qsent = 0;
    r->txn = SIZE_MAX;
    for (int i = 0; i < r->nnodes; i++) r->nodes[i].head = r->nodes[i].n = 0;
}

void bf_cli_redis_free(bf_cli_redis *r)
{
    if (!r) return;
    clear_queue(r);
    free(r->q);
    for (int i = 0; i < r->nnodes; i++) {
        if (r->nodes[i].ctx) redisFree(r->nodes[i].ctx);
        free(r->nodes[i].fifo);
    }
    free(r);
}

const char *bf_cli_redis_prefix(const bf_cli_redis *r)
{
    return r->prefix;
}

bool bf_cli_redis_is_cluster(const bf_cli_redis *r)
{
    return r->cluster;
}

unsigned long long bf_cli_redis_redirects(const bf_cli_redis *r)
{
    return r->redirects;
}

/* ---- the pipeline ------------------------------------------------------------------------- */

static void fifo_push(node *n, size_t v)
{
    if (n->n == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 16;
        n->fifo = bf_realloc(n->fifo, n->cap * sizeof(size_t));
    }
    n->fifo[n->n++] = v;
}

/* Sends q[k] to node i (connecting it first). Returns 0 or an exit code (reported). */
static int send_to(bf_cli_redis *r, size_t k, int i)
{
    int rc = connect_node(r, i, false, NULL, 0);
    if (rc) return rc;
    if (redisAppendFormattedCommand(r->nodes[i].ctx, r->q[k].cmd, r->q[k].len) != REDIS_OK)
        abort(); /* only fails when out of memory */
    fifo_push(&r->nodes[i], k);
    r->q[k].on = i;
    return 0;
}

/* The node serving slot (any node for BF_CLI_ROUTE_ANY), or -1 (reported). */
static int node_of_slot(bf_cli_redis *r, int slot)
{
    if (slot == BF_CLI_ROUTE_ANY || !r->cluster) return r->any;
    if (r->slots[slot] < 0)
        bf_cli_error(r->cmd,
                     "slot %d is served by no node of the cluster (CLUSTER SLOTS); is the "
                     "cluster down?",
                     slot);
    return r->slots[slot];
}

/* Sends every queued command not sent yet, each to the node serving its slot (a transaction
 * wholly to the node of its first key), then writes every node's buffer out so that the nodes
 * work in parallel. Returns 0 or an exit code (reported). */
static int send_pending(bf_cli_redis *r)
{
    assert(r->txn == SIZE_MAX); /* a MULTI without its EXEC cannot be read */
    for (size_t k = r->qsent; k < r->qn; k++) {
        entry *e = &r->q[k];
        int slot = e->slot;
        for (size_t j = e->first; j <= e->last && slot == BF_CLI_ROUTE_ANY; j++)
            slot = r->q[j].slot;
        int i = node_of_slot(r, slot), rc;
        if (i < 0) return BF_CLI_UNREACHABLE;
        if ((rc = send_to(r, k, i))) return rc;
    }
    r->qsent = r->qn;
    for (int i = 0; i < r->nnodes; i++) {
        redisContext *c = r->nodes[i].ctx;
        int done = 0;
        while (c && !done)
            if (redisBufferWrite(c, &done) != REDIS_OK) return io_failure(r, &r->nodes[i]);
    }
    return 0;
}

/* Reads replies from q[k]'s node until q[k] has one (the replies of commands sent there before it
 * are kept for them). Returns 0 or an exit code (reported). */
static int read_reply(bf_cli_redis *r, size_t k)
{
    node *n = &r->nodes[r->q[k].on];
    while (!r->q[k].reply) {
        assert(n->head < n->n); /* q[k] was sent here, so its reply is still to come */
        size_t j = n->fifo[n->head++];
        void *rep = NULL;
        if (redisGetReply(n->ctx, &rep) != REDIS_OK || !rep) return io_failure(r, n);
        if (j == ASKING_MARK)
            freeReplyObject(rep); /* a refused ASKING shows in the command's own reply */
        else
            r->q[j].reply = rep;
    }
    return 0;
}

/* Reads q[k]'s reply, following MOVED and ASK: a command (or its whole transaction: Redis
 * answers a redirect for the command inside MULTI and then aborts the EXEC) is sent again, on its
 * own, to the node named, after ASKING for an ASK; a MOVED also updates the slot map. At most
 * BF_CLI_REDIS_REDIRECTS_MAX times. Returns 0 or an exit code (reported). */
static int resolve(bf_cli_redis *r, size_t k)
{
    size_t a = r->q[k].first, b = r->q[k].last;
    if (k != a) return 0; /* in a transaction, resolved as a whole when its MULTI was read */
    for (;;) {
        int rc;
        for (size_t i = a; i <= b; i++)
            if ((rc = read_reply(r, i))) return rc;
        bf_cli_redirect rd;
        bool moved = false;
        for (size_t i = a; i <= b && !moved; i++)
            moved = r->q[i].reply->type == REDIS_REPLY_ERROR &&
                    !bf_cli_route_redirect(r->q[i].reply->str, &rd);
        if (!moved) return 0;
        node *from = &r->nodes[r->q[a].on];
        if (r->q[a].redirects == BF_CLI_REDIS_REDIRECTS_MAX) {
            set_where(r, from);
            bf_cli_error(r->cmd,
                         "gave up after %d redirects (the last, from %s: %s): the cluster's slot "
                         "map keeps changing",
                         BF_CLI_REDIS_REDIRECTS_MAX, r->where,
                         r->q[a].reply->type == REDIS_REPLY_ERROR ? r->q[a].reply->str
                                                                  : "in its transaction");
            return BF_CLI_FAILED;
        }
        r->q[a].redirects++;
        r->redirects++;
        char host[256];
        snprintf(host, sizeof(host), "%s", rd.host[0] ? rd.host : from->host);
        int to = node_at(r, host, rd.port);
        if (to < 0) return BF_CLI_FAILED;
        if (!rd.ask) r->slots[rd.slot] = (short)to;
        if ((rc = connect_node(r, to, false, NULL, 0))) return rc;
        if (rd.ask) {
            if (redisAppendCommand(r->nodes[to].ctx, "ASKING") != REDIS_OK) abort();
            fifo_push(&r->nodes[to], ASKING_MARK);
        }
        for (size_t i = a; i <= b; i++) {
            freeReplyObject(r->q[i].reply);
            r->q[i].reply = NULL;
            if ((rc = send_to(r, i, to))) return rc;
        }
    }
}

/* Queues a formatted command (taking cmd over). */
static void push(bf_cli_redis *r, char *cmd, int len)
{
    if (len < 0) abort(); /* only fails when out of memory or for a bad format string */
    if (r->qn == r->qcap) {
        r->qcap = r->qcap ? r->qcap * 2 : 16;
        r->q = bf_realloc(r->q, r->qcap * sizeof(entry));
    }
    size_t k = r->qn++;
    entry *e = &r->q[k];
    *e = (entry){.cmd = cmd,
                 .len = (size_t)len,
                 .slot = r->cluster ? bf_cli_route_slot(cmd, (size_t)len) : BF_CLI_ROUTE_ANY,
                 .first = k,
                 .last = k,
                 .on = -1};
    if (r->txn != SIZE_MAX) {
        e->first = r->txn;
        if (bf_cli_route_verb_is(cmd, (size_t)len, "EXEC") ||
            bf_cli_route_verb_is(cmd, (size_t)len, "DISCARD")) {
            for (size_t i = r->txn; i <= k; i++) r->q[i].last = k;
            r->txn = SIZE_MAX;
        }
    } else if (bf_cli_route_verb_is(cmd, (size_t)len, "MULTI")) {
        r->txn = k;
    }
}

void bf_cli_redis_append(bf_cli_redis *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    push(r, cmd, len);
}

int bf_cli_redis_next(bf_cli_redis *r, redisReply **out)
{
    assert(r->qhead < r->qn); /* a reply is read only for a command queued */
    int rc = r->qsent < r->qn ? send_pending(r) : 0;
    size_t k = r->qhead;
    if (rc || (rc = resolve(r, k))) {
        /* replies may still be on their way: forget the pipeline and every connection, so that
         * the next command starts clean (nodes are connected again when needed) */
        clear_queue(r);
        for (int i = 0; i < r->nnodes; i++) {
            if (r->nodes[i].ctx) redisFree(r->nodes[i].ctx);
            r->nodes[i].ctx = NULL;
        }
        *out = NULL;
        return rc;
    }
    redisReply *rep = r->q[k].reply;
    r->q[k].reply = NULL;
    node *n = &r->nodes[r->q[k].on];
    if (++r->qhead == r->qn) clear_queue(r);
    return check(r, n, rep, out);
}

int bf_cli_redis_cmd(bf_cli_redis *r, redisReply **out, const char *fmt, ...)
{
    assert(r->qhead == r->qn); /* not in the middle of a pipeline */
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    push(r, cmd, len);
    return bf_cli_redis_next(r, out);
}

int bf_cli_redis_cmdargv(bf_cli_redis *r, redisReply **out, int argc, const char **argv,
                         const size_t *lens)
{
    assert(r->qhead == r->qn); /* not in the middle of a pipeline */
    char *cmd = NULL;
    long long len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    push(r, cmd, len < 0 || len > INT_MAX ? -1 : (int)len);
    return bf_cli_redis_next(r, out);
}

int bf_cli_redis_nprimaries(const bf_cli_redis *r)
{
    return r->nprimaries;
}

int bf_cli_redis_cmd_on(bf_cli_redis *r, int primary, redisReply **out, const char *fmt, ...)
{
    assert(r->qhead == r->qn && primary >= 0 && primary < r->nprimaries);
    int i = r->primaries[primary];
    int rc = connect_node(r, i, false, NULL, 0);
    if (rc) return rc;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->nodes[i].ctx, fmt, ap);
    va_end(ap);
    return check(r, &r->nodes[i], rep, out);
}

int bf_cli_redis_bad(bf_cli_redis *r, redisReply *reply, const char *what)
{
    bf_cli_error(r->cmd, "unexpected reply to %s from %s", what, r->where);
    if (reply) freeReplyObject(reply);
    return BF_CLI_FAILED;
}

int bf_cli_scope_channel(bf_cli_redis *r, const char *app, const char *name, char *out, size_t cap)
{
    if (!app) {
        snprintf(out, cap, "%s", name);
        return 0;
    }
    for (const char *c = app; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-')) {
            bf_cli_error(r->cmd, "--app '%s': an app id uses only A-Z a-z 0-9 _ -", app);
            return BF_CLI_USAGE;
        }
    }
    char key[BF_KEY_MAX];
    bf_key(key, r->prefix, BF_KEY_APPS_DEFAULT, NULL);
    redisReply *d;
    int rc = bf_cli_redis_cmd(r, &d, "GET %s", key);
    if (rc) return rc;
    /* no router ever said (none has run with this prefix): the implicit default app "default" */
    const char *def = d->type == REDIS_REPLY_STRING ? d->str : "default";
    int n = !strcmp(def, app) ? snprintf(out, cap, "%s", name)
                              : snprintf(out, cap, "%s%c%s", app, BF_APP_SCOPE_SEP, name);
    freeReplyObject(d);
    if (n < 0 || (size_t)n >= cap) {
        bf_cli_error(r->cmd, "--app '%s': the scoped channel name is too long", app);
        return BF_CLI_USAGE;
    }
    return 0;
}

bf_cli_redis *bf_cli_redis_open_channel(const bf_cli_cfg *cfg, const char *cmd, const char *channel,
                                        char *scoped, size_t cap, int *rc)
{
    bf_cli_redis *r = bf_cli_redis_open(cfg, cmd, rc);
    if (r && (*rc = bf_cli_scope_channel(r, cfg->app, channel, scoped, cap))) {
        bf_cli_redis_free(r);
        return NULL;
    }
    return r;
}
