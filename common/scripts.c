#include "scripts.h"
#include "alloc.h"
#include "embed.h"
#include "err.h"
#include "redis_keys.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Script names (common/lua/<name>.lua), indexed by bf_script_id. */
static const char *const names[BF_SCRIPT__COUNT] = {
    [BF_SCRIPT_PUBLISH] = "publish",
    [BF_SCRIPT_HEARTBEAT] = "heartbeat",
    [BF_SCRIPT_LEAVE] = "leave",
    [BF_SCRIPT_PRESENCE_JOIN] = "presence_join",
    [BF_SCRIPT_PRESENCE_LEAVE] = "presence_leave",
    [BF_SCRIPT_CONNS] = "conns",
    [BF_SCRIPT_CHANNEL_INFO] = "channel_info",
    [BF_SCRIPT_SWEEP] = "sweep",
    [BF_SCRIPT_HISTORY] = "history",
};

typedef struct script {
    const bf_embed_file *file;
    const char *src; /* the script, with the library it uses prepended */
    size_t len;
    char sha[41];
} script;

static script scripts[BF_SCRIPT__COUNT];

const bf_embed_file *bf_embed_find(const bf_embed_file *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

/* Resolves the script's source and SHA once. A script file missing from the embedded set (a
 * renamed .lua) aborts the first daemon start, which loads every script, and so fails every
 * integration test. */
static script *get(bf_script_id id)
{
    script *s = &scripts[id];
    if (!s->file) {
        char file[64];
        snprintf(file, sizeof(file), "%s.lua", names[id]);
        s->file = bf_embed_find(bf_lua_files, bf_lua_count, file);
        if (!s->file) {
            fprintf(stderr, "belfry: script %s.lua is not embedded\n", names[id]);
            abort();
        }
        s->src = s->file->data;
        s->len = s->file->len;
        /* "-- uses: a.lib.lua, b.lib.lua" on the first line: the libraries are prepended in
         * that order (Redis scripts cannot include one another). The result lives as long as
         * the process. */
        static const char uses[] = "-- uses: ";
        if (!strncmp(s->src, uses, sizeof(uses) - 1)) {
            const char *p = s->src + sizeof(uses) - 1, *end = p + strcspn(p, "\n");
            const bf_embed_file *libs[8];
            size_t nlibs = 0, total = s->len;
            while (p < end) {
                size_t n = strcspn(p, ",\n");
                char lib[64];
                snprintf(lib, sizeof(lib), "%.*s", (int)n, p);
                const bf_embed_file *l = bf_embed_find(bf_lua_files, bf_lua_count, lib);
                if (!l || nlibs == sizeof(libs) / sizeof(*libs)) {
                    fprintf(stderr, "belfry: %s uses %s, which is not embedded\n", file, lib);
                    abort();
                }
                libs[nlibs++] = l;
                total += l->len;
                p += n;
                while (p < end && (*p == ',' || *p == ' ')) p++;
            }
            char *all = bf_malloc(total + 1), *o = all;
            for (size_t i = 0; i < nlibs; i++) {
                memcpy(o, libs[i]->data, libs[i]->len);
                o += libs[i]->len;
            }
            memcpy(o, s->src, s->len + 1);
            s->src = all;
            s->len = total;
        }
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        EVP_Digest(s->src, s->len, md, &mdlen, EVP_sha1(), NULL);
        for (unsigned i = 0; i < mdlen && i < 20; i++) sprintf(s->sha + 2 * i, "%02x", md[i]);
    }
    return s;
}

const char *bf_script_sha(bf_script_id id)
{
    return get(id)->sha;
}

int bf_scripts_load(bf_redis *r)
{
    for (int i = 0; i < BF_SCRIPT__COUNT; i++) {
        script *s = get((bf_script_id)i);
        int rc = bf_redis_cmd(r, NULL, NULL, "SCRIPT LOAD %b", s->src, s->len);
        if (rc) return rc;
    }
    return 0;
}

int bf_script_call(bf_redis *r, bf_script_id id, redisCallbackFn *cb, void *priv, int nkeys,
                   int argc, const char **argv, const size_t *lens)
{
    const char *sa[64];
    size_t sl[64];
    char nk[16];
    if (argc < 0 || nkeys < 0 || nkeys > argc) return BF_EINVAL;
    /* batches (conns.lua) can be long: the argument vectors move to the heap then */
    bool heap = argc + 3 > 64;
    const char **a = heap ? bf_malloc(sizeof(*a) * (size_t)(argc + 3)) : sa;
    size_t *l = heap ? bf_malloc(sizeof(*l) * (size_t)(argc + 3)) : sl;
    a[0] = "EVALSHA";
    l[0] = 7;
    a[1] = bf_script_sha(id);
    l[1] = 40;
    l[2] = (size_t)snprintf(nk, sizeof(nk), "%d", nkeys);
    a[2] = nk;
    for (int i = 0; i < argc; i++) {
        a[i + 3] = argv[i];
        l[i + 3] = lens ? lens[i] : strlen(argv[i]);
    }
    int rc = bf_redis_cmdargv(r, cb, priv, argc + 3, a, l);
    if (heap) {
        free(a);
        free(l);
    }
    return rc;
}

int bf_heartbeat_send(bf_redis *r, const bf_heartbeat *hb, redisCallbackFn *cb, void *priv)
{
    char kmembers[BF_KEY_MAX], kepoch[BF_KEY_MAX], knode[BF_KEY_MAX], kother[BF_KEY_MAX];
    char ttl[24], pid[24], started[24], addr[300];
    bf_key(kmembers, hb->prefix, hb->router ? BF_KEY_ROUTERS : BF_KEY_GATEWAYS, NULL);
    bf_key(kother, hb->prefix, hb->router ? BF_KEY_GATEWAYS : BF_KEY_ROUTERS, NULL);
    bf_key(kepoch, hb->prefix, BF_KEY_RING_EPOCH, NULL);
    bf_key(knode, hb->prefix, BF_KEY_NODE, hb->node_id);
    snprintf(ttl, sizeof(ttl), "%lld", hb->ttl_ms);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    snprintf(started, sizeof(started), "%llu", (unsigned long long)hb->started_wall_ms);
    snprintf(addr, sizeof(addr), "%s:%d", hb->host, hb->port);
    const char *argv[21] = {kmembers,
                            kepoch,
                            knode,
                            kother,
                            hb->node_id,
                            ttl,
                            hb->router ? "1" : "0",
                            "kind",
                            hb->router ? "router" : "gateway",
                            "address",
                            addr,
                            "pid",
                            pid,
                            "started_ms",
                            started,
                            "version",
                            hb->version};
    int argc = 17;
    if (hb->connections) {
        argv[argc++] = "connections";
        argv[argc++] = hb->connections;
    }
    return bf_script_call(r, BF_SCRIPT_HEARTBEAT, cb, priv, 4, argc, argv, NULL);
}
