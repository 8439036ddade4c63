/* belfryctl history CHANNEL: the messages a channel retains for recovery (--history-size). */
#include "args.h"
#include "channel.h"
#include "cli.h"
#include "credis.h"
#include "out.h"
#include "redis_keys.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const bf_cfg_opt table[] = {
    BF_CLI_OPTS_REDIS,
    BF_CLI_OPTS_APP,
    BF_CLI_OPTS_OUTPUT,
    {"since", BF_CFG_INT, NULL, "0", 0, 9007199254740991LL, NULL, BF_CLI_F(since),
     "only messages after this seq"},
    {"limit", BF_CFG_INT, NULL, "100", 1, 100000, NULL, BF_CLI_F(limit),
     "the most messages to print, oldest first"},
    BF_CLI_OPTS_END,
};

static const bf_cli_spec spec = {
    .name = "history",
    .synopsis = "CHANNEL",
    .summary = "Prints the messages CHANNEL retains for recovery (the router's --history-size and\n"
               "--history-ttl bound them), oldest first, with the channel's epoch and seq.",
    .details = "Output: one line per message (SEQ, EVENT, DATA) and a summary line. With --json:\n"
               "  {\"channel\",\"epoch\",\"seq\",\"messages\":[{\"seq\",\"event\",\"data\"}]}\n"
               "A channel without history prints an empty list (exit 0).\n\n"
               "Examples:\n"
               "  belfryctl history news\n"
               "  belfryctl history presence-room.1 --since 120 --json | jq '.messages[].event'\n",
    .table = table,
    .min_pos = 1,
    .max_pos = 1,
};

int bf_cli_history(int argc, char **argv)
{
    bf_cli_cfg cfg;
    int rc = bf_cli_args_parse(&spec, &cfg, argc, argv);
    if (rc != BF_CLI_CONTINUE) return rc;
    const char *ch = cfg.pos[0];
    if ((rc = bf_cli_channel_arg(spec.name, ch))) return rc;
    char sch[256]; /* the name the cluster knows it by (--app) */
    bf_cli_redis *r = bf_cli_redis_open_channel(&cfg, spec.name, ch, sch, sizeof(sch), &rc);
    if (!r) return rc;
    bf_seq_keys k;
    bf_key_seq_keys(&k, bf_cli_redis_prefix(r), sch);
    char start[32];
    snprintf(start, sizeof(start), "%lld-0", cfg.since + 1);
    /* one pipeline: the position and the entries come from the same moment for any reader that
     * cares (the gateway's recovery reads them atomically in a script) */
    bf_cli_redis_append(r, "GET %s", k.seq);
    bf_cli_redis_append(r, "GET %s", k.epoch);
    bf_cli_redis_append(r, "XRANGE %s %s + COUNT %lld", k.hist, start, cfg.limit);
    redisReply *seq = NULL, *epoch = NULL, *entries = NULL;
    if ((rc = bf_cli_redis_next(r, &seq)) || (rc = bf_cli_redis_next(r, &epoch)) ||
        (rc = bf_cli_redis_next(r, &entries)))
        goto out;
    if (entries->type != REDIS_REPLY_ARRAY) {
        rc = bf_cli_redis_bad(r, entries, "XRANGE");
        entries = NULL;
        goto out;
    }
    long long last = seq->type == REDIS_REPLY_STRING ? atoll(seq->str) : 0;
    const char *ep = epoch->type == REDIS_REPLY_STRING ? epoch->str : "";
    json_t *msgs = json_array();
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->elements != 2)
            continue;
        redisReply *f = e->element[1]->element[1];
        json_t *frame = json_loadb(f->str, (size_t)f->len, 0, NULL);
        if (!frame) continue;
        json_array_append_new(msgs,
                              json_pack("{s:O?,s:O?,s:O?}", "seq", json_object_get(frame, "seq"),
                                        "event", json_object_get(frame, "event"), "data",
                                        json_object_get(frame, "data")));
        json_decref(frame);
    }
    if (cfg.json) {
        rc = bf_cli_print_json(json_pack("{s:s,s:s,s:I,s:o}", "channel", ch, "epoch", ep, "seq",
                                         (json_int_t)last, "messages", msgs));
    } else {
        static const char *const headers[] = {"SEQ", "EVENT", "DATA"};
        bf_cli_table *t = bf_cli_table_new(3, headers);
        size_t i;
        json_t *m;
        json_array_foreach(msgs, i, m)
        {
            char *data = json_dumps(json_object_get(m, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
            bf_cli_table_cell(t, NULL, "%lld",
                              (long long)json_integer_value(json_object_get(m, "seq")));
            bf_cli_table_cell(t, cfg.color ? BF_CLI_CYAN : NULL, "%s",
                              json_string_value(json_object_get(m, "event")));
            bf_cli_table_cell(t, NULL, "%.100s%s", data ? data : "null",
                              data && strlen(data) > 100 ? "..." : "");
            free(data);
        }
        if (json_array_size(msgs)) bf_cli_table_print(t, cfg.color);
        bf_cli_table_free(t);
        printf("%zu message(s) retained after seq %lld; channel seq %lld, epoch %s\n",
               json_array_size(msgs), cfg.since, last, *ep ? ep : "(none yet)");
        json_decref(msgs);
    }
    if (!rc) rc = bf_cli_flush(spec.name);
out:
    if (seq) freeReplyObject(seq);
    if (epoch) freeReplyObject(epoch);
    if (entries) freeReplyObject(entries);
    bf_cli_redis_free(r);
    return rc;
}
