/* belfryctl kick CHANNEL USER: closes every connection of USER on CHANNEL, on every gateway.
 *
 * The kick goes where gateways put presence operations: an inbox envelope (op 4, common/wire.h)
 * recorded in the channel's queue of pending operations (presence_enqueue.lua), which nudges the
 * owner on inbox:{owner} in the same step. Once recorded the kick is applied exactly once — by
 * that owner, or by its successor if it dies first — as a fan-out kick the gateways act on
 * (closing that user's connections with 4010; belfry_router_kicks_total counts them). The nudge's
 * receivers are reported, so "nobody received it" (the owner died since the snapshot) is still
 * detected: the kick then waits for the channel's next owner. */
#include "args.h"
#include "channel.h"
#include "cli.h"
#include "cluster.h"
#include "out.h"
#include "redis_keys.h"
#include "scripts.h"
#include "slot.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_USER 200   /* the owner refuses longer user ids */
#define MAX_REASON 123 /* a close frame's reason: longer ones would be cut by the gateway */

static const bf_cfg_opt table[] = {
    BF_CLI_OPTS_REDIS,
    BF_CLI_OPTS_APP,
    BF_CLI_OPTS_OUTPUT,
    {"reason", BF_CFG_STRING, NULL, "kicked by an operator", 0, 0, NULL, BF_CLI_F(reason),
     "the close reason the user's clients receive (at most 123 bytes)"},
    BF_CLI_OPTS_END,
};

static const bf_cli_spec spec = {
    .name = "kick",
    .synopsis = "CHANNEL USER",
    .summary = "Closes every connection of USER (the token's sub) on CHANNEL, on every gateway,\n"
               "with close code 4010. The request goes to the channel's owner through its Redis\n"
               "inbox; the owner tells the gateways.",
    .details =
        "Output: one confirmation line; with --json\n"
        "  {\"channel\",\"user\",\"reason\",\"owner\",\"epoch\",\"receivers\"}.\n"
        "Exit status 1 when no router is live or the owner did not receive the request.\n"
        "Connections without a user id (public channels without a token) cannot be kicked.\n\n"
        "Examples:\n"
        "  belfryctl kick presence-room.1 mallory\n"
        "  belfryctl kick private-chat.7 bob --reason 'account suspended'\n",
    .table = table,
    .min_pos = 2,
    .max_pos = 2,
};

/* Records the kick (presence_enqueue.lua) and nudges the owner; returns 0 and *receivers (of the
 * nudge), or an exit code. */
static int send_kick(bf_cli_redis *r, const char *owner, const char *ch, const char *user,
                     const char *reason, long long *receivers)
{
    char requester[64];
    snprintf(requester, sizeof(requester), "belfryctl/%d", (int)getpid());
    bf_inbox m = {.op = BF_OP_KICK,
                  .channel = {ch, strlen(ch)},
                  .conn_id = {requester, strlen(requester)},
                  .user_id = {user, strlen(user)},
                  .payload = {reason, strlen(reason)}};
    char *env;
    size_t len;
    if (bf_wire_encode_inbox(&m, &env, &len)) abort(); /* only fails when out of memory */
    bool cluster = bf_cli_redis_is_cluster(r);
    bf_script_args a;
    bf_presence_enqueue e = {.prefix = bf_cli_redis_prefix(r),
                             .channel = ch,
                             .gateway = "belfryctl", /* unused: a kick indexes no gateway */
                             .envelope = env,
                             .envelope_len = len,
                             .owner = owner,
                             .cluster = cluster};
    if (bf_presence_enqueue_args(&a, &e)) abort(); /* the channel and prefix were validated */
    size_t srclen;
    const char *src = bf_script_source_for(a.id, cluster, &srclen);
    /* EVAL, not EVALSHA: a CLI cannot know whether Redis has the script cached. On a cluster the
     * script holds only the channel's key (pops:{channel}); ppending follows below. */
    const char *v[3 + 24];
    size_t l[3 + 24];
    char nk[8];
    v[0] = "EVAL", l[0] = 4;
    v[1] = src, l[1] = srclen;
    l[2] = (size_t)snprintf(nk, sizeof(nk), "%d", a.nkeys), v[2] = nk;
    for (int i = 0; i < a.argc; i++) v[3 + i] = a.argv[i], l[3 + i] = a.lens[i];
    redisReply *rep;
    int rc = bf_cli_redis_cmdargv(r, &rep, 3 + a.argc, v, l);
    free(env);
    if (rc) return rc;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[1]->type != REDIS_REPLY_INTEGER)
        return bf_cli_redis_bad(r, rep, "presence_enqueue.lua");
    *receivers = rep->element[1]->integer;
    freeReplyObject(rep);
    if (!cluster) return 0;
    /* the channel's entry in the cluster-wide ppending set, after its operation (as the
     * gateways' bf_presence_enqueue_send does): the owners' sweep finds it there if the nudge
     * is missed */
    char pp[BF_KEY_MAX];
    if (bf_key(pp, bf_cli_redis_prefix(r), BF_KEY_PPENDING, NULL) < 0) abort();
    if ((rc = bf_cli_redis_cmd(r, &rep, "SADD %s %s", pp, ch))) return rc;
    freeReplyObject(rep);
    return 0;
}

int bf_cli_kick(int argc, char **argv)
{
    bf_cli_cfg cfg;
    int rc = bf_cli_args_parse(&spec, &cfg, argc, argv);
    if (rc != BF_CLI_CONTINUE) return rc;
    const char *ch = cfg.pos[0], *user = cfg.pos[1];
    if ((rc = bf_cli_channel_arg(spec.name, ch))) return rc;
    if (!*user || strlen(user) > MAX_USER)
        return bf_cli_usage_error(spec.name, "USER must be 1-%d bytes", MAX_USER);
    if (strlen(cfg.reason) > MAX_REASON)
        return bf_cli_usage_error(spec.name, "--reason: at most %d bytes", MAX_REASON);
    char sch[256]; /* the name the cluster knows it by (--app) */
    bf_cli_redis *r = bf_cli_redis_open_channel(&cfg, spec.name, ch, sch, sizeof(sch), &rc);
    if (!r) return rc;
    bf_cli_cluster c = {0};
    long long receivers = 0;
    if ((rc = bf_cli_cluster_load(r, &c, false))) goto out;
    const char *owner = bf_cli_cluster_owner(&c, sch);
    if (!owner) {
        bf_cli_error(spec.name, "no live router: nobody owns '%s' to carry out the kick", ch);
        rc = BF_CLI_FAILED;
        goto out;
    }
    if ((rc = send_kick(r, owner, sch, user, cfg.reason, &receivers))) goto out;
    /* on a cluster PUBLISH counts the subscribers of the node that ran it only, while the
     * owner listens on whichever node its link chose: a 0 says nothing there */
    if (receivers == 0 && !bf_cli_redis_is_cluster(r)) {
        bf_cli_error(spec.name,
                     "the owner %s did not receive the kick (not listening on its "
                     "inbox: did it just die?); it is recorded and the channel's next owner "
                     "carries it out",
                     owner);
        rc = BF_CLI_FAILED;
        goto out;
    }
    if (bf_channel_type_of(ch) == BF_CH_PUBLIC)
        fprintf(stderr,
                "belfryctl kick: note: '%s' is public; only connections that sent a token "
                "have a user id\n",
                ch);
    if (cfg.json)
        rc = bf_cli_print_json(json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "channel", ch, "user", user,
                                         "reason", cfg.reason, "owner", owner, "epoch",
                                         (json_int_t)c.epoch, "receivers", (json_int_t)receivers));
    else
        printf("kick of %s on %s sent to its owner %s (ring epoch %lld)\n", user, ch, owner,
               c.epoch);
    if (!rc) rc = bf_cli_flush(spec.name);
out:
    bf_cli_cluster_deinit(&c);
    bf_cli_redis_free(r);
    return rc;
}
