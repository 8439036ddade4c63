/* The router's Prometheus metrics: see metrics.h. */
#include "metrics.h"
#include "redis_metrics.h"

#include <stdlib.h>

void bf_rt_metrics_render(struct evbuffer *b, const bf_rt_metrics *m)
{
    const bf_rt_stats *s = m->stats;
    const bf_owner_ops_stats *o = m->owner;
    evbuffer_add_printf(b,
                        "# HELP belfry_router_publishes_total Messages sequenced and fanned out.\n"
                        "# TYPE belfry_router_publishes_total counter\n"
                        "belfry_router_publishes_total{source=\"http\"} %llu\n"
                        "belfry_router_publishes_total{source=\"redis\"} %llu\n",
                        (unsigned long long)s->publishes_http,
                        (unsigned long long)s->publishes_redis);
#define C(name, help, type, v)                                                                     \
    evbuffer_add_printf(b, "# HELP " name " " help "\n# TYPE " name " " type "\n" name " %llu\n",  \
                        (unsigned long long)(v))
    C("belfry_router_publish_failures_total", "Publishes that Redis did not accept.", "counter",
      s->publish_failures);
    C("belfry_router_publishes_refused_total",
      "Publishes refused with 503 overloaded while a gateway was behind on delivery.", "counter",
      s->publishes_refused);
    C("belfry_router_publishes_fanout_busy_total",
      "Publishes refused with 503 overloaded because a gateway was still writing the channel's "
      "earlier messages (--fanout-window; also in publishes_refused_total).",
      "counter", s->publishes_fanout_busy);
    static const bf_fhold_stats no_hold;
    const bf_fhold_stats *h = m->hold ? m->hold : &no_hold;
    C("belfry_router_publishes_held_total",
      "Publishes the fan-out window held (answered once the channel's last message was written, "
      "or 503 after --fanout-hold-ms).",
      "counter", h->held);
    C("belfry_router_publishes_held_expired_total",
      "Held publishes answered 503 overloaded after --fanout-hold-ms.", "counter", h->expired);
    C("belfry_router_publishes_held_full_total",
      "Publishes refused at once because their channel already held --fanout-hold-max.", "counter",
      h->full);
    C("belfry_router_publishes_held_retries_total",
      "Held publishes sent again (a gateway reported the channel written, or its time passed).",
      "counter", h->retries);
    C("belfry_router_publishes_held", "Publishes held now.", "gauge", h->parked);
    C("belfry_router_gateways_behind",
      "Gateways behind on delivery (or silent with Redis queueing for them) at the last check.",
      "gauge", m->gateways_behind);
    C("belfry_router_ingress_malformed_total", "Redis ingress messages dropped as malformed.",
      "counter", s->ingress_malformed);
    C("belfry_router_ingress_dropped_no_ring_total",
      "Redis ingress messages dropped while this router had no ring.", "counter",
      s->ingress_no_ring);
    C("belfry_router_http_requests_total", "HTTP API requests.", "counter", s->http_requests);
    C("belfry_router_http_errors_total", "HTTP API requests answered with an error.", "counter",
      s->http_errors);
    C("belfry_router_presence_joins_total",
      "presence:join events emitted applying pending presence operations.", "counter", o->joins);
    C("belfry_router_presence_leaves_total",
      "presence:leave events emitted applying pending presence operations.", "counter", o->leaves);
    C("belfry_router_presence_applies_total", "presence_apply.lua calls.", "counter", o->applies);
    C("belfry_router_presence_ops_applied_total", "Pending presence operations applied.", "counter",
      o->applied);
    C("belfry_router_presence_pending_channels",
      "Channels with presence operations waiting to be applied, at the last sweep pass.", "gauge",
      o->pending_channels);
    C("belfry_router_presence_repended_total",
      "Redis Cluster: channels put back in ppending because an operation arrived while an "
      "emptied queue left it.",
      "counter", o->repended);
    C("belfry_router_presence_deferred_total",
      "Redis Cluster: applies that waited for a newer view of the live gateways (a join of a "
      "gateway this router had not seen yet).",
      "counter", o->deferred);
    C("belfry_router_presence_forwards_total", "Owner operations forwarded to another router.",
      "counter", o->forwards);
    C("belfry_router_presence_stale_total",
      "Always 0: presence operations need no fence any more (kept for dashboards).", "counter",
      s->presence_stale);
    C("belfry_router_kicks_total", "Kicks executed as owner.", "counter", s->kicks + o->kicks);
    C("belfry_router_owned_channels",
      "Active channels (with connections on some gateway) this router owns; refreshed every "
      "fifth sweep.",
      "gauge", o->owned_channels);
    C("belfry_router_sweeps_total", "Channels swept after a gateway died.", "counter", o->sweeps);
    C("belfry_router_sweep_removals_total",
      "presence:leave events emitted by sweeps of dead gateways.", "counter", o->sweep_leaves);
    C("belfry_router_ingress_dropped_stale_total",
      "Redis ingress messages dropped because ownership was changing.", "counter",
      s->ingress_stale);
    C("belfry_router_inbox_malformed_total", "Inbox envelopes dropped as malformed.", "counter",
      o->inbox_malformed);
    C("belfry_router_ring_epoch", "Ring epoch of the last membership snapshot.", "gauge",
      bf_ring_epoch(m->ring));
    C("belfry_router_ring_members", "Live routers in the last membership snapshot.", "gauge",
      bf_ring_size(m->ring));
    {
        const bf_redis *links[] = {m->sub, m->cmd};
        size_t n;
        char *rm = bf_redis_metrics("router", links, 2, m->failover, &n);
        evbuffer_add(b, rm, n);
        free(rm);
    }
    C("belfry_router_ready", "1 when connected to Redis and in the ring.", "gauge",
      m->ready ? 1 : 0);
#undef C
}
