/* Fuzzes bf_wire_decode_inbox (common/wire.h): presence operations sent to a router's
 * <prefix>inbox:{router id}, which anyone with PUBLISH access to Redis can send.
 * Properties: accepted envelopes have a known op, a channel and a connection id, views inside the
 * input, and survive a round trip through bf_wire_encode_inbox unchanged. */
#include "fuzz_util.h"
#include "wire.h"

#define INSIDE(v, base, n)                                                                         \
    ((v).len == 0 ||                                                                               \
     ((const uint8_t *)(v).p >= (base) && (const uint8_t *)(v).p + (v).len <= (base) + (n)))

static int same(bf_strview a, bf_strview b)
{
    return a.len == b.len && (a.len == 0 || !memcmp(a.p, b.p, a.len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (size) memcpy(buf, data, size);
    bf_inbox m;
    if (bf_wire_decode_inbox((const char *)buf, size, &m) == 0) {
        FZ_CHECK(m.op >= BF_OP_JOIN && m.op <= BF_OP_KICK, "op %d", (int)m.op);
        FZ_CHECK(m.channel.len > 0 && m.conn_id.len > 0, "empty channel or conn id accepted");
        FZ_CHECK(INSIDE(m.channel, buf, size) && INSIDE(m.conn_id, buf, size) &&
                     INSIDE(m.user_id, buf, size) && INSIDE(m.payload, buf, size),
                 "a view points outside the input");
        char *enc;
        size_t enclen;
        FZ_CHECK(bf_wire_encode_inbox(&m, &enc, &enclen) == 0, "re-encoding failed");
        bf_inbox m2;
        FZ_CHECK(bf_wire_decode_inbox(enc, enclen, &m2) == 0, "re-encoded envelope refused");
        FZ_CHECK(m2.op == m.op && m2.hops == m.hops && same(m2.channel, m.channel) &&
                     same(m2.conn_id, m.conn_id) && same(m2.user_id, m.user_id) &&
                     same(m2.payload, m.payload),
                 "round trip changed the envelope");
        free(enc);
    }
    free(buf);
    return 0;
}
