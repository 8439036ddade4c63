/* Dispatch from the gateway and the hub to the protocol modules (see proto.h). */
#include "proto.h"
#include "err.h"
#include "log.h"
#include "proto_pusher.h"

bf_frame *bf_proto_render(int proto, const bf_fanout *m, const char *channel, void *arg)
{
    (void)arg;
    switch (proto) {
    case BF_PROTO_NATIVE:
        return bf_native_render(m, channel);
    case BF_PROTO_PUSHER:
        return bf_pusher_render_frame(m, channel);
    }
    return NULL;
}

uint16_t bf_proto_close_code(int proto, uint16_t code)
{
    return proto == BF_PROTO_PUSHER ? bf_pusher_close_code(code) : code;
}

void bf_proto_on_message(bf_gateway *gw, bf_conn *c, const char *msg, size_t len)
{
    switch (c->proto) {
    case BF_PROTO_NATIVE:
        bf_native_on_message(gw, c, msg, len);
        break;
    case BF_PROTO_PUSHER:
        bf_pusher_on_message(gw, c, msg, len);
        break;
    }
}

void bf_proto_on_ready(bf_sub *s, void *arg)
{
    bf_gateway *gw = arg;
    switch (s->conn->proto) {
    case BF_PROTO_NATIVE:
        bf_native_on_ready(gw, s);
        break;
    case BF_PROTO_PUSHER:
        bf_pusher_on_ready(gw, s);
        break;
    }
}

void bf_proto_on_close(bf_gateway *gw, bf_conn *c)
{
    if (c->proto == BF_PROTO_PUSHER) bf_pusher_on_close(gw, c);
}

void bf_gw_send_text(bf_gateway *gw, bf_conn *c, const char *text, size_t len)
{
    bf_frame *f = bf_frame_new(text, len);
    bf_conn_limits lim = {(uint32_t)gw->cfg.send_queue_messages, (size_t)gw->cfg.send_queue_bytes};
    if (bf_conn_enqueue(c, f, &lim) == BF_EFULL) {
        gw->stats.slow_consumers++;
        bf_warn("connection %llu closed: slow consumer (its replies filled its queue)",
                (unsigned long long)c->id);
    }
    bf_frame_unref(f);
}
