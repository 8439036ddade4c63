#include "frame.h"
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

bf_frame *bf_frame_new(const void *payload, size_t len)
{
    bf_frame *f = bf_malloc(sizeof(bf_frame) + LWS_PRE + len);
    f->refs = 1;
    f->len = (uint32_t)len;
    f->seq = 0;
    f->watch = NULL;
    memcpy(f->data + LWS_PRE, payload, len);
    /* RFC 6455 5.2: FIN + text opcode, then a 7-, 16- or 64-bit length, no mask */
    unsigned char *h = f->data + LWS_PRE;
    if (len < 126) {
        f->hlen = 2;
        h[-1] = (unsigned char)len;
    } else if (len < 65536) {
        f->hlen = 4;
        h[-3] = 126;
        h[-2] = (unsigned char)(len >> 8);
        h[-1] = (unsigned char)len;
    } else {
        f->hlen = 10;
        h[-9] = 127;
        for (int i = 0; i < 8; i++) h[-1 - i] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    h[-(int)f->hlen] = 0x81;
    return f;
}

void bf_frame_unref(bf_frame *f)
{
    if (!f || --f->refs) return;
    bf_frame_watch *w = f->watch;
    free(f);
    if (w) bf_frame_watch_release(w);
}
