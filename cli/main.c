/* belfryctl: dispatches to one command per subcommand (see cli.h for the conventions). */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const bf_cli_cmd commands[] = {
    {"token", "mint a token for private and presence channels", bf_cli_token},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: belfryctl COMMAND [ARGS]   (belfryctl COMMAND --help for details)\n\n"
               "Commands:\n");
    for (const bf_cli_cmd *c = commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\nExit codes: 0 success, 1 operation failed, 2 usage error, 3 cannot reach "
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
