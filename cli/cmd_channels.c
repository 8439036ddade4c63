/* belfryctl channels: the channels with state in Redis, their occupancy and owners.
 *
 * A channel is listed when it has a conns:{channel} hash (connections on some gateway) or a
 * presence:{channel} hash. Subscribers are counted on live gateways only (like GET /channels and
 * channel_info.lua), so connections of a dead gateway that the owners have not swept yet do not
 * count; members are the presence users (pusers:{channel}). */
#include "alloc.h"
#include "args.h"
#include "channel.h"
#include "cli.h"
#include "cluster.h"
#include "out.h"
#include "redis_keys.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

static const bf_cfg_opt table[] = {
    BF_CLI_OPTS_REDIS,
    BF_CLI_OPTS_OUTPUT,
    {"type", BF_CFG_STRING, NULL, NULL, 0, 0, "public|private|presence", BF_CLI_F(type),
     "only channels of this type"},
    {"pattern", BF_CFG_STRING, NULL, NULL, 0, 0, NULL, BF_CLI_F(pattern),
     "only channel names matching this shell glob (quote it: 'orders.*')"},
    BF_CLI_OPTS_END,
};

static const bf_cli_spec spec = {
    .name = "channels",
    .synopsis = "",
    .summary = "Lists the active channels (connections or presence state in Redis) with their\n"
               "subscriber count on live gateways, presence member count, and owning router.",
    .details =
        "Output: CHANNEL, TYPE, SUBSCRIBERS, MEMBERS (presence channels), OWNER, then a\n"
        "summary line. With --json:\n"
        "  {\"epoch\":E,\"channels\":[{\"channel\",\"type\",\"subscribers\",\"members\" (null\n"
        "   unless presence),\"owner\" (null without live routers)}],\"count\":N}\n\n"
        "Examples:\n"
        "  belfryctl channels\n"
        "  belfryctl channels --type presence\n"
        "  belfryctl channels --pattern 'private-orders.*' --json\n",
    .table = table,
    .min_pos = 0,
    .max_pos = 0,
};

typedef struct row {
    const char *name;
    bf_channel_type type;
    long long subscribers, members; /* members: -1 for non-presence channels */
    const char *owner;
} row;

/* Reads the occupancy of every row with one pipeline. Returns 0 or an exit code. */
static int occupancy(bf_cli_redis *r, const bf_cli_cluster *c, row *rows, size_t n)
{
    const char *prefix = bf_cli_redis_prefix(r);
    char key[BF_KEY_MAX];
    for (size_t i = 0; i < n; i++) {
        bf_key(key, prefix, BF_KEY_CONNS, rows[i].name);
        bf_cli_redis_append(r, "HGETALL %s", key);
        if (rows[i].type == BF_CH_PRESENCE) {
            bf_key(key, prefix, BF_KEY_PUSERS, rows[i].name);
            bf_cli_redis_append(r, "HLEN %s", key);
        }
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *h;
        int rc = bf_cli_redis_next(r, &h);
        if (rc) return rc;
        if (h->type != REDIS_REPLY_ARRAY) return bf_cli_redis_bad(r, h, "HGETALL conns");
        for (size_t k = 0; k + 1 < h->elements; k += 2) {
            const bf_cli_node *gw = bf_cli_cluster_find(c, h->element[k]->str, false);
            if (gw && gw->live && h->element[k + 1]->str)
                rows[i].subscribers += atoll(h->element[k + 1]->str);
        }
        freeReplyObject(h);
        rows[i].members = -1;
        if (rows[i].type == BF_CH_PRESENCE) {
            if ((rc = bf_cli_redis_next(r, &h))) return rc;
            if (h->type != REDIS_REPLY_INTEGER) return bf_cli_redis_bad(r, h, "HLEN pusers");
            rows[i].members = h->integer;
            freeReplyObject(h);
        }
    }
    return 0;
}

static void print_table(const bf_cli_cfg *cfg, const bf_cli_cluster *c, const row *rows, size_t n)
{
    static const char *const headers[] = {"CHANNEL", "TYPE", ">SUBSCRIBERS", ">MEMBERS", "OWNER"};
    long long subs = 0;
    if (n) {
        bf_cli_table *t = bf_cli_table_new(5, headers);
        for (size_t i = 0; i < n; i++) {
            const row *w = &rows[i];
            subs += w->subscribers;
            bf_cli_table_cell(t, w->subscribers ? NULL : BF_CLI_DIM, "%s", w->name);
            bf_cli_table_cell(t, NULL, "%s", bf_channel_type_name(w->type));
            bf_cli_table_cell(t, NULL, "%lld", w->subscribers);
            if (w->members >= 0)
                bf_cli_table_cell(t, NULL, "%lld", w->members);
            else
                bf_cli_table_cell(t, BF_CLI_DIM, "-");
            bf_cli_table_cell(t, w->owner ? BF_CLI_CYAN : BF_CLI_RED, "%s",
                              w->owner ? w->owner : "(no live router)");
        }
        bf_cli_table_print(t, cfg->color);
        bf_cli_table_free(t);
    }
    printf("%zu channel%s, %lld subscriber%s; ring epoch %s, %zu live router%s\n", n,
           n == 1 ? "" : "s", subs, subs == 1 ? "" : "s", c->epoch_text, c->live_routers,
           c->live_routers == 1 ? "" : "s");
}

static json_t *to_json(const bf_cli_cluster *c, const row *rows, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        const row *w = &rows[i];
        json_array_append_new(list,
                              json_pack("{s:s,s:s,s:I,s:o,s:o}", "channel", w->name, "type",
                                        bf_channel_type_name(w->type), "subscribers",
                                        (json_int_t)w->subscribers, "members",
                                        w->members >= 0 ? json_integer(w->members) : json_null(),
                                        "owner", w->owner ? json_string(w->owner) : json_null()));
    }
    return json_pack("{s:o,s:o,s:I}", "epoch", c->epoch >= 0 ? json_integer(c->epoch) : json_null(),
                     "channels", list, "count", (json_int_t)n);
}

int bf_cli_channels(int argc, char **argv)
{
    bf_cli_cfg cfg;
    int rc = bf_cli_args_parse(&spec, &cfg, argc, argv);
    if (rc != BF_CLI_CONTINUE) return rc;
    bf_channel_type want = BF_CH_PUBLIC;
    if (cfg.type) bf_channel_type_parse(cfg.type, &want); /* the table checked the choices */
    bf_cli_redis *r = bf_cli_redis_open(&cfg, spec.name, &rc);
    if (!r) return rc;
    bf_cli_cluster c = {0};
    bf_cli_chanlist l = {0};
    row *rows = NULL;
    size_t n = 0;
    if ((rc = bf_cli_chanlist_scan(r, &l)) || (rc = bf_cli_cluster_load(r, &c, false))) goto out;
    rows = bf_calloc(l.n + 1, sizeof(row));
    for (size_t i = 0; i < l.n; i++) {
        const char *name = l.names[i];
        if (cfg.type && bf_channel_type_of(name) != want) continue;
        if (cfg.pattern && fnmatch(cfg.pattern, name, 0)) continue;
        rows[n++] = (row){name, bf_channel_type_of(name), 0, -1, bf_cli_cluster_owner(&c, name)};
    }
    if ((rc = occupancy(r, &c, rows, n))) goto out;
    if (cfg.json)
        rc = bf_cli_print_json(to_json(&c, rows, n));
    else
        print_table(&cfg, &c, rows, n);
    if (!rc) rc = bf_cli_flush(spec.name);
out:
    free(rows);
    bf_cli_chanlist_deinit(&l);
    bf_cli_cluster_deinit(&c);
    bf_cli_redis_free(r);
    return rc;
}
