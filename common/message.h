/* Publish bodies and server frames.
 *
 * A publish body (HTTP POST /broadcast/{channel} or Redis PUBLISH <prefix>publish:{channel}) is a
 * JSON object {"event": NAME, "data": ANY, "type": "public|private|presence"?}. Parsing validates
 * it and renders the frame *prefix*  {"event":NAME,"data":DATA,"seq":  that the publish script
 * completes with the sequence number and "}". The frame is therefore rendered exactly once, where
 * it is sequenced, and every socket gets the same bytes.
 *
 * Event names are 1..BF_EVENT_MAX bytes. Names the server itself emits ("presence:*", "belfry:*",
 * "whisper", "error") are refused, so that no publisher can forge presence or protocol events. */
#ifndef BF_MESSAGE_H
#define BF_MESSAGE_H

#include "channel.h"

#include <stddef.h>

#define BF_EVENT_MAX 200

/* Error classes, so HTTP can pick a status and code string. */
typedef enum {
    BF_MSG_OK = 0,
    BF_MSG_BAD_JSON,    /* not JSON, not an object, or invalid UTF-8 */
    BF_MSG_BAD_EVENT,   /* event missing, not a string, empty, too long or reserved */
    BF_MSG_BAD_TYPE,    /* "type" present and not the channel's type */
    BF_MSG_BAD_CHANNEL, /* (_named only) the name with its type's prefix is too long */
} bf_msg_status;

/* Parses body[0..len) for a channel of type ch_type. On success stores a malloc'd, NUL-terminated
 * frame prefix in *prefix (caller frees) and its length in *prefix_len, and returns BF_MSG_OK.
 * Otherwise returns the error class with a one-line message in err. */
bf_msg_status bf_message_parse_publish(const char *body, size_t len, bf_channel_type ch_type,
                                       char **prefix, size_t *prefix_len, char *err, size_t errlen);

/* The same for a channel named the way a WebSocket client names it (HTTP POST /broadcast/{name}):
 * `name` is a valid channel name, prefixed or not, and the type may come from the query (`qtype`,
 * NULL or "" if absent) and/or the body's "type". The type maps the name exactly as the gateway's
 * /ws/{name}?type= does (bf_channel_resolve): "orders.1" with type private is "private-orders.1".
 * The canonical name is written to channel (BF_CHANNEL_MAX + 1 bytes). BF_MSG_BAD_TYPE: an
 * unknown type, a body type that differs from qtype, or a type that contradicts the name's prefix;
 * BF_MSG_BAD_CHANNEL: the prefixed name is longer than BF_CHANNEL_MAX. */
bf_msg_status bf_message_parse_publish_named(const char *body, size_t len, const char *name,
                                             const char *qtype, char *channel, char **prefix,
                                             size_t *prefix_len, char *err, size_t errlen);

/* Checks an event name against the length and reserved-name rules. Returns 0 or BF_EINVAL. */
int bf_message_check_event(const char *event, size_t len, char *err, size_t errlen);

/* Renders a complete frame {"event":EVENT,"data":DATA_JSON[,"seq":SEQ]} (seq omitted when 0);
 * event is JSON-escaped, data_json is inserted verbatim (it must already be valid JSON).
 * Returns a malloc'd NUL-terminated string (caller frees) and its length in *len. */
char *bf_message_render(const char *event, const char *data_json, unsigned long long seq,
                        size_t *len);

#endif
