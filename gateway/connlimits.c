#include "connlimits.h"
#include "alloc.h"
#include "dict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bf_connlimits {
    bf_connlimits_opts o;
    bf_dict *per_ip, *per_user; /* key -> count (as a pointer-sized integer) */
    uint64_t rejections[BF_GW_LIMIT__COUNT];
};

bf_connlimits *bf_connlimits_new(const bf_connlimits_opts *o)
{
    bf_connlimits *cl = bf_calloc(1, sizeof(*cl));
    cl->o = *o;
    cl->per_ip = bf_dict_new();
    cl->per_user = bf_dict_new();
    return cl;
}

void bf_connlimits_free(bf_connlimits *cl)
{
    if (!cl) return;
    bf_dict_free(cl->per_ip);
    bf_dict_free(cl->per_user);
    free(cl);
}

const uint64_t *bf_connlimits_rejections(const bf_connlimits *cl)
{
    return cl->rejections;
}

uint64_t *bf_connlimits_full_counter(bf_connlimits *cl)
{
    return &cl->rejections[BF_GW_LIMIT_GATEWAY];
}

static size_t dict_count(bf_dict *d, const char *k)
{
    return k ? (size_t)(uintptr_t)bf_dict_get(d, k, strlen(k)) : 0;
}

static void dict_add(bf_dict *d, const char *k, int delta)
{
    if (!k) return;
    size_t n = dict_count(d, k);
    n = delta > 0 ? n + 1 : (n ? n - 1 : 0);
    if (n)
        bf_dict_put(d, k, strlen(k), (void *)(uintptr_t)n);
    else
        bf_dict_del(d, k, strlen(k));
}

unsigned bf_connlimits_check(bf_connlimits *cl, const char *ip, const char *user, const char **code,
                             char *msg, size_t msglen)
{
    uint64_t open = cl->o.open(cl->o.arg);
    if (open >= cl->o.max_connections) {
        cl->rejections[BF_GW_LIMIT_GATEWAY]++;
        *code = "gateway_full";
        snprintf(msg, msglen, "this gateway holds its maximum of %llu connections; try another",
                 (unsigned long long)cl->o.max_connections);
        return 503;
    }
    if (cl->o.per_ip && dict_count(cl->per_ip, ip) >= (size_t)cl->o.per_ip) {
        cl->rejections[BF_GW_LIMIT_IP]++;
        *code = "too_many_connections";
        snprintf(msg, msglen, "too many connections from your address (limit %lld)", cl->o.per_ip);
        return 429;
    }
    if (cl->o.per_user && user && dict_count(cl->per_user, user) >= (size_t)cl->o.per_user) {
        cl->rejections[BF_GW_LIMIT_USER]++;
        *code = "too_many_connections";
        snprintf(msg, msglen, "too many connections for this user (limit %lld)", cl->o.per_user);
        return 429;
    }
    return 0;
}

void bf_connlimits_count(bf_connlimits *cl, const char *ip, const char *user, int delta)
{
    if (cl->o.per_ip) dict_add(cl->per_ip, ip, delta);
    if (cl->o.per_user) dict_add(cl->per_user, user, delta);
}
