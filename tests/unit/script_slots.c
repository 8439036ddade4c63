/* Which typed script calls (common/scripts.h) could run on Redis Cluster: the slot (common/slot.c)
 * of every key each call touches. Redis Cluster runs a script only when all of them are in one
 * slot, so the daemons refuse cluster:// (common/config.c) until NOT_YET below is empty; the plan
 * that empties it is docs/architecture.md, "Redis Cluster".
 *
 * A call touches its declared KEYS, the webhook keys when its script uses webhooks.lib.lua (they
 * hang off the cluster-wide stem, webhooks.lib.lua), and, when it passes a channel kind's key
 * stem as an argument (bf_key_stem: the script names "<stem>{channel}" itself), keys of channels
 * it only finds at run time: never one slot. A cluster-wide kind's stem names "{#}" keys.
 *
 * The calls a daemon makes in several steps on a cluster (bf_presence_enqueue_send, bf_leave_send)
 * are judged in their cluster form (cluster = true): the step that is a script call.
 *
 * bf_conns_send and bf_publish_batch_send build their commands themselves (n channels per call)
 * and are not in this table: one call carries several channels, so neither is single-slot (on a
 * cluster bf_conns_send makes one call per slot: tests/integration/rcluster_gateway.c). */
#include "redis_keys.h"
#include "scripts.h"
#include "slot.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define P "belfry:"
#define CH "presence-room"

typedef struct verdict {
    bool single; /* every key in one slot */
    unsigned slot;
    char why[BF_KEY_MAX * 2];
} verdict;

static bool in_spare(const bf_script_args *a, const char *p)
{
    for (size_t i = 0; i < sizeof(a->spare) / sizeof(a->spare[0]); i++)
        if (p == a->spare[i]) return true;
    return false;
}

static void touch(verdict *v, bool *any, const char *key, size_t len)
{
    unsigned s = bf_slot_of_key(key, len);
    if (!*any) {
        *any = true;
        v->slot = s;
        v->single = true;
    } else if (s != v->slot && v->single) {
        v->single = false;
        snprintf(v->why, sizeof(v->why), "%.*s is in slot %u, not %u", (int)len, key, s, v->slot);
    }
}

static verdict judge(const bf_script_args *a)
{
    verdict v = {.single = true};
    bool any = false;
    for (int i = 0; i < a->nkeys; i++) touch(&v, &any, a->argv[i], a->lens[i]);
    size_t srclen;
    /* the cluster form of a channel script records its events instead, for its caller to send
     * to the cluster-wide slot (BF_WH_DEFER, scripts.h) */
    bool defers = strstr(bf_script_source_for(a->id, true, NULL), "local BF_WH_DEFER = true");
    if (!(a->cluster && defers) &&
        strstr(bf_script_source(a->id, &srclen), "local function bf_wh_prefix(")) {
        char k[BF_KEY_MAX];
        int n = bf_key(k, P, BF_KEY_WEBHOOKS, NULL);
        touch(&v, &any, k, (size_t)n);
    }
    for (int i = a->nkeys; i < a->argc; i++) {
        if (!in_spare(a, a->argv[i]) || strncmp(a->argv[i], P, strlen(P))) continue;
        /* a key stem: a cluster-wide one names "{#}" keys, a channel one any channel's */
        char global[BF_KEY_MAX];
        bf_key(global, P, BF_KEY_GWKNOWN, NULL);
        if (strstr(a->argv[i], "{#}:"))
            touch(&v, &any, global, strlen(global));
        else if (v.single) {
            v.single = false;
            snprintf(v.why, sizeof(v.why), "names keys from the stem %s", a->argv[i]);
        }
    }
    return v;
}

/* The calls, each filled by its builder. */
typedef struct call {
    const char *name;
    bf_script_args a;
} call;

static size_t build_all(call *c)
{
    size_t n = 0;
    bf_presence_enqueue e = {.prefix = P,
                             .channel = CH,
                             .gateway = "gw",
                             .envelope = "x",
                             .envelope_len = 1,
                             .join = true,
                             .owner = "rt",
                             .cluster = true};
    c[n].name = "presence_enqueue(join)";
    cr_assert_eq(bf_presence_enqueue_args(&c[n++].a, &e), 0);
    e.join = false;
    c[n].name = "presence_enqueue(leave)";
    cr_assert_eq(bf_presence_enqueue_args(&c[n++].a, &e), 0);
    bf_presence_apply pa = {.prefix = P,
                            .channel = CH,
                            .history_size = 10,
                            .history_ttl_ms = 1,
                            .cluster = true,
                            .gateways = "gw gw2"};
    c[n].name = "presence_apply";
    cr_assert_eq(bf_presence_apply_args(&c[n++].a, &pa), 0);
    c[n].name = "presence_audit";
    cr_assert_eq(bf_presence_audit_args(&c[n++].a, P, "gw", CH, true), 0);
    c[n].name = "presence_members";
    cr_assert_eq(bf_presence_members_args(&c[n++].a, P, CH), 0);
    bf_sweep sw = {.prefix = P, .channel = CH, .gateway = "gw", .ring_epoch = 3, .cluster = true};
    c[n].name = "sweep";
    cr_assert_eq(bf_sweep_args(&c[n++].a, &sw), 0);
    c[n].name = "sweep_index(check)";
    cr_assert_eq(bf_sweep_index_args(&c[n++].a, P, "gw", NULL, false), 0);
    c[n].name = "sweep_index";
    cr_assert_eq(bf_sweep_index_args(&c[n++].a, P, "gw", CH, true), 0);
    c[n].name = "fandone";
    cr_assert_eq(bf_fandone_args(&c[n++].a, P, "gw", CH, 42, 60000), 0);
    for (int fenced = 0; fenced < 2; fenced++) {
        bf_publish p = {.prefix = P,
                        .channel = CH,
                        .frame_prefix = "{",
                        .frame_prefix_len = 1,
                        .fenced = fenced,
                        .ring_epoch = 7,
                        .cluster = true};
        c[n].name = fenced ? "publish(fenced)" : "publish(unfenced)";
        cr_assert_eq(bf_publish_args(&c[n++].a, &p), 0);
    }
    for (int router = 0; router < 2; router++) {
        bf_leave l = {
            .prefix = P, .node_id = "n1", .router = router, .clean = true, .cluster = true};
        c[n].name = router ? "leave(router)" : "leave(gateway)";
        cr_assert_eq(bf_leave_args(&c[n++].a, &l), 0);
    }
    bf_history h = {.prefix = P, .channel = CH, .since = "", .epoch = "", .limit = 5};
    c[n].name = "history";
    cr_assert_eq(bf_history_args(&c[n++].a, &h), 0);
    c[n].name = "channel_info";
    cr_assert_eq(bf_channel_info_args(&c[n++].a, P, CH, true), 0);
    c[n].name = "channels";
    cr_assert_eq(bf_channels_args(&c[n++].a, P, "", 1), 0);
    c[n].name = "webhook_due";
    cr_assert_eq(bf_webhook_due_args(&c[n++].a, P, 100), 0);
    bf_webhook_event we = {.prefix = P, .name = "client_event", .channel = CH};
    c[n].name = "webhook_event";
    cr_assert_eq(bf_webhook_event_args(&c[n++].a, &we), 0);
    for (int router = 0; router < 2; router++) {
        bf_heartbeat hb = {.prefix = P,
                           .node_id = "n1",
                           .router = router,
                           .ttl_ms = 3000,
                           .host = "127.0.0.1",
                           .port = 1,
                           .version = "0",
                           .connections = router ? NULL : "5"};
        c[n].name = router ? "heartbeat(router)" : "heartbeat(gateway)";
        cr_assert_eq(bf_heartbeat_args(&c[n++].a, &hb), 0);
    }
    return n;
}

/* The calls that still touch more than one slot. Porting a script to the plan removes it from
 * here (the test fails until it is removed, so the list cannot go stale); the daemons accept
 * cluster:// only once it is empty. */
static const char *const NOT_YET[] = {
    NULL, /* none left: every typed call is single-slot in its cluster form */
};

static bool listed(const char *name)
{
    for (size_t i = 0; i < sizeof(NOT_YET) / sizeof(*NOT_YET); i++)
        if (NOT_YET[i] && !strcmp(NOT_YET[i], name)) return true;
    return false;
}

Test(script_slots, every_call_is_single_slot_or_listed_as_not_yet)
{
    static call c[32];
    size_t n = build_all(c);
    size_t multi = 0;
    for (size_t i = 0; i < n; i++) {
        verdict v = judge(&c[i].a);
        if (listed(c[i].name)) {
            multi++;
            cr_expect(!v.single, "%s is single-slot now (slot %u): remove it from NOT_YET",
                      c[i].name, v.slot);
        } else {
            cr_expect(v.single, "%s touches several slots: %s", c[i].name, v.why);
        }
    }
    size_t listed_n = 0;
    for (size_t i = 0; i < sizeof(NOT_YET) / sizeof(*NOT_YET); i++) listed_n += NOT_YET[i] != NULL;
    cr_expect_eq(multi, listed_n, "NOT_YET names a call not built here");
}

Test(script_slots, single_slot_calls_are_in_their_channels_or_the_cluster_wide_slot)
{
    static call c[32];
    size_t n = build_all(c);
    char k[BF_KEY_MAX];
    unsigned chslot = bf_slot_crc16(CH, strlen(CH)) % BF_SLOT_COUNT;
    int gl = bf_key(k, P, BF_KEY_GATEWAYS, NULL);
    unsigned gslot = bf_slot_of_key(k, (size_t)gl);
    for (size_t i = 0; i < n; i++) {
        verdict v = judge(&c[i].a);
        if (!v.single) continue;
        cr_expect(v.slot == chslot || v.slot == gslot, "%s runs in slot %u", c[i].name, v.slot);
    }
    /* what a channel's reads need: one shard, the channel's */
    bf_history h = {.prefix = P, .channel = CH, .since = "", .epoch = "", .limit = 5};
    bf_script_args a;
    cr_assert_eq(bf_history_args(&a, &h), 0);
    cr_expect_eq(judge(&a).slot, chslot);
}
