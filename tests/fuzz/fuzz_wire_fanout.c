/* Fuzzes bf_wire_decode_fanout (common/wire.h): fan-out envelopes, which anyone with PUBLISH
 * access to Redis can send to every gateway on <prefix>fan:{channel}.
 * Properties: every accepted envelope satisfies the header's rules (kind, non-empty channel and
 * frame, seq for messages, target for direct, user for kicks), its views point into the input,
 * and re-encoding it with bf_wire_encode_fanout decodes to the same fields. */
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
    /* a heap copy of exactly size bytes: ASan catches any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    if (size) memcpy(buf, data, size);
    bf_fanout m;
    if (bf_wire_decode_fanout((const char *)buf, size, &m) == 0) {
        FZ_CHECK(m.kind >= BF_FAN_MESSAGE && m.kind <= BF_FAN_KICK, "kind %d", (int)m.kind);
        FZ_CHECK(m.channel.len > 0, "empty channel accepted");
        FZ_CHECK(m.frame.len > 0 || m.kind == BF_FAN_KICK, "empty frame accepted");
        FZ_CHECK(m.kind != BF_FAN_MESSAGE || m.seq > 0, "message without seq");
        FZ_CHECK(m.kind != BF_FAN_DIRECT || m.only_conn.len > 0, "direct without target");
        FZ_CHECK(m.kind != BF_FAN_KICK || m.kick_user.len > 0, "kick without user");
        FZ_CHECK(INSIDE(m.channel, buf, size) && INSIDE(m.frame, buf, size) &&
                     INSIDE(m.except_conn, buf, size) && INSIDE(m.except_user, buf, size) &&
                     INSIDE(m.data_raw, buf, size) && INSIDE(m.exclude_socket, buf, size),
                 "a view points outside the input");
        char *enc;
        size_t enclen;
        FZ_CHECK(bf_wire_encode_fanout(&m, &enc, &enclen) == 0, "re-encoding failed");
        bf_fanout m2;
        FZ_CHECK(bf_wire_decode_fanout(enc, enclen, &m2) == 0, "re-encoded envelope refused");
        FZ_CHECK(m2.kind == m.kind && m2.seq == m.seq && same(m2.channel, m.channel) &&
                     same(m2.frame, m.frame) && same(m2.except_conn, m.except_conn) &&
                     same(m2.except_user, m.except_user) && same(m2.data_raw, m.data_raw) &&
                     same(m2.exclude_socket, m.exclude_socket),
                 "round trip changed the envelope");
        free(enc);
    }
    free(buf);
    return 0;
}
