/* Refcounted outgoing frames.
 *
 * A fan-out message is copied once into a bf_frame with LWS_PRE bytes of headroom and then queued,
 * by reference, on every connection that should get it. Its WebSocket header (a final text frame)
 * is written once, at the end of the headroom: server frames are unmasked, so the header bytes are
 * identical for every socket, and header + payload go out as they are (bf_frame_wire). */
#ifndef BF_FRAME_H
#define BF_FRAME_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

/* Something that waits for frames to be written (fandone.h): done runs when pending, one per
 * watched frame plus any holds of its owner, reaches zero. A frame's last reference goes when
 * every connection it was queued on has handed it to its socket (or closed). */
typedef struct bf_frame_watch {
    uint32_t pending;
    void (*done)(struct bf_frame_watch *w);
} bf_frame_watch;

static inline void bf_frame_watch_release(bf_frame_watch *w)
{
    if (--w->pending == 0) w->done(w);
}

typedef struct bf_frame {
    uint32_t refs;
    uint32_t len;
    uint64_t seq;          /* the channel seq it carries, 0 for ephemeral frames */
    bf_frame_watch *watch; /* released when the frame is freed; NULL: none (borrowed) */
    uint8_t hlen;          /* WebSocket header bytes, just before the payload */
    unsigned char data[];  /* LWS_PRE headroom (ending with the header), then len payload bytes */
} bf_frame;

/* Copies payload into a new frame with one reference owned by the caller. Never NULL. */
bf_frame *bf_frame_new(const void *payload, size_t len);
static inline bf_frame *bf_frame_ref(bf_frame *f)
{
    f->refs++;
    return f;
}
/* f is watched by w (f had none): w's pending count grows by one until f is freed. */
static inline void bf_frame_watch_add(bf_frame *f, bf_frame_watch *w)
{
    f->watch = w;
    w->pending++;
}
/* Drops one reference; frees the frame at zero (releasing its watch). NULL is a no-op. */
void bf_frame_unref(bf_frame *f);
/* The complete WebSocket frame: header and payload, bf_frame_wire_len(f) bytes. */
static inline unsigned char *bf_frame_wire(bf_frame *f)
{
    return f->data + LWS_PRE - f->hlen;
}
static inline size_t bf_frame_wire_len(const bf_frame *f)
{
    return (size_t)f->len + f->hlen;
}

#endif
