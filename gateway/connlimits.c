#include "connlimits.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

unsigned bf_connlimits_check(bf_gateway *gw, const char *ip, const char *user, const char **code,
                             char *msg, size_t msglen)
{
    uint64_t open = bf_gw_open_connections(gw);
    if (open >= gw->max_connections) {
        gw->stats.limit_rejections[BF_GW_LIMIT_GATEWAY]++;
        *code = "gateway_full";
        snprintf(msg, msglen, "this gateway holds its maximum of %llu connections; try another",
                 (unsigned long long)gw->max_connections);
        return 503;
    }
    if (gw->cfg.max_connections_per_ip &&
        dict_count(gw->per_ip, ip) >= (size_t)gw->cfg.max_connections_per_ip) {
        gw->stats.limit_rejections[BF_GW_LIMIT_IP]++;
        *code = "too_many_connections";
        snprintf(msg, msglen, "too many connections from your address (limit %lld)",
                 gw->cfg.max_connections_per_ip);
        return 429;
    }
    if (gw->cfg.max_connections_per_user && user &&
        dict_count(gw->per_user, user) >= (size_t)gw->cfg.max_connections_per_user) {
        gw->stats.limit_rejections[BF_GW_LIMIT_USER]++;
        *code = "too_many_connections";
        snprintf(msg, msglen, "too many connections for this user (limit %lld)",
                 gw->cfg.max_connections_per_user);
        return 429;
    }
    return 0;
}

void bf_connlimits_count(bf_gateway *gw, const char *ip, const char *user, int delta)
{
    if (gw->cfg.max_connections_per_ip) dict_add(gw->per_ip, ip, delta);
    if (gw->cfg.max_connections_per_user) dict_add(gw->per_user, user, delta);
}
