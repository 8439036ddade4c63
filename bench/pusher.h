/* The Pusher Channels protocol as the load generator speaks it (docs/pusher.md): just enough to
 * connect to /app/{key}, subscribe public channels, answer pings and find the bench payload in a
 * delivered event.
 *
 * A server frame is a JSON object {"event":E,"channel":C,"data":D}, where D is a JSON string for
 * published events ({"event":"bench","channel":"bench-0","data":"{\"_t\":...}"}) and may be an
 * object or a string for the server's own pusher:* events. This is a scanner of that one level,
 * written for this purpose (it shares nothing with the gateway's parser, so that a bug there cannot
 * hide itself): it never reads outside [p, p+len), and anything it does not understand is "not a
 * frame". */
#ifndef BB_PUSHER_H
#define BB_PUSHER_H

#include <stddef.h>

#include "payload.h"

typedef struct bb_pusher_frame {
    const char *event, *channel, *data; /* the raw JSON values (strings without their quotes);
                                         * NULL when the key is absent; point into the frame */
    size_t event_len, channel_len, data_len;
    int data_is_string; /* data was a JSON string (data points at its escaped body) */
} bb_pusher_frame;

/* Scans one top-level JSON object. Returns 0 (f filled), or -1 if p is not a JSON object or
 * "event" is missing or not a string. */
int bb_pusher_parse(const char *p, size_t len, bb_pusher_frame *f);

/* 1 if the frame's event is exactly name. */
int bb_pusher_event_is(const bb_pusher_frame *f, const char *name);

/* Decodes the body of a JSON string (escapes included; \uXXXX as UTF-8, surrogate pairs joined)
 * into out. Returns the decoded length, or -1 if it is malformed or does not fit in cap. */
long bb_pusher_unescape(const char *s, size_t len, char *out, size_t cap);

/* Renders {"event":"pusher:subscribe","data":{"channel":C}} into out. Returns its length, or -1
 * if it does not fit or the channel name needs escaping (bench names never do). */
int bb_pusher_subscribe_frame(char *out, size_t cap, const char *channel);

/* The fast path for the frames the bench receives most: an event (not pusher:*) rendered as
 * {"event":E,...,"data":"<string>"} with data last, as a Pusher server renders published events.
 * Sets *data and *data_len to the escaped body of the data string (in p) and returns 0; returns -1
 * for anything else (then bb_pusher_parse decides). */
int bb_pusher_event_data(const char *p, size_t len, const char **data, size_t *data_len);

/* Finds the bench payload's fields in the escaped body of a data string as the bench's own
 * publishes arrive in it ({\"_t\":N,\"_g\":N,\"_c\":N,\"_k\":N,...}, compact), without
 * decoding it. Returns 0, or -1 (then decode and use bb_payload_find, which allows spaces). */
int bb_pusher_payload_escaped(const char *d, size_t len, bb_payload *out);

/* Finds the bench payload in a delivered Pusher event: the frame's data must be a JSON string,
 * which is decoded into buf (cap bytes) and searched. Returns 0 (out filled, *data and *data_len
 * set to the decoded data in buf), or -1 if this is not an event carrying a bench payload. */
int bb_pusher_payload(const char *p, size_t len, char *buf, size_t cap, const char **data,
                      size_t *data_len, bb_payload *out);

#endif
