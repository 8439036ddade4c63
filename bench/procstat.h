/* CPU time and memory of this process and of the servers under test.
 *
 * Server processes are named on the command line as "name=pid,name=pid"; their CPU time is
 * utime + stime from /proc/<pid>/stat (all threads, in clock ticks, usually 10 ms) and their memory
 * is VmRSS from /proc/<pid>/status. A sample is taken before and after the measured phase, so the
 * report can say how much server CPU each delivered message cost and how much RSS each connection
 * added. The bench's own CPU comes from getrusage(), to show when the load generator itself is
 * the bottleneck. */
#ifndef BB_PROCSTAT_H
#define BB_PROCSTAT_H

#include <stddef.h>

typedef struct bb_proc {
    char name[32];
    int pid;
    double cpu0, cpu1;       /* seconds of CPU at the two samples; -1: unreadable */
    long rss0_kib, rss1_kib; /* VmRSS at the two samples; -1: unreadable */
} bb_proc;

/* Parses "name=pid,..." (empty or NULL: none). Returns a calloc'd array (caller frees) with its
 * length in *n; NULL with err filled on a malformed list (an empty list returns NULL, *n = 0 and
 * no error: check *n). */
bb_proc *bb_proc_parse_list(const char *spec, size_t *n, char *err, size_t errlen);

/* Samples every process into cpu0/rss0 (which = 0) or cpu1/rss1 (which = 1). */
void bb_proc_sample(bb_proc *p, size_t n, int which);

/* utime + stime of pid in seconds, or -1 if it cannot be read. */
double bb_proc_cpu_s(int pid);
/* VmRSS of pid in KiB, or -1. */
long bb_proc_rss_kib(int pid);
/* user + system CPU seconds of this process so far. */
double bb_self_cpu_s(void);
/* The 1, 5 and 15 minute load averages (zeros if unreadable). */
void bb_loadavg(double out[3]);

#endif
