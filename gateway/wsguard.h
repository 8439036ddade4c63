/* wsguard — RFC 6455 framing rules the gateway checks itself, on the raw bytes a client sends
 * after the upgrade, before libwebsockets parses them.
 *
 * libwebsockets 4.1.6 (what Debian 12 ships; see docs/security.md) processes a client frame that
 * is not masked, although RFC 6455 5.1 says the server MUST fail the connection, and fails a
 * control frame longer than 125 bytes (5.5) or a 64-bit length with its most significant bit set
 * (5.2) by dropping TCP without the 1002 close frame 7.4.1 provides for. lws has no option to
 * refuse unmasked frames and no hook that sees frame headers, so the gateway follows the frame
 * boundaries in the byte stream itself: it reads each header (2-14 bytes), skips the payload, and
 * reports the first violation and where its frame began, so that nothing of that frame reaches
 * lws. Pure: no I/O, unit-tested (tests/unit/wsguard.c); gateway/rxguard.c feeds it.
 *
 * Framing only: everything else (opcodes, RSV bits, fragmentation, UTF-8, close codes) stays
 * lws' job. The stream must start at a frame boundary: RFC 6455 4.1 forbids a client to send
 * frames before the server's 101, so the first byte after the upgrade is a header. */
#ifndef BF_WSGUARD_H
#define BF_WSGUARD_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    BF_WSG_OK = 0,
    BF_WSG_UNMASKED,         /* a client frame without the mask bit (5.1) */
    BF_WSG_CONTROL_TOO_LONG, /* a control frame with a payload over 125 bytes (5.5) */
    BF_WSG_LENGTH_MSB,       /* a 64-bit payload length with its top bit set (5.2) */
} bf_wsguard_verdict;

/* One connection's position in its byte stream. Embedded: zero it (or bf_wsguard_init). */
typedef struct bf_wsguard {
    uint64_t skip;   /* payload bytes of the current frame still to come */
    uint8_t hdr[14]; /* the header being collected */
    uint8_t hlen;    /* header bytes collected so far */
    uint8_t need;    /* the header's full length once its second byte is known, else 0 */
} bf_wsguard;

void bf_wsguard_init(bf_wsguard *g);

/* Follows len more bytes of the stream. Returns BF_WSG_OK, or the first violation (after which
 * the guard must not be fed again); *ok_len then gets the number of bytes of p that come before
 * the offending frame's header (0 if the header began in an earlier chunk: the one or two header
 * bytes that came before the violation could be seen were passed on then, never a whole header). */
bf_wsguard_verdict bf_wsguard_scan(bf_wsguard *g, const uint8_t *p, size_t len, size_t *ok_len);

/* The close reason for a verdict (static string, at most 123 bytes). */
const char *bf_wsguard_reason(bf_wsguard_verdict v);

#endif
