/* One client WebSocket connection on the gateway.
 *
 * A bf_conn lives in the lws per-session storage of its wsi (lws allocates and frees it). It has a
 * bounded send queue of frame references: bf_conn_enqueue never writes, it queues and puts the
 * connection at the tail of its batch's list of connections with something to send (if it is not
 * listed already). bf_conn_batch_flush, run once per loop iteration after all I/O callbacks (so
 * after every Redis message read in that iteration), takes up to BF_CONN_FLUSH_CHUNK connections
 * from the head of that list and writes each one's queued frames as one buffer — several frames
 * per send() — straight away when lws has nothing of its own buffered for the socket; only what
 * the socket cannot take waits for a WRITEABLE callback. Flushing in chunks, first listed first
 * written, with the loop reading Redis between chunks, makes the writes a rotation: a message
 * that arrives while a large fan-out is being written joins the queues of the connections not
 * yet written and reaches them in this round, instead of every connection waiting for the round
 * to end and then for its place in the next one. Writing without a WRITEABLE request saves the
 * two epoll_ctl calls per delivery that asking for one costs. Every write is of whole frames and
 * lws sends a partially written buffer's rest before anything else (its pongs included), so the
 * byte stream stays well-formed.
 *
 * When the queue would exceed its message or byte limit the connection is marked for closing with
 * 4008 ("slow consumer") instead of growing. Pings go out with the next write (raw, like the
 * frames); closing is done from WRITEABLE, so a connection is never torn down from inside another
 * connection's callback. */
#ifndef BF_CONN_H
#define BF_CONN_H

#include "channel.h"
#include "frame.h"
#include "pace.h"

#include <stdbool.h>
#include <stdint.h>

#define BF_CLOSE_SLOW_CONSUMER 4008
#define BF_CLOSE_KICKED 4010
#define BF_CLOSE_ABNORMAL 1006         /* never sent: marks a connection whose socket failed */
#define BF_CONN_WRITES_PER_CALLBACK 16 /* writes of up to BF_CONN_BATCH_BYTES each */
#define BF_CONN_BATCH_BYTES 65536      /* frames coalesced into one write */
#define BF_CONN_FLUSH_CHUNK 64         /* connections written per loop iteration */
#define BF_CONN_CLOSE_TIMEOUT_S 5
#define BF_LWS_WRITE_CLOSE ((enum lws_write_protocol)4)

enum { BF_RECOVER_NONE = 0, BF_RECOVER_POSITION, BF_RECOVER_SINCE };

struct bf_hub_chan;
struct bf_conn;

/* An intrusive list link: a connection is on the list while prevp != NULL. */
typedef struct bf_conn_link {
    struct bf_conn *next, **prevp;
} bf_conn_link;

/* The wire format a connection speaks (see proto.h): the hub renders a fan-out message once
 * per protocol and shares the frame between that protocol's connections. */
typedef enum { BF_PROTO_NATIVE = 0, BF_PROTO_PUSHER, BF_PROTO__COUNT } bf_proto_id;

/* One channel subscription of a connection. A native connection (/ws/{channel}) has exactly one,
 * a Pusher connection any number (up to --max-channels-per-connection). The hub links the
 * subscriptions of a channel; the connection links its own. Everything that is about a channel
 * (readiness, presence, recovery's skip mark) lives here, not on the connection. */
typedef struct bf_sub {
    struct bf_conn *conn;       /* the connection it belongs to (borrowed) */
    struct bf_hub_chan *chan;   /* owned by the hub; NULL when not joined */
    struct bf_sub *prev, *next; /* on its channel's list (the hub's) */
    struct bf_sub *cnext;       /* on its connection's list */
    bf_channel_type type;
    bool ready;           /* the channel's subscription was confirmed (bf_hub ready callback ran) */
    bool presence_joined; /* a join was sent to the owner: a leave must follow */
    bool awaiting_here;   /* joined, presence:here not yet received: hold back other frames */
    uint64_t skip_upto;   /* recovery delivered every seq up to this: later copies are dropped */
    bool lapsed;   /* ready when its channel's subscription lapsed (one Redis: the link was lost):
                    * closed with 1012 if the stream resumes past a gap (hub.c, check_lapse) */
    char *info;    /* presence member JSON (the join payload) or NULL; owned */
    char *user_id; /* the member's user id when it is the subscription's own (Pusher presence:
                    * channel_data), or NULL: the connection's; owned */
    void *pending; /* a request in flight about this subscription, whose first member is a
                    * bf_sub * that bf_conn_sub_free clears; owned by the request */
} bf_sub;

/* The connections of one process that have frames queued since the last flush, and the write
 * counters. One per event loop. */
typedef struct bf_conn_batch {
    struct bf_conn *head, **tailp; /* FIFO: tailp is where the next connection is linked */
    size_t listed;                 /* connections on the list */
    bf_pace pace;                  /* the rotation's pace (pace.h), measured by every flush */
    uint64_t bytes_out;            /* payload bytes written (WebSocket headers not counted) */
    uint64_t frames_out;
    uint64_t writes; /* lws_write calls that carried frames: frames_out / writes = batching */
    uint64_t writes_partial; /* of those, how many the socket could not take whole */
    unsigned char *scratch;  /* BF_CONN_BATCH_BYTES; owned */
    /* the event loop's cached time in ms (libuv's uv_now: refreshed when the poll returns, so
     * reading it costs no system call); a connection is stamped with it when it is listed.
     * Set by the owner after bf_conn_batch_init; NULL: not measured */
    uint64_t (*clock_ms)(void *arg);
    void *clock_arg;
} bf_conn_batch;

void bf_conn_batch_init(bf_conn_batch *b);
void bf_conn_batch_deinit(bf_conn_batch *b);
/* Writes what the first max listed connections have queued (see the top of this file). Call once
 * per loop iteration, after I/O callbacks (a uv_check handle). Returns true while connections
 * remain listed: the caller keeps the loop from blocking until they are written. */
bool bf_conn_batch_flush(bf_conn_batch *b, size_t max);
/* The write half of the delivery backlog (backlog.h) at now_ms (the same clock as clock_ms): the
 * longer of how long the first listed connection has waited for its turn and how long the last
 * one will wait at the rotation's pace (pace.h); 0 if none is listed. */
uint32_t bf_conn_batch_wait_ms(const bf_conn_batch *b, uint64_t now_ms);

typedef struct bf_conn_limits {
    uint32_t max_msgs;
    size_t max_bytes;
} bf_conn_limits;

typedef struct bf_conn {
    struct lws *wsi;
    bf_sub *subs; /* its subscriptions (owned), linked by cnext */
    uint32_t nsubs;
    uint32_t batch_since_ms; /* batch->clock_ms when it was listed (meaningful while listed) */
    uint8_t proto;           /* bf_proto_id */
    bf_conn_batch *batch;    /* not owned */
    bf_conn_link blink;      /* on batch->head's list */
    bf_conn_link plink;      /* on a bf_conn_pinger slot */
    bf_conn_link alink;      /* on the process's list of every open connection */
    uint64_t id;
    char *user_id;         /* verified user id or NULL; owned */
    char *ip;              /* peer address, kept only while a per-IP limit is on; owned */
    void *pstate;          /* the protocol module's per-connection state, or NULL; owned by it */
    bf_channel_type type;  /* native: its channel's type (the metrics' label) */
    uint8_t recover;       /* BF_RECOVER_*: what the client asked for on connect */
    bool holding;          /* queued frames wait (recovery is reading the history) */
    uint64_t since;        /* recover from: the last seq the client has */
    char *epoch;           /* the client's channel epoch (recovery), or NULL; owned */
    void *pending;         /* an in-flight request about this connection, cancelled on close */
    size_t rxcap;          /* allocated size of rx */
    uint64_t last_rx_ms;   /* when the client last sent anything (a pong included) */
    uint64_t ping_sent_ms; /* an unanswered ping's time, or 0 */
    bool ping_due;         /* a ping goes out with the next write */
    char *close_owned;     /* a close reason that must outlive its sender (kicks), or NULL */
    double wtokens;        /* whisper token bucket */
    uint64_t wlast_ms;
    bf_frame **q; /* ring buffer of references */
    uint32_t qhead, qlen, qcap;
    size_t qbytes;
    char *rx; /* reassembly buffer for fragmented client messages; owned */
    size_t rxlen;
    uint16_t close_code;
    bool close_written;       /* the close frame went out */
    const char *close_reason; /* static string */
} bf_conn;

/* The user id a subscription acts as (borrowed), or NULL. */
static inline const char *bf_sub_user(const bf_sub *s)
{
    return s->user_id ? s->user_id : s->conn->user_id;
}

/* Adds a new, unjoined subscription of the given type to c and returns it (owned by c). */
bf_sub *bf_conn_sub_add(bf_conn *c, bf_channel_type type);
/* Unlinks s from c and frees it; the hub must have dropped it (bf_hub_leave) already. */
void bf_conn_sub_free(bf_conn *c, bf_sub *s);

/* The list of every open connection of a process (head may be NULL); a connection is on it
 * between bf_conn_list_add and bf_conn_list_remove (or bf_conn_deinit). */
void bf_conn_list_add(bf_conn **head, bf_conn *c);
void bf_conn_list_remove(bf_conn *c);

/* Zeroes c and binds it to wsi and to the batch that writes for it. */
void bf_conn_init(bf_conn *c, struct lws *wsi, uint64_t id, bf_conn_batch *batch);
/* Releases queued frames, buffers and subscriptions; the hub must already have dropped every
 * subscription. Called
 * while the socket is still open: if a close never got its close frame out (the peer did not
 * read for BF_CONN_CLOSE_TIMEOUT_S), the socket is set to reset on close, so that the kernel
 * drops what it still holds for that peer instead of keeping it (megabytes for a flooder). */
void bf_conn_deinit(bf_conn *c);

/* Queues a new reference to f. Returns 0; BF_EFULL when the limits would be exceeded, in which
 * case the connection is scheduled to close with 4008 and f is not queued; BF_EDISCONNECTED when
 * the connection is already closing. */
int bf_conn_enqueue(bf_conn *c, bf_frame *f, const bf_conn_limits *lim);

/* Holding: frames are queued but not written (while recovery reads the history). */
void bf_conn_hold(bf_conn *c);
/* Ends holding: queues front[0..n) (references are taken) before what was held, drops held
 * frames whose seq is in (0, upto] (the front already covers them), and starts writing.
 * Returns 0, or BF_EFULL if that exceeded the limits (the connection then closes with 4008). */
int bf_conn_release(bf_conn *c, bf_frame *const *front, size_t n, uint64_t upto,
                    const bf_conn_limits *lim);

/* Sends a ping (payload "bfpg") with the next write; a connection already closing or with a
 * ping pending is left alone. */
void bf_conn_ping(bf_conn *c);

/* Spreads pings over the ticks of a second, so that a second's worth of due pings (a wave of
 * connections opened together) is not written in one loop turn. */
#define BF_CONN_PING_SLOTS 10
typedef struct bf_conn_pinger {
    struct bf_conn *slot[BF_CONN_PING_SLOTS];
    unsigned cur;
} bf_conn_pinger;
/* Schedules a ping for c at the tick of its slot (by connection id); no-op if already scheduled
 * or pending. */
void bf_conn_pinger_add(bf_conn_pinger *p, bf_conn *c);
/* One tick: pings the connections of the current slot and moves to the next. */
void bf_conn_pinger_tick(bf_conn_pinger *p);

/* Schedules a close with code and reason (static string) after nothing more is written. */
void bf_conn_close(bf_conn *c, uint16_t code, const char *reason);

/* Handles LWS_CALLBACK_SERVER_WRITEABLE. Returns the value the lws callback must return
 * (-1 closes the connection). */
int bf_conn_on_writeable(bf_conn *c);

#endif
