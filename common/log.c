#include "log.h"
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

bf_log_level bf_log_min_level = BF_LOG_INFO;
static const char *log_component = "belfry";
static bool log_json;

static const char *level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void bf_log_init(const char *component, bf_log_level level, bool json)
{
    log_component = component;
    bf_log_min_level = level;
    log_json = json;
}

int bf_log_parse_level(const char *s, bf_log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (bf_log_level)i;
            return 0;
        }
    }
    return BF_EINVAL;
}

/* Writes s as the body of a JSON string (no quotes) into out; truncates safely. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return o;
}

void bf__log(bf_log_level level, const char *fmt, ...)
{
    char msg[2048], ts[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    if (log_json) {
        char esc[4096];
        json_escape(esc, sizeof(esc), msg);
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"%s\"}\n",
                ts, level_names[level], log_component, esc);
    } else {
        fprintf(stderr, "%s %-5s %s: %s\n", ts, level_names[level], log_component, msg);
    }
}
