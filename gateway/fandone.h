/* Fan-out completion reports: for the routers' fan-out window (--fanout-window, router), the
 * gateway tells Redis, per channel, the highest seq it has written to every local subscriber.
 *
 * Only while a live router runs --fanout-window (bf_fandone_set_wanted), and only channels with
 * at least --fanout-report-min-subs local subscriptions are reported: their
 * fan-out is what takes long enough to be worth waiting for, and a report per message of every
 * small channel would double the Redis calls of many-channel traffic. For such a message the hub
 * takes a token (bf_fandone_begin), watches every frame it renders for it with the token
 * (frame.h) and releases its own hold once the message is queued; when the last of those frames
 * is freed — handed to every subscriber's socket, or dropped with its connection — the message
 * is done. Done seqs are collected per channel and sent once per loop turn (bf_fandone_flush),
 * one fandone.lua call per channel (fdone:{channel}, gateway id -> "<seq> <ms>"), which
 * publish.lua's window reads (bf_admit in common/lua/sequence.lib.lua). A report that is lost
 * (the command link down) only makes the window wait for --fanout-stale-ms.
 *
 * The module receives the command link, the key prefix and its node id (all borrowed; they must
 * outlive it). Tokens outlive nothing: bf_fandone_free defers the memory until the last token
 * still watching a queued frame is released. */
#ifndef BF_FANDONE_H
#define BF_FANDONE_H

#include "frame.h"
#include "redis.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bf_fandone bf_fandone;

typedef struct bf_fandone_deps {
    bf_redis *cmd;                /* borrowed */
    const char *prefix, *node_id; /* borrowed */
    size_t min_subs;              /* --fanout-report-min-subs; 0: nothing is reported */
} bf_fandone_deps;

/* Never NULL; free with bf_fandone_free. */
bf_fandone *bf_fandone_new(const bf_fandone_deps *d);
void bf_fandone_free(bf_fandone *f);

/* A message of channel (borrowed; copied) with seq is about to be queued on nsubs local
 * subscriptions. Returns a watch holding one hold of the caller's — watch each rendered frame
 * with it (bf_frame_watch_add) and release the hold (bf_frame_watch_release) once the message is
 * queued — or NULL when the channel is not reported (f NULL, seq 0, nsubs below the minimum). */
bf_frame_watch *bf_fandone_begin(bf_fandone *f, const char *channel, size_t len, uint64_t seq,
                                 size_t nsubs);

/* Whether a live router runs the fan-out window (the heartbeat's reply, liveness.h): reports,
 * and the watching of frames for them, happen only while one does — a report per message costs
 * Redis a script call, which a 1,000-messages/s channel notices. Off until first told. */
void bf_fandone_set_wanted(bf_fandone *f, bool wanted);

/* Once per loop turn, after the writes: sends the reports of what finished since the last call
 * (kept for the next call while the link is down). */
void bf_fandone_flush(bf_fandone *f);

typedef struct bf_fandone_stats {
    uint64_t tracked; /* messages watched */
    uint64_t reports; /* fandone.lua calls sent */
    uint64_t wanted;  /* 1 while a router runs the fan-out window */
} bf_fandone_stats;
const bf_fandone_stats *bf_fandone_stats_get(const bf_fandone *f);

#endif
