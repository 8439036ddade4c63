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
    memcpy(f->data + LWS_PRE, payload, len);
    return f;
}

void bf_frame_unref(bf_frame *f)
{
    if (f && --f->refs == 0) free(f);
}
