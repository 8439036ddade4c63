#include "wire.h"
#include "err.h"

#include <msgpack.h>
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
    msgpack_pack_array(&pk, 7);
    msgpack_pack_uint8(&pk, BF_WIRE_VERSION);
    msgpack_pack_uint8(&pk, (uint8_t)m->kind);
    pack_view(&pk, m->channel);
    msgpack_pack_uint64(&pk, m->seq);
    pack_view(&pk, m->frame);
    pack_view(&pk, m->exclude_conn);
    pack_view(&pk, m->exclude_user);
    return finish(&sb, out, outlen);
}

int bf_wire_encode_inbox(const bf_inbox *m, char **out, size_t *outlen)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_uint8(&pk, BF_WIRE_VERSION);
    msgpack_pack_uint8(&pk, (uint8_t)m->op);
    pack_view(&pk, m->channel);
    pack_view(&pk, m->conn_id);
    pack_view(&pk, m->user_id);
    pack_view(&pk, m->payload);
    return finish(&sb, out, outlen);
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* Decoding parses into a small fixed object array on the stack with msgpack's zone, then copies
 * out views. The C unpacker references str bodies in the input buffer, so views stay valid after
 * the zone is gone. */

static int get_uint(const msgpack_object *o, uint64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *v = o->via.u64;
        return 0;
    }
    /* Lua's cmsgpack may encode an integral number as a float64 */
    if (o->type == MSGPACK_OBJECT_FLOAT64 && o->via.f64 >= 0 && o->via.f64 < 9007199254740992.0 &&
        (double)(uint64_t)o->via.f64 == o->via.f64) {
        *v = (uint64_t)o->via.f64;
        return 0;
    }
    return BF_EPROTO;
}

static int get_str(const msgpack_object *o, bf_strview *v)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        v->p = o->via.str.ptr;
        v->len = o->via.str.size;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_BIN) {
        v->p = o->via.bin.ptr;
        v->len = o->via.bin.size;
        return 0;
    }
    return BF_EPROTO;
}

/* Unpacks exactly one top-level array of at least min_len elements. */
static int unpack_array(const char *buf, size_t len, msgpack_unpacked *res, size_t min_len,
                        const msgpack_object **items, size_t *n)
{
    size_t off = 0;
    if (!buf || len == 0) return BF_EPROTO;
    if (msgpack_unpack_next(res, buf, len, &off) != MSGPACK_UNPACK_SUCCESS) return BF_EPROTO;
    if (off != len) return BF_EPROTO; /* trailing garbage */
    const msgpack_object *o = &res->data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < min_len) return BF_EPROTO;
    uint64_t ver;
    if (get_uint(&o->via.array.ptr[0], &ver) || ver != BF_WIRE_VERSION) return BF_EPROTO;
    *items = o->via.array.ptr;
    *n = o->via.array.size;
    return 0;
}

int bf_wire_decode_fanout(const char *buf, size_t len, bf_fanout *m)
{
    msgpack_unpacked res;
    msgpack_unpacked_init(&res);
    const msgpack_object *it;
    size_t n;
    uint64_t kind;
    int rc = BF_EPROTO;
    memset(m, 0, sizeof(*m));
    if (unpack_array(buf, len, &res, 5, &it, &n)) goto out;
    if (get_uint(&it[1], &kind) || (kind != BF_FAN_MESSAGE && kind != BF_FAN_EPHEMERAL)) goto out;
    m->kind = (bf_fan_kind)kind;
    if (get_str(&it[2], &m->channel) || get_uint(&it[3], &m->seq) || get_str(&it[4], &m->frame))
        goto out;
    if (n > 5 && get_str(&it[5], &m->exclude_conn)) goto out;
    if (n > 6 && get_str(&it[6], &m->exclude_user)) goto out;
    if (m->channel.len == 0 || m->frame.len == 0) goto out;
    if (m->kind == BF_FAN_MESSAGE && m->seq == 0) goto out;
    rc = 0;
out:
    msgpack_unpacked_destroy(&res);
    return rc;
}

int bf_wire_decode_inbox(const char *buf, size_t len, bf_inbox *m)
{
    msgpack_unpacked res;
    msgpack_unpacked_init(&res);
    const msgpack_object *it;
    size_t n;
    uint64_t op;
    int rc = BF_EPROTO;
    memset(m, 0, sizeof(*m));
    if (unpack_array(buf, len, &res, 6, &it, &n)) goto out;
    if (get_uint(&it[1], &op) || op < BF_OP_JOIN || op > BF_OP_WHISPER) goto out;
    m->op = (bf_inbox_op)op;
    if (get_str(&it[2], &m->channel) || get_str(&it[3], &m->conn_id) ||
        get_str(&it[4], &m->user_id) || get_str(&it[5], &m->payload))
        goto out;
    if (m->channel.len == 0 || m->conn_id.len == 0) goto out;
    rc = 0;
out:
    msgpack_unpacked_destroy(&res);
    return rc;
}
