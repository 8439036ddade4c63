/* A minimal WebSocket client for load generation (RFC 6455, client side, no extensions).
 *
 * Thousands of these share one bb_wsctx: one epoll loop and one large read buffer. A connection
 * owns heap memory only while it needs it (a partial frame, unsent bytes, a fragmented message),
 * so 50,000 idle connections cost the bench about 100 bytes each. Each connection binds its
 * source address before connect() with IP_BIND_ADDRESS_NO_PORT, so that several loopback source
 * addresses (127.0.0.1, .2, ...) multiply the ~28k ephemeral ports available to one destination.
 *
 * Server frames are parsed in place; text and binary messages go to ops.on_text, pings are
 * answered, and a close frame is answered and followed by a clean TCP shutdown. The upgrade
 * response is checked for status 101 only (Sec-WebSocket-Accept is not verified: the peer is a
 * server under test on loopback, not an adversary).
 *
 * Rules for callers: a bb_ws lives in the caller's array for the whole run (it is never freed by
 * this module); inside a callback the caller may call bb_ws_close() on that connection and
 * nothing else that changes connections; new connections are started between loop polls, never
 * inside a callback (an event already fetched for a closed socket must not reach a new one). */
#ifndef BB_WSC_H
#define BB_WSC_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

typedef enum {
    BB_WS_IDLE = 0,   /* no socket */
    BB_WS_CONNECTING, /* TCP connect in progress */
    BB_WS_HANDSHAKE,  /* upgrade request sent, waiting for 101 */
    BB_WS_OPEN,
    BB_WS_CLOSING, /* a close frame was sent (or answered) and our side shut down: await EOF */
} bb_ws_state;

typedef enum {
    BB_WS_END_CONNECT,   /* TCP connect failed */
    BB_WS_END_HANDSHAKE, /* upgrade refused (status in ws->http_status) or malformed */
    BB_WS_END_TIMEOUT,   /* the caller gave up waiting (bb_ws_abort) */
    BB_WS_END_PEER,      /* the server closed an open connection (code in ws->close_code) */
    BB_WS_END_LOCAL,     /* we closed it: bb_ws_close completed, or bb_ws_abort */
    BB_WS_END_ERROR,     /* I/O or protocol error */
} bb_ws_end;

typedef struct bb_wsctx bb_wsctx;

typedef struct bb_ws {
    bb_io io; /* first: the loop hands back &io */
    bb_wsctx *ctx;
    uint8_t state;       /* bb_ws_state */
    uint8_t local_close; /* we started the closing handshake */
    uint8_t shut_pending;
    uint8_t frag_op;
    uint16_t close_code;  /* from the server's close frame, 0 if none */
    uint16_t http_status; /* status of the upgrade response */
    uint32_t in_len, in_cap, out_len, out_off, frag_len;
    uint8_t *in, *out, *frag; /* owned; NULL when empty */
    uint64_t t_state;         /* CLOCK_MONOTONIC ns of the last state change */
} bb_ws;

typedef struct bb_ws_ops {
    /* The upgrade succeeded. */
    void (*on_open)(bb_ws *ws, uint64_t now, void *ud);
    /* A complete text or binary message; p is valid only during the callback. now is the time
     * the bytes were read. */
    void (*on_text)(bb_ws *ws, const char *p, size_t len, uint64_t now, void *ud);
    /* The connection is over and its socket closed; prev is the state it was in. Called once per
     * started connection (not for a bb_ws_connect that failed synchronously). */
    void (*on_close)(bb_ws *ws, bb_ws_end why, bb_ws_state prev, void *ud);
} bb_ws_ops;

/* One per loop; ops are copied, ud is borrowed and passed to every callback. NULL on OOM. */
bb_wsctx *bb_wsctx_new(bb_loop *loop, const bb_ws_ops *ops, void *ud);
/* Asks the kernel to timestamp what arrives on connections started from now on (SO_TIMESTAMPNS),
 * for bb_wsctx_arrived. Enabling it anywhere makes the kernel timestamp every received packet. */
void bb_wsctx_stamp_arrivals(bb_wsctx *x, int on);
/* During on_text: CLOCK_MONOTONIC ns at which the kernel received the last packet of the read
 * that completed this message (never earlier than the message's own arrival), or 0 if unknown. */
uint64_t bb_wsctx_arrived(const bb_wsctx *x);
void bb_wsctx_free(bb_wsctx *x);
/* A one-line description of the first refused upgrade (status and the start of the body), or "". */
const char *bb_wsctx_first_failure(const bb_wsctx *x);

void bb_ws_init(bb_ws *ws);

/* Starts connecting ws (which must be IDLE) from src (NULL: any; port 0 is used) to dst and
 * requesting path with Host: host. Returns 0, or a negative errno when the socket could not even
 * be started (e.g. -EMFILE, -EADDRNOTAVAIL); then no callback follows. */
int bb_ws_connect(bb_wsctx *x, bb_ws *ws, const struct sockaddr_in *src,
                  const struct sockaddr_in *dst, const char *host, const char *path, uint64_t now);

/* Sends one masked frame (opcode 1 text, 2 binary, ...). Returns 0 or -1 if not OPEN. */
int bb_ws_send(bb_ws *ws, int opcode, const void *payload, size_t len);

/* Graceful close: sends a close frame with code, shuts down our side and waits for EOF (the caller
 * applies a timeout with bb_ws_abort). A connection not yet open is aborted instead. */
void bb_ws_close(bb_ws *ws, uint16_t code, uint64_t now);

/* Closes the socket now; on_close(why) follows synchronously. Not from inside a callback. */
void bb_ws_abort(bb_ws *ws, bb_ws_end why);

#endif
