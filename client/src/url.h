/* URL parsing for the web addresses the library takes:
 *   ws://HOST[:PORT]/PATH[?QUERY]          subscriber (default port 80)
 *   http://HOST[:PORT][/BASE]              publisher over a router's HTTP API (default port 80)
 * HOST is a name, an IPv4 address or a bracketed IPv6 address. USER and PASSWORD are
 * percent-decoded. Nothing is resolved here. redis:// addresses are not parsed here but by
 * common/redis_url.c, the parser the daemons and belfryctl use, so they mean the same
 * everywhere. */
#ifndef BF__URL_H
#define BF__URL_H

#include <stddef.h>

#define BF__URL_HOST_MAX 256
#define BF__URL_PATH_MAX 4096

typedef struct bf__url {
    char scheme[8]; /* lower case: "ws", "http" */
    char host[BF__URL_HOST_MAX];
    int port;
    char user[128];
    char password[256];
    char path[BF__URL_PATH_MAX]; /* path and query, always starting with "/" */
} bf__url;

/* Parses s into *u. Only the schemes named in `schemes` ("ws", "http|redis", ...) are accepted.
 * Returns 0, or BF_EINVAL with a message in err. */
int bf__url_parse(const char *s, const char *schemes, bf__url *u, char *err, size_t errlen);

/* Percent-decodes src[0..len) into dst (capacity cap). Returns the length or BF_EINVAL. */
int bf__url_decode(const char *src, size_t len, char *dst, size_t cap);

/* Writes "HOST:PORT" (IPv6 in brackets) for a Host header into out; returns 0 or BF_ERANGE. */
int bf__url_hostport(const bf__url *u, char *out, size_t cap);

#endif
