/* Unit tests for router/metrics.h: the router's metrics render from what they are given (the
 * router's counters, its owner's operations, ring, links and failover gate), without the router. */
#include "router/metrics.c"

#include "err.h"
#include "redis_url.h"

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

Test(router_metrics, counters_of_the_router_and_of_its_owner_operations)
{
    char err[BF_ERR_LEN];
    bf_redis_url url;
    cr_assert_eq(bf_parse_redis_url("redis://127.0.0.1:1", &url, err, sizeof(err)), 0);
    bf_redis_opts ro = {.url = &url, .name = "cmd"};
    bf_redis *link = bf_redis_new(&ro);
    bf_ring *ring = bf_ring_new();
    const char *ids[] = {"rt-a", "rt-b"};
    cr_assert_eq(bf_ring_set(ring, ids, 2, 42), 0);
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
