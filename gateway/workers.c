#include "workers.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 256

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Returns 0 in the child, the pid in the parent, -1 on failure. */
static pid_t spawn(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
    }
    return pid;
}

int bf_workers_run(int n)
{
    pid_t pids[MAX_WORKERS] = {0};
    if (n > MAX_WORKERS) n = MAX_WORKERS;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    for (int i = 0; i < n; i++) {
        pid_t pid = spawn();
        if (pid == 0) return 0;
        if (pid < 0) bf_error("cannot start worker %d: %s", i, strerror(errno));
        pids[i] = pid;
    }
    bf_info("supervising %d gateway workers", n);
    int status = 0, alive = n, forwarded = 0;
    while (alive > 0) {
        if (stopping && !forwarded) {
            for (int i = 0; i < n; i++)
                if (pids[i] > 0) kill(pids[i], SIGTERM);
            forwarded = 1;
        }
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (pids[i] != pid) continue;
            pids[i] = 0;
            if (stopping) {
                alive--;
                if (!WIFEXITED(st) || WEXITSTATUS(st)) status = 1;
                break;
            }
            bf_warn("worker %d (pid %d) died (%s %d): restarting it in 1 s", i, (int)pid,
                    WIFEXITED(st) ? "status" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            sleep(1);
            if (stopping) {
                alive--;
                break;
            }
            pid_t again = spawn();
            if (again == 0) return 0;
            pids[i] = again > 0 ? again : 0;
            if (again < 0) alive--;
            break;
        }
    }
    bf_info("all workers stopped");
    exit(status);
}
