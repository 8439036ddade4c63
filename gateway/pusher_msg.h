/* The Pusher Channels wire format (protocol 7, what pusher-js 8 speaks): parsing client frames
 * and rendering server frames. Pure (no I/O, no state), so it is unit-tested and fuzzed alone;
 * proto_pusher.c does the connection handling.
 *
 * Client frames are JSON objects {"event":E,"channel":C?,"data":D?}. Parsing classifies them
 * (ping, pong, subscribe, unsubscribe, signin, client event) and checks their shape; anything
 * else is BF_PMSG_ERROR with a message for a pusher:error frame. Server frames carry "data" as a
 * JSON-encoded string, as Pusher does. */
#ifndef BF_PUSHER_MSG_H
#define BF_PUSHER_MSG_H

#include "wire.h"

#include <stdbool.h>
#include <stddef.h>

#define BF_PUSHER_CHANNEL_MAX 164 /* Pusher's documented limit (= BF_CHANNEL_MAX) */
#define BF_PUSHER_EVENT_MAX 200

typedef enum {
    BF_PMSG_PING = 1,
    BF_PMSG_PONG,
    BF_PMSG_SUBSCRIBE,
    BF_PMSG_UNSUBSCRIBE,
    BF_PMSG_SIGNIN,
    BF_PMSG_CLIENT_EVENT,
    BF_PMSG_ERROR
} bf_pmsg_kind;

typedef struct bf_pusher_msg {
    bf_pmsg_kind kind;
    /* views into the parsed message, valid until bf_pusher_msg_free: */
    const char *channel;      /* SUBSCRIBE, UNSUBSCRIBE, CLIENT_EVENT: a valid channel name */
    const char *auth;         /* SUBSCRIBE, SIGNIN: "" when absent */
    const char *channel_data; /* SUBSCRIBE: the presence channel_data string, or NULL */
    const char *user_data;    /* SIGNIN: the user_data string, or NULL */
    const char *event;        /* CLIENT_EVENT: "client-..." */
    char *data;               /* CLIENT_EVENT: the data as compact JSON text; owned */
    size_t data_len;
    const char *message; /* ERROR: static message for pusher:error */
    void *root;          /* the parsed JSON (jansson); owned */
    void *data_root;     /* "data" parsed from a string, when it was one; owned */
} bf_pusher_msg;

/* Parses msg[0..len). Always fills *out (release it with bf_pusher_msg_free); returns its kind. */
bf_pmsg_kind bf_pusher_msg_parse(const char *msg, size_t len, bf_pusher_msg *out);
void bf_pusher_msg_free(bf_pusher_msg *m);

/* True if name[0..len) is a valid Pusher channel name: 1..164 bytes of [-A-Za-z0-9_=@,.;], or
 * "#server-to-user-" followed by such bytes. */
bool bf_pusher_channel_valid(const char *name, size_t len);

/* Renders {"event":E[,"channel":C],"data":"<data>"} with data_text put in as a JSON string
 * (data_text may be NULL: "data" is then omitted). Returns malloc'd text (caller frees) and its
 * length in *len. */
char *bf_pusher_frame(const char *event, const char *channel, const char *data_text,
                      size_t data_len, size_t *len);
/* Renders pusher:error {"message":M,"code":C} (code 0: null). Caller frees. */
char *bf_pusher_error(int code, const char *message, size_t *len);
/* Renders pusher:subscription_error for channel with {"type","error","status"}. Caller frees. */
char *bf_pusher_subscription_error(const char *channel, const char *type, const char *error,
                                   int status, size_t *len);

/* Renders the Pusher frame for fan-out message m on channel (the bare name). Native frames are
 * translated: a publish keeps its event with data = m->data_raw when present, else the native
 * "data" value JSON-encoded; presence:join/leave/here become pusher_internal:member_added /
 * member_removed / subscription_succeeded; a whisper with inner event E becomes "client-E".
 * Returns malloc'd text (caller frees), or NULL when the message has nothing for Pusher clients
 * (a kick, a frame that is not a JSON object with an event). */
char *bf_pusher_render(const bf_fanout *m, const char *channel, size_t *len);

/* True for cache channels: "cache-", "private-cache-", "private-encrypted-cache-",
 * "presence-cache-". */
bool bf_pusher_is_cache_channel(const char *name);

/* Parses pusher:signin's user_data: a JSON object with a non-empty string "id" of at most
 * BF_USER_MAX (128) bytes. Returns the id (malloc'd, caller frees) or NULL with *why set. */
char *bf_pusher_signin_user(const char *user_data, const char **why);

/* The native whisper frame for a Pusher client event "client-E" with data (JSON text):
 * {"event":"whisper","data":{"event":"E","data":DATA}[,"user_id":U]}. Caller frees; NULL if
 * data is not JSON. */
char *bf_pusher_whisper_frame(const char *event, const char *data, size_t data_len,
                              const char *user_id, size_t *len);

#endif
