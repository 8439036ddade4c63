#include "scripts.h"
#include "alloc.h"
#include "err.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char bf_embed_publish[], bf_embed_heartbeat[], bf_embed_leave[],
    bf_embed_presence_join[], bf_embed_presence_leave[], bf_embed_conns[], bf_embed_channel_info[];
extern const size_t bf_embed_publish_len, bf_embed_heartbeat_len, bf_embed_leave_len,
    bf_embed_presence_join_len, bf_embed_presence_leave_len, bf_embed_conns_len,
    bf_embed_channel_info_len;

typedef struct script {
    const char *src;
    const size_t *len;
    char sha[41];
} script;

static script scripts[BF_SCRIPT__COUNT] = {
    [BF_SCRIPT_PUBLISH] = {bf_embed_publish, &bf_embed_publish_len, ""},
    [BF_SCRIPT_HEARTBEAT] = {bf_embed_heartbeat, &bf_embed_heartbeat_len, ""},
    [BF_SCRIPT_LEAVE] = {bf_embed_leave, &bf_embed_leave_len, ""},
    [BF_SCRIPT_PRESENCE_JOIN] = {bf_embed_presence_join, &bf_embed_presence_join_len, ""},
    [BF_SCRIPT_PRESENCE_LEAVE] = {bf_embed_presence_leave, &bf_embed_presence_leave_len, ""},
    [BF_SCRIPT_CONNS] = {bf_embed_conns, &bf_embed_conns_len, ""},
    [BF_SCRIPT_CHANNEL_INFO] = {bf_embed_channel_info, &bf_embed_channel_info_len, ""},
};

const char *bf_script_sha(bf_script_id id)
{
    script *s = &scripts[id];
    if (!s->sha[0]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        EVP_Digest(s->src, *s->len, md, &mdlen, EVP_sha1(), NULL);
        for (unsigned i = 0; i < mdlen && i < 20; i++) sprintf(s->sha + 2 * i, "%02x", md[i]);
    }
    return s->sha;
}

int bf_scripts_load(bf_redis *r)
{
    for (int i = 0; i < BF_SCRIPT__COUNT; i++) {
        bf_script_sha((bf_script_id)i);
        int rc = bf_redis_cmd(r, NULL, NULL, "SCRIPT LOAD %b", scripts[i].src, *scripts[i].len);
        if (rc) return rc;
    }
    return 0;
}

int bf_script_call(bf_redis *r, bf_script_id id, redisCallbackFn *cb, void *priv, int nkeys,
                   int argc, const char **argv, const size_t *lens)
{
    const char *a[64];
    size_t l[64];
    char nk[16];
    if (argc + 3 > 64) return BF_EINVAL;
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
    return bf_redis_cmdargv(r, cb, priv, argc + 3, a, l);
}
