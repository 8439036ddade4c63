/* URL templates for subscribers and publishers.
 *
 * A template is a URL whose path may contain {channel} and {user}, e.g.
 *   ws://127.0.0.1:8080/ws/{channel}                 (Belfry subscriber)
 *   ws://127.0.0.1:8081/sub?id={channel}             (nchan subscriber)
 *   http://127.0.0.1:8090/broadcast/{channel}        (Belfry HTTP publish)
 *   http://127.0.0.1:8081/pub?id={channel}           (nchan publish)
 *   redis://127.0.0.1:6379/belfry:publish:{channel}  (Redis PUBLISH; the path is the Redis channel)
 * The bench only talks to loopback: a host other than 127.0.0.0/8 or "localhost" is refused, so a
 * typo cannot turn a load test on somebody else's machine. */
#ifndef BB_URL_H
#define BB_URL_H

#include <netinet/in.h>
#include <stddef.h>

typedef enum { BB_URL_WS, BB_URL_HTTP, BB_URL_REDIS } bb_url_scheme;

typedef struct bb_url {
    bb_url_scheme scheme;
    struct sockaddr_in addr; /* resolved IPv4 loopback address and port */
    char host_hdr[96];       /* "127.0.0.1:8080", the Host header */
    char path[1024];         /* path template (for redis: the channel template), "/" if empty */
} bb_url;

/* Parses s into *u. Returns 0, or -1 with a one-line reason in err. */
int bb_url_parse(const char *s, bb_url *u, char *err, size_t errlen);

/* Splits a comma-separated list of URLs. Returns a calloc'd array (caller frees) and its length
 * in *n, or NULL with err filled. */
bb_url *bb_url_parse_list(const char *list, size_t *n, char *err, size_t errlen);

/* Copies tmpl into out (cap bytes, NUL-terminated), replacing {channel}, {user} and {i} by the
 * given strings (NULL: left as is). Returns the length written, or -1 if it did not fit. */
int bb_tmpl_expand(const char *tmpl, char *out, size_t cap, const char *channel, const char *user,
                   const char *i);

#endif
