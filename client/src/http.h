/* A small blocking HTTP/1.1 client for the publisher: one kept-alive connection per publisher,
 * non-blocking sockets driven by poll() so that every request has a deadline (connect included),
 * MSG_NOSIGNAL on every write. Understands Content-Length, chunked and read-until-close bodies.
 *
 * A request on a reused connection that fails before any byte of the answer arrived (the server
 * closed the idle connection, the classic keep-alive race) is retried once on a new connection;
 * no other request is ever retried, so a publish is never sent twice because of this layer. */
#ifndef BF__HTTP_H
#define BF__HTTP_H

#include "url.h"

#include <stddef.h>

typedef struct bf__http {
    char host[BF__URL_HOST_MAX];
    int port;
    char hostport[BF__URL_HOST_MAX + 16]; /* for the Host header */
    int fd;                               /* -1 when not connected */
    int timeout_ms;
    unsigned long long requests; /* sent on the current connection (0: fresh) */
    unsigned long long connects; /* connections opened so far (tests look at keep-alive) */
    int connect_failed;          /* the last request failed while connecting */
} bf__http;

typedef struct bf__http_resp {
    int status;
    char *body; /* malloc'd, NUL-terminated; owned by the response */
    size_t body_len;
} bf__http_resp;

/* Prepares h for u's host and port (nothing is connected yet). */
void bf__http_init(bf__http *h, const bf__url *u, int timeout_ms);
void bf__http_deinit(bf__http *h);

/* Sends method target (path and query) with the extra header block (each line "Name: v\r\n", may
 * be NULL) and body. Returns 0 with the answer in *r (whatever its status; caller deinits), or
 * BF_EIO / BF_ETIMEDOUT / BF_EPROTO / BF_ENOMEM with a message in err and *r empty. */
int bf__http_request(bf__http *h, const char *method, const char *target, const char *headers,
                     const char *body, size_t len, bf__http_resp *r, char *err, size_t errlen);
void bf__http_resp_deinit(bf__http_resp *r);

/* Finds header `name` (case-insensitive) in the header block [hdr, end); returns its value,
 * trimmed and not terminated (borrowed from the block), with its length in *vlen, or NULL. */
const char *bf__http_header(const char *hdr, const char *end, const char *name, size_t *vlen);
/* True if the header value v[0..vlen) contains tok, case-insensitively. */
int bf__http_has_token(const char *v, size_t vlen, const char *tok);

#endif
