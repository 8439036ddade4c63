/* Unit tests for router/metrics.h: the router's metrics render from what they are given (the
 * router's counters, its owner's operations, ring, links and failover gate), without the router. */
#include "router/metrics.c"

#include "err.h"
#include "redis_url.h"
#include "scripts.h"

#include <criterion/criterion.h>

static char *render(const bf_rt_metrics *m)
{
    struct evbuffer *b = evbuffer_new();
    bf_rt_metrics_render(b, m);
    size_t n = evbuffer_get_length(b);
    char *s = calloc(1, n + 1);
    evbuffer_remove(b, s, n);
    evbuffer_free(b);
    return s;
}

/* What the render reads besides the counters: a link that never connects (it is never ticked)
 * and a ring of two routers at epoch 42. Caller frees both. */
static void fixtures(bf_redis **link, bf_ring **ring)
{
    char err[BF_ERR_LEN];
    bf_redis_url url;
    cr_assert_eq(bf_parse_redis_url("redis://127.0.0.1:1", &url, err, sizeof(err)), 0);
    bf_redis_opts ro = {.url = &url, .name = "cmd"};
    *link = bf_redis_new(&ro);
    *ring = bf_ring_new();
    const char *ids[] = {"rt-a", "rt-b"};
    cr_assert_eq(bf_ring_set(*ring, ids, 2, 42), 0);
}

Test(router_metrics, counters_of_the_router_and_of_its_owner_operations)
{
    bf_redis *link;
    bf_ring *ring;
    fixtures(&link, &ring);
    bf_rt_stats s = {.publishes_http = 5, .publishes_redis = 6, .kicks = 2};
    bf_owner_ops_stats o = {.kicks = 3, .joins = 7, .sweeps = 4, .inbox_malformed = 9};
    bf_failover fo = {0};
    bf_rt_metrics m = {.stats = &s,
                       .owner = &o,
                       .ring = ring,
                       .sub = link,
                       .cmd = link,
                       .failover = &fo,
                       .ready = true};
    char *t = render(&m);
    const char *want[] = {
        "belfry_router_publishes_total{source=\"http\"} 5\n",
        "belfry_router_publishes_total{source=\"redis\"} 6\n",
        "belfry_router_kicks_total 5\n", /* terminate_connections' and the owner's */
        "belfry_router_presence_joins_total 7\n",
        "belfry_router_sweeps_total 4\n",
        "belfry_router_inbox_malformed_total 9\n",
        "belfry_router_ring_epoch 42\n",
        "belfry_router_ring_members 2\n",
        "belfry_router_ready 1\n",
        "# TYPE belfry_router_owned_channels gauge\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
        cr_expect(strstr(t, want[i]), "missing: %s", want[i]);
    free(t);
    bf_redis_free(link);
    bf_ring_free(ring);
}

/* The Redis part (common/redis_metrics.c, printed by both daemons) is exactly this text, in this
 * order: dashboards and the gateway's /metrics rely on it. No cluster link: no cluster rows. */
Test(router_metrics, the_redis_part_is_this_exact_text)
{
    bf_redis *link;
    bf_ring *ring;
    fixtures(&link, &ring);
    bf_rt_stats s = {0};
    bf_owner_ops_stats o = {0};
    bf_failover fo = {.new_primaries = 11, .epochs_forgotten = 12345678901234ULL};
    bf_scripts_reloads = 13;
    bf_scripts_load_failures = 14;
    bf_scripts_webhooks_deferred = 15;
    bf_scripts_webhooks_lost = 16;
    bf_rt_metrics m = {
        .stats = &s, .owner = &o, .ring = ring, .sub = link, .cmd = link, .failover = &fo};
    char *t = render(&m);
    static const char want[] =
        "# HELP belfry_router_redis_reconnects_total Redis links re-established after a loss.\n"
        "# TYPE belfry_router_redis_reconnects_total counter\n"
        "belfry_router_redis_reconnects_total 0\n"
        "# HELP belfry_router_redis_timeouts_total Redis links torn down because a command got no "
        "reply within --redis-timeout.\n"
        "# TYPE belfry_router_redis_timeouts_total counter\n"
        "belfry_router_redis_timeouts_total 0\n"
        "# HELP belfry_router_redis_script_reloads_total Script calls answered NOSCRIPT (Redis' "
        "script cache emptied), loaded and sent again.\n"
        "# TYPE belfry_router_redis_script_reloads_total counter\n"
        "belfry_router_redis_script_reloads_total 13\n"
        "# HELP belfry_router_redis_script_load_failures_total SCRIPT LOADs that did not answer "
        "the script's SHA1 (each is logged).\n"
        "# TYPE belfry_router_redis_script_load_failures_total counter\n"
        "belfry_router_redis_script_load_failures_total 14\n"
        "# HELP belfry_router_webhook_events_deferred_total Redis Cluster: channel-script replies "
        "whose webhook events were sent on to the cluster-wide slot.\n"
        "# TYPE belfry_router_webhook_events_deferred_total counter\n"
        "belfry_router_webhook_events_deferred_total 15\n"
        "# HELP belfry_router_webhook_events_lost_total Redis Cluster: channel-script webhook "
        "events that could not be queued (link lost between the two calls).\n"
        "# TYPE belfry_router_webhook_events_lost_total counter\n"
        "belfry_router_webhook_events_lost_total 16\n"
        "# HELP belfry_router_redis_new_primaries_total Redis primaries met with a replication id "
        "other than the recorded one (failover, restart).\n"
        "# TYPE belfry_router_redis_new_primaries_total counter\n"
        "belfry_router_redis_new_primaries_total 11\n"
        "# HELP belfry_router_redis_epochs_forgotten_total Channel epochs removed because Redis "
        "had a new primary (recovery across it: recovered:false).\n"
        "# TYPE belfry_router_redis_epochs_forgotten_total counter\n"
        "belfry_router_redis_epochs_forgotten_total 12345678901234\n";
    const char *from = strstr(t, "# HELP belfry_router_redis_reconnects_total ");
    const char *to = strstr(t, "belfry_router_redis_epochs_forgotten_total 12345678901234\n");
    cr_assert(from && to, "%s", t);
    to += strlen("belfry_router_redis_epochs_forgotten_total 12345678901234\n");
    cr_expect_eq((size_t)(to - from), sizeof(want) - 1, "%.*s", (int)(to - from), from);
    cr_expect(!strncmp(from, want, sizeof(want) - 1), "%.*s", (int)(to - from), from);
    free(t);
    bf_redis_free(link);
    bf_ring_free(ring);
}
