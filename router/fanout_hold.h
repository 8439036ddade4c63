/* Publishes held back by the fan-out window (--fanout-window; docs/operations.md, *The fan-out
 * window*) instead of refused: a publish the script refused with FANOUT_BUSY waits here, per
 * channel and in arrival order, and is sent again when a gateway reports a message of the channel
 * written (bf_fhold_wake, from the <prefix>fdone notice fandone.lua publishes), or when the
 * refusal's own estimate of the fan-out's end has passed (the notice may be lost, or come from a
 * gateway that reports nothing more), and is given up — the caller answers 503 overloaded — after
 * --fanout-hold-ms. A held publisher sees a slower answer and no refusal; the router and Redis
 * see one script call per written message and router instead of one per publisher and retry.
 *
 * Only the head of a channel's queue is tried at a time: a wake sends it, and the rest wait for
 * the next wake (the message the head carries makes the channel busy again). A channel holds at
 * most --fanout-hold-max publishes on this router; one more is refused at once.
 *
 * Entries belong to the caller: it parks arg with a function to call, and that function is called
 * exactly once per park — with BF_FHOLD_RETRY (send it again; park it again, at the head, if it is
 * refused again), BF_FHOLD_EXPIRED (the hold time is over: answer 503) or BF_FHOLD_CLOSED (the
 * router is stopping: answer 503). One libevent base, no threads. */
#ifndef BF_FANOUT_HOLD_H
#define BF_FANOUT_HOLD_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bf_fhold bf_fhold;

typedef enum { BF_FHOLD_RETRY, BF_FHOLD_EXPIRED, BF_FHOLD_CLOSED } bf_fhold_why;
typedef void (*bf_fhold_fn)(void *arg, bf_fhold_why why);

/* base: borrowed, must outlive the hold. hold_ms: --fanout-hold-ms (> 0); max: --fanout-hold-max
 * per channel. Never NULL. */
bf_fhold *bf_fhold_new(struct event_base *base, uint64_t hold_ms, size_t max);
/* Calls every parked entry's function with BF_FHOLD_CLOSED, then frees. NULL is a no-op. */
void bf_fhold_free(bf_fhold *h);

/* Parks arg for channel (copied). retry_ms: when to try again without a wake (the refusal's
 * estimate). deadline_ms: the bf_now_ms() at which it is given up (the first park's + hold time:
 * pass 0 on a first park, and the value bf_fhold_deadline gave on the re-parks). at_head: a
 * retried entry refused again goes back first. Returns 0, BF_EFULL (the channel holds max
 * already) or BF_ETIMEDOUT (the deadline has passed): then fn is not called, the caller answers
 * now. */
int bf_fhold_park(bf_fhold *h, const char *channel, uint64_t retry_ms, uint64_t *deadline_ms,
                  bool at_head, bf_fhold_fn fn, void *arg);

/* A gateway reported a message of channel written: the head of its queue is tried. */
void bf_fhold_wake(bf_fhold *h, const char *channel, size_t len);

typedef struct bf_fhold_stats {
    uint64_t held;    /* publishes parked (first parks) */
    uint64_t retries; /* entries sent again */
    uint64_t expired; /* given up after --fanout-hold-ms */
    uint64_t full;    /* refused at once: the channel held --fanout-hold-max */
    uint64_t parked;  /* entries parked now */
} bf_fhold_stats;
const bf_fhold_stats *bf_fhold_stats_get(const bf_fhold *h);

#endif
