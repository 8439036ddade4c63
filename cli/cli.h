/* belfryctl: the admin CLI.
 *
 * Each command is one function taking its own argv (argv[0] is the command name) and returning
 * the process exit code:
 *   0 success (an unknown channel is an empty result, not a failure), 1 operation failed,
 *   2 usage error, 3 cannot reach Redis or a gateway.
 * Errors go to stderr as one clear line ("belfryctl CMD: ..."); results go to stdout, as an
 * aligned table or, with --json, as one JSON document (one JSON line per message for tail).
 *
 * Modules: args.c (flags from bf_cfg_opt tables, positionals, --help), credis.c (blocking Redis),
 * cluster.c (one consistent snapshot of nodes, ring and channels), out.c (tables, colour, times);
 * cmd_*.c hold one command each. */
#ifndef BF_CLI_H
#define BF_CLI_H

enum { BF_CLI_OK = 0, BF_CLI_FAILED = 1, BF_CLI_USAGE = 2, BF_CLI_UNREACHABLE = 3 };

typedef struct bf_cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} bf_cli_cmd;

int bf_cli_presence(int argc, char **argv);
int bf_cli_channels(int argc, char **argv);
int bf_cli_nodes(int argc, char **argv);
int bf_cli_owner(int argc, char **argv);
int bf_cli_publish(int argc, char **argv);
int bf_cli_tail(int argc, char **argv);
int bf_cli_history(int argc, char **argv);
int bf_cli_kick(int argc, char **argv);
int bf_cli_token(int argc, char **argv);

/* Parses a duration like "90", "30s", "15m", "1h", "2d" into seconds; returns 0 or -1. */
int bf_cli_parse_duration(const char *s, long long *out);

#endif
