#include "out.h"
#include "alloc.h"
#include "args.h"
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BOLD "\033[1m"
#define RESET "\033[0m"

typedef struct cell {
    char *text;
    const char *colour;
} cell;

struct bf_cli_table {
    size_t ncols;
    const char *const *headers;
    cell *cells;
    size_t n, cap;
};

bf_cli_table *bf_cli_table_new(size_t ncols, const char *const *headers)
{
    bf_cli_table *t = bf_calloc(1, sizeof(*t));
    t->ncols = ncols;
    t->headers = headers;
    return t;
}

void bf_cli_table_free(bf_cli_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->cells[i].text);
    free(t->cells);
    free(t);
}

void bf_cli_table_cell(bf_cli_table *t, const char *colour, const char *fmt, ...)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = bf_realloc(t->cells, t->cap * sizeof(cell));
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) abort();
    va_end(ap);
    t->cells[t->n++] = (cell){s, colour};
}

/* Characters in a UTF-8 string (continuation bytes are not counted). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

static void put(const char *text, const char *colour, size_t w, bool right, bool last, bool color)
{
    size_t pad = w - width(text);
    if (right) printf("%*s", (int)pad, "");
    if (color && colour)
        printf("%s%s%s", colour, text, RESET);
    else
        fputs(text, stdout);
    if (!right && !last) printf("%*s", (int)pad, "");
    if (!last) fputs("  ", stdout);
}

void bf_cli_table_print(const bf_cli_table *t, bool color)
{
    size_t w[t->ncols];
    for (size_t c = 0; c < t->ncols; c++) {
        const char *h = t->headers[c];
        w[c] = width(h + (*h == '>'));
    }
    for (size_t i = 0; i < t->n; i++) {
        size_t cw = width(t->cells[i].text);
        if (cw > w[i % t->ncols]) w[i % t->ncols] = cw;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        const char *h = t->headers[c];
        put(h + (*h == '>'), BOLD, w[c], *h == '>', c + 1 == t->ncols, color);
    }
    fputc('\n', stdout);
    for (size_t i = 0; i < t->n; i++) {
        size_t c = i % t->ncols;
        put(t->cells[i].text, t->cells[i].colour, w[c], t->headers[c][0] == '>',
            c + 1 == t->ncols || i + 1 == t->n, color);
        if (c + 1 == t->ncols || i + 1 == t->n) fputc('\n', stdout);
    }
}

void bf_cli_fmt_time(long long ms, char *out, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !localtime_r(&s, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(out, cap, "-");
}

void bf_cli_fmt_duration(long long ms, char *out, size_t cap)
{
    long long s = ms / 1000;
    if (ms < 0)
        snprintf(out, cap, "-");
    else if (ms < 1000)
        snprintf(out, cap, "%lldms", ms);
    else if (ms < 60000)
        snprintf(out, cap, "%lld.%llds", s, (ms % 1000) / 100);
    else if (s < 3600)
        snprintf(out, cap, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, cap, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
    else
        snprintf(out, cap, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
}

int bf_cli_print_json(json_t *j)
{
    int rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(4));
    json_decref(j);
    if (rc == 0) fputc('\n', stdout);
    return rc ? BF_CLI_FAILED : 0;
}

int bf_cli_flush(const char *cmd)
{
    if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
    bf_cli_error(cmd, "cannot write the output: %s", strerror(errno));
    return BF_CLI_FAILED;
}
