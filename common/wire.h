/* The internal wire format: msgpack envelopes carried over Redis pub/sub.
 *
 * Fan-out envelope (subject fan:{channel}; produced by the publish Lua script with cmsgpack and by
 * routers; consumed by gateways):
 *     [1, kind, channel, seq, frame, conn, user, data_raw, exclude_socket]
 *   kind     1 = sequenced message (publish, presence event) for every connection
 *            2 = ephemeral (whisper) for every connection, no seq
 *            3 = direct: only for the connection named in `conn` (presence:here)
 *            4 = kick: close every connection of the user named in `user`; frame is the
 *                reason (plain text, at most 123 bytes are used)
 *   channel  str, the channel name
 *   seq      uint, the channel's sequence number (0 for ephemeral messages)
 *   frame    str, the finished JSON text frame, written unchanged to every socket
 *   conn     str, a connection id ("<gateway id>/<n>") or "": for kinds 1 and 2 the connection
 *            that must not receive it (a whisper's sender), for kind 3 the only one that does
 *   user     str, a user id or "": for kinds 1 and 2 the user whose connections must not
 *            receive it, for kind 4 the user whose connections are closed
 *   data_raw str, for a publish made through the Pusher HTTP API: its `data` string exactly
 *            as the publisher sent it (the frame's "data" is then that string parsed when it
 *            is valid JSON, else the string itself); "" for native publishes
 *   exclude_socket  str, a Pusher socket_id whose connection must not receive it (a
 *            publisher's socket_id, Laravel's toOthers()), or ""
 * The last four may be omitted (an encoder writes the last two only when one is non-empty, so
 * envelopes without them keep their seven-element bytes); elements past the ninth are ignored
 * (forward compatibility). In bf_fanout each of the `conn` and `user` slots has one name per
 * meaning (a union), so code says which it means.
 *
 * Inbox envelope (subject inbox:{router id}; gateways -> channel owner):
 *     [1, op, channel, conn_id, user_id, payload, hops]
 *   op 1 = join (payload: the member JSON), 2 = leave, 3 = rejoin (join again after a Redis
 *   loss: no presence:here), 4 = kick (payload: the reason; conn_id names the requester),
 *   5 = apply (a nudge: apply the channel's pending presence operations, pops:{channel};
 *   conn_id, user_id and payload are empty). Ops 1-4 are also the records of pops:{channel}.
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
    union {                     /* slot 6, `conn` */
        bf_strview except_conn; /* kinds 1, 2: the connection that does not get it */
        bf_strview only_conn;   /* kind 3: the only connection that gets it */
    };
    union {                     /* slot 7, `user` */
        bf_strview except_user; /* kinds 1, 2: the user whose connections do not get it */
        bf_strview kick_user;   /* kind 4: the user whose connections are closed */
    };
    bf_strview data_raw;       /* "" unless published through the Pusher HTTP API */
    bf_strview exclude_socket; /* "" or a Pusher socket_id */
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
