#include "scripts.h"
#include "alloc.h"
#include "embed.h"
#include "err.h"
#include "log.h"
#include "redis_keys.h"
#include "scripts_split.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Script names (common/lua/<name>.lua), indexed by bf_script_id. */
static const char *const names[BF_SCRIPT__COUNT] = {
    [BF_SCRIPT_PUBLISH] = "publish",
    [BF_SCRIPT_HEARTBEAT] = "heartbeat",
    [BF_SCRIPT_LEAVE] = "leave",
    [BF_SCRIPT_PRESENCE_ENQUEUE] = "presence_enqueue",
    [BF_SCRIPT_PRESENCE_APPLY] = "presence_apply",
    [BF_SCRIPT_PRESENCE_AUDIT] = "presence_audit",
    [BF_SCRIPT_CONNS] = "conns",
    [BF_SCRIPT_CHANNEL_INFO] = "channel_info",
    [BF_SCRIPT_SWEEP] = "sweep",
    [BF_SCRIPT_HISTORY] = "history",
    [BF_SCRIPT_PUBLISH_BATCH] = "publish_batch",
    [BF_SCRIPT_CHANNELS] = "channels",
    [BF_SCRIPT_WEBHOOK_DUE] = "webhook_due",
    [BF_SCRIPT_PRESENCE_MEMBERS] = "presence_members",
    [BF_SCRIPT_WEBHOOK_EVENT] = "webhook_event",
    [BF_SCRIPT_WEBHOOK_TRANSITIONS] = "webhook_transitions",
    [BF_SCRIPT_SWEEP_INDEX] = "sweep_index",
    [BF_SCRIPT_FANDONE] = "fandone",
};

/* The channel scripts that queue webhook events (webhooks.lib.lua): on Redis Cluster the events'
 * keys are in another slot, so their cluster variant records the events (BF_WH_DEFER) and returns
 * them with its reply, which bf_script_call unwraps (on_script_reply). */
static const bool defers_webhooks[BF_SCRIPT__COUNT] = {
    [BF_SCRIPT_CONNS] = true,
    [BF_SCRIPT_PRESENCE_APPLY] = true,
    [BF_SCRIPT_SWEEP] = true,
};

typedef struct script {
    const bf_embed_file *file;
    const char *src; /* the script, with the library it uses prepended */
    size_t len;
    char sha[41];
} script;

/* Each script in two variants, told apart by the line prepended to its source: the fan-out
 * command of sequence.lib.lua (and any script that publishes a channel's fan-out) is PUBLISH on
 * one Redis or Sentinel and SPUBLISH on Redis Cluster, where a channel's fan:{channel} is a shard
 * channel of its slot. A load-time constant rather than an ARGV flag: no script's arity and no
 * caller changes, at the price of a second SHA per script (the link says which it needs). */
static script scripts[2][BF_SCRIPT__COUNT];
static const char *const mode_line[2][2] = {
    {"local BF_SHARDED = false\nlocal BF_WH_DEFER = false\n",
     "local BF_SHARDED = false\nlocal BF_WH_DEFER = false\n"},
    {"local BF_SHARDED = true\nlocal BF_WH_DEFER = false\n",
     "local BF_SHARDED = true\nlocal BF_WH_DEFER = true\n"}};

/* A deferring script's body runs as a function whose reply goes out with the recorded events
 * (webhooks.lib.lua); an error reply goes out alone, and so does nothing of the events. */
static const char defer_head[] = "local function bf_main()\n";
static const char defer_tail[] = "\nend\n"
                                 "local bf_r = bf_main()\n"
                                 "if type(bf_r) == 'table' and bf_r.err then return bf_r end\n"
                                 "if bf_r == nil then bf_r = false end\n"
                                 "local bf_o = {bf_r, bf_wh_P or ''}\n"
                                 "for i = 1, #bf_wh_out do bf_o[#bf_o + 1] = bf_wh_out[i] end\n"
                                 "return bf_o\n";

const bf_embed_file *bf_embed_find(const bf_embed_file *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

#define MAX_LIBS 8

/* "-- uses: a.lib.lua, b.lib.lua" on a file's first line: the libraries it needs, prepended in
 * that order (Redis scripts cannot include one another), each after the libraries it uses itself
 * and only once. Appends them to libs. A missing library aborts, like a missing script. */
static void add_uses(const bf_embed_file *f, const bf_embed_file **libs, size_t *nlibs, int depth)
{
    static const char uses[] = "-- uses: ";
    if (strncmp(f->data, uses, sizeof(uses) - 1)) return;
    const char *p = f->data + sizeof(uses) - 1, *end = p + strcspn(p, "\n");
    while (p < end) {
        size_t n = strcspn(p, ",\n");
        char lib[64];
        snprintf(lib, sizeof(lib), "%.*s", (int)n, p);
        const bf_embed_file *l = bf_embed_find(bf_lua_files, bf_lua_count, lib);
        if (!l || depth > MAX_LIBS) {
            fprintf(stderr, "belfry: %s uses %s, which is not embedded (or uses itself)\n", f->name,
                    lib);
            abort();
        }
        add_uses(l, libs, nlibs, depth + 1);
        bool have = false;
        for (size_t i = 0; i < *nlibs; i++) have |= libs[i] == l;
        if (!have) {
            if (*nlibs == MAX_LIBS) {
                fprintf(stderr, "belfry: %s uses more than %d libraries\n", f->name, MAX_LIBS);
                abort();
            }
            libs[(*nlibs)++] = l;
        }
        p += n;
        while (p < end && (*p == ',' || *p == ' ')) p++;
    }
}

/* Resolves the script's source and SHA once. A script file missing from the embedded set (a
 * renamed .lua) aborts the first daemon start, which loads every script, and so fails every
 * integration test. */
static script *get(bf_script_id id, bool sharded)
{
    script *s = &scripts[sharded][id];
    if (!s->file) {
        char file[64];
        snprintf(file, sizeof(file), "%s.lua", names[id]);
        s->file = bf_embed_find(bf_lua_files, bf_lua_count, file);
        if (!s->file) {
            fprintf(stderr, "belfry: script %s.lua is not embedded\n", names[id]);
            abort();
        }
        const bf_embed_file *libs[MAX_LIBS];
        bool wrap = sharded && defers_webhooks[id];
        const char *mode = mode_line[sharded][wrap];
        size_t nlibs = 0, ml = strlen(mode), total = ml + s->file->len;
        add_uses(s->file, libs, &nlibs, 0);
        /* the result lives as long as the process */
        for (size_t i = 0; i < nlibs; i++) total += libs[i]->len;
        if (wrap) total += sizeof(defer_head) - 1 + sizeof(defer_tail) - 1;
        char *all = bf_malloc(total + 1), *o = all;
        memcpy(o, mode, ml);
        o += ml;
        for (size_t i = 0; i < nlibs; i++) {
            memcpy(o, libs[i]->data, libs[i]->len);
            o += libs[i]->len;
        }
        if (wrap) {
            memcpy(o, defer_head, sizeof(defer_head) - 1);
            o += sizeof(defer_head) - 1;
        }
        memcpy(o, s->file->data, s->file->len);
        o += s->file->len;
        if (wrap) {
            memcpy(o, defer_tail, sizeof(defer_tail) - 1);
            o += sizeof(defer_tail) - 1;
        }
        *o = '\0';
        s->src = all;
        s->len = total;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        EVP_Digest(s->src, s->len, md, &mdlen, EVP_sha1(), NULL);
        for (unsigned i = 0; i < mdlen && i < 20; i++) sprintf(s->sha + 2 * i, "%02x", md[i]);
    }
    return s;
}

const char *bf_script_sha(bf_script_id id)
{
    return get(id, false)->sha;
}

const char *bf_script_source(bf_script_id id, size_t *len)
{
    return bf_script_source_for(id, false, len);
}

const char *bf_script_sha_for(bf_script_id id, bool sharded)
{
    return get(id, sharded)->sha;
}

const char *bf_script_source_for(bf_script_id id, bool sharded, size_t *len)
{
    script *s = get(id, sharded);
    if (len) *len = s->len;
    return s->src;
}

/* SCRIPT LOAD's answer is the script's SHA1: anything else (a syntax error in a .lua file, a
 * Redis that refuses scripts) is logged, since every later call of that script would fail. */
static void on_script_loaded(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    const redisReply *rep = reply;
    script *s = priv;
    if (!rep) return; /* the link went down: on_ready loads the scripts again */
    if (rep->type != REDIS_REPLY_STRING || rep->len != 40 || memcmp(rep->str, s->sha, 40)) {
        bf_scripts_load_failures++;
        bf_error("SCRIPT LOAD %s failed: %s", s->file->name,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply (not its SHA1)");
    }
}

uint64_t bf_scripts_load_failures;
uint64_t bf_scripts_reloads;
uint64_t bf_scripts_webhooks_deferred;
uint64_t bf_scripts_webhooks_lost;

int bf_scripts_load(bf_redis *r)
{
    for (int i = 0; i < BF_SCRIPT__COUNT; i++) {
        script *s = get((bf_script_id)i, bf_redis_is_cluster(r));
        int rc = bf_redis_cmd(r, on_script_loaded, s, "SCRIPT LOAD %b", s->src, s->len);
        if (rc) return rc;
    }
    return 0;
}

/* One EVALSHA in flight: kept until its reply so that a NOSCRIPT answer (the script cache was
 * emptied under a live link: SCRIPT FLUSH, a replica promoted without the scripts) can load the
 * script and send the same command again, once. */
typedef struct script_call {
    bf_redis *r;
    script *s;
    bf_script_id id;
    redisCallbackFn *cb;
    void *priv;
    char *cmd; /* the formatted EVALSHA (RESP) */
    size_t len;
    bool retried;
} script_call;

static void on_transitions(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)priv;
    const redisReply *rep = reply;
    if (rep && rep->type != REDIS_REPLY_ERROR) return;
    bf_scripts_webhooks_lost++;
    bf_warn("webhook events of a channel script were not queued: %s",
            rep ? rep->str : "the link went down");
}

/* A deferring script's reply on a cluster, {reply, P, events...} (webhooks.lib.lua): the events
 * go to the cluster-wide slot in their own call, sent before the caller's callback runs so that a
 * call the callback makes next is not ordered before them on a link that orders (one Redis).
 * Nothing waits for them: the caller's reply does not depend on the webhooks. */
static void forward_webhooks(bf_redis *r, const redisReply *rep)
{
    if (rep->elements < 3) return; /* no event */
    const redisReply *p = rep->element[1];
    size_t n = rep->elements - 2;
    bf_scripts_webhooks_deferred++;
    char key[BF_KEY_MAX];
    const char *sv[64];
    size_t sl[64];
    const char **v = n + 1 > 64 ? bf_malloc(sizeof(*v) * (n + 1)) : sv;
    size_t *l = n + 1 > 64 ? bf_malloc(sizeof(*l) * (n + 1)) : sl;
    bool ok = p->type == REDIS_REPLY_STRING && (size_t)snprintf(key, sizeof(key), "%.*swebhooks:on",
                                                                (int)p->len, p->str) < sizeof(key);
    for (size_t i = 0; ok && i < n; i++) {
        const redisReply *e = rep->element[2 + i];
        ok = e->type == REDIS_REPLY_STRING;
        v[1 + i] = ok ? e->str : NULL;
        l[1 + i] = ok ? e->len : 0;
    }
    if (ok) {
        v[0] = key;
        l[0] = strlen(key);
        ok = bf_script_call(r, BF_SCRIPT_WEBHOOK_TRANSITIONS, on_transitions, NULL, 1, (int)n + 1,
                            v, l) == 0;
    }
    if (!ok) {
        bf_scripts_webhooks_lost++;
        bf_warn("webhook events of a channel script were not queued: %s",
                p->type == REDIS_REPLY_STRING ? "the link is down" : "malformed reply");
    }
    if (v != sv) {
        free(v);
        free(l);
    }
}

static void on_script_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    script_call *sc = priv;
    const redisReply *rep = reply;
    if (rep && rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8) &&
        !sc->retried) {
        sc->retried = true;
        bf_scripts_reloads++;
        bf_warn("%s was not in Redis' script cache (NOSCRIPT): loading it and calling again",
                sc->s->file->name);
        /* on the same connection the load is executed before the call sent after it */
        if (bf_redis_cmd(sc->r, on_script_loaded, sc->s, "SCRIPT LOAD %b", sc->s->src,
                         sc->s->len) == 0 &&
            bf_redis_cmd_formatted(sc->r, on_script_reply, sc, sc->cmd, sc->len) == 0)
            return;
        /* the link is going down: the caller gets the NOSCRIPT error below */
    }
    if (rep && defers_webhooks[sc->id] && bf_redis_is_cluster(sc->r) &&
        rep->type == REDIS_REPLY_ARRAY) {
        forward_webhooks(sc->r, rep);
        reply = rep->elements ? rep->element[0] : NULL;
    }
    if (sc->cb) sc->cb(ac, reply, sc->priv);
    redisFreeCommand(sc->cmd);
    free(sc);
}

int bf_script_call(bf_redis *r, bf_script_id id, redisCallbackFn *cb, void *priv, int nkeys,
                   int argc, const char *const *argv, const size_t *lens)
{
    const char *sa[64];
    size_t sl[64];
    char nk[16];
    if (argc < 0 || nkeys < 0 || nkeys > argc) return BF_EINVAL;
    if (!bf_redis_ready(r)) return BF_EDISCONNECTED;
    /* batches (conns.lua) can be long: the argument vectors move to the heap then */
    bool heap = argc + 3 > 64;
    const char **a = heap ? bf_malloc(sizeof(*a) * (size_t)(argc + 3)) : sa;
    size_t *l = heap ? bf_malloc(sizeof(*l) * (size_t)(argc + 3)) : sl;
    script *s = get(id, bf_redis_is_cluster(r));
    a[0] = "EVALSHA";
    l[0] = 7;
    a[1] = s->sha;
    l[1] = 40;
    l[2] = (size_t)snprintf(nk, sizeof(nk), "%d", nkeys);
    a[2] = nk;
    for (int i = 0; i < argc; i++) {
        a[i + 3] = argv[i];
        l[i + 3] = lens ? lens[i] : strlen(argv[i]);
    }
    char *cmd;
    long long len = redisFormatCommandArgv(&cmd, argc + 3, a, l);
    if (heap) {
        free(a);
        free(l);
    }
    if (len < 0) abort(); /* out of memory */
    script_call *sc = bf_malloc(sizeof(*sc));
    *sc = (script_call){r, s, id, cb, priv, cmd, (size_t)len, false};
    int rc = bf_redis_cmd_formatted(r, on_script_reply, sc, cmd, (size_t)len);
    if (rc) { /* the callback never runs on a synchronous failure */
        redisFreeCommand(cmd);
        free(sc);
    }
    return rc;
}

int bf_conns_send(bf_redis *r, const char *prefix, const char *node_id,
                  const bf_conns_change *changes, size_t n, redisCallbackFn *cb, void *priv)
{
    if (!n) return BF_EINVAL;
    if (bf_redis_is_cluster(r))
        return bf__conns_send_cluster(r, prefix, node_id, changes, n, cb, priv);
    /* KEYS: gwchans, gwknown, conns:{channel i}...; ARGV: node id, then (change, channel) pairs */
    size_t nkeys = 2 + n, argc = nkeys + 1 + 2 * n;
    const char **argv = bf_malloc(argc * sizeof(*argv));
    char(*keys)[BF_KEY_MAX] = bf_malloc(nkeys * sizeof(*keys));
    char(*vals)[24] = bf_malloc(n * sizeof(*vals));
    int rc = 0;
    if (bf_key(keys[0], prefix, BF_KEY_GWCHANS, node_id) < 0 ||
        bf_key(keys[1], prefix, BF_KEY_GWKNOWN, NULL) < 0)
        rc = BF_ERANGE;
    for (size_t i = 0; i < n && !rc; i++)
        if (bf_key(keys[2 + i], prefix, BF_KEY_CONNS, changes[i].channel) < 0) rc = BF_ERANGE;
    if (!rc) {
        size_t a = 0;
        for (size_t i = 0; i < nkeys; i++) argv[a++] = keys[i];
        argv[a++] = node_id;
        for (size_t i = 0; i < n; i++) {
            snprintf(vals[i], sizeof(vals[i]), changes[i].absolute ? "=%lld" : "%lld",
                     changes[i].value);
            argv[a++] = vals[i];
            argv[a++] = changes[i].channel;
        }
        rc = bf_script_call(r, BF_SCRIPT_CONNS, cb, priv, (int)nkeys, (int)argc, argv, NULL);
    }
    free(argv);
    free(keys);
    free(vals);
    return rc;
}
