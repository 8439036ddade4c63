/* Client -> server messages.
 *
 * A client message is one JSON object with an "event" string. The only client event is a whisper:
 *   {"event":"whisper","channel":C?,"data":ANY}
 * which becomes the frame {"event":"whisper","data":ANY[,"user_id":U]} relayed to every other
 * connection of the channel (user_id, the verified sender, only on private/presence channels; any
 * user_id the client sends is ignored). Everything else is answered with an error frame
 * {"event":"error","data":{"code","message"}} and the connection is kept. This module is pure
 * (no I/O, no state), so it is unit-tested and fuzzed on its own. */
#ifndef BF_CLIENT_MSG_H
#define BF_CLIENT_MSG_H

#include "channel.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct bf_client_ctx {
    const char *channel; /* the connection's (canonical) channel */
    bf_channel_type type;
    const char *user_id; /* verified user id or NULL */
    bool allow_public_whisper;
} bf_client_ctx;

typedef enum { BF_CMSG_WHISPER = 1, BF_CMSG_ERROR } bf_cmsg_kind;

typedef struct bf_client_msg {
    bf_cmsg_kind kind;
    const char *code;    /* BF_CMSG_ERROR: static error code, e.g. "bad_json" */
    const char *message; /* BF_CMSG_ERROR: static human-readable message */
    char *frame;         /* BF_CMSG_WHISPER: the frame to relay; caller frees */
    size_t frame_len;
} bf_client_msg;

/* Parses msg[0..len) (already UTF-8 validated by lws) for a connection described by ctx.
 * Always fills *out; returns out->kind. */
bf_cmsg_kind bf_client_msg_parse(const bf_client_ctx *ctx, const char *msg, size_t len,
                                 bf_client_msg *out);

#endif
