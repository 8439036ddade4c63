/* Internals shared by the publisher's files (channels.c, publisher.c, fake.c). */
#ifndef BF__PUB_INTERNAL_H
#define BF__PUB_INTERNAL_H

#include "http.h"
#include "redis_pub.h"

#include <belfry/publisher.h>

typedef enum { BF__T_FAKE, BF__T_HTTP, BF__T_REDIS } bf__transport;

struct bf_publisher {
    bf__transport transport;
    char *headers;               /* HTTP: the fixed header lines (API key, content type); owned */
    char base[BF__URL_PATH_MAX]; /* HTTP: the base path, "" or "/x" (no trailing slash) */
    bf__http http;
    bf__rpub redis;
};

/* 0 if ch is a well-formed channel, else BF_EINVAL with the reason in err. */
int bf__channel_check(const bf_channel *ch, char *err, size_t errlen);
/* 0 if event is an acceptable wire event name, else BF_EINVAL with the reason in err. */
int bf__event_name_check(const char *event, char *err, size_t errlen);

/* A publisher without a transport: it can only record (bf_publisher_fake installs one). */
bf_publisher *bf__publisher_new_fake(void);

/* Appends a recording (strings are copied). Returns 0 or BF_ENOMEM. */
int bf__fake_record(const char *type_name, const char *event, const char *channel,
                    const char *data);

#endif
