/* belfry-bench: load generator for Belfry (and, through URL templates, for nginx + nchan).
 * main only parses the flags and hands over to the mode. */
#include "bench.h"
#include "config.h"
#include "err.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef BELFRY_VERSION
#define BELFRY_VERSION "dev"
#endif

static void on_signal(int sig)
{
    (void)sig;
    bb_stop = 1;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "bench: watchdog expired, aborting\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    _exit(3);
}

/* Raises the open-files soft limit to the hard one: every connection is a descriptor. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    bb_config cfg;
    char err[BF_ERR_LEN];
    int rc = bf_config_parse(bb_config_table, &cfg, argc, argv, err, sizeof(err));
    if (rc == BF_CFG_HELP) {
        bf_config_usage(bb_config_table, stdout, "belfry-bench",
                        "Load generator: N WebSocket subscribers (spread over loopback source "
                        "addresses), HTTP or Redis publishers, delivery and latency measurement.\n"
                        "Prints a table and one line 'RESULT {json}'. Exit status: 0 all "
                        "delivered, 1 loss or failures, 2 bad flags, 3 watchdog.");
        return 0;
    }
    if (rc == BF_CFG_VERSION) {
        printf("belfry-bench %s\n", BELFRY_VERSION);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "belfry-bench: %s\n", err);
        return 2;
    }
    if (!strcmp(cfg.mode, "presence") && cfg.procs > 1) {
        fprintf(stderr, "belfry-bench: --procs applies to broadcast and idle modes only\n");
        return 2;
    }
    if (!strcmp(cfg.protocol, "pusher") && !strcmp(cfg.mode, "presence")) {
        fprintf(stderr, "belfry-bench: --protocol pusher applies to broadcast and idle modes\n");
        return 2;
    }
    if (cfg.channels_per_conn > 1 && (strcmp(cfg.protocol, "pusher") || strcmp(cfg.mode, "idle"))) {
        fprintf(stderr, "belfry-bench: --channels-per-conn applies to --protocol pusher in idle "
                        "mode only\n");
        return 2;
    }
    if (cfg.channels_per_conn > cfg.channels) {
        fprintf(stderr, "belfry-bench: --channels-per-conn is larger than --channels\n");
        return 2;
    }
    raise_nofile();
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)cfg.watchdog_s);
    if (!strcmp(cfg.mode, "idle")) return bb_mode_idle(&cfg);
    if (!strcmp(cfg.mode, "presence")) return bb_mode_presence(&cfg);
    return bb_mode_broadcast(&cfg);
}
