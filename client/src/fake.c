/* BroadcastFake: process-wide recording of broadcasts instead of sending them, and assertions. */
#include "pub_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    bool on;
    bf_recorded *recs;
    size_t n, cap;
} fake;

static void forget(void)
{
    for (size_t i = 0; i < fake.n; i++) {
        free((char *)fake.recs[i].type_name);
        free((char *)fake.recs[i].event);
        free((char *)fake.recs[i].channel);
        free((char *)fake.recs[i].data);
    }
    free(fake.recs);
    fake.recs = NULL;
    fake.n = fake.cap = 0;
}

int bf_publisher_fake(void)
{
    forget();
    if (!bf_publisher_get(NULL)) {
        bf_publisher *p = bf__publisher_new_fake();
        if (!p) return BF_ENOMEM;
        bf_publisher_set(p);
    }
    fake.on = true;
    return 0;
}

void bf_publisher_restore(void)
{
    fake.on = false;
    forget();
    bf_publisher_set(NULL);
}

bool bf_publisher_faking(void)
{
    return fake.on;
}

int bf__fake_record(const char *type_name, const char *event, const char *channel, const char *data)
{
    if (fake.n == fake.cap) {
        size_t ncap = fake.cap ? fake.cap * 2 : 8;
        bf_recorded *nr = realloc(fake.recs, ncap * sizeof(*nr));
        if (!nr) return BF_ENOMEM;
        fake.recs = nr;
        fake.cap = ncap;
    }
    bf_recorded r = {strdup(type_name), strdup(event), strdup(channel), strdup(data)};
    if (!r.type_name || !r.event || !r.channel || !r.data) {
        free((char *)r.type_name);
        free((char *)r.event);
        free((char *)r.channel);
        free((char *)r.data);
        return BF_ENOMEM;
    }
    fake.recs[fake.n++] = r;
    return 0;
}

const bf_recorded *bf_publisher_recorded(size_t *n)
{
    if (n) *n = fake.n;
    return fake.n ? fake.recs : NULL;
}

/* ---- assertions -------------------------------------------------------------------------- */

/* A bounded string builder: output that does not fit ends in "..." instead of being cut mid-way
 * without notice. */
typedef struct sbuf {
    char *p;
    size_t cap, len;
    bool full;
} sbuf;

static void add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(sbuf *b, const char *fmt, ...)
{
    if (!b->p || !b->cap || b->full) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n >= 0 && b->len + (size_t)n < b->cap) {
        b->len += (size_t)n;
        return;
    }
    b->full = true;
    b->len = b->cap - 1;
    if (b->cap > 4) memcpy(b->p + b->cap - 4, "...", 4);
}

static int failure(char *msg, size_t msglen, const char *expected)
{
    sbuf b = {msg, msglen, 0, false};
    if (msg && msglen) msg[0] = '\0';
    add(&b, "%s; broadcasts recorded: ", expected);
    if (!fake.n) add(&b, "none");
    for (size_t i = 0; i < fake.n; i++) {
        const bf_recorded *r = &fake.recs[i];
        add(&b, "%s%s", i ? ", " : "", r->type_name);
        if (strcmp(r->type_name, r->event)) add(&b, " as %s", r->event);
        add(&b, " on %s", r->channel);
    }
    return BF_ENOTFOUND;
}

static int not_faking(char *msg, size_t msglen, const char *fn)
{
    if (msg && msglen)
        snprintf(msg, msglen, "%s needs fake mode: call bf_publisher_fake() first", fn);
    return BF_EINVAL;
}

int bf_publisher_assert_broadcast(const char *type_name, char *msg, size_t msglen)
{
    if (!fake.on) return not_faking(msg, msglen, "bf_publisher_assert_broadcast");
    for (size_t i = 0; type_name && i < fake.n; i++)
        if (!strcmp(fake.recs[i].type_name, type_name)) return 0;
    char expected[BF_ERR_LEN];
    snprintf(expected, sizeof(expected), "expected an event of type %s to be broadcast",
             type_name ? type_name : "(null)");
    return failure(msg, msglen, expected);
}

int bf_publisher_assert_broadcast_on(const char *channel, char *msg, size_t msglen)
{
    if (!fake.on) return not_faking(msg, msglen, "bf_publisher_assert_broadcast_on");
    for (size_t i = 0; channel && i < fake.n; i++)
        if (!strcmp(fake.recs[i].channel, channel)) return 0;
    char expected[BF_ERR_LEN];
    snprintf(expected, sizeof(expected), "expected a broadcast on channel %s",
             channel ? channel : "(null)");
    return failure(msg, msglen, expected);
}
