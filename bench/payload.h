/* The bench's message payload: a JSON object the bench writes and finds again on receipt.
 *
 *   {"_t":1234567890123,"_g":42,"_c":7,"_k":1,"_p":"xxxxxxxx"}
 *
 * _t is CLOCK_MONOTONIC ns at publish, _g the message number (0 = warm-up, not measured), _c the
 * channel index (to catch misrouting), _k the publisher connection that sent it (order is only
 * promised within one), _p padding to the requested size. Publishers wrap it in a
 * body template (Belfry: {"event":"bench","data":{payload}}; nchan: the payload alone); on receipt
 * the keys are looked up wherever the server put them. */
#ifndef BB_PAYLOAD_H
#define BB_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct bb_payload {
    uint64_t t, g;
    uint32_t c, k;
} bb_payload;

/* Writes a payload of exactly `size` bytes (more if the numbers do not fit) into out (cap bytes).
 * Returns its length, or -1 if cap is too small. */
int bb_payload_write(char *out, size_t cap, size_t size, const bb_payload *pl);

/* Finds the payload fields in a received frame. Returns 0, or -1 if this is not a bench
 * message. */
int bb_payload_find(const char *p, size_t len, bb_payload *out);

#endif
