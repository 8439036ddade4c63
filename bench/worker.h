/* Worker processes, for runs larger than one process's open-file limit.
 *
 * With --procs P > 1 the bench forks P workers; each takes a slice (whole channels when there are
 * at least P of them, otherwise a share of every channel's subscribers, and the same share of
 * --rate, --count and --connect-rate) and runs the mode on it, while the parent only samples the
 * servers and reports. Phases are kept in step by barriers over pipes: a worker signals that it
 * reached one and keeps its connections served until the parent releases every worker at once.
 * At the end each worker writes its raw counters and histograms (plain structs: same binary, same
 * machine) to the parent, which merges them into the single RESULT line. */
#ifndef BB_WORKER_H
#define BB_WORKER_H

#include <stddef.h>
#include <sys/types.h>

struct bb_bench;
struct bb_config;

typedef struct bb_workers {
    int n;
    pid_t pid[64];
    int to_child[64], from_child[64];
} bb_workers;

/* The worker a process is, in a child; set by bb_workers_fork. */
typedef struct bb_worker {
    int index, count; /* count 0: not a worker (single process) */
    int to_parent, from_parent;
} bb_worker;

extern bb_worker bb_self;

/* Forks w->n = cfg->procs workers. Returns -1 in the parent (w filled), the worker's index in a
 * child (bb_self filled, *slice = its share of cfg), or -2 on failure. */
int bb_workers_fork(bb_workers *w, const struct bb_config *cfg, struct bb_config *slice);

/* Parent: waits until every worker reached the barrier (timeout_s: give up; returns -1). */
int bb_workers_gather(bb_workers *w, int timeout_s);
/* Parent: lets every worker go on. */
void bb_workers_release(bb_workers *w);
/* Parent: reads n bytes of worker k's result. Returns 0 or -1. */
int bb_workers_recv(bb_workers *w, int k, void *p, size_t n);
/* Parent: waits for every worker to exit; returns the worst exit status. */
int bb_workers_reap(bb_workers *w);

/* Worker: reaches a barrier; serves b's connections until released. No-op when not a worker.
 * Returns 0, or -1 if the parent is gone. */
int bb_worker_barrier(struct bb_bench *b);
/* Worker: sends its result. */
int bb_worker_send(const void *p, size_t n);

#endif
