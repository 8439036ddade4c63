#include "wire.h"
#include "err.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoding ---------------------------------------------------------------------------- */

static void pack_view(msgpack_packer *pk, bf_strview v)
{
    msgpack_pack_str(pk, v.len);
    if (v.len) msgpack_pack_str_body(pk, v.p, v.len);
}

static int finish(msgpack_sbuffer *sb, char **out, size_t *outlen)
{
    if (!sb->data) return BF_ENOMEM;
    *out = sb->data; /* sbuffer memory comes from malloc/realloc: caller frees with free() */
    *outlen = sb->size;
    return 0;
}

int bf_wire_encode_fanout(const bf_fanout *m, char **out, size_t *outlen)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    bool pusher = m->data_raw.len || m->exclude_socket.len;
    msgpack_pack_array(&pk, pusher ? 9 : 7);
    msgpack_pack_uint8(&pk, BF_WIRE_VERSION);
    msgpack_pack_uint8(&pk, (uint8_t)m->kind);
    pack_view(&pk, m->channel);
    msgpack_pack_uint64(&pk, m->seq);
    pack_view(&pk, m->frame);
    pack_view(&pk, m->except_conn); /* or only_conn: one slot */
    pack_view(&pk, m->except_user); /* or kick_user */
    if (pusher) {
        pack_view(&pk, m->data_raw);
        pack_view(&pk, m->exclude_socket);
    }
    return finish(&sb, out, outlen);
}

int bf_wire_encode_inbox(const bf_inbox *m, char **out, size_t *outlen)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 7);
    msgpack_pack_uint8(&pk, BF_WIRE_VERSION);
    msgpack_pack_uint8(&pk, (uint8_t)m->op);
    pack_view(&pk, m->channel);
    pack_view(&pk, m->conn_id);
    pack_view(&pk, m->user_id);
    pack_view(&pk, m->payload);
    msgpack_pack_uint64(&pk, m->hops);
    return finish(&sb, out, outlen);
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* Decoding reads the fixed envelope layout straight from the bytes, with every length checked
 * against what is left. msgpack-c's unpacker is not used here on purpose: it allocates from the
 * element counts in its input before checking them (a 5-byte array32/map32 header makes it ask
 * for ~128 GiB), and anyone who can PUBLISH to Redis can send these. */

typedef struct reader {
    const unsigned char *p, *end;
} reader;

static int rd_be(reader *r, size_t n, uint64_t *v)
{
    if ((size_t)(r->end - r->p) < n) return BF_EPROTO;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) x = (x << 8) | r->p[i];
    r->p += n;
    *v = x;
    return 0;
}

static int rd_array(reader *r, uint64_t *n)
{
    if (r->p >= r->end) return BF_EPROTO;
    unsigned char t = *r->p++;
    if ((t & 0xf0) == 0x90) {
        *n = t & 0x0f;
        return 0;
    }
    if (t == 0xdc) return rd_be(r, 2, n);
    if (t == 0xdd) return rd_be(r, 4, n);
    return BF_EPROTO;
}

static int rd_uint(reader *r, uint64_t *v)
{
    if (r->p >= r->end) return BF_EPROTO;
    unsigned char t = *r->p++;
    if (t <= 0x7f) {
        *v = t;
        return 0;
    }
    switch (t) {
    case 0xcc:
        return rd_be(r, 1, v);
    case 0xcd:
        return rd_be(r, 2, v);
    case 0xce:
        return rd_be(r, 4, v);
    case 0xcf:
        return rd_be(r, 8, v);
    case 0xd0: /* non-negative values in signed encodings are accepted too */
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        size_t n = (size_t)1 << (t - 0xd0);
        uint64_t x;
        if (rd_be(r, n, &x)) return BF_EPROTO;
        if (x >> (8 * n - 1)) return BF_EPROTO; /* negative */
        *v = x;
        return 0;
    }
    case 0xcb: { /* Lua's cmsgpack may encode an integral number as a float64 */
        uint64_t bits;
        double d;
        if (rd_be(r, 8, &bits)) return BF_EPROTO;
        memcpy(&d, &bits, sizeof(d));
        if (!(d >= 0 && d < 9007199254740992.0) || (double)(uint64_t)d != d) return BF_EPROTO;
        *v = (uint64_t)d;
        return 0;
    }
    }
    return BF_EPROTO;
}

static int rd_str(reader *r, bf_strview *v)
{
    if (r->p >= r->end) return BF_EPROTO;
    unsigned char t = *r->p++;
    uint64_t n;
    if ((t & 0xe0) == 0xa0)
        n = t & 0x1f;
    else if (t == 0xd9 || t == 0xc4) {
        if (rd_be(r, 1, &n)) return BF_EPROTO;
    } else if (t == 0xda || t == 0xc5) {
        if (rd_be(r, 2, &n)) return BF_EPROTO;
    } else if (t == 0xdb || t == 0xc6) {
        if (rd_be(r, 4, &n)) return BF_EPROTO;
    } else
        return BF_EPROTO;
    if ((uint64_t)(r->end - r->p) < n) return BF_EPROTO;
    v->p = (const char *)r->p;
    v->len = (size_t)n;
    r->p += n;
    return 0;
}

/* Skips one object of any type (extra trailing elements), without recursion limits beyond
 * the input: containers are walked element by element, and every count is bounded by the
 * bytes that remain (each element takes at least one byte). */
static int rd_skip(reader *r, int depth)
{
    if (r->p >= r->end || depth > 32) return BF_EPROTO;
    unsigned char t = *r->p;
    uint64_t n = 0, v;
    bf_strview s;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
        r->p++;
        return 0;
    }
    if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb || t == 0xc4 || t == 0xc5 ||
        t == 0xc6)
        return rd_str(r, &s);
    if ((t >= 0xcc && t <= 0xcf) || (t >= 0xd0 && t <= 0xd3)) {
        r->p++;
        return rd_be(r, (size_t)1 << (t & 3), &v);
    }
    if (t == 0xca || t == 0xcb) {
        r->p++;
        return rd_be(r, t == 0xca ? 4 : 8, &v);
    }
    bool map = false;
    r->p++;
    if ((t & 0xf0) == 0x90)
        n = t & 0x0f;
    else if ((t & 0xf0) == 0x80)
        n = t & 0x0f, map = true;
    else if (t == 0xdc || t == 0xde) {
        if (rd_be(r, 2, &n)) return BF_EPROTO;
        map = t == 0xde;
    } else if (t == 0xdd || t == 0xdf) {
        if (rd_be(r, 4, &n)) return BF_EPROTO;
        map = t == 0xdf;
    } else
        return BF_EPROTO; /* ext types are never part of an envelope */
    if (map) n *= 2;
    if (n > (uint64_t)(r->end - r->p)) return BF_EPROTO;
    for (uint64_t i = 0; i < n; i++)
        if (rd_skip(r, depth + 1)) return BF_EPROTO;
    return 0;
}

/* Opens the top-level array (at least min_len elements) and checks the version. */
static int rd_open(reader *r, const char *buf, size_t len, uint64_t min_len, uint64_t *n)
{
    uint64_t ver;
    if (!buf || len == 0) return BF_EPROTO;
    r->p = (const unsigned char *)buf;
    r->end = r->p + len;
    if (rd_array(r, n) || *n < min_len || *n > len) return BF_EPROTO;
    if (rd_uint(r, &ver) || ver != BF_WIRE_VERSION) return BF_EPROTO;
    return 0;
}

/* Skips the elements past the ones we know and requires the input to end there. */
static int rd_close(reader *r, uint64_t n, uint64_t known)
{
    for (uint64_t i = known; i < n; i++)
        if (rd_skip(r, 1)) return BF_EPROTO;
    return r->p == r->end ? 0 : BF_EPROTO;
}

int bf_wire_decode_fanout(const char *buf, size_t len, bf_fanout *m)
{
    reader r;
    uint64_t n, kind;
    memset(m, 0, sizeof(*m));
    if (rd_open(&r, buf, len, 5, &n)) return BF_EPROTO;
    if (rd_uint(&r, &kind) || kind < BF_FAN_MESSAGE || kind > BF_FAN_KICK) return BF_EPROTO;
    m->kind = (bf_fan_kind)kind;
    if (rd_str(&r, &m->channel) || rd_uint(&r, &m->seq) || rd_str(&r, &m->frame)) return BF_EPROTO;
    if (n > 5 && rd_str(&r, &m->except_conn)) return BF_EPROTO;
    if (n > 6 && rd_str(&r, &m->except_user)) return BF_EPROTO;
    if (n > 7 && rd_str(&r, &m->data_raw)) return BF_EPROTO;
    if (n > 8 && rd_str(&r, &m->exclude_socket)) return BF_EPROTO;
    if (rd_close(&r, n, n < 9 ? n : 9)) return BF_EPROTO;
    if (m->channel.len == 0 || (m->frame.len == 0 && m->kind != BF_FAN_KICK)) return BF_EPROTO;
    if (m->kind == BF_FAN_MESSAGE && m->seq == 0) return BF_EPROTO;
    if (m->kind == BF_FAN_DIRECT && m->only_conn.len == 0) return BF_EPROTO;
    if (m->kind == BF_FAN_KICK && m->kick_user.len == 0) return BF_EPROTO;
    return 0;
}

int bf_wire_decode_inbox(const char *buf, size_t len, bf_inbox *m)
{
    reader r;
    uint64_t n, op;
    memset(m, 0, sizeof(*m));
    if (rd_open(&r, buf, len, 6, &n)) return BF_EPROTO;
    if (rd_uint(&r, &op) || op < BF_OP_JOIN || op > BF_OP_APPLY) return BF_EPROTO;
    m->op = (bf_inbox_op)op;
    if (rd_str(&r, &m->channel) || rd_str(&r, &m->conn_id) || rd_str(&r, &m->user_id) ||
        rd_str(&r, &m->payload))
        return BF_EPROTO;
    if (n > 6 && rd_uint(&r, &m->hops)) return BF_EPROTO;
    if (rd_close(&r, n, n < 7 ? n : 7)) return BF_EPROTO;
    if (m->channel.len == 0 || (m->conn_id.len == 0 && m->op != BF_OP_APPLY)) return BF_EPROTO;
    return 0;
}
