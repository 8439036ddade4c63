/* The native protocol: /ws/{channel}, one subscription per connection, frames exactly as the
 * publish script and the routers render them (see docs/protocol.md). */
#include "proto.h"
#include "alloc.h"
#include "client_msg.h"
#include "err.h"
#include "log.h"
#include "message.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

bf_frame *bf_native_render(const bf_fanout *m, const char *channel)
{
    (void)channel;
    return bf_frame_new(m->frame.p, m->frame.len);
}

static void send_error(bf_gateway *gw, bf_conn *c, const char *code, const char *message)
{
    json_t *d = json_pack("{s:s,s:s}", "code", code, "message", message);
    char *data = json_dumps(d, JSON_COMPACT);
    size_t len;
    /* only a message that is not UTF-8 fails to render (memory cannot: bf_alloc_init) */
    char *frame = bf_message_render("error", data ? data : "{\"code\":\"internal\"}", 0, &len);
    bf_gw_send_text(gw, c, frame, len);
    free(frame);
    free(data);
    json_decref(d);
    gw->stats.client_errors_total++;
}

static bool rate_ok(bf_gateway *gw, bf_conn *c)
{
    uint64_t now = bf_now_ms();
    double burst = (double)gw->cfg.whisper_burst;
    if (!c->wlast_ms)
        c->wtokens = burst;
    else
        c->wtokens += (double)(now - c->wlast_ms) * (double)gw->cfg.whisper_rate / 1000.0;
    if (c->wtokens > burst) c->wtokens = burst;
    c->wlast_ms = now;
    if (c->wtokens < 1.0) return false;
    c->wtokens -= 1.0;
    return true;
}

/* Handles one complete client message (see client_msg.h). Whispers go straight through the
 * channel's fan-out subject: they are ephemeral, so they need no sequencing and no owner hop, and
 * Redis keeps one sender's whispers in order. */
void bf_native_on_message(bf_gateway *gw, bf_conn *c, const char *msg, size_t len)
{
    gw->stats.client_messages_total++;
    const char *chname = bf_gw_conn_channel(c);
    if (!chname) return; /* never expected: a native connection joins on establishment */
    bf_client_ctx ctx = {chname, c->type, c->user_id, gw->cfg.allow_public_whisper};
    bf_client_msg m;
    if (bf_client_msg_parse(&ctx, msg, len, &m) == BF_CMSG_ERROR) {
        send_error(gw, c, m.code, m.message);
        return;
    }
    if (!rate_ok(gw, c)) {
        gw->stats.whispers_limited++;
        send_error(gw, c, "rate_limited", "too many whispers; slow down (see --whisper-rate)");
    } else {
        char conn_id[160];
        bf_gw_conn_id(gw, c, conn_id, sizeof(conn_id));
        bf_fanout f = {.kind = BF_FAN_EPHEMERAL,
                       .channel = {chname, strlen(chname)},
                       .frame = {m.frame, m.frame_len},
                       .except_conn = {conn_id, strlen(conn_id)}};
        if (bf_gw_fanout(gw, &f) == 0)
            gw->stats.whispers_total++;
        else
            send_error(gw, c, "unavailable", "cannot relay right now (no Redis); try again");
    }
    free(m.frame);
}

/* The subscription is live: it now sees every later message, so recovery or presence may
 * start. */
void bf_native_on_ready(bf_gateway *gw, bf_sub *s)
{
    bf_conn *c = s->conn;
    if (c->recover)
        bf_recovery_start(gw->recovery, c); /* presence joins when it is done */
    else if (s->type == BF_CH_PRESENCE && !s->presence_joined)
        bf_gw_presence_op(gw, s, BF_OP_JOIN);
}

void bf_native_on_recovered(bf_conn *c, void *arg)
{
    bf_sub *s = c->subs; /* a native connection: its one subscription */
    /* presence starts after the recovered frames: its here arrives in order behind them */
    if (s->type == BF_CH_PRESENCE && !s->presence_joined) bf_gw_presence_op(arg, s, BF_OP_JOIN);
}
