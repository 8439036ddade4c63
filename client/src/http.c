#include "http.h"

#include "err.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESPONSE (1024 * 1024)

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline. Returns 1 when ready, 0 on timeout, -1 on error. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0) return 1;
        if (n == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

void bf__http_init(bf__http *h, const bf__url *u, int timeout_ms)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->host, sizeof(h->host), "%s", u->host);
    h->port = u->port;
    bf__url_hostport(u, h->hostport, sizeof(h->hostport));
    h->fd = -1;
    h->timeout_ms = timeout_ms;
}

static void disconnect(bf__http *h)
{
    if (h->fd >= 0) close(h->fd);
    h->fd = -1;
    h->requests = 0;
}

void bf__http_deinit(bf__http *h)
{
    disconnect(h);
}

void bf__http_resp_deinit(bf__http_resp *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static int connect_to(bf__http *h, long long deadline, char *err, size_t errlen)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", h->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(h->host, port, &hints, &res);
    if (g) {
        snprintf(err, errlen, "cannot resolve %s: %s", h->host, gai_strerror(g));
        return g == EAI_MEMORY ? BF_ENOMEM : BF_EIO;
    }
    int rc = BF_EIO, last = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
            int w = wait_fd(fd, POLLOUT, deadline);
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (w == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && !soerr) {
                h->fd = fd;
                h->requests = 0;
                h->connects++;
                rc = 0;
                break;
            }
            if (w == 0) {
                close(fd);
                rc = BF_ETIMEDOUT;
                snprintf(err, errlen, "connect to %s timed out", h->hostport);
                break;
            }
            last = soerr ? soerr : errno;
        } else {
            last = errno;
        }
        close(fd);
    }
    freeaddrinfo(res);
    if (rc == BF_EIO) snprintf(err, errlen, "connect to %s: %s", h->hostport, strerror(last));
    return rc;
}

/* True if an idle kept-alive connection was closed (or sent something) since its last answer. */
static int stale(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    return poll(&p, 1, 0) != 0;
}

static int send_all(bf__http *h, const char *p, size_t n, long long deadline, char *err,
                    size_t errlen)
{
    while (n) {
        ssize_t w = send(h->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = wait_fd(h->fd, POLLOUT, deadline);
            if (r == 1) continue;
            snprintf(err, errlen, "sending to %s %s", h->hostport,
                     r == 0 ? "timed out" : strerror(errno));
            return r == 0 ? BF_ETIMEDOUT : BF_EIO;
        }
        snprintf(err, errlen, "sending to %s: %s", h->hostport, strerror(errno));
        return BF_EIO;
    }
    return 0;
}

/* ---- response parsing -------------------------------------------------------------------- */

typedef struct rbuf {
    char *p;
    size_t len, cap;
} rbuf;

const char *bf__http_header(const char *hdr, const char *end, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (const char *line = hdr; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) eol = end;
        if ((size_t)(eol - line) > nl && !strncasecmp(line, name, nl) && line[nl] == ':') {
            const char *v = line + nl + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        line = eol + 1;
    }
    return NULL;
}

int bf__http_has_token(const char *v, size_t vlen, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= vlen; i++)
        if (!strncasecmp(v + i, tok, tl)) return 1;
    return 0;
}

/* Decodes a chunked body in [p, p+len). Returns 1 when complete (body in *out, malloc'd), 0 when
 * more bytes are needed, BF_EPROTO when malformed, BF_ENOMEM. */
static int dechunk(const char *p, size_t len, char **out, size_t *outlen)
{
    size_t pos = 0, n = 0;
    char *body = malloc(len + 1);
    if (!body) return BF_ENOMEM;
    for (;;) {
        const char *eol = memchr(p + pos, '\n', len - pos);
        if (!eol) break;
        char *end;
        unsigned long sz = strtoul(p + pos, &end, 16);
        if (end == p + pos) {
            free(body);
            return BF_EPROTO;
        }
        pos = (size_t)(eol - p) + 1;
        if (sz == 0) {
            /* trailers, then an empty line */
            for (;;) {
                const char *e2 = memchr(p + pos, '\n', len - pos);
                if (!e2) goto more;
                size_t l = (size_t)(e2 - (p + pos));
                pos = (size_t)(e2 - p) + 1;
                if (l == 0 || (l == 1 && p[pos - 2] == '\r')) {
                    body[n] = '\0';
                    *out = body;
                    *outlen = n;
                    return 1;
                }
            }
        }
        if (sz > len || pos + sz + 2 > len) break;
        memcpy(body + n, p + pos, sz);
        n += sz;
        pos += sz;
        if (p[pos] == '\r') pos++;
        if (p[pos] != '\n') {
            free(body);
            return BF_EPROTO;
        }
        pos++;
    }
more:
    free(body);
    return 0;
}

/* Reads one answer. *got_any tells the caller whether any byte arrived (for the keep-alive retry).
 * Sets *keep to whether the connection may be reused. */
static int read_response(bf__http *h, const char *method, bf__http_resp *r, int *got_any, int *keep,
                         long long deadline, char *err, size_t errlen)
{
    rbuf b = {0};
    int rc = 0;
    size_t hdr_end = 0;
    int status = 0, chunked = 0, eof = 0;
    long long clen = -1;
    *got_any = 0;
    *keep = 1;
    for (;;) {
        /* is the answer complete? */
        if (!hdr_end && b.len) {
            char *e = memmem(b.p, b.len, "\r\n\r\n", 4);
            if (e) {
                hdr_end = (size_t)(e - b.p) + 4;
                int minor = 0;
                if (sscanf(b.p, "HTTP/1.%d %d", &minor, &status) != 2 || status < 100 ||
                    status > 999) {
                    snprintf(err, errlen, "%s answered something that is not HTTP/1.x",
                             h->hostport);
                    rc = BF_EPROTO;
                    goto out;
                }
                size_t vl;
                const char *v;
                if ((v = bf__http_header(b.p, b.p + hdr_end, "Transfer-Encoding", &vl)) &&
                    bf__http_has_token(v, vl, "chunked"))
                    chunked = 1;
                else if ((v = bf__http_header(b.p, b.p + hdr_end, "Content-Length", &vl)))
                    clen = strtoll(v, NULL, 10);
                v = bf__http_header(b.p, b.p + hdr_end, "Connection", &vl);
                if (v ? bf__http_has_token(v, vl, "close") : minor == 0) *keep = 0;
                if (status == 204 || status == 304 || status < 200 || !strcmp(method, "HEAD"))
                    clen = 0;
            }
        }
        if (hdr_end) {
            size_t have = b.len - hdr_end;
            if (chunked) {
                char *body;
                size_t bl;
                int d = dechunk(b.p + hdr_end, have, &body, &bl);
                if (d < 0) {
                    rc = d;
                    snprintf(err, errlen, "%s sent a malformed chunked body", h->hostport);
                    goto out;
                }
                if (d == 1) {
                    r->body = body;
                    r->body_len = bl;
                    break;
                }
            } else if (clen >= 0 ? have >= (size_t)clen : eof) {
                size_t bl = clen >= 0 ? (size_t)clen : have;
                r->body = malloc(bl + 1);
                if (!r->body) {
                    rc = BF_ENOMEM;
                    snprintf(err, errlen, "out of memory");
                    goto out;
                }
                memcpy(r->body, b.p + hdr_end, bl);
                r->body[bl] = '\0';
                r->body_len = bl;
                if (clen < 0) *keep = 0;
                break;
            }
        }
        if (eof) {
            snprintf(err, errlen, "%s closed the connection %s", h->hostport,
                     b.len ? "in the middle of its answer" : "without answering");
            rc = BF_EIO;
            goto out;
        }
        if (b.len == b.cap) {
            if (b.cap >= MAX_RESPONSE) {
                snprintf(err, errlen, "%s sent an answer larger than %d bytes", h->hostport,
                         MAX_RESPONSE);
                rc = BF_EPROTO;
                goto out;
            }
            size_t ncap = b.cap ? b.cap * 2 : 4096;
            char *np = realloc(b.p, ncap);
            if (!np) {
                rc = BF_ENOMEM;
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            b.p = np;
            b.cap = ncap;
        }
        ssize_t n = recv(h->fd, b.p + b.len, b.cap - b.len, 0);
        if (n > 0) {
            b.len += (size_t)n;
            *got_any = 1;
        } else if (n == 0) {
            eof = 1;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = wait_fd(h->fd, POLLIN, deadline);
            if (w != 1) {
                rc = w == 0 ? BF_ETIMEDOUT : BF_EIO;
                snprintf(err, errlen, "waiting for %s's answer %s", h->hostport,
                         w == 0 ? "timed out" : strerror(errno));
                goto out;
            }
        } else if (errno != EINTR) {
            if (!b.len && (errno == ECONNRESET || errno == EPIPE)) {
                eof = 1; /* treated like a close before the answer */
                continue;
            }
            rc = BF_EIO;
            snprintf(err, errlen, "reading from %s: %s", h->hostport, strerror(errno));
            goto out;
        }
    }
    r->status = status;
out:
    free(b.p);
    if (rc) *keep = 0;
    return rc;
}

int bf__http_request(bf__http *h, const char *method, const char *target, const char *headers,
                     const char *body, size_t len, bf__http_resp *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    long long deadline = now_ms() + h->timeout_ms;
    char *req = NULL;
    size_t reqlen = 0;
    FILE *f = open_memstream(&req, &reqlen);
    if (!f) goto nomem;
    fprintf(f,
            "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: libbelfry/" BELFRY_VERSION
            "\r\nContent-Length: %zu\r\n%s\r\n",
            method, target, h->hostport, len, headers ? headers : "");
    if (len) fwrite(body, 1, len, f);
    if (fclose(f) || !req) goto nomem;

    int rc = 0;
    h->connect_failed = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (h->fd >= 0 && stale(h->fd)) disconnect(h);
        if (h->fd < 0 && (rc = connect_to(h, deadline, err, errlen))) {
            h->connect_failed = 1;
            break;
        }
        int reused = h->requests > 0, got_any = 0, keep = 0;
        h->requests++;
        rc = send_all(h, req, reqlen, deadline, err, errlen);
        if (rc == 0) rc = read_response(h, method, r, &got_any, &keep, deadline, err, errlen);
        if (!keep) disconnect(h);
        if (rc == 0 || !reused || got_any || rc == BF_ETIMEDOUT || rc == BF_ENOMEM) break;
        bf__http_resp_deinit(r); /* a stale kept-alive connection: once more on a fresh one */
    }
    free(req);
    return rc;
nomem:
    free(req);
    snprintf(err, errlen, "out of memory");
    return BF_ENOMEM;
}
