/* The run shared by every mode: configuration, the subscriber array, connecting at a controlled
 * rate, timeouts, and the parts of the report every mode has (connect figures, CPU, RSS, load).
 *
 * A mode (broadcast.c, idle.c, presence.c) fills the hooks, calls bb_bench_connect_range to open
 * its connections, runs its own phases with bb_bench_poll, and writes its figures into the report.
 * Subscriber i is on channel i % channels and on sub URL (i / channels) % urls, so that a
 * channel's subscribers are spread over every gateway given, and uses source address
 * 127.0.0.(1 + i % source_addrs).
 *
 * With --protocol pusher (bench/pusher.h) the sub URL is /app/{key}; after
 * pusher:connection_established the subscriber sends pusher:subscribe for its channel (and, with
 * --channels-per-conn K, the K-1 channels after it), and it counts as open -- for the connect
 * figures, the per-channel counts and the mode's on_open -- only once every subscription has
 * succeeded; a connection that closes, errs or times out before that counts as a failed connect.
 * The mode's on_text then receives each event's decoded data string (which holds the payload), so
 * modes need not know the protocol. */
#ifndef BB_BENCH_H
#define BB_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h" /* common/: the table-driven flag parser */
#include "loop.h"
#include "payload.h"
#include "procstat.h"
#include "report.h"
#include "url.h"
#include "worker.h"
#include "wsc.h"

typedef struct bb_config {
    const char *mode, *label, *target;
    const char *sub_url, *channel_name;
    long long channels, subs_per_channel, source_addrs;
    long long connect_rate, connect_concurrency, connect_timeout_ms;
    const char *pub_url, *pub_body, *api_key;
    long long pub_conns, pub_pipeline;
    long long rate, window, duration_s, count, msg_bytes;
    long long warmup_timeout_s, drain_timeout_ms, hold_s, watchdog_s;
    const char *pids;
    long long users, churn_rate;
    long long procs, channel_offset;
    long long arrival_latency;
    long long series_ms;         /* broadcast: per-interval max latency to stderr (0: off) */
    const char *protocol;        /* "native" or "pusher" */
    long long channels_per_conn; /* pusher: subscriptions per connection */
    long long interval_s;        /* broadcast: INTERVAL line every this many seconds (0: none) */
} bb_config;

extern const bf_cfg_opt bb_config_table[];

typedef struct bb_sub {
    bb_ws ws; /* first: callbacks hand back the bb_ws */
    uint32_t chan;
    uint32_t gen;    /* presence: the user generation this connection joined as */
    uint64_t last_g; /* broadcast: highest message number seen, for the reorder count */
    uint8_t warm;    /* broadcast: the warm-up message arrived */
    uint8_t joined;  /* presence: presence:here arrived */
    uint8_t again;   /* presence: reconnect this slot between polls */
    uint8_t ready;   /* pusher: every subscription succeeded (the connection counts as open) */
    uint8_t psubs;   /* pusher: subscription_succeeded received so far */
} bb_sub;

/* What every mode counts about connections and itself; plain data, so that workers can send it
 * to the parent as is and the parent can add them up (bb_common_merge). */
typedef struct bb_common_stats {
    uint64_t started, ok, failed, pending;
    uint64_t fail_socket, fail_connect, fail_handshake, fail_timeout;
    int last_errno;
    unsigned last_close_code;
    uint64_t t_first, t_last_open; /* CLOCK_MONOTONIC: comparable across processes */
    uint64_t open_now, closed_by_peer, conn_errors;
    double self_cpu; /* bench CPU seconds between the two samples */
    char first_failure[160];
} bb_common_stats;

void bb_common_merge(bb_common_stats *dst, const bb_common_stats *src);

typedef struct bb_bench bb_bench;

typedef struct bb_hooks {
    void (*on_open)(bb_bench *b, bb_sub *s, uint64_t now);
    void (*on_text)(bb_bench *b, bb_sub *s, const char *p, size_t len, uint64_t now);
    /* optional: a Pusher event whose payload the bench found without decoding the frame (the
     * fast path, bb_pusher_payload_escaped); on_text gets everything else */
    void (*on_payload)(bb_bench *b, bb_sub *s, const bb_payload *pl, uint64_t now);
    void (*on_close)(bb_bench *b, bb_sub *s, bb_ws_end why, bb_ws_state prev);
} bb_hooks;

struct bb_bench {
    const bb_config *cfg;
    bb_loop *loop;
    bb_wsctx *wsx;
    bb_hooks hooks;
    void *mode; /* the mode's own state */

    bb_url *sub_urls;
    size_t n_sub_urls;
    struct sockaddr_in *src;
    size_t n_src;
    char **chan_names; /* bench-{i} expanded; owned */
    size_t n_chan;
    uint32_t *chan_open; /* open subscribers per channel */
    bb_sub *subs;        /* owned, n_subs of them */
    size_t n_subs;

    size_t planned; /* connections of the whole run (all workers) */
    bb_common_stats cs;
    bb_proc *procs;
    size_t n_procs;
    double self_cpu0;

    int pusher; /* --protocol pusher */
    char *pbuf; /* pusher: decoded event data handed to the mode; owned */
    size_t pbuf_cap;
    uint64_t pusher_control; /* pusher: server control frames (pings, errors) after subscribing */
};

/* Set by SIGINT/SIGTERM: every phase ends at its next poll. */
extern volatile sig_atomic_t bb_stop;

/* Prepares b for n_subs connections. Returns 0, or -1 with err filled. */
int bb_bench_init(bb_bench *b, const bb_config *cfg, size_t n_subs, const bb_hooks *hooks,
                  char *err, size_t errlen);
void bb_bench_deinit(bb_bench *b);

/* Starts connecting subscriber i, as user (NULL: none) for a {user} template. Returns 0 or -1 (a
 * synchronous failure, already counted). Only between polls. */
int bb_bench_start(bb_bench *b, size_t i, const char *user, uint64_t now);

/* Connects subscribers [from, to) at --connect-rate with at most --connect-concurrency pending,
 * and returns when every one of them is open or has failed (each is bounded by
 * --connect-timeout-ms). user_of(i) names the user of subscriber i (NULL callback: none). */
void bb_bench_connect_range(bb_bench *b, size_t from, size_t to,
                            const char *(*user_of)(bb_bench *b, size_t i));

/* One poll of at most timeout_us, then timeouts of connects and closes (checked every 100 ms). */
void bb_bench_poll(bb_bench *b, uint64_t timeout_us);

/* Samples server and own CPU/RSS: which = 0 before the measured phase, 1 after (which also
 * completes b->cs). */
void bb_bench_sample(bb_bench *b, int which);

/* Adds the common fields (label, connect figures, servers, bench CPU, load) to j, and prints the
 * matching table rows. measured_s is the wall time between the two samples. */
void bb_bench_report(bb_bench *b, bb_json *j, double measured_s);

/* Sum of the servers' CPU seconds between the samples (0 if none given). */
double bb_bench_server_cpu(const bb_bench *b);

/* Modes: each runs a whole benchmark and returns the exit status (0: all delivered). */
int bb_mode_broadcast(const bb_config *cfg);
int bb_mode_idle(const bb_config *cfg);
int bb_mode_presence(const bb_config *cfg);

#endif
