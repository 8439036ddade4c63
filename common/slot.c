#include "slot.h"

#include <string.h>

/* CRC16-CCITT (XMODEM), four bits at a time: the nibble table is the polynomial 0x1021 applied
 * to each 4-bit value, so the loop is two lookups a byte with no 512-byte table. */
static const uint16_t nibble[16] = {0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7,
                                    0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef};

uint16_t bf_slot_crc16(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc = (uint16_t)((crc << 4) ^ nibble[(crc >> 12) ^ (p[i] >> 4)]);
        crc = (uint16_t)((crc << 4) ^ nibble[(crc >> 12) ^ (p[i] & 0x0f)]);
    }
    return crc;
}

unsigned bf_slot_of_key(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        /* "{}" is no tag: the whole key is hashed */
        if (close && close > open + 1)
            return bf_slot_crc16(open + 1, (size_t)(close - open - 1)) & (BF_SLOT_COUNT - 1);
    }
    return bf_slot_crc16(key, len) & (BF_SLOT_COUNT - 1);
}
