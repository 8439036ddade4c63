/* belfryctl: dispatches to one command per subcommand (see cli.h for the conventions). */
#include "args.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bf_cli_cmd commands[] = {
    {"presence", "members of a presence channel", bf_cli_presence},
    {"channels", "active channels with subscriber counts and owners", bf_cli_channels},
    {"nodes", "routers and gateways, their health and load", bf_cli_nodes},
    {"owner", "the router that owns a channel, and the ring epoch", bf_cli_owner},
    {"publish", "publish a message through Redis or a router's HTTP API", bf_cli_publish},
    {"tail", "print a channel's messages as they arrive (Ctrl-C to stop)", bf_cli_tail},
    {"history", "the messages a channel retains for recovery", bf_cli_history},
    {"kick", "close a user's connections on a channel (close code 4010)", bf_cli_kick},
    {"token", "mint a token for private and presence channels", bf_cli_token},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: belfryctl COMMAND [ARGS]   (belfryctl COMMAND --help for details)\n\n"
               "Commands:\n");
    for (const bf_cli_cmd *c = commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\nCommands that read the cluster take --redis URL (BELFRY_REDIS_URL),\n"
               "--redis-prefix P (BELFRY_REDIS_PREFIX), --timeout-ms N, and --json and --no-color\n"
               "for the output; those that address a channel (presence, history, owner, kick,\n"
               "publish) take --app ID (BELFRY_APP) for an app other than the default one.\n"
               "These may also come before the command:\n"
               "  belfryctl --redis redis://db:6379 presence presence-room.1\n"
               "\nExit codes: 0 success, 1 operation failed, 2 usage error, 3 cannot reach "
               "Redis or a gateway.\n");
}

/* The options every command that reads the cluster shares; they may come before the command too
 * (`belfryctl --redis URL presence X`, as `git -C`, `kubectl -n` and `redis-cli -h` allow). */
static const bf_cfg_opt globals[] = {BF_CLI_OPTS_REDIS, BF_CLI_OPTS_APP, BF_CLI_OPTS_OUTPUT,
                                     BF_CLI_OPTS_END};

/* How many argv entries, from argv[i], one leading global option takes (with its value): 0 if
 * argv[i] is not one. Hidden rows (no help: environment only) are not options. */
static int global_len(int argc, char **argv, int i)
{
    const char *a = argv[i];
    if (strncmp(a, "--", 2) || !a[2]) return 0;
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    for (const bf_cfg_opt *o = globals; o->name; o++) {
        if (!o->help || strlen(o->name) != len || strncmp(o->name, name, len)) continue;
        if (eq || o->type == BF_CFG_BOOL) return 1;
        return i + 1 < argc ? 2 : 1; /* a missing value is the command's usage error */
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* Leading global options move behind the command name, where its own table parses them
     * (so a command that does not take one, e.g. token --redis, says so in its own words). */
    int g = 1;
    char **moved = NULL;
    while (g < argc) {
        int n = global_len(argc, argv, g);
        if (!n) break;
        g += n;
    }
    if (g > 1 && g < argc) {
        char **v = malloc(sizeof(*v) * (size_t)(argc + 1));
        if (!v) return BF_CLI_FAILED;
        v[0] = argv[0];
        v[1] = argv[g];
        memcpy(v + 2, argv + 1, sizeof(*v) * (size_t)(g - 1));
        memcpy(v + g + 1, argv + g + 1, sizeof(*v) * (size_t)(argc - g)); /* with the NULL */
        argv = moved = v;
    } else if (g > 1) {
        fprintf(stderr, "belfryctl: %s needs a command after it (see belfryctl --help)\n", argv[1]);
        return BF_CLI_USAGE;
    }
    if (argc < 2) {
        usage(stderr);
        return BF_CLI_USAGE;
    }
    int rc = BF_CLI_USAGE;
    const bf_cli_cmd *c = commands;
    while (c->name && strcmp(argv[1], c->name)) c++;
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        rc = BF_CLI_OK;
    } else if (!strcmp(argv[1], "--version")) {
        printf("belfryctl %s\n", BELFRY_VERSION);
        rc = BF_CLI_OK;
    } else if (c->name) {
        rc = c->run(argc - 1, argv + 1);
    } else {
        fprintf(stderr, "belfryctl: unknown command '%s' (see belfryctl --help)\n", argv[1]);
    }
    free(moved);
    return rc;
}
