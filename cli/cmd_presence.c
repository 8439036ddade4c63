/* belfryctl presence CHANNEL: the members of a presence channel, read by presence_members.lua.
 *
 * A member is a user, described by its connection with the earliest joinedAt, and the number of
 * connections it has. The rule (and the order) is the script's, the same as GET /presence and
 * presence:here (presence.lib.lua): this file only renders the list. */
#include "alloc.h"
#include "args.h"
#include "channel.h"
#include "cli.h"
#include "credis.h"
#include "out.h"
#include "redis_keys.h"
#include "scripts.h"

#include <stdlib.h>
#include <string.h>

static const bf_cfg_opt table[] = {BF_CLI_OPTS_REDIS, BF_CLI_OPTS_APP, BF_CLI_OPTS_OUTPUT,
                                   BF_CLI_OPTS_END};

static const bf_cli_spec spec = {
    .name = "presence",
    .synopsis = "CHANNEL",
    .summary = "Lists the members of a presence channel: one per user, sorted by the time they\n"
               "joined, with their number of connections and their public info.",
    .details =
        "Output: USER, JOINED (local time), CONNS, INFO, then a count line. With --json:\n"
        "  {\"channel\":C,\"members\":[{\"id\",\"joinedAt\" (ms),\"connections\",\"info\"}],\n"
        "   \"count\":N,\"connections\":M}\n"
        "A channel without members (or unknown) is an empty result, not an error.\n\n"
        "Examples:\n"
        "  belfryctl presence presence-room.1\n"
        "  belfryctl presence presence-room.1 --json | jq -r '.members[].id'\n"
        "  BELFRY_REDIS_URL=redis://:secret@redis:6379/0 belfryctl presence presence-lobby\n",
    .table = table,
    .min_pos = 1,
    .max_pos = 1,
};

/* presence_members.lua's {member JSON, connections, ...} -> a new array of
 * {id, joinedAt, connections, info}; *conns gets the connections of all members. */
static json_t *members_of(const redisReply *h, json_int_t *conns)
{
    json_t *members = json_array();
    *conns = 0;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *v = h->element[i], *n = h->element[i + 1];
        json_t *m = v->str ? json_loadb(v->str, v->len, 0, NULL) : NULL;
        const char *id = json_string_value(json_object_get(m, "id"));
        json_t *at = json_object_get(m, "joinedAt");
        if (!id || !json_is_integer(at) || n->type != REDIS_REPLY_INTEGER) {
            json_decref(m); /* not written by Belfry: ignore, like the router */
            continue;
        }
        json_t *info = json_object_get(m, "info");
        json_array_append_new(members, json_pack("{s:s,s:O,s:I,s:O}", "id", id, "joinedAt", at,
                                                 "connections", (json_int_t)n->integer, "info",
                                                 info ? info : json_object()));
        *conns += n->integer;
        json_decref(m);
    }
    return members;
}

static void print_table(const bf_cli_cfg *cfg, json_t *members, json_int_t conns)
{
    static const char *const headers[] = {"USER", "JOINED", ">CONNS", "INFO"};
    size_t n = json_array_size(members);
    if (n) {
        bf_cli_table *t = bf_cli_table_new(4, headers);
        for (size_t i = 0; i < n; i++) {
            json_t *m = json_array_get(members, i);
            char when[48];
            bf_cli_fmt_time(json_integer_value(json_object_get(m, "joinedAt")), when, sizeof(when));
            char *info = json_dumps(json_object_get(m, "info"), JSON_COMPACT | JSON_ENCODE_ANY);
            bf_cli_table_cell(t, BF_CLI_CYAN, "%s", json_string_value(json_object_get(m, "id")));
            bf_cli_table_cell(t, NULL, "%s", when);
            bf_cli_table_cell(t, NULL, "%lld",
                              (long long)json_integer_value(json_object_get(m, "connections")));
            bf_cli_table_cell(t, BF_CLI_DIM, "%s", info ? info : "{}");
            free(info);
        }
        bf_cli_table_print(t, cfg->color);
        bf_cli_table_free(t);
    }
    printf("%zu member%s, %lld connection%s\n", n, n == 1 ? "" : "s", (long long)conns,
           conns == 1 ? "" : "s");
}

int bf_cli_presence(int argc, char **argv)
{
    bf_cli_cfg cfg;
    int rc = bf_cli_args_parse(&spec, &cfg, argc, argv);
    if (rc != BF_CLI_CONTINUE) return rc;
    const char *ch = cfg.pos[0];
    if ((rc = bf_cli_channel_arg(spec.name, ch))) return rc;
    if (bf_channel_type_of(ch) != BF_CH_PRESENCE)
        fprintf(stderr,
                "belfryctl presence: note: '%s' is a %s channel; only presence- channels "
                "have members\n",
                ch, bf_channel_type_name(bf_channel_type_of(ch)));
    char sch[256]; /* the name the cluster knows it by (--app) */
    bf_cli_redis *r = bf_cli_redis_open_channel(&cfg, spec.name, ch, sch, sizeof(sch), &rc);
    if (!r) return rc;
    redisReply *h;
    bf_script_args a;
    if (bf_presence_members_args(&a, bf_cli_redis_prefix(r), sch)) abort(); /* validated */
    size_t srclen;
    /* on a cluster, the script's single-slot form (the four keys are the channel's: one slot) */
    const char *src = bf_script_source_for(a.id, bf_cli_redis_is_cluster(r), &srclen);
    const size_t *l = a.lens;
    const char *const *v = a.argv;
    /* EVAL, not EVALSHA: a CLI cannot know whether Redis has the script cached */
    if ((rc = bf_cli_redis_cmd(r, &h, "EVAL %b 4 %b %b %b %b", src, srclen, v[0], l[0], v[1], l[1],
                               v[2], l[2], v[3], l[3])))
        goto out;
    if (h->type != REDIS_REPLY_ARRAY || h->elements % 2) {
        rc = bf_cli_redis_bad(r, h, "presence_members.lua");
        goto out;
    }
    json_int_t conns;
    json_t *members = members_of(h, &conns);
    freeReplyObject(h);
    if (cfg.json) {
        size_t n = json_array_size(members);
        rc = bf_cli_print_json(json_pack("{s:s,s:o,s:I,s:I}", "channel", ch, "members", members,
                                         "count", (json_int_t)n, "connections", conns));
    } else {
        print_table(&cfg, members, conns);
        json_decref(members);
    }
    if (!rc) rc = bf_cli_flush(spec.name);
out:
    bf_cli_redis_free(r);
    return rc;
}
