/* The publisher's Redis transport: one synchronous hiredis connection, opened on first use and
 * again after any error, PUBLISH {prefix}publish:{channel} body. Writes run with SIGPIPE blocked
 * (and a pending one consumed), so a dead Redis cannot kill the calling process. */
#ifndef BF__REDIS_PUB_H
#define BF__REDIS_PUB_H

#include "redis_url.h"

#include <belfry/publisher.h>

struct redisContext;

typedef struct bf__rpub {
    bf_redis_url url;
    char prefix[65];
    int timeout_ms;
    struct redisContext *rc;
} bf__rpub;

/* Parses url (redis://, with common/redis_url.c: the daemons' own parser) and checks prefix;
 * returns 0 or BF_EINVAL with err. url is borrowed. */
int bf__rpub_init(bf__rpub *r, const char *url, const char *prefix, int timeout_ms, char *err,
                  size_t errlen);
void bf__rpub_deinit(bf__rpub *r);

/* Publishes body to channel and fills res (rc, code, message). Returns res->rc. A PUBLISH that
 * reached no subscriber (no router listening) fails with BF_ENOTFOUND and code "no_router". */
int bf__rpub_publish(bf__rpub *r, const char *channel, const char *body, size_t len,
                     bf_channel_result *res);

#endif
