/* Logging.
 *
 * One process-wide logger writing to stderr, in text ("2026-11-27T09:00:00.123Z INFO gateway:
 * message") or JSON lines ({"ts":...,"level":...,"component":...,"msg":...}). bf_log() checks the
 * level before formatting, so disabled debug lines cost one comparison. Secrets (tokens, API keys)
 * must never be passed to these functions. */
#ifndef BF_LOG_H
#define BF_LOG_H

#include <stdbool.h>

typedef enum { BF_LOG_DEBUG = 0, BF_LOG_INFO, BF_LOG_WARN, BF_LOG_ERROR } bf_log_level;

extern bf_log_level bf_log_min_level;

/* component: borrowed, must outlive the logger (a string literal). json: JSON-lines output. */
void bf_log_init(const char *component, bf_log_level level, bool json);
/* Parses "debug|info|warn|error" into *out; returns 0 or BF_EINVAL. */
int bf_log_parse_level(const char *s, bf_log_level *out);

void bf__log(bf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define bf_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) >= bf_log_min_level) bf__log((level), __VA_ARGS__);                            \
    } while (0)
#define bf_debug(...) bf_log(BF_LOG_DEBUG, __VA_ARGS__)
#define bf_info(...) bf_log(BF_LOG_INFO, __VA_ARGS__)
#define bf_warn(...) bf_log(BF_LOG_WARN, __VA_ARGS__)
#define bf_error(...) bf_log(BF_LOG_ERROR, __VA_ARGS__)

#endif
