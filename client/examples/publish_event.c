/* Broadcasts an OrderShipped event with libbelfry.
 *
 *   BELFRY_URL=http://127.0.0.1:8090 BELFRY_API_KEY=... belfry-example-publish-event 42
 *   BELFRY_URL=redis://127.0.0.1:6379 belfry-example-publish-event 42
 *
 * The event goes to the public channel "dashboard" and the private channel "private-orders.42".
 * Exits 0 when every channel accepted it, 1 otherwise (with one line per failed channel). */
#include <belfry/publisher.h>

#include <stdio.h>
#include <stdlib.h>

/* The event: a bf_event first, then its fields. */
typedef struct order_shipped {
    bf_event base;
    long id;
    const char *carrier;
} order_shipped;

static int order_shipped_on(const bf_event *e, bf_channel *out, size_t cap)
{
    const order_shipped *o = (const order_shipped *)e;
    if (cap < 2) return BF_ERANGE;
    out[0] = bf_channel_public("dashboard");
    out[1] = bf_channel_fmt(BF_CHANNEL_PRIVATE, "orders.%ld", o->id); /* private-orders.42 */
    return 2;
}

static json_t *order_shipped_with(const bf_event *e)
{
    const order_shipped *o = (const order_shipped *)e;
    return json_pack("{s:I,s:s}", "id", (json_int_t)o->id, "carrier", o->carrier);
}

/* Optional: the wire name; without it the event would go out as "OrderShipped". */
static const char *order_shipped_as(const bf_event *e)
{
    (void)e;
    return "order.shipped";
}

static const bf_event_class ORDER_SHIPPED = {
    .type_name = "OrderShipped",
    .broadcast_on = order_shipped_on,
    .broadcast_with = order_shipped_with,
    .broadcast_as = order_shipped_as,
};

int main(int argc, char **argv)
{
    char err[BF_ERR_LEN];
    if (bf_publisher_register(NULL, err)) { /* BELFRY_URL, BELFRY_API_KEY, BELFRY_REDIS_PREFIX */
        fprintf(stderr, "publish_event: %s\n", err);
        return 2;
    }
    order_shipped ev = {{&ORDER_SHIPPED}, argc > 1 ? atol(argv[1]) : 42, "ups"};
    bf_broadcast_report rep;
    int rc = bf_publisher_broadcast(bf_publisher_get(NULL), &ev.base, &rep);
    if (rep.error[0]) fprintf(stderr, "publish_event: %s\n", rep.error);
    for (size_t i = 0; i < rep.n; i++) {
        const bf_channel_result *r = &rep.results[i];
        if (r->rc)
            fprintf(stderr, "publish_event: %s: %s (HTTP %d, %s): %s\n", r->channel,
                    bf_strerror(r->rc), r->status, r->code, r->message);
        else
            printf("published %s to %s\n", bf_event_name(&ev.base), r->channel);
    }
    bf_broadcast_report_deinit(&rep);
    bf_publisher_set(NULL); /* frees the default */
    return rc ? 1 : 0;
}
