/* belfryctl: the admin CLI. Each command is one function taking its own argv (argv[0] is the
 * command name) and returning the process exit code:
 *   0 success, 1 operation failed, 2 usage error, 3 cannot reach Redis or a gateway.
 * Errors go to stderr as one clear line; results go to stdout. */
#ifndef BF_CLI_H
#define BF_CLI_H

enum { BF_CLI_OK = 0, BF_CLI_FAILED = 1, BF_CLI_USAGE = 2, BF_CLI_UNREACHABLE = 3 };

typedef struct bf_cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} bf_cli_cmd;

int bf_cli_token(int argc, char **argv);

/* Parses a duration like "90", "30s", "15m", "1h", "2d" into seconds; returns 0 or -1. */
int bf_cli_parse_duration(const char *s, long long *out);

#endif
