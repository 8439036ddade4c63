/* The one configuration table of belfry-bench (flags and --help come from it; see
 * common/config.h). The bench reads no environment variables: a benchmark is reproducible from
 * its command line alone, which run.sh records next to every result. */
#include "bench.h"
#include "config.h"

#include <stddef.h>

#define F(x) offsetof(bb_config, x)
#define S BF_CFG_STRING
#define I BF_CFG_INT
#define BIG 1000000000LL

const bf_cfg_opt bb_config_table[] = {
    {"mode", S, NULL, "broadcast", 0, 0, "broadcast|idle|presence", F(mode),
     "broadcast: publish and measure delivery; idle: connect and hold; presence: join/leave churn"},
    {"label", S, NULL, "", 0, 0, NULL, F(label), "free text copied into the RESULT line"},
    {"target", S, NULL, "belfry", 0, 0, NULL, F(target),
     "name of the system under test, copied into the RESULT line"},
    {"sub-url", S, NULL, "ws://127.0.0.1:8080/ws/{channel}", 0, 0, NULL, F(sub_url),
     "comma-separated ws:// templates with {channel} (and {user}); subscribers are spread over "
     "them"},
    {"channel-name", S, NULL, "bench-{i}", 0, 0, NULL, F(channel_name),
     "channel name template, {i} = 0..channels-1"},
    {"channels", I, NULL, "1", 1, 1000000, NULL, F(channels), "number of channels"},
    {"subs-per-channel", I, NULL, "1", 0, 1000000, NULL, F(subs_per_channel),
     "subscribers per channel (idle mode: connections = channels x this)"},
    {"source-addrs", I, NULL, "4", 1, 250, NULL, F(source_addrs),
     "bind subscribers to 127.0.0.1 .. 127.0.0.N round-robin (more than ~28k ports per target)"},
    {"connect-rate", I, NULL, "0", 0, BIG, NULL, F(connect_rate),
     "new connections per second (0: as fast as --connect-concurrency allows)"},
    {"connect-concurrency", I, NULL, "256", 1, 100000, NULL, F(connect_concurrency),
     "connections being set up at once"},
    {"connect-timeout-ms", I, NULL, "10000", 10, 600000, NULL, F(connect_timeout_ms),
     "a connect plus upgrade not done by then counts as failed"},
    {"pub-url", S, NULL, "http://127.0.0.1:8090/broadcast/{channel}", 0, 0, NULL, F(pub_url),
     "http:// template (POST), or redis://HOST:PORT/CHANNEL-TEMPLATE (PUBLISH)"},
    {"pub-body", S, NULL, "{\"event\":\"bench\",\"data\":{payload}}", 0, 0, NULL, F(pub_body),
     "publish body; {payload} becomes the bench object {\"_t\":ns,\"_g\":n,\"_c\":chan,\"_p\":pad} "
     "(nchan: just {payload})"},
    {"api-key", S, NULL, NULL, 0, 0, NULL, F(api_key),
     "sends Authorization: Bearer KEY with HTTP publishes"},
    {"pub-conns", I, NULL, "4", 1, 1024, NULL, F(pub_conns), "publisher connections"},
    {"pub-pipeline", I, NULL, "1", 1, 4096, NULL, F(pub_pipeline),
     "requests in flight per publisher connection (HTTP keep-alive: 1; Redis: more is fine)"},
    {"rate", I, NULL, "0", 0, BIG, NULL, F(rate),
     "messages per second over all channels, round-robin (0: flat out, bounded by --window)"},
    {"window", I, NULL, "16", 1, 1000000, NULL, F(window),
     "flat out: messages per channel-width in flight (published, not yet delivered to all)"},
    {"duration", I, NULL, "10", 0, 86400, NULL, F(duration_s),
     "seconds of publishing (presence: churning); 0 with --count: until count"},
    {"count", I, NULL, "0", 0, BIG * 1000, NULL, F(count),
     "stop after this many messages (0: no limit)"},
    {"msg-bytes", I, NULL, "100", 40, 1048576, NULL, F(msg_bytes),
     "size of the {payload} object in bytes"},
    {"warmup-timeout", I, NULL, "20", 0, 3600, NULL, F(warmup_timeout_s),
     "seconds to wait until every subscriber has received a warm-up message"},
    {"drain-timeout-ms", I, NULL, "5000", 100, 600000, NULL, F(drain_timeout_ms),
     "after publishing, wait this long without progress before counting the rest as lost"},
    {"hold", I, NULL, "5", 0, 86400, NULL, F(hold_s),
     "idle mode: seconds to hold the connections before sampling RSS"},
    {"watchdog", I, NULL, "900", 1, 86400, NULL, F(watchdog_s),
     "abort the whole run after this many seconds"},
    {"pids", S, NULL, NULL, 0, 0, NULL, F(pids),
     "server processes to sample, name=pid,name=pid (CPU from /proc/pid/stat, RSS from status)"},
    {"users", I, NULL, "1000", 1, 1000000, NULL, F(users), "presence mode: concurrent users"},
    {"churn-rate", I, NULL, "0", 0, BIG, NULL, F(churn_rate),
     "presence mode: leave+rejoin cycles per second (0: flat out, --window at a time)"},
    {"arrival-latency", I, NULL, "0", 0, 1, NULL, F(arrival_latency),
     "broadcast mode, 1: also measure publish -> arrival in the subscriber's socket, from the "
     "kernel's receive timestamp (SO_TIMESTAMPNS), which excludes the bench's own queueing"},
    {"series-ms", I, NULL, "0", 0, 10000, NULL, F(series_ms),
     "broadcast mode: print the highest latency and the deliveries of every interval of this many "
     "ms to stderr ('series PID MS COUNT MAX_US' lines; 0: off)"},
    {"procs", I, NULL, "1", 1, 64, NULL, F(procs),
     "worker processes (each holds its share of connections: one process may open at most "
     "RLIMIT_NOFILE sockets); broadcast and idle modes"},
    {"channel-offset", I, NULL, "0", 0, BIG, NULL, F(channel_offset),
     "first channel number {i} (lets several bench processes share a server)"},
    {"protocol", S, NULL, "native", 0, 0, "native|pusher", F(protocol),
     "native: one channel per WebSocket from the {channel} URL; pusher: the sub URL is "
     "ws://HOST:PORT/app/KEY and each connection subscribes with pusher:subscribe"},
    {"channels-per-conn", I, NULL, "1", 1, 100, NULL, F(channels_per_conn),
     "pusher, idle mode: public channels each connection subscribes (its own channel and the "
     "next ones, modulo --channels)"},
    {"interval", I, NULL, "0", 0, 86400, NULL, F(interval_s),
     "broadcast mode, one process: also print 'INTERVAL {json}' every N seconds while publishing "
     "(cumulative counts, latency of that interval; bench/soak.sh reads them)"},
    {NULL, 0, NULL, NULL, 0, 0, NULL, 0, NULL},
};
