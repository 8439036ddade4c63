/* The wire side of bf_client: resolving, TCP over libuv, the opening handshake, reading and
 * reassembling frames, answering pings and closes, and writing masked frames. */
#include "client_internal.h"

#include "err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UPGRADE_MAX 16384      /* bytes of the upgrade answer's header block */
#define REFUSAL_BODY_MAX 65536 /* bytes of a refused upgrade's body we wait for */
#define READ_CHUNK 65536       /* free space offered to each read */
#define KEEP_RBUF (256 * 1024) /* a larger read buffer is released after an attempt */

typedef struct wreq {
    uv_write_t req;
    uv_buf_t buf;
} wreq;

static void conn_closed(uv_handle_t *h)
{
    free(h->data);
}

void bf__io_detach(bf_client *c)
{
    if (c->gai) {
        c->gai->data = NULL; /* its callback frees it */
        uv_cancel((uv_req_t *)c->gai);
        c->gai = NULL;
    }
    if (c->conn) {
        bf__conn *k = c->conn;
        c->conn = NULL;
        k->c = NULL;
        uv_close((uv_handle_t *)&k->tcp, conn_closed);
    }
    c->rlen = 0;
    c->msg_len = 0;
    c->msg_opcode = 0;
    if (c->rcap > KEEP_RBUF) {
        free(c->rbuf);
        c->rbuf = NULL;
        c->rcap = 0;
    }
    if (c->msg_cap > KEEP_RBUF) {
        free(c->msg);
        c->msg = NULL;
        c->msg_cap = 0;
    }
}

size_t bf__io_queued(const bf_client *c)
{
    return c->conn ? uv_stream_get_write_queue_size((const uv_stream_t *)&c->conn->tcp) : 0;
}

/* ---- writing ----------------------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    bf__conn *k = req->data;
    free(req);
    bf_client *c = k->c;
    if (!c || status >= 0) return;
    bf__client_enter(c);
    char why[128];
    snprintf(why, sizeof(why), "write failed: %s", uv_strerror(status));
    bf__client_ended(c, BF__WS_ABNORMAL, why);
    bf__client_leave(c);
}

/* Queues mem (a wreq followed by len bytes); takes ownership of mem. */
static int queue(bf_client *c, void *mem, size_t len)
{
    wreq *w = mem;
    w->buf = uv_buf_init((char *)mem + sizeof(wreq), (unsigned)len);
    w->req.data = c->conn;
    int r = uv_write(&w->req, (uv_stream_t *)&c->conn->tcp, &w->buf, 1, on_written);
    if (r) {
        free(mem);
        bf__client_log(c, "uv_write: %s", uv_strerror(r));
        return BF_EIO;
    }
    return 0;
}

int bf__io_send(bf_client *c, int opcode, const void *payload, size_t len)
{
    if (!c->conn || c->close_sent || c->state < BF__ST_OPEN) return BF_EDISCONNECTED;
    size_t flen;
    uint8_t *mem = bf__ws_encode(opcode, payload, len, sizeof(wreq), &flen);
    if (!mem) return BF_ENOMEM;
    return queue(c, mem, flen);
}

void bf__io_send_close(bf_client *c, int code, const char *reason)
{
    if (!c->conn || c->close_sent) return;
    uint8_t p[125];
    size_t n = 0;
    if (code) {
        p[0] = (uint8_t)(code >> 8);
        p[1] = (uint8_t)code;
        n = 2;
        size_t rl = reason ? strlen(reason) : 0;
        if (rl > sizeof(p) - 2) rl = sizeof(p) - 2;
        memcpy(p + 2, reason, rl);
        n += rl;
    }
    if (bf__io_send(c, BF__WS_CLOSE, p, n) == 0) {
        c->close_sent = true;
        if (!c->close_received) c->close_code = code ? code : BF__WS_NO_STATUS;
    }
}

/* ---- the opening handshake --------------------------------------------------------------- */

static int send_upgrade(bf_client *c)
{
    char hostport[BF__URL_HOST_MAX + 16];
    if (bf__ws_make_key(c->key) || bf__url_hostport(&c->target, hostport, sizeof(hostport)))
        return BF_EIO;
    const char *fmt = "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                      "User-Agent: libbelfry/" BELFRY_VERSION "\r\n\r\n";
    int n = snprintf(NULL, 0, fmt, c->target.path, hostport, c->key);
    char *mem = malloc(sizeof(wreq) + (size_t)n + 1);
    if (!mem) return BF_ENOMEM;
    snprintf(mem + sizeof(wreq), (size_t)n + 1, fmt, c->target.path, hostport, c->key);
    return queue(c, mem, (size_t)n);
}

/* The upgrade was refused: report the status with the server's {"error":{code,message}}. */
static void refused(bf_client *c)
{
    size_t have = c->rlen - c->upgrade_hdr_len;
    if (c->refused_body_len >= 0 && (size_t)c->refused_body_len < have)
        have = (size_t)c->refused_body_len;
    json_t *j = json_loadb((const char *)c->rbuf + c->upgrade_hdr_len, have, 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    char why[BF_ERR_LEN];
    if (msg)
        snprintf(why, sizeof(why), "%s: %s", code ? code : "error", msg);
    else
        snprintf(why, sizeof(why), "the server refused the upgrade with HTTP %d",
                 c->refused_status);
    json_decref(j);
    bf__client_ended(c, c->refused_status, why);
}

/* Consumes the upgrade answer. Returns true when the connection is now open (frames may follow in
 * the buffer), false when more bytes are needed or the attempt ended. */
static bool upgrade_input(bf_client *c)
{
    if (!c->upgrade_hdr_len) {
        uint8_t *e = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
        if (!e) {
            if (c->rlen > UPGRADE_MAX)
                bf__client_ended(c, BF__WS_ABNORMAL, "the upgrade answer's headers are too large");
            return false;
        }
        size_t hlen = (size_t)(e - c->rbuf) + 4;
        char err[BF_ERR_LEN];
        int status;
        long long clen;
        if (bf__ws_check_upgrade((const char *)c->rbuf, hlen, c->key, &status, &clen, err,
                                 sizeof(err)) == 0) {
            c->rlen -= hlen;
            memmove(c->rbuf, c->rbuf + hlen, c->rlen);
            bf__client_opened(c);
            return true;
        }
        if (status < 200 || status == 101) {
            bf__client_ended(c, BF__WS_ABNORMAL, err);
            return false;
        }
        c->upgrade_hdr_len = hlen;
        c->refused_status = status;
        c->refused_body_len = clen;
    }
    size_t have = c->rlen - c->upgrade_hdr_len;
    if ((c->refused_body_len >= 0 && have >= (size_t)c->refused_body_len) ||
        have >= REFUSAL_BODY_MAX || c->refused_body_len > REFUSAL_BODY_MAX)
        refused(c);
    return false;
}

/* ---- frames ------------------------------------------------------------------------------ */

/* Fails the connection because the server broke the protocol (RFC 6455 7.1.7). */
static void protocol_fail(bf_client *c, int code, const char *why)
{
    bf__io_send_close(c, code, why);
    bf__client_ended(c, code, why);
}

static int msg_reserve(bf_client *c, size_t need)
{
    if (need <= c->msg_cap) return 0;
    size_t ncap = c->msg_cap ? c->msg_cap : 1024;
    while (ncap < need) ncap *= 2;
    char *n = realloc(c->msg, ncap);
    if (!n) return BF_ENOMEM;
    c->msg = n;
    c->msg_cap = ncap;
    return 0;
}

/* A whole message: c->msg[0..len), NUL-terminated. */
static void message(bf_client *c, int opcode, size_t len)
{
    if (opcode == BF__WS_BINARY) {
        protocol_fail(c, BF__WS_UNSUPPORTED, "binary messages are not supported");
    } else if (!bf__ws_utf8_valid((const uint8_t *)c->msg, len)) {
        protocol_fail(c, BF__WS_BAD_DATA, "text message is not valid UTF-8");
    } else if (c->state == BF__ST_OPEN) {
        bf__client_text(c, c->msg, len);
    }
}

static void on_close_frame(bf_client *c, const uint8_t *p, size_t len)
{
    int code = BF__WS_NO_STATUS;
    if (len == 1) {
        protocol_fail(c, BF__WS_PROTOCOL_ERROR, "close frame with a 1-byte payload");
        return;
    }
    if (len >= 2) {
        code = p[0] << 8 | p[1];
        bool ok = (code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006) ||
                  (code >= 3000 && code <= 4999);
        if (!ok || !bf__ws_utf8_valid(p + 2, len - 2)) {
            protocol_fail(c, BF__WS_PROTOCOL_ERROR, "invalid close frame");
            return;
        }
    }
    c->close_received = true;
    c->close_code = code;
    size_t rl = len > 2 ? len - 2 : 0;
    if (rl >= sizeof(c->close_reason)) rl = sizeof(c->close_reason) - 1;
    memcpy(c->close_reason, p + 2 * (len >= 2), rl);
    c->close_reason[rl] = '\0';
    /* echo it, then wait for the server to close the TCP connection (it goes first) */
    bf__io_send_close(c, code == BF__WS_NO_STATUS ? 0 : code, "");
    if (c->state != BF__ST_CLOSING) bf__client_set_state(c, BF__ST_CLOSING);
}

static void on_frame(bf_client *c, const bf__ws_frame *f)
{
    size_t len = (size_t)f->len;
    switch (f->opcode) {
    case BF__WS_PING:
        bf__io_send(c, BF__WS_PONG, f->payload, len);
        return;
    case BF__WS_PONG:
        return; /* any frame counts as life (last_rx_ms) */
    case BF__WS_CLOSE:
        on_close_frame(c, f->payload, len);
        return;
    case BF__WS_CONT:
        if (!c->msg_opcode) {
            protocol_fail(c, BF__WS_PROTOCOL_ERROR, "continuation frame without a message");
            return;
        }
        break;
    default: /* text, binary */
        if (c->msg_opcode) {
            protocol_fail(c, BF__WS_PROTOCOL_ERROR, "new message inside a fragmented one");
            return;
        }
        c->msg_opcode = f->opcode;
        c->msg_len = 0;
    }
    if (c->msg_len + len > c->o.max_message_bytes) {
        protocol_fail(c, BF__WS_TOO_BIG, "message too big");
        return;
    }
    if (msg_reserve(c, c->msg_len + len + 1)) {
        protocol_fail(c, BF__WS_TOO_BIG, "out of memory for a message");
        return;
    }
    memcpy(c->msg + c->msg_len, f->payload, len);
    c->msg_len += len;
    c->msg[c->msg_len] = '\0';
    if (f->fin) {
        int op = c->msg_opcode;
        c->msg_opcode = 0;
        message(c, op, c->msg_len);
    }
}

/* Consumes what is in c->rbuf for connection k, stopping if the attempt ends or c is freed. */
static void process(bf_client *c, bf__conn *k)
{
    if (c->state == BF__ST_UPGRADING && !upgrade_input(c)) return;
    size_t off = 0;
    while (c->conn == k && !c->freeing && (c->state == BF__ST_OPEN || c->state == BF__ST_CLOSING)) {
        bf__ws_frame f;
        int r = bf__ws_parse(c->rbuf + off, c->rlen - off, c->o.max_message_bytes, &f);
        if (r == 0) break;
        if (r < 0) {
            protocol_fail(c, -r, r == -BF__WS_TOO_BIG ? "message too big" : "protocol error");
            return;
        }
        off += f.frame_len;
        c->last_rx_ms = uv_now(c->loop);
        c->ping_out = false;
        on_frame(c, &f);
    }
    if (c->conn == k && off) {
        c->rlen -= off;
        memmove(c->rbuf, c->rbuf + off, c->rlen);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    bf__conn *k = h->data;
    bf_client *c = k->c;
    *buf = uv_buf_init(NULL, 0); /* 0 bytes: libuv reports UV_ENOBUFS to on_read */
    if (!c) return;
    if (c->rcap - c->rlen < READ_CHUNK) {
        uint8_t *n = realloc(c->rbuf, c->rlen + READ_CHUNK);
        if (!n) return;
        c->rbuf = n;
        c->rcap = c->rlen + READ_CHUNK;
    }
    *buf = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    bf__conn *k = s->data;
    bf_client *c = k->c;
    if (!c || nread == 0) return;
    bf__client_enter(c);
    if (nread > 0) {
        c->rlen += (size_t)nread;
        process(c, k);
    } else if (c->state == BF__ST_UPGRADING && c->upgrade_hdr_len) {
        refused(c); /* the body ends at EOF */
    } else if (c->state == BF__ST_CLOSING && c->close_received) {
        bf__client_ended(c, c->close_code, c->close_reason);
    } else {
        char why[128];
        snprintf(why, sizeof(why), "connection lost while %s: %s",
                 c->state == BF__ST_UPGRADING ? "upgrading"
                 : c->state == BF__ST_CLOSING ? "closing"
                                              : "open",
                 nread == UV_EOF ? "closed without a close frame" : uv_strerror((int)nread));
        bf__client_ended(c, BF__WS_ABNORMAL, why);
    }
    bf__client_leave(c);
}

/* ---- connecting -------------------------------------------------------------------------- */

static void on_connected(uv_connect_t *req, int status)
{
    bf__conn *k = req->data;
    bf_client *c = k->c;
    if (!c) return; /* abandoned: the handle is closing and frees k */
    bf__client_enter(c);
    int r;
    const char *why = NULL;
    if (status)
        why = uv_strerror(status);
    else if ((r = uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read)))
        why = uv_strerror(r);
    else if ((r = send_upgrade(c)))
        why = bf_strerror(r);
    if (why) {
        char reason[BF_ERR_LEN];
        snprintf(reason, sizeof(reason), "connect to %.100s:%d: %s", c->target.host, c->target.port,
                 why);
        bf__client_ended(c, BF__WS_ABNORMAL, reason);
    } else {
        bf__client_set_state(c, BF__ST_UPGRADING);
    }
    bf__client_leave(c);
}

static void connect_addr(bf_client *c, const struct sockaddr *sa)
{
    bf__conn *k = calloc(1, sizeof(*k));
    int r = k ? uv_tcp_init(c->loop, &k->tcp) : UV_ENOMEM;
    if (r) {
        free(k);
        bf__client_ended(c, BF__WS_ABNORMAL, uv_strerror(r));
        return;
    }
    k->tcp.data = k;
    k->creq.data = k;
    k->c = c;
    c->conn = k;
    uv_tcp_nodelay(&k->tcp, 1);
    r = uv_tcp_connect(&k->creq, &k->tcp, sa, on_connected);
    if (r) {
        char why[BF_ERR_LEN];
        snprintf(why, sizeof(why), "connect to %.100s:%d: %s", c->target.host, c->target.port,
                 uv_strerror(r));
        bf__client_ended(c, BF__WS_ABNORMAL, why);
        return;
    }
    bf__client_set_state(c, BF__ST_CONNECTING);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    bf_client *c = req->data;
    free(req);
    if (c) {
        c->gai = NULL;
        bf__client_enter(c);
        if (status || !res) {
            char why[BF_ERR_LEN];
            snprintf(why, sizeof(why), "cannot resolve %.100s: %s", c->target.host,
                     uv_strerror(status));
            bf__client_ended(c, BF__WS_ABNORMAL, why);
        } else {
            connect_addr(c, res->ai_addr);
        }
        bf__client_leave(c);
    }
    uv_freeaddrinfo(res);
}

void bf__io_connect(bf_client *c)
{
    c->close_sent = c->close_received = false;
    c->close_code = 0;
    c->close_reason[0] = '\0';
    c->upgrade_hdr_len = 0;
    c->refused_status = 0;
    c->refused_body_len = -1;
    c->ping_out = false;
    c->rlen = c->msg_len = 0;
    c->msg_opcode = 0;
    struct sockaddr_storage ss;
    if (uv_ip4_addr(c->target.host, c->target.port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(c->target.host, c->target.port, (struct sockaddr_in6 *)&ss) == 0) {
        connect_addr(c, (struct sockaddr *)&ss);
        return;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", c->target.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->gai = malloc(sizeof(*c->gai));
    int r = c->gai ? uv_getaddrinfo(c->loop, c->gai, on_resolved, c->target.host, port, &hints)
                   : UV_ENOMEM;
    if (r) {
        free(c->gai);
        c->gai = NULL;
        char why[BF_ERR_LEN];
        snprintf(why, sizeof(why), "cannot resolve %.100s: %s", c->target.host, uv_strerror(r));
        bf__client_ended(c, BF__WS_ABNORMAL, why);
        return;
    }
    c->gai->data = c;
}
