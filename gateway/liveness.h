/* The gateway's liveness towards Redis and the cluster: an end-to-end probe of the subscriber
 * link (PUBLISH probe:{us} on the command link, expect it back on the subscriber link; a link
 * that delivers nothing for the probe timeout is reconnected), and the membership heartbeat
 * (gateways zset + node:{id} info, whose reply lists the live routers and so feeds the owners'
 * router ring).
 *
 * The module holds its own probe and heartbeat state and receives what it works on at _new: the
 * two Redis links, the hub (whose fan-out traffic proves the subscriber link alive as well as a
 * probe does) and the owner (whose router ring the heartbeat reply replaces). The one thing it
 * asks the gateway for, the open connection count it reports, comes through a callback. */
#ifndef BF_LIVENESS_H
#define BF_LIVENESS_H

#include "hub.h"
#include "owner.h"
#include "redis.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct bf_liveness bf_liveness;

/* The gateway's open client connections, reported in the heartbeat. */
typedef uint64_t (*bf_liveness_conns_fn)(void *arg);

typedef struct bf_liveness_deps {
    /* all borrowed; each must outlive the object */
    bf_redis *sub, *cmd;
    const bf_hub *hub;
    bf_owner *owner;
    const char *prefix, *node_id;
    const char *host; /* the listen address shown in node:{id} */
    int port;
    uint64_t started_wall_ms;
    uint64_t probe_ms, probe_timeout_ms; /* --redis-probe-ms, --redis-probe-timeout-ms */
    uint64_t heartbeat_ms;               /* --heartbeat-ms */
    long long heartbeat_ttl_ms;          /* --heartbeat-ttl-ms */
    bf_liveness_conns_fn connections;
    /* whether a live router runs the fan-out window, from every heartbeat's reply (fandone.h) */
    void (*fanout_wanted)(bool wanted, void *arg);
    void *arg; /* for connections and fanout_wanted */
} bf_liveness_deps;

/* Never NULL; caller frees with bf_liveness_free, after both links are freed (their replies in
 * flight are delivered, empty, when the links go). */
bf_liveness *bf_liveness_new(const bf_liveness_deps *d);
void bf_liveness_free(bf_liveness *lv);

/* The subscriber link (re)connected: subscribes to our probe channel and restarts the clock. */
void bf_liveness_sub_ready(bf_liveness *lv);
/* The command link (re)connected: the next heartbeat goes at once. */
void bf_liveness_cmd_ready(bf_liveness *lv);
/* The command link went down: until the next heartbeat registers us again, owners could take us
 * for dead, so we count as unregistered. */
void bf_liveness_cmd_down(bf_liveness *lv);
/* Our membership heartbeat succeeded since the last command link (re)connect. */
bool bf_liveness_registered(const bf_liveness *lv);

/* Once per tick: judges the subscriber link (resetting both links after two silent responsive
 * ticks) and sends the next probe when due. */
void bf_liveness_probe_tick(bf_liveness *lv, uint64_t now);
/* Registers the gateway (heartbeat.lua) when a heartbeat is due and the command link ready. */
void bf_liveness_heartbeat_tick(bf_liveness *lv, uint64_t now);

/* Subscriber links reset because they delivered no probe. */
uint64_t bf_liveness_probe_failures(const bf_liveness *lv);

#endif
