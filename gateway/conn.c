#include "conn.h"
#include "alloc.h"
#include "err.h"
#include "log.h"
#include "redis.h"

#include <stdlib.h>
#include <string.h>

void bf_conn_init(bf_conn *c, struct lws *wsi, uint64_t id)
{
    memset(c, 0, sizeof(*c));
    c->wsi = wsi;
    c->id = id;
}

static void drop_queue(bf_conn *c);

void bf_conn_deinit(bf_conn *c)
{
    drop_queue(c);
    free(c->q);
    free(c->rx);
    free(c->user_id);
    free(c->info);
    free(c->ip);
    free(c->epoch);
    free(c->close_owned);
    c->close_owned = NULL;
    c->ip = NULL;
    c->epoch = NULL;
    c->q = NULL;
    c->rx = NULL;
    c->user_id = NULL;
    c->info = NULL;
    c->qbytes = 0;
}

static void grow(bf_conn *c, uint32_t max)
{
    uint32_t ncap = c->qcap ? c->qcap * 2 : 4;
    if (ncap > max) ncap = max;
    bf_frame **nq = bf_malloc(sizeof(bf_frame *) * ncap);
    for (uint32_t i = 0; i < c->qlen; i++) nq[i] = c->q[(c->qhead + i) % c->qcap];
    free(c->q);
    c->q = nq;
    c->qhead = 0;
    c->qcap = ncap;
}

int bf_conn_enqueue(bf_conn *c, bf_frame *f, const bf_conn_limits *lim)
{
    if (c->close_code) return BF_EDISCONNECTED; /* closing: nothing more goes out */
    if (c->qlen + 1 > lim->max_msgs || c->qbytes + f->len > lim->max_bytes) {
        bf_conn_close(c, BF_CLOSE_SLOW_CONSUMER, "slow consumer");
        return BF_EFULL;
    }
    if (c->qlen == c->qcap) grow(c, lim->max_msgs);
    c->q[(c->qhead + c->qlen) % c->qcap] = bf_frame_ref(f);
    c->qlen++;
    c->qbytes += f->len;
    if (!c->holding) lws_callback_on_writable(c->wsi);
    return 0;
}

void bf_conn_hold(bf_conn *c)
{
    c->holding = true;
}

int bf_conn_release(bf_conn *c, bf_frame *const *front, size_t n, uint64_t upto,
                    const bf_conn_limits *lim)
{
    uint32_t held = c->qlen, head = c->qhead, cap = c->qcap;
    bf_frame **old = c->q;
    c->q = NULL;
    c->qhead = c->qlen = c->qcap = 0;
    c->qbytes = 0;
    c->holding = false;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        if (bf_conn_enqueue(c, front[i], lim) == BF_EFULL) rc = BF_EFULL;
    for (uint32_t i = 0; i < held; i++) {
        bf_frame *f = old[(head + i) % cap];
        if (!rc && !(f->seq && f->seq <= upto) && bf_conn_enqueue(c, f, lim) == BF_EFULL)
            rc = BF_EFULL;
        bf_frame_unref(f);
    }
    free(old);
    if (c->qlen) lws_callback_on_writable(c->wsi);
    return rc;
}

static void drop_queue(bf_conn *c)
{
    while (c->qlen) {
        bf_frame_unref(c->q[c->qhead]);
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
    }
    c->qbytes = 0;
}

void bf_conn_close(bf_conn *c, uint16_t code, const char *reason)
{
    if (c->close_code) return;
    c->close_code = code;
    c->close_reason = reason;
    /* nothing queued will be sent now: free it at once rather than at close */
    drop_queue(c);
    /* the close frame goes out from WRITEABLE; a peer that never makes room is cut off */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, BF_CONN_CLOSE_TIMEOUT_S);
    lws_callback_on_writable(c->wsi);
}

int bf_conn_on_writeable(bf_conn *c, uint64_t *bytes_out)
{
    if (c->ping_due && !c->close_code) {
        /* a payload, because lws reports a pong to us only when it carries one */
        unsigned char ping[LWS_PRE + 4];
        memcpy(ping + LWS_PRE, "bfpg", 4);
        c->ping_due = false;
        c->ping_sent_ms = bf_now_ms();
        if (lws_write(c->wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 0) return -1;
        if (c->qlen && !c->holding) lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->holding && !c->close_code) return 0;
    if (c->close_code) {
        /* The close frame is written here, in WRITEABLE, where the socket has room for it.
         * lws 4.1 would not send a reason set with lws_close_reason() when a WRITEABLE callback
         * returns -1 (it hangs up), and its asynchronous kill does not fire promptly on a
         * foreign libuv loop; lws_write() still frames opcode 8 for its internal
         * LWS_WRITE_CLOSE type (4), which the public header hides behind lws_close_reason(). */
        unsigned char buf[LWS_PRE + 125];
        size_t rl = strlen(c->close_reason);
        if (rl > 123) rl = 123;
        buf[LWS_PRE] = (unsigned char)(c->close_code >> 8);
        buf[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
        memcpy(buf + LWS_PRE + 2, c->close_reason, rl);
        lws_write(c->wsi, buf + LWS_PRE, rl + 2, BF_LWS_WRITE_CLOSE);
        return -1;
    }
    /* Several frames per callback while the socket takes them (lws_send_pipe_choked is lws'
     * own test for that on HTTP/1 WebSockets): one frame per loop iteration could never keep up
     * with a burst read from Redis. The cap keeps one busy socket from starving the others. */
    for (int i = 0; i < BF_CONN_WRITES_PER_CALLBACK && c->qlen; i++) {
        if (i && lws_send_pipe_choked(c->wsi)) break;
        bf_frame *f = c->q[c->qhead];
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
        c->qbytes -= f->len;
        int n = lws_write(c->wsi, bf_frame_payload(f), f->len, LWS_WRITE_TEXT);
        bf_frame_unref(f);
        if (n < 0) return -1;
        *bytes_out += (uint64_t)n;
    }
    if (c->qlen) lws_callback_on_writable(c->wsi);
    return 0;
}
