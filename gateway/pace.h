/* How long the write rotation (conn.h) will take to reach the last connection listed now: the
 * forward-looking half of the gateway's write backlog (backlog.h).
 *
 * The first listed connection's wait (bf_conn_batch_wait_ms) says how late the rotation is for the
 * connection it is about to write, which lags behind what has been queued: when a message for a
 * thousand subscribers arrives the head has waited nothing yet, but the last of the thousand will
 * wait for a whole rotation, and every publish the routers accept meanwhile joins the queues. On
 * one big channel that lag let the delivery p99 reach five times the backlog limit before a
 * report went out. So the gateway also predicts: the rotation's pace (wall-clock microseconds per
 * connection written, the Redis reads and fan-out between chunks included, since the connections
 * still listed wait for those too) times the connections listed.
 *
 * The pace is sampled only across loop iterations that did not block (the previous flush left
 * connections listed, so the loop polled without waiting): the span from that flush's end to this
 * one's, over the connections this one wrote. An average weighted by the connections written
 * (BF_PACE_WEIGHT of them make a full sample) follows a change of frame sizes within a few dozen
 * chunks of 64, slowly enough that one span in which the process was not scheduled (on a shared
 * core, a few ms) does not read as a rotation many times longer; it is kept while the rotation
 * is idle. Plain data, no I/O, no clock of its own. */
#ifndef BF_PACE_H
#define BF_PACE_H

#include <stddef.h>
#include <stdint.h>

#define BF_PACE_WEIGHT 1024

typedef struct bf_pace {
    uint64_t last_us;   /* the end of the last flush that left connections listed; 0: none */
    double us_per_conn; /* the average pace; 0 until the first sample */
} bf_pace;

/* A flush ended at now_us (monotonic) having written `written` connections and left `listed`. */
void bf_pace_flushed(bf_pace *p, uint64_t now_us, size_t written, size_t listed);

/* The predicted wait, in ms, of the last of `listed` connections (0 before the first sample). */
uint64_t bf_pace_ahead_ms(const bf_pace *p, size_t listed);

#endif
