#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(bb_json *j, const char *s, size_t n)
{
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 1024;
        while (cap < j->len + n + 1) cap *= 2;
        char *b = realloc(j->buf, cap);
        if (!b) abort(); /* a tool that cannot allocate 1 KiB has nothing useful to report */
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void puts_(bb_json *j, const char *s)
{
    put(j, s, strlen(s));
}

static void put_string(bb_json *j, const char *s)
{
    put(j, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(j, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            puts_(j, esc);
        } else {
            put(j, (const char *)p, 1);
        }
    }
    put(j, "\"", 1);
}

static void key(bb_json *j, const char *k)
{
    if (!j->first[j->depth]) put(j, ",", 1);
    j->first[j->depth] = false;
    if (k) {
        put_string(j, k);
        put(j, ":", 1);
    }
}

void bb_json_init(bb_json *j)
{
    memset(j, 0, sizeof(*j));
    put(j, "{", 1);
    j->first[0] = true;
}

void bb_json_deinit(bb_json *j)
{
    free(j->buf);
    memset(j, 0, sizeof(*j));
}

static void open_(bb_json *j, const char *k, const char *brace)
{
    if (j->depth + 1 >= BB_JSON_DEPTH) abort(); /* a programming error: fixed nesting */
    key(j, k);
    puts_(j, brace);
    j->depth++;
    j->first[j->depth] = true;
    j->closer[j->depth] = brace[0] == '{' ? '}' : ']';
}

void bb_json_obj(bb_json *j, const char *k)
{
    open_(j, k, "{");
}

void bb_json_arr(bb_json *j, const char *k)
{
    open_(j, k, "[");
}

void bb_json_end(bb_json *j)
{
    if (j->depth == 0) return;
    put(j, &j->closer[j->depth], 1);
    j->depth--;
}

void bb_json_int(bb_json *j, const char *k, long long v)
{
    char b[32];
    key(j, k);
    snprintf(b, sizeof(b), "%lld", v);
    puts_(j, b);
}

void bb_json_num(bb_json *j, const char *k, double v)
{
    char b[64];
    key(j, k);
    if (!isfinite(v)) {
        puts_(j, "null");
        return;
    }
    snprintf(b, sizeof(b), "%.6g", v);
    puts_(j, b);
}

void bb_json_str(bb_json *j, const char *k, const char *v)
{
    key(j, k);
    if (v)
        put_string(j, v);
    else
        puts_(j, "null");
}

void bb_json_bool(bb_json *j, const char *k, bool v)
{
    key(j, k);
    puts_(j, v ? "true" : "false");
}

void bb_json_hist_us(bb_json *j, const char *k, const bb_hist *h)
{
    bb_json_obj(j, k);
    bb_json_int(j, "n", (long long)h->n);
    bb_json_num(j, "p50", (double)bb_hist_percentile(h, 50) / 1e3);
    bb_json_num(j, "p90", (double)bb_hist_percentile(h, 90) / 1e3);
    bb_json_num(j, "p99", (double)bb_hist_percentile(h, 99) / 1e3);
    bb_json_num(j, "p999", (double)bb_hist_percentile(h, 99.9) / 1e3);
    bb_json_num(j, "max", (double)h->max / 1e3);
    bb_json_num(j, "mean", bb_hist_mean(h) / 1e3);
    bb_json_end(j);
}

void bb_report_section(const char *title)
{
    printf("%s\n", title);
}

void bb_report_row(const char *label, const char *fmt, ...)
{
    char val[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    printf("  %-30s %s\n", label, val);
}

void bb_report_hist_us(const char *label, const bb_hist *h)
{
    if (!h->n) {
        bb_report_row(label, "(no samples)");
        return;
    }
    bb_report_row(label, "p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f us  (n=%llu)",
                  (double)bb_hist_percentile(h, 50) / 1e3, (double)bb_hist_percentile(h, 90) / 1e3,
                  (double)bb_hist_percentile(h, 99) / 1e3,
                  (double)bb_hist_percentile(h, 99.9) / 1e3, (double)h->max / 1e3,
                  (unsigned long long)h->n);
}

void bb_report_result(bb_json *j)
{
    while (j->depth > 0) bb_json_end(j);
    put(j, "}", 1);
    printf("RESULT %s\n", j->buf);
    fflush(stdout);
}
