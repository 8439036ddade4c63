/* The WebSocket protocol (RFC 6455), client side, without any I/O: the opening handshake's key
 * and its check, frame encoding (always masked, as clients must) and incremental frame parsing
 * (server frames are never masked). client_io.c drives it over libuv; tests call it directly. */
#ifndef BF__WS_PROTO_H
#define BF__WS_PROTO_H

#include <stddef.h>
#include <stdint.h>

enum {
    BF__WS_CONT = 0x0,
    BF__WS_TEXT = 0x1,
    BF__WS_BINARY = 0x2,
    BF__WS_CLOSE = 0x8,
    BF__WS_PING = 0x9,
    BF__WS_PONG = 0xA,
};

/* Close codes the client uses itself. */
#define BF__WS_NORMAL 1000
#define BF__WS_PROTOCOL_ERROR 1002
#define BF__WS_UNSUPPORTED 1003
#define BF__WS_NO_STATUS 1005
#define BF__WS_ABNORMAL 1006
#define BF__WS_BAD_DATA 1007
#define BF__WS_TOO_BIG 1009

#define BF__WS_KEY_LEN 24    /* base64 of 16 random bytes */
#define BF__WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */
#define BF__WS_MAX_HEADER 14

/* Fills key (BF__WS_KEY_LEN + 1 bytes) with a fresh random Sec-WebSocket-Key. 0 or BF_EIO. */
int bf__ws_make_key(char *key);
/* The Sec-WebSocket-Accept value for key, into out (BF__WS_ACCEPT_LEN + 1 bytes). 0 or BF_EIO. */
int bf__ws_accept_for(const char *key, char *out);

/* Checks the response header block hdr[0..len) (status line through the blank line) of an upgrade
 * that sent key. Returns 0 if it is a valid 101 switch to websocket. Otherwise returns BF_EPROTO,
 * sets *status (0 if the status line is unreadable), fills err, and sets *content_length to the
 * body's announced length (-1 if none) so the caller can read the error body. */
int bf__ws_check_upgrade(const char *hdr, size_t len, const char *key, int *status,
                         long long *content_length, char *err, size_t errlen);

/* Encodes one masked frame: header, then payload XORed with a fresh random mask. Returns a
 * malloc'd buffer (caller frees) of *outlen bytes, or NULL on allocation or RNG failure. room
 * extra bytes are reserved in front of the frame (for a caller's request struct); the frame
 * starts at the returned pointer + room. */
uint8_t *bf__ws_encode(int opcode, const void *payload, size_t len, size_t room, size_t *outlen);

typedef struct bf__ws_frame {
    int fin;
    int opcode;
    uint8_t *payload; /* inside the parsed buffer */
    uint64_t len;
    size_t frame_len; /* header + payload: bytes to consume */
} bf__ws_frame;

/* Parses one frame from buf[0..len). Returns 1 with *f filled when a whole frame is there, 0 when
 * more bytes are needed, or a negative close code when the peer broke the protocol: -1002 (mask
 * bit set, reserved bits, bad control frame, unknown opcode) or -1009 (payload > max_payload). */
int bf__ws_parse(uint8_t *buf, size_t len, uint64_t max_payload, bf__ws_frame *f);

/* 1 if p[0..n) is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF), else 0. */
int bf__ws_utf8_valid(const uint8_t *p, size_t n);

#endif
