/* A small blocking WebSocket client for tests (RFC 6455, client side, masking, timeouts).
 * It is deliberately independent of the gateway's and the client library's code paths, and it
 * can send raw, malformed bytes for conformance tests. */
#ifndef BF_WS_CLIENT_H
#define BF_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct bf_ws bf_ws;

typedef struct bf_ws_msg {
    int opcode; /* 1 text, 2 binary, 8 close, 9 ping, 10 pong */
    char *data; /* malloc'd, NUL-terminated (caller frees via bf_ws_msg_free) */
    size_t len;
    int close_code; /* for opcode 8: the code, or 1005 if none */
} bf_ws_msg;

/* Connects and upgrades GET path on 127.0.0.1:port. extra_headers: "Name: value\r\n..." or NULL.
 * On success returns the socket wrapper (caller frees with bf_ws_close/bf_ws_abort) and sets
 * *status to 101. On a refused upgrade returns NULL with *status the HTTP status and *body the
 * response body (malloc'd; caller frees) when body is non-NULL. On I/O failure *status is 0. */
bf_ws *bf_ws_connect(int port, const char *path, const char *extra_headers, int *status,
                     char **body, int timeout_ms);

/* Receives the next message (reassembling fragments, answering pings unless raw mode).
 * Returns 0 and fills *m; -1 on timeout; -2 when the connection is gone without a close frame. */
int bf_ws_recv(bf_ws *w, bf_ws_msg *m, int timeout_ms);
void bf_ws_msg_free(bf_ws_msg *m);

/* Receives text messages until one whose event equals `event` (or any if NULL); returns 0 and
 * fills *m, or -1 on timeout or close. */
int bf_ws_recv_event(bf_ws *w, const char *event, bf_ws_msg *m, int timeout_ms);

int bf_ws_send_text(bf_ws *w, const char *s, size_t len);
/* Sends one frame with explicit FIN/opcode, masked unless mask == 0. */
int bf_ws_send_frame(bf_ws *w, int fin, int opcode, const void *p, size_t len, int mask);
/* Sends raw bytes on the socket. */
int bf_ws_send_raw(bf_ws *w, const void *p, size_t len);
/* When set, pings are returned to the caller and not answered. */
void bf_ws_set_raw(bf_ws *w, int raw);
/* When set, the client stops reading entirely (for slow-consumer tests): nothing else changes. */
int bf_ws_fd(const bf_ws *w);

/* Sends a close frame (code 1000), waits briefly for the answer, closes. NULL ok. */
void bf_ws_close(bf_ws *w);
/* Closes the TCP connection abruptly (RST) without a close frame. NULL ok. */
void bf_ws_abort(bf_ws *w);

#endif
