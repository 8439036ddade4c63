/* The two outputs of a run: a human table and one machine-readable line.
 *
 * bb_json builds a single-line JSON object with automatic commas; bb_report_print writes the table
 * rows collected with bb_report_row and then exactly one line "RESULT {...}" that scripts grep.
 * Numbers that are not finite are written as null. */
#ifndef BB_REPORT_H
#define BB_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "hist.h"

#define BB_JSON_DEPTH 8

typedef struct bb_json {
    char *buf; /* owned; NUL-terminated */
    size_t len, cap;
    int depth;
    bool first[BB_JSON_DEPTH];  /* per nesting level: nothing written yet */
    char closer[BB_JSON_DEPTH]; /* per nesting level: '}' or ']' */
} bb_json;

void bb_json_init(bb_json *j); /* opens the top-level object */
void bb_json_deinit(bb_json *j);
/* key is NULL inside arrays. */
void bb_json_obj(bb_json *j, const char *key);
void bb_json_arr(bb_json *j, const char *key);
void bb_json_end(bb_json *j); /* closes the innermost object or array */
void bb_json_int(bb_json *j, const char *key, long long v);
void bb_json_num(bb_json *j, const char *key, double v);
void bb_json_str(bb_json *j, const char *key, const char *v); /* NULL: null */
void bb_json_bool(bb_json *j, const char *key, bool v);
/* {"n":..,"p50":..,"p90":..,"p99":..,"p999":..,"max":..,"mean":..} in microseconds. */
void bb_json_hist_us(bb_json *j, const char *key, const bb_hist *h);

/* Human table: "  label .......... value" rows, printed in order. */
void bb_report_section(const char *title);
void bb_report_row(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bb_report_hist_us(const char *label, const bb_hist *h);

/* Closes the JSON object and prints the RESULT line to stdout. */
void bb_report_result(bb_json *j);

#endif
