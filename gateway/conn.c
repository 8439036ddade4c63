#include "conn.h"
#include "alloc.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "proto.h"
#include "redis.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void bf_conn_batch_init(bf_conn_batch *b)
{
    memset(b, 0, sizeof(*b));
    b->tailp = &b->head;
    b->scratch = bf_malloc(BF_CONN_BATCH_BYTES);
}

void bf_conn_batch_deinit(bf_conn_batch *b)
{
    free(b->scratch);
    b->scratch = NULL;
}

#define LINK(c, off) ((bf_conn_link *)((char *)(c) + (off)))

static void list_push(bf_conn **head, bf_conn *c, size_t off)
{
    bf_conn_link *l = LINK(c, off);
    if (l->prevp) return;
    l->next = *head;
    if (l->next) LINK(l->next, off)->prevp = &l->next;
    l->prevp = head;
    *head = c;
}

static void list_remove(bf_conn *c, size_t off)
{
    bf_conn_link *l = LINK(c, off);
    if (!l->prevp) return;
    *l->prevp = l->next;
    if (l->next) LINK(l->next, off)->prevp = l->prevp;
    l->next = NULL;
    l->prevp = NULL;
}

/* The batch list is FIFO (a rotation, see conn.h): appended at the tail. */
static void batch_add(bf_conn *c)
{
    bf_conn_batch *b = c->batch;
    if (c->blink.prevp) return;
    c->batch_since_ms = b->clock_ms ? (uint32_t)b->clock_ms(b->clock_arg) : 0;
    c->blink.next = NULL;
    c->blink.prevp = b->tailp;
    *b->tailp = c;
    b->tailp = &c->blink.next;
    b->listed++;
}

static void batch_remove(bf_conn *c)
{
    bf_conn_batch *b = c->batch;
    if (!c->blink.prevp) return;
    if (b->tailp == &c->blink.next) b->tailp = c->blink.prevp;
    list_remove(c, offsetof(bf_conn, blink));
    b->listed--;
}

void bf_conn_pinger_add(bf_conn_pinger *p, bf_conn *c)
{
    if (c->ping_due || c->close_code) return;
    list_push(&p->slot[c->id % BF_CONN_PING_SLOTS], c, offsetof(bf_conn, plink));
}

void bf_conn_pinger_tick(bf_conn_pinger *p)
{
    bf_conn **slot = &p->slot[p->cur];
    p->cur = (p->cur + 1) % BF_CONN_PING_SLOTS;
    while (*slot) {
        bf_conn *c = *slot;
        list_remove(c, offsetof(bf_conn, plink));
        bf_conn_ping(c);
    }
}

bf_sub *bf_conn_sub_add(bf_conn *c, bf_channel_type type)
{
    bf_sub *s = bf_calloc(1, sizeof(*s));
    s->conn = c;
    s->type = type;
    s->cnext = c->subs;
    c->subs = s;
    c->nsubs++;
    return s;
}

void bf_conn_sub_free(bf_conn *c, bf_sub *s)
{
    assert(!s->chan && s->conn == c);
    for (bf_sub **pp = &c->subs; *pp; pp = &(*pp)->cnext) {
        if (*pp == s) {
            *pp = s->cnext;
            c->nsubs--;
            break;
        }
    }
    if (s->pending) *(bf_sub **)s->pending = NULL; /* the request finds it gone */
    free(s->info);
    free(s->user_id);
    free(s);
}

void bf_conn_list_add(bf_conn **head, bf_conn *c)
{
    list_push(head, c, offsetof(bf_conn, alink));
}

void bf_conn_list_remove(bf_conn *c)
{
    list_remove(c, offsetof(bf_conn, alink));
}

void bf_conn_init(bf_conn *c, struct lws *wsi, uint64_t id, bf_conn_batch *batch)
{
    memset(c, 0, sizeof(*c));
    c->wsi = wsi;
    c->id = id;
    c->batch = batch;
}

static void drop_queue(bf_conn *c);

void bf_conn_deinit(bf_conn *c)
{
    if (c->close_code && !c->close_written && c->wsi) {
        struct linger reset = {1, 0};
        int fd = (int)lws_get_socket_fd(c->wsi);
        if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    }
    batch_remove(c);
    list_remove(c, offsetof(bf_conn, plink));
    list_remove(c, offsetof(bf_conn, alink));
    while (c->subs) bf_conn_sub_free(c, c->subs);
    drop_queue(c);
    free(c->q);
    free(c->rx);
    free(c->user_id);
    free(c->ip);
    free(c->epoch);
    free(c->close_owned);
    c->close_owned = NULL;
    c->ip = NULL;
    c->epoch = NULL;
    c->q = NULL;
    c->rx = NULL;
    c->user_id = NULL;
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
    if (!c->holding) batch_add(c);
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
    if (c->qlen) batch_add(c);
    return rc;
}

/* Releases the first n queued frames (written, or dropped). */
static void drop_front(bf_conn *c, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        bf_frame *f = c->q[c->qhead];
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
        c->qbytes -= f->len;
        bf_frame_unref(f);
    }
}

static void drop_queue(bf_conn *c)
{
    drop_front(c, c->qlen);
}

void bf_conn_close(bf_conn *c, uint16_t code, const char *reason)
{
    assert(c->wsi); /* an established connection, not yet closed (on_closed clears wsi) */
    /* a code a close frame may carry (RFC 6455 7.4), and a reason that fits beside it */
    assert(code >= 1000 && code < 5000 && code != 1004 && code != 1005 && code != 1006 &&
           code != 1015);
    assert(reason && strlen(reason) <= 123);
    if (c->close_code) return;
    c->close_code = code;
    c->close_reason = reason;
    /* nothing queued will be sent now: free it at once rather than at close */
    drop_queue(c);
    batch_remove(c);
    /* the close frame goes out from WRITEABLE; a peer that never makes room is cut off. What
     * it sends meanwhile is not read: a flooder meets TCP back-pressure, not our CPU. */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, BF_CONN_CLOSE_TIMEOUT_S);
    lws_rx_flow_control(c->wsi, 0);
    lws_callback_on_writable(c->wsi);
}

/* A ping with a payload, because lws reports a pong to us only when it carries one. */
static const unsigned char ping_frame[6] = {0x89, 4, 'b', 'f', 'p', 'g'};

static bool has_output(const bf_conn *c)
{
    return c->ping_due || (c->qlen && !c->holding);
}

/* One write: a due ping first, then queued frames (unless holding) — the frame itself when it is
 * alone or large, otherwise as many as fit copied one after another into the scratch buffer.
 * Returns 0 or -1 (socket error). */
static int write_batch(bf_conn *c)
{
    bf_conn_batch *b = c->batch;
    unsigned char *out = b->scratch;
    size_t total = 0, payload = 0;
    uint32_t n = 0;
    bf_frame *single = NULL;
    if (c->ping_due) {
        memcpy(out, ping_frame, sizeof(ping_frame));
        total = sizeof(ping_frame);
        c->ping_due = false;
        c->ping_sent_ms = bf_now_ms();
    }
    if (c->qlen && !c->holding) {
        bf_frame *f = c->q[c->qhead];
        size_t wl = bf_frame_wire_len(f);
        if (!total && (c->qlen == 1 || wl > BF_CONN_BATCH_BYTES / 2)) {
            single = bf_frame_ref(f);
            out = bf_frame_wire(f);
            total = wl;
            payload = f->len;
            n = 1;
        } else {
            while (n < c->qlen) {
                bf_frame *g = c->q[(c->qhead + n) % c->qcap];
                size_t gl = bf_frame_wire_len(g);
                if (total + gl > BF_CONN_BATCH_BYTES) break;
                memcpy(out + total, bf_frame_wire(g), gl);
                total += gl;
                payload += g->len;
                n++;
            }
        }
        drop_front(c, n);
    }
    /* LWS_WRITE_HTTP is lws' raw write: the bytes are complete frames already. lws returns the
     * whole length when it had to keep a rest, which it sends before anything else. */
    int rc = lws_write(c->wsi, out, total, LWS_WRITE_HTTP);
    bf_frame_unref(single);
    if (rc < 0) return -1;
    if (n) {
        b->writes++;
        b->frames_out += n;
        b->bytes_out += payload;
    }
    return 0;
}

/* Writes while the socket takes it (lws keeping a rest means it did not). One busy socket gets
 * at most BF_CONN_WRITES_PER_CALLBACK writes per turn, so it cannot starve the others. Returns
 * 0, or -1 on a socket error. */
static int write_queue(bf_conn *c)
{
    for (int i = 0; i < BF_CONN_WRITES_PER_CALLBACK && has_output(c); i++) {
        if (write_batch(c) < 0) return -1;
        if (lws_partial_buffered(c->wsi)) {
            c->batch->writes_partial++;
            break;
        }
    }
    if (has_output(c)) lws_callback_on_writable(c->wsi);
    return 0;
}

bool bf_conn_batch_flush(bf_conn_batch *b, size_t max)
{
    if (!b->head && !b->pace.last_us) return false;
    size_t n = 0;
    for (; b->head && n < max; n++) {
        bf_conn *c = b->head;
        batch_remove(c);
        if (c->close_code || !has_output(c)) continue;
        /* the rest lws is still holding goes first, from WRITEABLE */
        if (lws_partial_buffered(c->wsi)) {
            lws_callback_on_writable(c->wsi);
            continue;
        }
        if (write_queue(c) < 0) {
            /* the socket failed: nothing more is sent, and WRITEABLE (or, if lws no longer
             * offers one, the timeout) hangs up without a close frame */
            drop_queue(c);
            c->close_code = BF_CLOSE_ABNORMAL;
            c->close_reason = "write failed";
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, BF_CONN_CLOSE_TIMEOUT_S);
            lws_callback_on_writable(c->wsi);
        }
    }
    bf_pace_flushed(&b->pace, bf_mono_us(), n, b->listed);
    return b->head != NULL;
}

uint32_t bf_conn_batch_wait_ms(const bf_conn_batch *b, uint64_t now_ms)
{
    if (!b->head || !b->clock_ms) return 0;
    uint32_t head = (uint32_t)now_ms - b->head->batch_since_ms;
    uint64_t last = bf_pace_ahead_ms(&b->pace, b->listed);
    return last > head ? (uint32_t)(last > UINT32_MAX ? UINT32_MAX : last) : head;
}

void bf_conn_ping(bf_conn *c)
{
    if (c->close_code || c->ping_due) return;
    c->ping_due = true;
    batch_add(c);
}

int bf_conn_on_writeable(bf_conn *c)
{
    if (c->close_code) {
        if (c->close_code == BF_CLOSE_ABNORMAL) return -1; /* the socket failed: no close frame */
        assert(!c->close_written); /* -1 below makes lws close: no second WRITEABLE */
        /* The close frame is written here, in WRITEABLE, where the socket has room for it.
         * lws 4.1 would not send a reason set with lws_close_reason() when a WRITEABLE callback
         * returns -1 (it hangs up), and its asynchronous kill does not fire promptly on a
         * foreign libuv loop; lws_write() still frames opcode 8 for its internal
         * LWS_WRITE_CLOSE type (4), which the public header hides behind lws_close_reason(). */
        unsigned char buf[LWS_PRE + 125];
        size_t rl = strlen(c->close_reason);
        if (rl > 123) rl = 123;
        /* the gateway's reasons are native codes; the protocol says what its clients get */
        uint16_t code = bf_proto_close_code(c->proto, c->close_code);
        buf[LWS_PRE] = (unsigned char)(code >> 8);
        buf[LWS_PRE + 1] = (unsigned char)(code & 0xff);
        memcpy(buf + LWS_PRE + 2, c->close_reason, rl);
        lws_write(c->wsi, buf + LWS_PRE, rl + 2, BF_LWS_WRITE_CLOSE);
        c->close_written = true;
        return -1;
    }
    /* a batch flush may already have written everything */
    return write_queue(c);
}
