#include "wsguard.h"

#include <string.h>

void bf_wsguard_init(bf_wsguard *g)
{
    memset(g, 0, sizeof(*g));
}

/* The verdict on a header whose first two bytes are known (and, for BF_WSG_LENGTH_MSB, all of
 * it). */
static bf_wsguard_verdict check(const bf_wsguard *g)
{
    uint8_t b0 = g->hdr[0], b1 = g->hdr[1], len7 = b1 & 0x7f;
    if (!(b1 & 0x80)) return BF_WSG_UNMASKED;
    if ((b0 & 0x08) && len7 > 125) return BF_WSG_CONTROL_TOO_LONG; /* opcodes 8-15 */
    if (len7 == 127 && g->hlen >= 3 && (g->hdr[2] & 0x80)) return BF_WSG_LENGTH_MSB;
    return BF_WSG_OK;
}

bf_wsguard_verdict bf_wsguard_scan(bf_wsguard *g, const uint8_t *p, size_t len, size_t *ok_len)
{
    size_t i = 0;
    while (i < len) {
        if (g->skip) {
            size_t n = len - i < g->skip ? len - i : (size_t)g->skip;
            g->skip -= n;
            i += n;
            continue;
        }
        size_t start = i >= g->hlen ? i - g->hlen : 0; /* this frame's header within p */
        g->hdr[g->hlen++] = p[i++];
        if (g->hlen == 2) {
            uint8_t len7 = g->hdr[1] & 0x7f;
            g->need = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
        }
        if (g->hlen >= 2) {
            bf_wsguard_verdict v = check(g);
            if (v != BF_WSG_OK) {
                /* the header began in this chunk only if all of it that we hold is from p */
                *ok_len = i >= g->hlen ? start : 0;
                return v;
            }
        }
        if (g->need && g->hlen == g->need) {
            uint8_t len7 = g->hdr[1] & 0x7f;
            uint64_t n = len7;
            if (len7 == 126) n = (uint64_t)g->hdr[2] << 8 | g->hdr[3];
            if (len7 == 127) {
                n = 0;
                for (int k = 0; k < 8; k++) n = n << 8 | g->hdr[2 + k];
            }
            g->skip = n;
            g->hlen = g->need = 0;
        }
    }
    *ok_len = len;
    return BF_WSG_OK;
}

const char *bf_wsguard_reason(bf_wsguard_verdict v)
{
    switch (v) {
    case BF_WSG_UNMASKED:
        return "client frames must be masked";
    case BF_WSG_CONTROL_TOO_LONG:
        return "control frame payload over 125 bytes";
    case BF_WSG_LENGTH_MSB:
        return "payload length with the most significant bit set";
    default:
        return "";
    }
}
