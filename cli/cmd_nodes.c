/* belfryctl nodes: the routers and gateways registered in Redis, with their health.
 *
 * Every member of the routers/gateways zsets is listed, expired ones included (a dead node stays
 * listed until a live node of its kind next heartbeats), and flagged: live, stale (live but
 * missing heartbeats), expired. A router's "owned" share is the part of the active channels
 * (cluster.h) that the ring gives it now. */
#include "alloc.h"
#include "args.h"
#include "cli.h"
#include "cluster.h"
#include "out.h"

#include <stdlib.h>
#include <string.h>

static const bf_cfg_opt table[] = {BF_CLI_OPTS_REDIS, BF_CLI_OPTS_OUTPUT, BF_CLI_OPTS_END};

static const bf_cli_spec spec = {
    .name = "nodes",
    .synopsis = "",
    .summary = "Lists the routers and gateways registered in Redis: address, status, uptime, age\n"
               "of the last heartbeat, open connections (gateways) and the share of the active\n"
               "channels each router owns. Stale (missing heartbeats) and expired (dead, not yet\n"
               "removed) nodes are flagged.",
    .details =
        "Output: KIND, ID, ADDRESS, STATUS, UPTIME, HEARTBEAT (age), CONNS, OWNED,\n"
        "VERSION, then a summary line. With --json:\n"
        "  {\"now_ms\",\"epoch\",\"active_channels\",\"nodes\":[{\"id\",\"kind\",\"status\",\n"
        "   \"address\",\"pid\",\"version\",\"started_ms\",\"uptime_ms\",\"last_seen_ms\",\n"
        "   \"heartbeat_age_ms\",\"expires_in_ms\", gateways: \"connections\", routers:\n"
        "   \"owned_channels\",\"owned_share\"}]}\n"
        "Times are on the Redis clock; a value that is unknown is null.\n\n"
        "Examples:\n"
        "  belfryctl nodes\n"
        "  belfryctl nodes --json | jq '.nodes[] | select(.status != \"live\")'\n",
    .table = table,
    .min_pos = 0,
    .max_pos = 0,
};

static json_t *opt_int(long long v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

static json_t *node_json(const bf_cli_cluster *c, const bf_cli_node *n, long long owned,
                         size_t active)
{
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I}", "id", n->id, "kind",
        n->router ? "router" : "gateway", "status",
        bf_cli_node_status_name(bf_cli_node_status_of(c, n)), "address",
        n->address ? json_string(n->address) : json_null(), "pid", opt_int(n->pid), "version",
        n->version ? json_string(n->version) : json_null(), "started_ms", opt_int(n->started_ms),
        "uptime_ms", opt_int(n->started_ms >= 0 ? c->now_ms - n->started_ms : -1), "last_seen_ms",
        opt_int(n->last_seen_ms), "heartbeat_age_ms",
        opt_int(n->last_seen_ms >= 0 ? c->now_ms - n->last_seen_ms : -1), "expires_in_ms",
        (json_int_t)(n->expiry_ms - c->now_ms));
    if (n->router) {
        json_object_set_new(j, "owned_channels", json_integer(owned));
        json_object_set_new(j, "owned_share",
                            active ? json_real((double)owned / (double)active) : json_null());
    } else {
        json_object_set_new(j, "connections", opt_int(n->connections));
    }
    return j;
}

static void add_row(bf_cli_table *t, const bf_cli_cluster *c, const bf_cli_node *n, long long owned,
                    size_t active)
{
    bf_cli_node_status st = bf_cli_node_status_of(c, n);
    char up[32], age[40];
    bf_cli_fmt_duration(n->started_ms >= 0 ? c->now_ms - n->started_ms : -1, up, sizeof(up));
    bf_cli_fmt_duration(n->last_seen_ms >= 0 ? c->now_ms - n->last_seen_ms : -1, age, sizeof(age));
    if (strcmp(age, "-")) strcat(age, " ago");
    bf_cli_table_cell(t, NULL, "%s", n->router ? "router" : "gateway");
    bf_cli_table_cell(t, BF_CLI_CYAN, "%s", n->id);
    bf_cli_table_cell(t, NULL, "%s", n->address ? n->address : "-");
    bf_cli_table_cell(t,
                      st == BF_CLI_NODE_LIVE    ? BF_CLI_GREEN
                      : st == BF_CLI_NODE_STALE ? BF_CLI_YELLOW
                                                : BF_CLI_RED,
                      "%s", bf_cli_node_status_name(st));
    bf_cli_table_cell(t, NULL, "%s", up);
    bf_cli_table_cell(t, st == BF_CLI_NODE_LIVE ? NULL : BF_CLI_YELLOW, "%s", age);
    if (n->router || n->connections < 0)
        bf_cli_table_cell(t, BF_CLI_DIM, "-");
    else
        bf_cli_table_cell(t, NULL, "%lld", n->connections);
    if (!n->router)
        bf_cli_table_cell(t, BF_CLI_DIM, "-");
    else if (active)
        bf_cli_table_cell(t, NULL, "%lld (%.0f%%)", owned, 100.0 * (double)owned / (double)active);
    else
        bf_cli_table_cell(t, NULL, "%lld", owned);
    bf_cli_table_cell(t, BF_CLI_DIM, "%s", n->version ? n->version : "-");
}

static void print_table(const bf_cli_cfg *cfg, const bf_cli_cluster *c, const long long *owned,
                        size_t active)
{
    static const char *const headers[] = {"KIND",      "ID",     "ADDRESS", "STATUS", "UPTIME",
                                          "HEARTBEAT", ">CONNS", ">OWNED",  "VERSION"};
    size_t stale = 0;
    if (c->n) {
        bf_cli_table *t = bf_cli_table_new(9, headers);
        for (size_t i = 0; i < c->n; i++) {
            add_row(t, c, &c->nodes[i], owned[i], active);
            stale += bf_cli_node_status_of(c, &c->nodes[i]) != BF_CLI_NODE_LIVE;
        }
        bf_cli_table_print(t, cfg->color);
        bf_cli_table_free(t);
    }
    printf("%zu router%s (%zu live), %zu gateway%s (%zu live), %zu flagged; ring epoch %s; %zu "
           "active channel%s\n",
           c->nrouters, c->nrouters == 1 ? "" : "s", c->live_routers, c->n - c->nrouters,
           c->n - c->nrouters == 1 ? "" : "s", c->live_gateways, stale, c->epoch_text, active,
           active == 1 ? "" : "s");
}

int bf_cli_nodes(int argc, char **argv)
{
    bf_cli_cfg cfg;
    int rc = bf_cli_args_parse(&spec, &cfg, argc, argv);
    if (rc != BF_CLI_CONTINUE) return rc;
    bf_cli_redis *r = bf_cli_redis_open(&cfg, spec.name, &rc);
    if (!r) return rc;
    bf_cli_cluster c = {0};
    bf_cli_chanlist l = {0};
    long long *owned = NULL;
    if ((rc = bf_cli_cluster_load(r, &c, true)) || (rc = bf_cli_chanlist_scan(r, &l))) goto out;
    owned = bf_calloc(c.n + 1, sizeof(long long));
    for (size_t i = 0; i < l.n; i++) {
        const char *o = bf_cli_cluster_owner(&c, l.names[i]);
        for (size_t k = 0; o && k < c.nrouters; k++)
            if (!strcmp(c.nodes[k].id, o)) owned[k]++;
    }
    if (cfg.json) {
        json_t *nodes = json_array();
        for (size_t i = 0; i < c.n; i++)
            json_array_append_new(nodes, node_json(&c, &c.nodes[i], owned[i], l.n));
        rc =
            bf_cli_print_json(json_pack("{s:I,s:o,s:I,s:o}", "now_ms", (json_int_t)c.now_ms,
                                        "epoch", c.epoch >= 0 ? json_integer(c.epoch) : json_null(),
                                        "active_channels", (json_int_t)l.n, "nodes", nodes));
    } else {
        print_table(&cfg, &c, owned, l.n);
    }
    if (!rc) rc = bf_cli_flush(spec.name);
out:
    free(owned);
    bf_cli_chanlist_deinit(&l);
    bf_cli_cluster_deinit(&c);
    bf_cli_redis_free(r);
    return rc;
}
