#include "cluster.h"
#include "alloc.h"
#include "channel.h"
#include "redis_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- membership snapshot ------------------------------------------------------------------ */

static int cmp_node(const void *a, const void *b)
{
    const bf_cli_node *x = a, *y = b;
    if (x->router != y->router) return x->router ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Adds the members of a WITHSCORES reply (flat: member, score, ...). */
static int add_members(bf_cli_cluster *c, const redisReply *z, bool router)
{
    if (z->type != REDIS_REPLY_ARRAY || z->elements % 2) return -1;
    for (size_t i = 0; i < z->elements; i += 2) {
        if (z->element[i]->type != REDIS_REPLY_STRING ||
            z->element[i + 1]->type != REDIS_REPLY_STRING)
            return -1;
        bf_cli_node *n = &c->nodes[c->n++];
        memset(n, 0, sizeof(*n));
        n->id = bf_strdup(z->element[i]->str);
        n->router = router;
        n->expiry_ms = atoll(z->element[i + 1]->str);
        n->live = n->expiry_ms > c->now_ms;
        n->pid = n->started_ms = n->last_seen_ms = n->connections = -1;
        if (router) c->nrouters++;
        if (n->live) router ? c->live_routers++ : c->live_gateways++;
    }
    return 0;
}

static void set_info(bf_cli_node *n, const redisReply *h)
{
    n->has_info = h->elements > 0;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const char *f = h->element[i]->str, *v = h->element[i + 1]->str;
        if (!f || !v) continue;
        if (!strcmp(f, "address") && !n->address)
            n->address = bf_strdup(v);
        else if (!strcmp(f, "version") && !n->version)
            n->version = bf_strdup(v);
        else if (!strcmp(f, "pid"))
            n->pid = atoll(v);
        else if (!strcmp(f, "started_ms"))
            n->started_ms = atoll(v);
        else if (!strcmp(f, "last_seen_ms"))
            n->last_seen_ms = atoll(v);
        else if (!strcmp(f, "connections"))
            n->connections = atoll(v);
    }
}

int bf_cli_cluster_load(bf_cli_redis *r, bf_cli_cluster *c, bool with_info)
{
    const char *prefix = bf_cli_redis_prefix(r);
    char kr[BF_KEY_MAX], kg[BF_KEY_MAX], ke[BF_KEY_MAX];
    memset(c, 0, sizeof(*c));
    c->ring = bf_ring_new();
    bf_key(kr, prefix, BF_KEY_ROUTERS, NULL);
    bf_key(kg, prefix, BF_KEY_GATEWAYS, NULL);
    bf_key(ke, prefix, BF_KEY_RING_EPOCH, NULL);
    bf_cli_redis_append(r, "MULTI");
    bf_cli_redis_append(r, "TIME");
    bf_cli_redis_append(r, "ZRANGE %s 0 -1 WITHSCORES", kr);
    bf_cli_redis_append(r, "ZRANGE %s 0 -1 WITHSCORES", kg);
    bf_cli_redis_append(r, "GET %s", ke);
    bf_cli_redis_append(r, "EXEC");
    redisReply *rep;
    for (int i = 0; i < 5; i++) { /* +OK, then +QUEUED four times */
        int rc = bf_cli_redis_next(r, &rep);
        if (rc) return rc;
        freeReplyObject(rep);
    }
    int rc = bf_cli_redis_next(r, &rep);
    if (rc) return rc;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4 ||
        rep->element[0]->type != REDIS_REPLY_ARRAY || rep->element[0]->elements != 2 ||
        rep->element[1]->type != REDIS_REPLY_ARRAY || rep->element[2]->type != REDIS_REPLY_ARRAY)
        return bf_cli_redis_bad(r, rep, "the membership snapshot");
    redisReply **e = rep->element;
    c->now_ms = atoll(e[0]->element[0]->str) * 1000 + atoll(e[0]->element[1]->str) / 1000;
    c->epoch = e[3]->type == REDIS_REPLY_STRING ? atoll(e[3]->str) : -1;
    if (c->epoch >= 0)
        snprintf(c->epoch_text, sizeof(c->epoch_text), "%lld", c->epoch);
    else
        snprintf(c->epoch_text, sizeof(c->epoch_text), "-");
    c->nodes = bf_calloc((e[1]->elements + e[2]->elements) / 2 + 1, sizeof(bf_cli_node));
    if (add_members(c, e[1], true) || add_members(c, e[2], false))
        return bf_cli_redis_bad(r, rep, "ZRANGE WITHSCORES");
    freeReplyObject(rep);
    qsort(c->nodes, c->n, sizeof(bf_cli_node), cmp_node);

    const char *ids[c->live_routers + 1];
    size_t k = 0;
    for (size_t i = 0; i < c->nrouters; i++)
        if (c->nodes[i].live) ids[k++] = c->nodes[i].id;
    bf_ring_set(c->ring, ids, k, c->epoch < 0 ? 0 : (uint64_t)c->epoch);

    if (!with_info) return 0;
    for (size_t i = 0; i < c->n; i++) {
        char kn[BF_KEY_MAX];
        bf_key(kn, prefix, BF_KEY_NODE, c->nodes[i].id);
        bf_cli_redis_append(r, "HGETALL %s", kn);
    }
    for (size_t i = 0; i < c->n; i++) {
        if ((rc = bf_cli_redis_next(r, &rep))) return rc;
        if (rep->type != REDIS_REPLY_ARRAY) return bf_cli_redis_bad(r, rep, "HGETALL node");
        set_info(&c->nodes[i], rep);
        freeReplyObject(rep);
    }
    return 0;
}

void bf_cli_cluster_deinit(bf_cli_cluster *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->nodes[i].id);
        free(c->nodes[i].address);
        free(c->nodes[i].version);
    }
    free(c->nodes);
    bf_ring_free(c->ring);
    memset(c, 0, sizeof(*c));
}

const char *bf_cli_cluster_owner(const bf_cli_cluster *c, const char *channel)
{
    return bf_ring_owner(c->ring, channel, strlen(channel));
}

const bf_cli_node *bf_cli_cluster_find(const bf_cli_cluster *c, const char *id, bool router)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->nodes[i].router == router && !strcmp(c->nodes[i].id, id)) return &c->nodes[i];
    return NULL;
}

bf_cli_node_status bf_cli_node_status_of(const bf_cli_cluster *c, const bf_cli_node *n)
{
    if (!n->live) return BF_CLI_NODE_EXPIRED;
    if (!n->has_info || n->last_seen_ms < 0) return BF_CLI_NODE_STALE;
    /* every heartbeat sets expiry = last_seen + ttl, so the node's own ttl is their difference */
    long long ttl = n->expiry_ms - n->last_seen_ms, age = c->now_ms - n->last_seen_ms;
    return age > ttl / 2 ? BF_CLI_NODE_STALE : BF_CLI_NODE_LIVE;
}

const char *bf_cli_node_status_name(bf_cli_node_status s)
{
    return s == BF_CLI_NODE_LIVE ? "live" : s == BF_CLI_NODE_STALE ? "stale" : "expired";
}

/* ---- channels ----------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The SCAN pattern for every key of one kind: "<prefix><kind>{*}" with the prefix matched
 * literally (its glob characters escaped; braces are not glob characters). */
static void match_pattern(char *out, const char *prefix, bf_key_kind kind)
{
    char esc[2 * BF_PREFIX_MAX + 1];
    size_t n = 0;
    for (const char *p = prefix; *p && n + 2 < sizeof(esc); p++) {
        if (strchr("*?[]\\", *p)) esc[n++] = '\\';
        esc[n++] = *p;
    }
    esc[n] = '\0';
    bf_key(out, esc, kind, "*");
}

/* SCAN sees the keys of the node it runs on: on a cluster, each primary is scanned in turn. */
static int scan_kind(bf_cli_redis *r, int primary, bf_key_kind kind, bf_cli_chanlist *l,
                     size_t *cap)
{
    const char *prefix = bf_cli_redis_prefix(r);
    char pattern[BF_KEY_MAX], cursor[32] = "0";
    match_pattern(pattern, prefix, kind);
    do {
        redisReply *rep;
        int rc =
            bf_cli_redis_cmd_on(r, primary, &rep, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (rc) return rc;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[1]->type != REDIS_REPLY_ARRAY)
            return bf_cli_redis_bad(r, rep, "SCAN");
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        const redisReply *keys = rep->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            size_t len;
            const char *ch = keys->element[i]->str
                                 ? bf_key_strip(keys->element[i]->str, prefix, kind, &len)
                                 : NULL;
            if (!ch || bf_channel_validate(ch, len, NULL, 0)) continue;
            if (l->n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                l->names = bf_realloc(l->names, *cap * sizeof(char *));
            }
            l->names[l->n++] = bf_strndup(ch, len);
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0"));
    return 0;
}

int bf_cli_chanlist_scan(bf_cli_redis *r, bf_cli_chanlist *l)
{
    size_t cap = 0;
    memset(l, 0, sizeof(*l));
    int rc = 0;
    for (int p = 0; p < bf_cli_redis_nprimaries(r) && !rc; p++) {
        rc = scan_kind(r, p, BF_KEY_CONNS, l, &cap);
        if (!rc) rc = scan_kind(r, p, BF_KEY_PRESENCE, l, &cap);
    }
    if (rc) return rc;
    if (l->n) qsort(l->names, l->n, sizeof(char *), cmp_str);
    size_t k = 0; /* drop duplicates (a presence channel has both keys; SCAN may repeat keys) */
    for (size_t i = 0; i < l->n; i++) {
        if (k && !strcmp(l->names[k - 1], l->names[i]))
            free(l->names[i]);
        else
            l->names[k++] = l->names[i];
    }
    l->n = k;
    return 0;
}

void bf_cli_chanlist_deinit(bf_cli_chanlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof(*l));
}
