#include "conn.h"
#include "alloc.h"
#include "err.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

void bf_conn_init(bf_conn *c, struct lws *wsi, uint64_t id)
{
    memset(c, 0, sizeof(*c));
    c->wsi = wsi;
    c->id = id;
}

void bf_conn_deinit(bf_conn *c)
{
    while (c->qlen) {
        bf_frame_unref(c->q[c->qhead]);
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
    }
    free(c->q);
    free(c->rx);
    free(c->user_id);
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
    lws_callback_on_writable(c->wsi);
    return 0;
}

void bf_conn_close(bf_conn *c, uint16_t code, const char *reason)
{
    if (c->close_code) return;
    c->close_code = code;
    c->close_reason = reason;
    lws_callback_on_writable(c->wsi);
}

int bf_conn_on_writeable(bf_conn *c, uint64_t *bytes_out)
{
    if (c->close_code) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    if (!c->qlen) return 0;
    bf_frame *f = c->q[c->qhead];
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    c->qbytes -= f->len;
    int n = lws_write(c->wsi, bf_frame_payload(f), f->len, LWS_WRITE_TEXT);
    bf_frame_unref(f);
    if (n < 0) return -1;
    *bytes_out += (uint64_t)n;
    if (c->qlen) lws_callback_on_writable(c->wsi);
    return 0;
}
