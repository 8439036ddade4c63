/* Output for belfryctl: aligned tables, colour, times and durations, JSON documents.
 *
 * A table collects every cell first and prints once, so columns fit their widest cell (counted in
 * characters, not bytes: presence info may be UTF-8). A header starting with '>' is right-aligned
 * (numbers). Colour is applied only when the caller says so (bf_cli_cfg.color: stdout is a
 * terminal and NO_COLOR is unset), and never changes the width of a column. */
#ifndef BF_CLI_OUT_H
#define BF_CLI_OUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define BF_CLI_RED "\033[31m"
#define BF_CLI_GREEN "\033[32m"
#define BF_CLI_YELLOW "\033[33m"
#define BF_CLI_CYAN "\033[36m"
#define BF_CLI_DIM "\033[2m"

typedef struct bf_cli_table bf_cli_table;

/* A table with ncols columns named by headers (borrowed, must outlive the table). Caller frees
 * with bf_cli_table_free. */
bf_cli_table *bf_cli_table_new(size_t ncols, const char *const *headers);
void bf_cli_table_free(bf_cli_table *t);

/* Appends one cell (printf format) to the current row; a row ends after ncols cells. colour is
 * one of the BF_CLI_* codes or NULL. */
void bf_cli_table_cell(bf_cli_table *t, const char *colour, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints the header and the rows to stdout, with colour if color. */
void bf_cli_table_print(const bf_cli_table *t, bool color);

/* "2025-11-27 10:03:12" in local time, from milliseconds since the epoch, into out (>= 32 bytes).
 */
void bf_cli_fmt_time(long long ms, char *out, size_t cap);

/* A short duration: "850ms", "12.3s", "4m12s", "2h05m", "3d04h"; "-" for a negative value. */
void bf_cli_fmt_duration(long long ms, char *out, size_t cap);

/* Prints j (stolen: decref'd here) as one indented JSON document and a newline to stdout.
 * Returns 0, or BF_CLI_FAILED when stdout could not be written. */
int bf_cli_print_json(json_t *j);

/* Flushes stdout; returns 0, or BF_CLI_FAILED (reported for cmd) when writing failed. */
int bf_cli_flush(const char *cmd);

#endif
