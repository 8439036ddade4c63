/* Connection limits of one gateway process: its capacity (--max-connections) and the per-IP
 * and per-user counts (--max-connections-per-ip, --max-connections-per-user). The per-IP and
 * per-user counts live here; a limit of 0 is not counted at all. The open connection count
 * (every protocol) is the gateway's and comes through a callback. */
#ifndef BF_CONNLIMITS_H
#define BF_CONNLIMITS_H

#include <stddef.h>
#include <stdint.h>

/* Which connection limit refused an upgrade (belfry_gateway_limit_rejections_total{limit}). */
enum { BF_GW_LIMIT_GATEWAY, BF_GW_LIMIT_IP, BF_GW_LIMIT_USER, BF_GW_LIMIT__COUNT };

typedef struct bf_connlimits bf_connlimits;

/* The gateway's open client connections. */
typedef uint64_t (*bf_connlimits_open_fn)(void *arg);

typedef struct bf_connlimits_opts {
    uint64_t max_connections; /* the effective --max-connections */
    long long per_ip;         /* --max-connections-per-ip; 0: no limit */
    long long per_user;       /* --max-connections-per-user; 0: no limit */
    bf_connlimits_open_fn open;
    void *arg; /* for open */
} bf_connlimits_opts;

/* Never NULL; caller frees with bf_connlimits_free. */
bf_connlimits *bf_connlimits_new(const bf_connlimits_opts *o);
void bf_connlimits_free(bf_connlimits *cl);

/* The HTTP status to refuse an upgrade with (503 gateway full, 429 per-IP or per-user limit),
 * with *code (static) and a message written into msg; or 0 if it may proceed. ip/user may be
 * NULL (borrowed). Counts the refusal. */
unsigned bf_connlimits_check(bf_connlimits *cl, const char *ip, const char *user, const char **code,
                             char *msg, size_t msglen);
/* Counts an accepted connection (+1) or a closed one (-1) against the per-IP/per-user limits
 * (ip and user are copied when counted). */
void bf_connlimits_count(bf_connlimits *cl, const char *ip, const char *user, int delta);

/* Refusals so far, indexed by BF_GW_LIMIT_* (borrowed, valid until bf_connlimits_free). */
const uint64_t *bf_connlimits_rejections(const bf_connlimits *cl);
/* The BF_GW_LIMIT_GATEWAY counter, for the listener's own refusals of sockets beyond the
 * descriptor table (borrowed, valid until bf_connlimits_free). */
uint64_t *bf_connlimits_full_counter(bf_connlimits *cl);

#endif
