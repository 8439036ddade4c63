#include "procstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

bb_proc *bb_proc_parse_list(const char *spec, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    if (!spec || !*spec) return NULL;
    size_t cap = 1;
    for (const char *q = spec; *q; q++) cap += *q == ',';
    bb_proc *out = calloc(cap, sizeof(*out));
    char *copy = strdup(spec);
    if (!out || !copy) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    size_t k = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '='), *end;
        long pid = eq ? strtol(eq + 1, &end, 10) : 0;
        if (!eq || eq == tok || (size_t)(eq - tok) >= sizeof(out[k].name) || end == eq + 1 ||
            *end || pid <= 0) {
            snprintf(err, errlen, "--pids: expected name=pid, got '%s'", tok);
            goto fail;
        }
        memcpy(out[k].name, tok, (size_t)(eq - tok));
        out[k].pid = (int)pid;
        out[k].cpu0 = out[k].cpu1 = -1;
        out[k].rss0_kib = out[k].rss1_kib = -1;
        k++;
    }
    free(copy);
    *n = k;
    return out;
fail:
    free(out);
    free(copy);
    return NULL;
}

double bb_proc_cpu_s(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    /* the command name (field 2) may hold spaces: fields are counted from its closing ')' */
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long long utime = 0, stime = 0;
    /* after ')': state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
     * utime(14) stime(15) */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

long bb_proc_rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

void bb_proc_sample(bb_proc *p, size_t n, int which)
{
    for (size_t i = 0; i < n; i++) {
        double cpu = bb_proc_cpu_s(p[i].pid);
        long rss = bb_proc_rss_kib(p[i].pid);
        if (which) {
            p[i].cpu1 = cpu;
            p[i].rss1_kib = rss;
        } else {
            p[i].cpu0 = cpu;
            p[i].rss0_kib = rss;
        }
    }
}

double bb_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void bb_loadavg(double out[3])
{
    out[0] = out[1] = out[2] = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    if (fscanf(f, "%lf %lf %lf", &out[0], &out[1], &out[2]) != 3) out[0] = out[1] = out[2] = 0;
    fclose(f);
}
