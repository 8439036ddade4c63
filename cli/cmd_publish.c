/* belfryctl publish CHANNEL EVENT [DATA_JSON]: publishes one message with libbelfry's publisher,
 * through Redis ingress (default; at-most-once, fails when no router listens) or a router's HTTP
 * API (--http; answered once the message is sequenced). Another app's channel and a Redis
 * Cluster's ingress go through belfryctl's own Redis connection (publish_redis). */
#include "args.h"
#include "channel.h"
#include "cli.h"
#include "cluster.h"
#include "credis.h"
#include "message.h"
#include "redis_keys.h"
#include "out.h"

#include <belfry/publisher.h>
#include <stdlib.h>
#include <string.h>

static const bf_cfg_opt table[] = {
    BF_CLI_OPTS_REDIS,
    BF_CLI_OPTS_APP,
    BF_CLI_OPTS_OUTPUT,
    {"http", BF_CFG_STRING, NULL, NULL, 0, 0, NULL, BF_CLI_F(http),
     "publish through a router's HTTP API at this URL (http://HOST:PORT) instead of Redis"},
    {"api-key", BF_CFG_STRING, "BELFRY_API_KEY", NULL, 0, 0, NULL, BF_CLI_F(api_key),
     "the routers' API key (required with --http)"},
    BF_CLI_OPTS_END,
};

static const bf_cli_spec spec = {
    .name = "publish",
    .synopsis = "CHANNEL EVENT [DATA_JSON]",
    .summary =
        "Publishes EVENT with DATA_JSON (any JSON value, default null; \"-\" reads it from\n"
        "stdin) to CHANNEL. By default through Redis ingress (PUBLISH <prefix>publish:CHANNEL),\n"
        "which the channel's owner sequences; this fails when no router is listening, and\n"
        "is at-most-once. With --http, through a router's POST /broadcast/CHANNEL, which\n"
        "answers once the message is sequenced.",
    .details =
        "Output: one confirmation line; with --json {\"channel\",\"event\",\"via\",\"status\"}.\n"
        "Exit status 1 when the message was refused (wrong API key, no router listening,\n"
        "server error), 2 for an invalid channel, event name or JSON, 3 when Redis or the\n"
        "router cannot be reached.\n\n"
        "Examples:\n"
        "  belfryctl publish orders OrderShipped '{\"id\":42}'\n"
        "  echo '{\"text\":\"hi\"}' | belfryctl publish private-chat.7 Message -\n"
        "  belfryctl publish news Hello '\"hi\"' --http http://router:8090 --api-key \"$KEY\"\n"
        "  belfryctl publish news Hello '{}' --app 1002   (another app: its Redis ingress)\n",
    .table = table,
    .min_pos = 2,
    .max_pos = 3,
};

/* The whole of stdin in malloc'd memory (caller frees), or NULL. */
static char *read_stdin(void)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
    }
    if (buf) buf[len] = '\0';
    return buf;
}

/* Exit code for a failed publish: the library's rc and HTTP status tell who refused it. */
static int exit_code(const bf_channel_result *res)
{
    if (res->status == 0 && res->rc == BF_EINVAL) return BF_CLI_USAGE; /* refused locally */
    if (res->status == 0 &&
        (res->rc == BF_EIO || res->rc == BF_ETIMEDOUT || !strcmp(res->code, "connect_failed")))
        return BF_CLI_UNREACHABLE;
    return BF_CLI_FAILED;
}

/* Publishes through Redis ingress with belfryctl's own connection, in the two cases libbelfry's
 * publisher does not cover: another app's channel (--app: its subject
 * <prefix>publish:APPID/CHANNEL, apps.h, which the owner of the scoped channel sequences) and a
 * Redis Cluster (the publisher takes one Redis). Returns BF_CLI_CONTINUE when neither applies
 * (libbelfry publishes then), else the command's exit code. */
static int publish_redis(bf_cli_cfg *cfg, const char *ch, const char *event, const char *data)
{
    bf_redis_url u;
    char err[BF_ERR_LEN];
    bool cluster = !cfg->http && !bf_parse_redis_url(cfg->redis, &u, err, sizeof(err)) &&
                   u.kind == BF_REDIS_URL_CLUSTER;
    if (!cfg->app && !cluster) return BF_CLI_CONTINUE;
    int rc;
    bf_cli_redis *r = bf_cli_redis_open(cfg, spec.name, &rc);
    if (!r) return rc;
    char sch[256], subject[BF_KEY_MAX];
    bf_cli_cluster c = {0};
    if ((rc = bf_cli_scope_channel(r, cfg->app, ch, sch, sizeof(sch)))) goto out;
    bool other_app = strcmp(sch, ch) != 0;
    if (!other_app && !cluster) {
        rc = BF_CLI_CONTINUE; /* the default app */
        goto out;
    }
    if (cfg->http) {
        rc = bf_cli_usage_error(spec.name,
                                "--http: the native HTTP API belongs to the default app; publish "
                                "to app %s through its Redis ingress (leave out --http) or the "
                                "Pusher HTTP API (any Pusher server SDK)",
                                cfg->app);
        goto out;
    }
    if (bf_message_check_event(event, strlen(event), err, sizeof(err))) { /* as libbelfry does */
        rc = bf_cli_usage_error(spec.name, "%s (bad_event)", err);
        goto out;
    }
    json_t *body =
        json_pack("{s:s,s:o}", "event", event, "data", json_loads(data, JSON_DECODE_ANY, NULL));
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    if (bf_key(subject, bf_cli_redis_prefix(r), BF_KEY_PUBLISH, sch) < 0) {
        free(text);
        rc = bf_cli_usage_error(spec.name, "channel name too long for the key prefix");
        goto out;
    }
    redisReply *rep;
    rc = bf_cli_redis_cmd(r, &rep, "PUBLISH %s %s", subject, text);
    free(text);
    if (rc) goto out;
    long long receivers = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
    freeReplyObject(rep);
    /* A cluster forwards PUBLISH to every node but counts the subscribers of the node it was sent
     * to only, and the routers listen on one node of their choice: there, "nobody received it"
     * is judged by the membership instead (no live router, nobody to sequence it). */
    if (receivers == 0 && cluster && !(rc = bf_cli_cluster_load(r, &c, false)) &&
        c.live_routers > 0)
        receivers = -1; /* unknown, but a router is live */
    if (rc) goto out;
    if (receivers == 0) {
        if (cluster)
            bf_cli_error(spec.name,
                         "no router is live under the prefix %s to sequence it; the message was "
                         "dropped (is a router running against this Redis Cluster and prefix?)",
                         bf_cli_redis_prefix(r));
        else
            bf_cli_error(spec.name,
                         "no router is subscribed to %spublish:*; the message was dropped (is a "
                         "router running against this Redis and prefix?)",
                         bf_cli_redis_prefix(r));
        rc = BF_CLI_FAILED;
        goto out;
    }
    if (cfg->json)
        rc = bf_cli_print_json(other_app
                                   ? json_pack("{s:s,s:s,s:s,s:s,s:n}", "channel", ch, "app",
                                               cfg->app, "event", event, "via", "redis", "status")
                                   : json_pack("{s:s,s:s,s:s,s:n}", "channel", ch, "event", event,
                                               "via", "redis", "status"));
    else if (other_app)
        printf("published %s to %s of app %s via redis\n", event, ch, cfg->app);
    else
        printf("published %s to %s via redis\n", event, ch);
    if (!rc) rc = bf_cli_flush(spec.name);
out:
    bf_cli_cluster_deinit(&c);
    bf_cli_redis_free(r);
    return rc;
}

int bf_cli_publish(int argc, char **argv)
{
    bf_cli_cfg cfg;
    int rc = bf_cli_args_parse(&spec, &cfg, argc, argv);
    if (rc != BF_CLI_CONTINUE) return rc;
    const char *ch = cfg.pos[0], *event = cfg.pos[1];
    if ((rc = bf_cli_channel_arg(spec.name, ch))) return rc;
    if (cfg.http && !cfg.api_key)
        return bf_cli_usage_error(spec.name, "--http needs --api-key (or BELFRY_API_KEY)");
    char *in = NULL;
    const char *data = cfg.npos > 2 ? cfg.pos[2] : "null";
    if (!strcmp(data, "-") && !(data = in = read_stdin())) {
        bf_cli_error(spec.name, "cannot read DATA_JSON from stdin");
        return BF_CLI_FAILED;
    }
    json_error_t je;
    json_t *parsed = json_loads(data, JSON_DECODE_ANY, &je);
    if (!parsed) {
        free(in);
        return bf_cli_usage_error(spec.name, "DATA_JSON is not JSON: %s (at %d:%d)", je.text,
                                  je.line, je.column);
    }
    json_decref(parsed);
    /* another app's channel (the native API and libbelfry belong to the default app), or a
     * Redis Cluster (libbelfry's publisher takes one Redis) */
    int arc = publish_redis(&cfg, ch, event, data);
    if (arc != BF_CLI_CONTINUE) {
        free(in);
        return arc;
    }
    bf_publisher_opts o = {.url = cfg.http ? cfg.http : cfg.redis,
                           .api_key = cfg.api_key,
                           .redis_prefix = cfg.redis_prefix,
                           .timeout_ms = (int)cfg.timeout_ms};
    char err[BF_ERR_LEN];
    bf_publisher *p = bf_publisher_new(&o, err);
    if (!p) {
        free(in);
        return bf_cli_usage_error(spec.name, "%s%s", cfg.http ? "--http: " : "", err);
    }
    bf_channel_result res;
    memset(&res, 0, sizeof(res));
    rc = bf_publisher_publish(p, ch, event, data, &res);
    bf_publisher_free(p);
    free(in);
    const char *via = cfg.http ? "http" : "redis";
    if (rc) {
        bf_cli_error(spec.name, "%s%s%s%s", res.message[0] ? res.message : bf_strerror(rc),
                     res.code[0] ? " (" : "", res.code, res.code[0] ? ")" : "");
        return exit_code(&res);
    }
    if (cfg.json)
        rc = bf_cli_print_json(json_pack("{s:s,s:s,s:s,s:o}", "channel", ch, "event", event, "via",
                                         via, "status",
                                         res.status ? json_integer(res.status) : json_null()));
    else
        printf("published %s to %s via %s\n", event, ch, via);
    return rc ? rc : bf_cli_flush(spec.name);
}
