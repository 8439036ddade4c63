#include "ws_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct bf_ws {
    int fd;
    int raw;
    unsigned char *buf; /* bytes received but not yet consumed */
    size_t len, cap;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len) {
        ssize_t n = send(fd, c, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads more bytes into w->buf; returns >0 bytes, 0 on EOF, -1 on timeout/error. */
static int fill(bf_ws *w, long long deadline)
{
    long long left = deadline - now_ms();
    if (left < 0) left = 0;
    struct pollfd p = {w->fd, POLLIN, 0};
    int pr = poll(&p, 1, (int)left);
    if (pr <= 0) return -1;
    if (w->len + 65536 > w->cap) {
        w->cap = (w->len + 65536) * 2;
        w->buf = realloc(w->buf, w->cap);
    }
    ssize_t n = recv(w->fd, w->buf + w->len, w->cap - w->len, 0);
    if (n < 0) return errno == EINTR ? 1 : -2;
    w->len += (size_t)n;
    return (int)n;
}

static void consume(bf_ws *w, size_t n)
{
    memmove(w->buf, w->buf + n, w->len - n);
    w->len -= n;
}

bf_ws *bf_ws_connect(int port, const char *path, const char *extra_headers, int *status,
                     char **body, int timeout_ms)
{
    *status = 0;
    if (body) *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        close(fd);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char req[4096];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     path, port, extra_headers ? extra_headers : "");
    bf_ws *w = calloc(1, sizeof(*w));
    w->fd = fd;
    if (send_all(fd, req, (size_t)n)) goto fail;
    long long deadline = now_ms() + timeout_ms;
    char *eoh = NULL;
    while (!eoh) {
        if (fill(w, deadline) <= 0) goto fail;
        w->buf[w->len < w->cap ? w->len : w->cap - 1] = '\0';
        eoh = strstr((char *)w->buf, "\r\n\r\n");
    }
    *status = atoi((char *)w->buf + 9);
    size_t hlen = (size_t)(eoh + 4 - (char *)w->buf);
    if (*status == 101) {
        consume(w, hlen);
        return w;
    }
    /* refused: collect the body (Content-Length or until close) */
    const char *cl = strcasestr((char *)w->buf, "\r\ncontent-length:");
    size_t want = cl && cl < eoh ? (size_t)strtoul(cl + 17, NULL, 10) : (size_t)-1;
    while (w->len - hlen < want) {
        if (fill(w, deadline) <= 0) break;
    }
    if (body) {
        size_t bl = w->len - hlen;
        if (want != (size_t)-1 && bl > want) bl = want;
        *body = malloc(bl + 1);
        memcpy(*body, w->buf + hlen, bl);
        (*body)[bl] = '\0';
    }
fail:
    close(fd);
    free(w->buf);
    free(w);
    return NULL;
}

int bf_ws_send_frame(bf_ws *w, int fin, int opcode, const void *p, size_t len, int mask)
{
    unsigned char hdr[14];
    size_t h = 0;
    hdr[h++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
    unsigned char mbit = mask ? 0x80 : 0;
    if (len < 126) {
        hdr[h++] = (unsigned char)(mbit | len);
    } else if (len < 65536) {
        hdr[h++] = mbit | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = mbit | 127;
        for (int i = 7; i >= 0; i--) hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
    if (mask) {
        memcpy(hdr + h, key, 4);
        h += 4;
    }
    unsigned char *f = malloc(h + len + 1);
    memcpy(f, hdr, h);
    for (size_t i = 0; i < len; i++)
        f[h + i] = ((const unsigned char *)p)[i] ^ (mask ? key[i & 3] : 0);
    int rc = send_all(w->fd, f, h + len);
    free(f);
    return rc;
}

int bf_ws_send_text(bf_ws *w, const char *s, size_t len)
{
    return bf_ws_send_frame(w, 1, 1, s, len, 1);
}

int bf_ws_send_raw(bf_ws *w, const void *p, size_t len)
{
    return send_all(w->fd, p, len);
}

void bf_ws_set_raw(bf_ws *w, int raw)
{
    w->raw = raw;
}

int bf_ws_fd(const bf_ws *w)
{
    return w->fd;
}

void bf_ws_msg_free(bf_ws_msg *m)
{
    free(m->data);
    m->data = NULL;
}

/* Parses one complete frame at the head of the buffer. Returns 1 and fills the out params, 0 if
 * more bytes are needed. */
static int parse_frame(bf_ws *w, int *fin, int *op, unsigned char **payload, size_t *plen,
                       size_t *total)
{
    if (w->len < 2) return 0;
    unsigned char *b = w->buf;
    *fin = b[0] >> 7;
    *op = b[0] & 0x0f;
    int masked = b[1] >> 7;
    uint64_t len = b[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
        if (w->len < 4) return 0;
        len = ((uint64_t)b[2] << 8) | b[3];
        h = 4;
    } else if (len == 127) {
        if (w->len < 10) return 0;
        len = 0;
        for (int i = 0; i < 8; i++) len = (len << 8) | b[2 + i];
        h = 10;
    }
    if (masked) h += 4;
    if (w->len < h + len) return 0;
    *payload = b + h;
    *plen = (size_t)len;
    *total = h + (size_t)len;
    return 1;
}

int bf_ws_recv(bf_ws *w, bf_ws_msg *m, int timeout_ms)
{
    memset(m, 0, sizeof(*m));
    long long deadline = now_ms() + timeout_ms;
    char *acc = NULL;
    size_t acclen = 0;
    int accop = 0;
    for (;;) {
        int fin, op;
        unsigned char *p;
        size_t plen, total;
        while (!parse_frame(w, &fin, &op, &p, &plen, &total)) {
            int r = fill(w, deadline);
            if (r == 0 || r == -2) {
                free(acc);
                return -2;
            }
            if (r < 0) {
                free(acc);
                return -1;
            }
        }
        if (op == 9 && !w->raw) { /* ping: answer and go on */
            bf_ws_send_frame(w, 1, 10, p, plen, 1);
            consume(w, total);
            continue;
        }
        if (op >= 8) {
            m->opcode = op;
            m->data = malloc(plen + 1);
            memcpy(m->data, p, plen);
            m->data[plen] = '\0';
            m->len = plen;
            if (op == 8) {
                m->close_code = plen >= 2 ? (p[0] << 8 | p[1]) : 1005;
                if (plen >= 2) {
                    memmove(m->data, m->data + 2, plen - 2);
                    m->len = plen - 2;
                    m->data[m->len] = '\0';
                }
            }
            consume(w, total);
            free(acc);
            return 0;
        }
        if (op != 0) accop = op;
        acc = realloc(acc, acclen + plen + 1);
        memcpy(acc + acclen, p, plen);
        acclen += plen;
        consume(w, total);
        if (fin) {
            acc[acclen] = '\0';
            m->opcode = accop;
            m->data = acc;
            m->len = acclen;
            return 0;
        }
    }
}

int bf_ws_recv_event(bf_ws *w, const char *event, bf_ws_msg *m, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) return -1;
        if (bf_ws_recv(w, m, (int)left)) return -1;
        if (m->opcode == 8) {
            bf_ws_msg_free(m);
            return -1;
        }
        if (m->opcode != 1) {
            bf_ws_msg_free(m);
            continue;
        }
        if (!event) return 0;
        json_t *j = json_loads(m->data, 0, NULL);
        const char *ev = j ? json_string_value(json_object_get(j, "event")) : NULL;
        int match = ev && !strcmp(ev, event);
        json_decref(j);
        if (match) return 0;
        bf_ws_msg_free(m);
    }
}

void bf_ws_close(bf_ws *w)
{
    if (!w) return;
    unsigned char code[2] = {0x03, 0xe8};
    bf_ws_send_frame(w, 1, 8, code, 2, 1);
    bf_ws_msg m;
    for (int i = 0; i < 50; i++) { /* drain until the server's close (or 1 s) */
        int r = bf_ws_recv(w, &m, 20);
        if (r == -2) break;
        if (r == 0) {
            int op = m.opcode;
            bf_ws_msg_free(&m);
            if (op == 8) break;
        }
    }
    close(w->fd);
    free(w->buf);
    free(w);
}

void bf_ws_abort(bf_ws *w)
{
    if (!w) return;
    struct linger l = {1, 0};
    setsockopt(w->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(w->fd);
    free(w->buf);
    free(w);
}
