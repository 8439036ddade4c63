/* belfryctl owner CHANNEL: which router owns a channel now, under which ring epoch. */
#include "args.h"
#include "channel.h"
#include "cli.h"
#include "cluster.h"
#include "out.h"

#include <string.h>

static const bf_cfg_opt table[] = {BF_CLI_OPTS_REDIS, BF_CLI_OPTS_APP, BF_CLI_OPTS_OUTPUT,
                                   BF_CLI_OPTS_END};

static const bf_cli_spec spec = {
    .name = "owner",
    .synopsis = "CHANNEL",
    .summary =
        "Prints the router that owns CHANNEL (it sequences Redis ingress, runs presence and\n"
        "kicks for it) and the ring epoch, computed from the live routers in Redis exactly\n"
        "as every node computes it (rendezvous hashing, common/ring.h).",
    .details = "Output: CHANNEL, OWNER (address), EPOCH, ROUTERS lines. With --json:\n"
               "  {\"channel\",\"owner\" (null without live routers),\"address\",\"epoch\",\n"
               "   \"routers\":[live router ids]}\n"
               "Exit status 1 when no router is live (nobody owns the channel).\n\n"
               "Examples:\n"
               "  belfryctl owner presence-room.1\n"
               "  belfryctl owner orders --json | jq -r .owner\n",
    .table = table,
    .min_pos = 1,
    .max_pos = 1,
};

int bf_cli_owner(int argc, char **argv)
{
    bf_cli_cfg cfg;
    int rc = bf_cli_args_parse(&spec, &cfg, argc, argv);
    if (rc != BF_CLI_CONTINUE) return rc;
    const char *ch = cfg.pos[0];
    if ((rc = bf_cli_channel_arg(spec.name, ch))) return rc;
    char sch[256]; /* the name the cluster knows it by (--app) */
    bf_cli_redis *r = bf_cli_redis_open_channel(&cfg, spec.name, ch, sch, sizeof(sch), &rc);
    if (!r) return rc;
    bf_cli_cluster c = {0};
    if ((rc = bf_cli_cluster_load(r, &c, true))) goto out;
    const char *owner = bf_cli_cluster_owner(&c, sch);
    const bf_cli_node *n = owner ? bf_cli_cluster_find(&c, owner, true) : NULL;
    const char *addr = n && n->address ? n->address : NULL;
    if (cfg.json) {
        json_t *routers = json_array();
        for (size_t i = 0; i < bf_ring_size(c.ring); i++)
            json_array_append_new(routers, json_string(bf_ring_member(c.ring, i)));
        rc = bf_cli_print_json(json_pack("{s:s,s:o,s:o,s:o,s:o}", "channel", ch, "owner",
                                         owner ? json_string(owner) : json_null(), "address",
                                         addr ? json_string(addr) : json_null(), "epoch",
                                         c.epoch >= 0 ? json_integer(c.epoch) : json_null(),
                                         "routers", routers));
    } else {
        const char *b = cfg.color ? "\033[1m" : "", *e = cfg.color ? "\033[0m" : "";
        printf("%sCHANNEL%s  %s (%s)\n", b, e, ch, bf_channel_type_name(bf_channel_type_of(ch)));
        if (owner)
            printf("%sOWNER%s    %s%s%s%s%s%s\n", b, e, cfg.color ? BF_CLI_CYAN : "", owner, e,
                   addr ? " (" : "", addr ? addr : "", addr ? ")" : "");
        else
            printf("%sOWNER%s    -\n", b, e);
        printf("%sEPOCH%s    %s\n", b, e, c.epoch_text);
        printf("%sROUTERS%s  %zu live\n", b, e, bf_ring_size(c.ring));
    }
    if (!rc) rc = bf_cli_flush(spec.name);
    if (!rc && !owner) {
        bf_cli_error(spec.name,
                     "no live router: nobody owns '%s' (is a router running against "
                     "this Redis and prefix?)",
                     ch);
        rc = BF_CLI_FAILED;
    }
out:
    bf_cli_cluster_deinit(&c);
    bf_cli_redis_free(r);
    return rc;
}
