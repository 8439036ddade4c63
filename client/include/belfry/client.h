/* Subscribing to a Belfry channel from C: a WebSocket client with automatic reconnection.
 *
 * The C counterpart of @roostjs/broadcast's createBroadcastClient(). One bf_client holds one
 * WebSocket, to one channel URL (ws://HOST:PORT/ws/{channel}[?type=...][&token=JWT]), on the
 * caller's libuv loop; it never blocks and starts no thread. Messages are dispatched to handlers
 * registered with bf_client_subscribe() under a key: the socket's channel name, or "*" for
 * everything; both receive each message.
 *
 *     static void on_msg(bf_client *c, const bf_client_msg *m, void *arg)
 *     {
 *         printf("%s %s (seq %llu)\n", m->event, m->data, (unsigned long long)m->seq);
 *     }
 *
 *     bf_client_opts o = {.url = "ws://127.0.0.1:8080/ws/orders", .on_gap = reload};
 *     bf_client *c = bf_client_new(loop, &o, err);
 *     bf_client_subscribe(c, "orders", on_msg, NULL);
 *     uv_run(loop, UV_RUN_DEFAULT);      // ... until bf_client_free(c)
 *
 * Reconnection: whenever a connection attempt fails or an open connection ends (for any reason
 * except bf_client_close()/bf_client_free()), the client waits and tries again. The k-th
 * consecutive retry waits min(max_delay, initial_delay * 2^k) +- jitter_pct percent; a connection
 * that opens resets k to 0. After a close with 1012 (the gateway is draining; the others are up)
 * the first retry comes after a random delay in [0, initial_delay] instead. With a url_factory,
 * the factory is called before every attempt, so a token in the URL can be refreshed.
 *
 * Recovery (on unless opts.no_recovery): the client resumes where it left off. The first attempt
 * asks for the channel's position (recover=1 in the URL's query); the server answers first with
 * {"event":"belfry:subscribed","data":{"epoch":E,"seq":N}}, which the client keeps. Every later
 * attempt asks for since=<last seq>&epoch=E, and the server replays every message published in
 * between, exactly once and in order, before the live stream: no gap, no duplicate. When it
 * cannot (the channel's history was lost or no longer reaches back that far), on_recovery_failed
 * reports it with the numbers and the client continues from the channel's current position:
 * reload the application's state. The client owns the recover, since and epoch URL parameters
 * (any the URL or the factory puts there are replaced; the others are kept); belfry:subscribed
 * itself reaches handlers only with opts.deliver_subscribed. A 400 bad_recovery refusal makes the
 * client forget the epoch and resume by position next time.
 *
 * Gaps: the client remembers the last seq it saw (across reconnections). When a sequenced message
 * does not carry last + 1, on_gap(expected = last + 1, got) is called before it is dispatched:
 * got > expected means messages were missed; got < expected means the channel's sequence
 * restarted (its Redis state was lost). With recovery this does not happen on a healthy cluster;
 * without it (no_recovery, or a server that ignores the parameters) messages published while the
 * client was disconnected show up here. Ephemeral messages (whispers, errors: no seq) are never
 * gaps. presence:here, a snapshot, sets the baseline to its seq without a gap check unless the
 * connection was recovered (it then arrives in order behind the replayed messages and is checked
 * too); the first sequenced message after bf_client_new sets it too.
 *
 * Lifetime (house style: nothing is freed inside its own callback): every callback may call any
 * function here, bf_client_free() included; the client then stops calling back at once and
 * releases its memory from the loop once its handles have closed, so keep running the loop (for
 * example until uv_run returns). Ignore SIGPIPE in the process, as with any libuv program.
 * Functions return 0 or a negative BF_E* code (<belfry/err.h>). */
#ifndef BELFRY_CLIENT_H
#define BELFRY_CLIENT_H

#include <belfry/err.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bf_client bf_client;

#define BF_CLIENT_URL_MAX 4096

/* One received message. Every pointer is borrowed and valid only during the callback. */
typedef struct bf_client_msg {
    const char *channel; /* the socket's channel (canonical wire name) */
    const char *event;   /* "OrderShipped", "whisper", "error", "presence:join", ... */
    const char *data;    /* the "data" value as compact JSON text ("null" if absent) */
    size_t data_len;
    uint64_t seq;        /* per-channel sequence number; 0 for ephemeral messages */
    const char *user_id; /* whispers: the sender's user id; otherwise NULL */
    const char *raw;     /* the whole frame as received */
    size_t raw_len;
} bf_client_msg;

typedef void (*bf_client_handler)(bf_client *c, const bf_client_msg *m, void *arg);

/* A recovery the server could not make (belfry:subscribed with "recovered":false). Live messages
 * continue from seq + 1; messages since + 1 ... seq (of the old epoch, if it changed) never
 * arrive. Valid only during the callback. */
typedef struct bf_client_recovery {
    uint64_t since;     /* the last seq the client had: it asked for everything after it */
    uint64_t seq;       /* the channel's seq now: the client's new baseline */
    uint64_t missed;    /* the server's count of messages it could not replay */
    bool epoch_changed; /* the channel's sequence restarted (Redis lost its data): since belongs
                           to a history that is gone; otherwise it is older than the retained
                           history (router --history-size / --history-ttl) */
    const char *epoch;  /* the channel's epoch now (hex); borrowed */
} bf_client_recovery;

/* Writes the URL for the next attempt into buf (len bytes, NUL-terminated) and returns 0; a
 * negative return skips this attempt (it counts as failed and is retried after the backoff). */
typedef int (*bf_client_url_fn)(char *buf, size_t len, void *arg);

typedef struct bf_client_opts {
    const char *url;              /* ws://...; borrowed (copied). Or: */
    bf_client_url_fn url_factory; /* called before every attempt (url is then ignored) */
    unsigned initial_delay_ms;    /* first retry delay; 0: 1000 */
    unsigned max_delay_ms;        /* cap; 0: 30000 */
    int jitter_pct;               /* +- percent of each delay; 0: 20; negative: no jitter */
    unsigned connect_timeout_ms;  /* TCP connect plus upgrade; 0: 10000 */
    unsigned ping_interval_ms;    /* after this long without any frame, ping; without an answer
                                     within as long again, the connection counts as dead; 0: 30000 */
    size_t max_message_bytes;     /* largest message accepted (larger: close 1009); 0: 1 MiB */
    bool no_recovery;             /* true: never add recover/since to the URL (for servers without
                                     recovery); the default resumes every reconnection */
    bool deliver_subscribed;      /* true: belfry:subscribed also goes to handlers (seq 0) */
    /* All callbacks are optional; arg is passed to each. */
    /* The connection is open and subscribed: every message published from now on reaches it.
     * With recovery (the default) that is when belfry:subscribed arrives, a few milliseconds
     * after the upgrade, and before it is handled (on_recovery_failed, on_gap, and handlers with
     * deliver_subscribed run after); with no_recovery, at the upgrade (the gateway's own
     * subscription may then still be on its way: see docs/protocol.md). */
    void (*on_connect)(bf_client *c, void *arg);
    /* Called once for every attempt that ends, whether it had opened or not, with:
     * the close code the server sent (1000, 1012 "reconnect elsewhere", 4008 slow consumer...);
     * 1006 when the connection failed or dropped without a close frame (reason says why);
     * the HTTP status (400, 401, 403, 404, 501, 503...) when the upgrade was refused, with the
     * server's error message as reason; the code the client itself closed with (1002, 1007, 1009)
     * when the server broke the protocol. Not called for attempts ended by bf_client_close() before
     * they opened, nor after bf_client_free(). */
    void (*on_disconnect)(bf_client *c, int code, const char *reason, void *arg);
    void (*on_gap)(bf_client *c, uint64_t expected, uint64_t got, void *arg);
    /* The server could not replay what the client missed: reload the application's state. Runs
     * before anything after belfry:subscribed is dispatched. Without it, on_gap(since + 1,
     * seq + 1) is called instead (messages since + 1 ... seq were missed; got < expected when the
     * sequence restarted), so code written for gaps learns it too. */
    void (*on_recovery_failed)(bf_client *c, const bf_client_recovery *r, void *arg);
    /* Debug lines (state changes, errors), without trailing newline; valid during the call. The
     * one callback that must not call back into the client: it runs in the middle of changes. */
    void (*on_log)(bf_client *c, const char *line, void *arg);
    void *arg;
} bf_client_opts;

/* Creates the client and starts connecting (on loop, once it runs). Returns NULL with a message in
 * err (BF_ERR_LEN bytes, may be NULL) for a bad URL or options or no memory. The options struct is
 * copied. Caller frees with bf_client_free. */
BF_EXTERN bf_client *bf_client_new(uv_loop_t *loop, const bf_client_opts *o, char *err);

/* Stops calling back and releases the client (see "Lifetime" above). NULL is ok. */
BF_EXTERN void bf_client_free(bf_client *c);

/* Closes the WebSocket (close handshake with 1000, at most 2 s) and stops reconnecting for good;
 * on_disconnect(1000, ...) reports the end of an open connection. Idempotent. */
BF_EXTERN void bf_client_close(bf_client *c);

/* A subscription handle; 0 is never a valid one. */
typedef uint64_t bf_client_sub;

/* Registers handler under key (the channel's name, or "*"; copied). Returns the handle, or 0 if
 * key is empty or memory ran out. Handlers added during a dispatch see the next message first. */
BF_EXTERN bf_client_sub bf_client_subscribe(bf_client *c, const char *key,
                                            bf_client_handler handler, void *arg);
/* Removes one subscription (the returned "unsubscribe function"). Returns 0 or BF_ENOTFOUND. Safe
 * in a handler, even for the running one: it is not called again. */
BF_EXTERN int bf_client_cancel(bf_client *c, bf_client_sub sub);
/* Removes every handler registered under key; returns how many were removed. */
BF_EXTERN int bf_client_unsubscribe(bf_client *c, const char *key);

/* Sends a whisper {"event":"whisper","channel":channel,"data":{"event":event,"data":data}} to the
 * channel's other clients (channel NULL: the socket's). data_json is JSON text (NULL: null).
 * Only while open: returns BF_EDISCONNECTED otherwise, BF_EINVAL for bad JSON or an empty
 * event, BF_EFULL when more than 1 MiB is already waiting to be written, BF_ENOMEM. Whether the
 * server accepts it arrives later, as an "error" message (e.g. code "whisper_forbidden"). */
BF_EXTERN int bf_client_whisper(bf_client *c, const char *channel, const char *event,
                                const char *data_json);

typedef enum {
    BF_CLIENT_CONNECTING, /* resolving, connecting or upgrading */
    BF_CLIENT_OPEN,
    BF_CLIENT_CLOSING, /* close handshake under way */
    BF_CLIENT_WAITING, /* waiting for the next attempt */
    BF_CLIENT_CLOSED,  /* closed by bf_client_close(): no more attempts */
} bf_client_state;

BF_EXTERN bf_client_state bf_client_get_state(const bf_client *c);
/* "connecting", "open", "closing", "waiting", "closed"; a static string. */
BF_EXTERN const char *bf_client_state_name(bf_client_state s);
/* The last seq seen, or the position belfry:subscribed reported (0: none yet). */
BF_EXTERN uint64_t bf_client_last_seq(const bf_client *c);
/* The channel's epoch (hex) from belfry:subscribed, or "" while unknown (no recovery yet, or
 * forgotten after the sequence restarted). Borrowed: valid until the next message. With
 * bf_client_last_seq it is what GET /history/{channel}?since= on the router needs. */
BF_EXTERN const char *bf_client_epoch(const bf_client *c);
/* The current connection's channel (canonical wire name), or "" before the first attempt.
 * Borrowed: valid until the next attempt starts. */
BF_EXTERN const char *bf_client_channel(const bf_client *c);

#ifdef __cplusplus
}
#endif

#endif
