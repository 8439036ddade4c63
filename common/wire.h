/* The internal wire format: msgpack envelopes carried over Redis pub/sub.
 *
 * Fan-out envelope (subject fan:{channel}; produced by the publish Lua script with cmsgpack and by
 * routers; consumed by gateways):
 *     [1, kind, channel, seq, frame, exclude_conn, exclude_user]
 *   kind          1 = sequenced message (publish, presence event) for every connection
 *                 2 = ephemeral (whisper) for every connection, no seq
 *                 3 = direct: only for the connection named in exclude_conn (presence:here)
 *                 4 = kick: close every connection of the user in exclude_user; frame is the
 *                     reason (plain text, at most 123 bytes are used)
 *   channel       str, the channel name
 *   seq           uint, the channel's sequence number (0 for ephemeral messages)
 *   frame         str, the finished JSON text frame, written unchanged to every socket
 *   exclude_conn  str, a connection id ("<gateway id>/<n>") that must not receive it, or ""
 *   exclude_user  str, a user id whose connections must not receive it, or ""
 * The last two may be omitted; elements past the seventh are ignored (forward compatibility).
 *
 * Inbox envelope (subject inbox:{router id}; gateways -> channel owner):
 *     [1, op, channel, conn_id, user_id, payload, hops]
 *   op 1 = join (payload: the member JSON), 2 = leave, 3 = rejoin (join again after a Redis
 *   loss: no presence:here), 4 = kick (payload: the reason; conn_id names the requester),
 *   5 = apply (a nudge: apply the channel's pending presence operations, pops:{channel};
 *   conn_id, user_id and payload are empty). Ops 1-3 are also the records of pops:{channel}.
 *   hops counts forwards between routers (a router that is not the owner forwards once); it may
 *   be omitted (0).
 *
 * Anyone who can PUBLISH to Redis can send these, so decoding validates every field and never
 * trusts lengths (see wire.c). Decoded strings are views into the input buffer: valid while it
 * is. */
#ifndef BF_WIRE_H
#define BF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define BF_WIRE_VERSION 1

typedef enum {
    BF_FAN_MESSAGE = 1,
    BF_FAN_EPHEMERAL = 2,
    BF_FAN_DIRECT = 3,
    BF_FAN_KICK = 4
} bf_fan_kind;
typedef enum {
    BF_OP_JOIN = 1,
    BF_OP_LEAVE = 2,
    BF_OP_REJOIN = 3,
    BF_OP_KICK = 4,
    BF_OP_APPLY = 5
} bf_inbox_op;

typedef struct bf_strview {
    const char *p;
    size_t len;
} bf_strview;

typedef struct bf_fanout {
    bf_fan_kind kind;
    bf_strview channel;
    uint64_t seq;
    bf_strview frame;
    bf_strview exclude_conn;
    bf_strview exclude_user;
} bf_fanout;

typedef struct bf_inbox {
    bf_inbox_op op;
    bf_strview channel;
    bf_strview conn_id;
    bf_strview user_id;
    bf_strview payload;
    uint64_t hops;
} bf_inbox;

/* Encoders: write a freshly malloc'd buffer to *out (caller frees) and its length to *outlen.
 * Return 0 or BF_ENOMEM. */
int bf_wire_encode_fanout(const bf_fanout *m, char **out, size_t *outlen);
int bf_wire_encode_inbox(const bf_inbox *m, char **out, size_t *outlen);

/* Decoders: fill *m with views into buf. Return 0, or BF_EPROTO for anything truncated, garbled,
 * of the wrong version or with a field of the wrong type. */
int bf_wire_decode_fanout(const char *buf, size_t len, bf_fanout *m);
int bf_wire_decode_inbox(const char *buf, size_t len, bf_inbox *m);

#endif
