/* belfryctl: dispatches to one command per subcommand (see cli.h for the conventions). */
#include "cli.h"

#include <stdio.h>
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
    fprintf(f, "\nCommands that read the cluster take --redis URL (BELFRY_REDIS_URL) and\n"
               "--redis-prefix P (BELFRY_REDIS_PREFIX), and --json for machine-readable output.\n"
               "\nExit codes: 0 success, 1 operation failed, 2 usage error, 3 cannot reach "
               "Redis or a gateway.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return BF_CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return BF_CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("belfryctl %s\n", BELFRY_VERSION);
        return BF_CLI_OK;
    }
    for (const bf_cli_cmd *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "belfryctl: unknown command '%s' (see belfryctl --help)\n", argv[1]);
    return BF_CLI_USAGE;
}
