#include "worker.h"
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

bb_worker bb_self;

static long long share(long long total, int k, int n)
{
    return total / n + (k < total % n ? 1 : 0);
}

int bb_workers_fork(bb_workers *w, const bb_config *cfg, bb_config *slice)
{
    int n = (int)cfg->procs;
    memset(w, 0, sizeof(*w));
    fflush(stdout);
    fflush(stderr);
    for (int k = 0; k < n; k++) {
        int down[2], up[2];
        if (pipe2(down, O_CLOEXEC) || pipe2(up, O_CLOEXEC)) return -2;
        pid_t pid = fork();
        if (pid < 0) return -2;
        if (pid == 0) {
            for (int j = 0; j < k; j++) { /* the siblings' pipes are not ours */
                close(w->to_child[j]);
                close(w->from_child[j]);
            }
            close(down[1]);
            close(up[0]);
            bb_self =
                (bb_worker){.index = k, .count = n, .to_parent = up[1], .from_parent = down[0]};
            /* die with the parent, and keep the parent's time limit (alarm is not inherited) */
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            alarm((unsigned)cfg->watchdog_s);
            *slice = *cfg;
            slice->procs = 1;
            slice->pids = NULL;       /* the parent samples the servers */
            if (cfg->channels >= n) { /* whole channels */
                long long first = 0;
                for (int j = 0; j < k; j++) first += share(cfg->channels, j, n);
                slice->channels = share(cfg->channels, k, n);
                slice->channel_offset = cfg->channel_offset + first;
            } else { /* every channel, a share of its subscribers */
                slice->subs_per_channel = share(cfg->subs_per_channel, k, n);
            }
            slice->rate = share(cfg->rate, k, n);
            slice->count = share(cfg->count, k, n);
            slice->connect_rate = share(cfg->connect_rate, k, n);
            if (cfg->rate && !slice->rate) slice->rate = 1;
            return k;
        }
        close(down[0]);
        close(up[1]);
        w->pid[k] = pid;
        w->to_child[k] = down[1];
        w->from_child[k] = up[0];
        w->n++;
    }
    return -1;
}

int bb_workers_gather(bb_workers *w, int timeout_s)
{
    for (int k = 0; k < w->n; k++) {
        struct pollfd p = {.fd = w->from_child[k], .events = POLLIN};
        char c;
        int rc;
        while ((rc = poll(&p, 1, timeout_s * 1000)) < 0 && errno == EINTR)
            if (bb_stop) return -1;
        if (rc <= 0 || read(w->from_child[k], &c, 1) != 1) {
            fprintf(stderr, "bench: worker %d did not reach the barrier\n", k);
            return -1;
        }
    }
    return 0;
}

void bb_workers_release(bb_workers *w)
{
    for (int k = 0; k < w->n; k++) {
        ssize_t r = write(w->to_child[k], "g", 1);
        (void)r;
    }
}

int bb_workers_recv(bb_workers *w, int k, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(w->from_child[k], (char *)p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

int bb_workers_reap(bb_workers *w)
{
    int worst = 0;
    for (int k = 0; k < w->n; k++) {
        close(w->to_child[k]);
        close(w->from_child[k]);
        int st;
        if (waitpid(w->pid[k], &st, 0) < 0) continue;
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 3;
        if (code > worst) worst = code;
    }
    return worst;
}

int bb_worker_barrier(bb_bench *b)
{
    if (!bb_self.count) return 0;
    if (write(bb_self.to_parent, "r", 1) != 1) return -1;
    for (;;) {
        struct pollfd p = {.fd = bb_self.from_parent, .events = POLLIN};
        int rc = poll(&p, 1, 0);
        if (rc > 0) {
            char c;
            return read(bb_self.from_parent, &c, 1) == 1 ? 0 : -1;
        }
        if (bb_stop) return -1;
        bb_bench_poll(b, 10000); /* keep answering pings and reading while the others catch up */
    }
}

int bb_worker_send(const void *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = write(bb_self.to_parent, (const char *)p + off, n - off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        off += (size_t)r;
    }
    return 0;
}
