#include "ws_proto.h"

#include "err.h"
#include "http.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int bf__ws_make_key(char *key)
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof(raw)) != 1) return BF_EIO;
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
    return 0;
}

int bf__ws_accept_for(const char *key, char *out)
{
    char buf[128];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int n = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
    if (n < 0 || (size_t)n >= sizeof(buf)) return BF_EINVAL;
    if (!EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20) return BF_EIO;
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
    return 0;
}

int bf__ws_check_upgrade(const char *hdr, size_t len, const char *key, int *status,
                         long long *content_length, char *err, size_t errlen)
{
    const char *end = hdr + len, *v;
    size_t vl;
    int minor;
    *status = 0;
    *content_length = -1;
    if (sscanf(hdr, "HTTP/1.%d %d", &minor, status) != 2) {
        *status = 0;
        snprintf(err, errlen, "the server's answer is not HTTP/1.x");
        return BF_EPROTO;
    }
    if ((v = bf__http_header(hdr, end, "Content-Length", &vl)))
        *content_length = strtoll(v, NULL, 10);
    if (*status != 101) {
        snprintf(err, errlen, "the server refused the upgrade with HTTP %d", *status);
        return BF_EPROTO;
    }
    if (!(v = bf__http_header(hdr, end, "Upgrade", &vl)) ||
        !bf__http_has_token(v, vl, "websocket")) {
        snprintf(err, errlen, "101 without \"Upgrade: websocket\"");
        return BF_EPROTO;
    }
    if (!(v = bf__http_header(hdr, end, "Connection", &vl)) ||
        !bf__http_has_token(v, vl, "upgrade")) {
        snprintf(err, errlen, "101 without \"Connection: upgrade\"");
        return BF_EPROTO;
    }
    char want[BF__WS_ACCEPT_LEN + 1];
    if (bf__ws_accept_for(key, want)) {
        snprintf(err, errlen, "cannot compute the expected Sec-WebSocket-Accept");
        return BF_EPROTO;
    }
    v = bf__http_header(hdr, end, "Sec-WebSocket-Accept", &vl);
    if (!v || vl != BF__WS_ACCEPT_LEN || memcmp(v, want, vl)) {
        snprintf(err, errlen, "wrong or missing Sec-WebSocket-Accept (expected %s)", want);
        return BF_EPROTO;
    }
    /* we offered no extension and no subprotocol, so none may be chosen */
    if (bf__http_header(hdr, end, "Sec-WebSocket-Extensions", &vl) && vl) {
        snprintf(err, errlen, "the server chose an extension the client did not offer");
        return BF_EPROTO;
    }
    return 0;
}

uint8_t *bf__ws_encode(int opcode, const void *payload, size_t len, size_t room, size_t *outlen)
{
    uint8_t hdr[BF__WS_MAX_HEADER];
    size_t h = 0;
    hdr[h++] = (uint8_t)(0x80 | (opcode & 0x0f)); /* FIN: the client never fragments */
    if (len < 126) {
        hdr[h++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint8_t *mask = hdr + h;
    if (RAND_bytes(mask, 4) != 1) return NULL;
    h += 4;
    uint8_t *out = malloc(room + h + len);
    if (!out) return NULL;
    uint8_t *f = out + room;
    memcpy(f, hdr, h);
    const uint8_t *src = payload;
    for (size_t i = 0; i < len; i++) f[h + i] = src[i] ^ mask[i & 3];
    *outlen = h + len;
    return out;
}

int bf__ws_parse(uint8_t *buf, size_t len, uint64_t max_payload, bf__ws_frame *f)
{
    if (len < 2) return 0;
    int fin = buf[0] >> 7, rsv = (buf[0] >> 4) & 7, opcode = buf[0] & 0x0f;
    int masked = buf[1] >> 7;
    uint64_t plen = buf[1] & 0x7f;
    size_t h = 2;
    if (rsv || masked) return -BF__WS_PROTOCOL_ERROR; /* no extension; servers never mask */
    switch (opcode) {
    case BF__WS_CONT:
    case BF__WS_TEXT:
    case BF__WS_BINARY:
        break;
    case BF__WS_CLOSE:
    case BF__WS_PING:
    case BF__WS_PONG:
        if (!fin || plen > 125) return -BF__WS_PROTOCOL_ERROR;
        break;
    default:
        return -BF__WS_PROTOCOL_ERROR;
    }
    if (plen == 126) {
        if (len < 4) return 0;
        plen = (uint64_t)buf[2] << 8 | buf[3];
        if (plen < 126) return -BF__WS_PROTOCOL_ERROR; /* not minimal */
        h = 4;
    } else if (plen == 127) {
        if (len < 10) return 0;
        plen = 0;
        for (int i = 0; i < 8; i++) plen = plen << 8 | buf[2 + i];
        if (plen >> 63 || plen <= 0xffff) return -BF__WS_PROTOCOL_ERROR;
        h = 10;
    }
    if (plen > max_payload) return -BF__WS_TOO_BIG;
    if (len - h < plen) return 0;
    f->fin = fin;
    f->opcode = opcode;
    f->payload = buf + h;
    f->len = plen;
    f->frame_len = h + (size_t)plen;
    return 1;
}

int bf__ws_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            need = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i - 1 < need) return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += need + 1;
    }
    return 1;
}
