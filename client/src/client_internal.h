/* Internals of bf_client, shared by client.c (state machine, reconnection, dispatch) and
 * client_io.c (TCP, the opening handshake, frames).
 *
 * States (one function, set_state in client.c, changes them and logs each transition; every
 * waiting state has a deadline on c->timer):
 *
 *   RESOLVING -> CONNECTING -> UPGRADING -> OPEN -> CLOSING -+
 *       |            |            |          |               |
 *       +------------+------------+----------+---------------+--> (attempt ends) --> WAITING
 *   WAITING --(backoff timer)--> RESOLVING          ... or CLOSED after bf_client_close()
 *
 * An attempt owns one bf__conn (the TCP handle). Ending an attempt detaches it: conn->c = NULL
 * and uv_close; libuv then runs its pending callbacks (connect, write) with the handle closed,
 * and they find no client and only free their own memory. So a conn never outlives its use and
 * never points at a freed client. */
#ifndef BF__CLIENT_INTERNAL_H
#define BF__CLIENT_INTERNAL_H

#include "url.h"
#include "ws_proto.h"

#include <belfry/client.h>

#include <jansson.h>
#include <stdbool.h>

#define BF__CHANNEL_MAX 164

typedef enum {
    BF__ST_RESOLVING,
    BF__ST_CONNECTING,
    BF__ST_UPGRADING,
    BF__ST_OPEN,
    BF__ST_CLOSING,
    BF__ST_WAITING,
    BF__ST_CLOSED,
} bf__cstate;

typedef struct bf__conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    bf_client *c; /* NULL once detached */
} bf__conn;

typedef struct bf__sub {
    bf_client_sub id;
    char *key;
    bf_client_handler fn; /* NULL: cancelled during a dispatch, removed after it */
    void *arg;
} bf__sub;

struct bf_client {
    uv_loop_t *loop;
    bf_client_opts o; /* defaults applied; o.url points at url_copy */
    char *url_copy;
    bf__cstate state;
    uv_timer_t timer; /* the current state's deadline or backoff */

    /* the current attempt */
    bf__url target;
    char channel[BF__CHANNEL_MAX + 1];     /* canonical, with a type= prefix applied */
    char channel_raw[BF__CHANNEL_MAX + 1]; /* as written in the URL */
    char key[BF__WS_KEY_LEN + 1];
    bf__conn *conn;
    uv_getaddrinfo_t *gai; /* pending resolution; its data is NULLed to abandon it */
    uint8_t *rbuf;         /* bytes read and not yet consumed */
    size_t rlen, rcap;
    size_t upgrade_hdr_len; /* a refused upgrade: header bytes, body length (-1: to EOF) */
    int refused_status;
    long long refused_body_len;
    char *msg; /* reassembly of a fragmented message */
    size_t msg_len, msg_cap;
    int msg_opcode; /* 0: not inside a fragmented message */
    uint64_t last_rx_ms;
    bool ping_out;
    bool close_sent, close_received;
    int close_code;
    char close_reason[128];
    bool subscribed;      /* belfry:subscribed arrived on this connection */
    uint64_t asked_since; /* the since= this attempt asked for (0 with recover=1 or none) */

    /* across attempts */
    unsigned retries; /* consecutive attempts that ended without opening */
    bool stopped;     /* bf_client_close(): no more attempts */
    uint64_t last_seq;
    bool have_base;      /* last_seq is a baseline to check the next seq against */
    char epoch[40];      /* the channel's epoch (hex) from belfry:subscribed; "" unknown */
    uint64_t backoff_ms; /* the delay WAITING waits */

    /* subscriptions */
    bf__sub *subs;
    size_t nsubs, cap_subs;
    bf_client_sub next_sub;
    int dispatching;
    bool sweep;

    /* lifetime: depth counts libuv callbacks in progress; bf_client_free inside one only sets
     * freeing, and the outermost callback tears down on its way out */
    int depth;
    bool freeing;
};

/* ---- client.c, called by client_io.c ---------------------------------------------------- */

void bf__client_log(bf_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bf__client_set_state(bf_client *c, bf__cstate s);
/* The upgrade succeeded. */
void bf__client_opened(bf_client *c);
/* A complete text message arrived while open. */
void bf__client_text(bf_client *c, const char *text, size_t len);
/* The current attempt is over: detaches it, reports code/reason, schedules the next attempt. */
void bf__client_ended(bf_client *c, int code, const char *reason);
/* Brackets every libuv callback that touches c; leave() returns false if c is gone. */
void bf__client_enter(bf_client *c);
/* client_recovery.c: the recovery parameters of an attempt's URL (0 or BF_ERANGE), the
 * belfry:subscribed frame, seq tracking with gap reports. */
int bf__client_recovery_params(bf_client *c, char *url, size_t cap);
void bf__client_on_subscribed(bf_client *c, json_t *data);
void bf__client_report_gap(bf_client *c, uint64_t expected, uint64_t got);
void bf__client_track_seq(bf_client *c, const char *event, uint64_t seq, json_t *data);
/* A JSON number as a non-negative integer (0 otherwise). */
uint64_t bf__client_uint_of(json_t *v);
bool bf__client_leave(bf_client *c);

/* ---- client_io.c ------------------------------------------------------------------------ */

/* Starts resolving/connecting c->target for a new attempt (state RESOLVING already set). */
void bf__io_connect(bf_client *c);
/* Abandons the attempt's connection and resolution without calling back; resets input state. */
void bf__io_detach(bf_client *c);
/* Queues one frame. Returns 0, BF_EDISCONNECTED, BF_ENOMEM or BF_EIO. */
int bf__io_send(bf_client *c, int opcode, const void *payload, size_t len);
/* Sends a close frame with code and reason unless one was sent already. */
void bf__io_send_close(bf_client *c, int code, const char *reason);
/* Bytes written to the socket's queue and not yet flushed. */
size_t bf__io_queued(const bf_client *c);

#endif
