/* Redis addresses: the one parser behind --redis / BELFRY_REDIS_URL in belfry-gateway,
 * belfry-router and belfryctl, and behind libbelfry's redis:// publisher.
 *
 *   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]                        one server (port 6379)
 *   sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]   Sentinel (port 26379)
 *   cluster://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]          Redis Cluster seeds (6379)
 *
 * The scheme is case-insensitive. HOST is a name, an IPv4 address or a bracketed IPv6 address.
 * USER and PASSWORD are percent-decoded (so a password may hold any byte but NUL) and the last
 * '@' ends them (an unencoded '@' in a password works too). With a USER, AUTH gets two arguments
 * (an ACL user); without one, AUTH PASSWORD authenticates Redis' `default` user. In a sentinel://
 * URL the credentials are used for the sentinels and for the primary alike; in a cluster:// URL for
 * every node of the cluster. A cluster has no databases, so a cluster:// URL takes no /DB; its
 * seeds are only where the slot map is first asked for (common/cluster.h). Nothing is resolved
 * here. */
#ifndef BF_REDIS_URL_H
#define BF_REDIS_URL_H

#include <stddef.h>

#define BF_REDIS_SENTINELS_MAX 8
#define BF_REDIS_SEEDS_MAX 16

typedef enum {
    BF_REDIS_URL_SINGLE = 0,
    BF_REDIS_URL_SENTINEL,
    BF_REDIS_URL_CLUSTER
} bf_redis_url_kind;

typedef struct bf_redis_addr {
    char host[256];
    int port;
} bf_redis_addr;

typedef struct bf_redis_url {
    bf_redis_url_kind kind;
    char host[256]; /* SINGLE: the server; SENTINEL: the first sentinel; CLUSTER: the first seed */
    int port;
    char user[128];     /* empty: AUTH PASSWORD (the default user) */
    char password[256]; /* empty: no AUTH */
    int db;
    int nsentinels; /* SENTINEL: sentinels[0..nsentinels) */
    bf_redis_addr sentinels[BF_REDIS_SENTINELS_MAX];
    char master[128]; /* SENTINEL: the monitored primary's name */
    int nseeds;       /* CLUSTER: seeds[0..nseeds) */
    bf_redis_addr seeds[BF_REDIS_SEEDS_MAX];
} bf_redis_url;

/* Parses s into *out. Returns 0, or BF_EINVAL with one line in err naming the problem (never
 * echoing the password). */
int bf_parse_redis_url(const char *s, bf_redis_url *out, char *err, size_t errlen);

/* Writes a description without credentials for logs and errors ("redis 10.0.0.5:6379",
 * "sentinel mymaster via a:26379,b:26379", "cluster via a:6379,b:6379") into out (cap bytes,
 * truncated). Returns out. */
const char *bf_redis_url_describe(const bf_redis_url *u, char *out, size_t cap);

#endif
