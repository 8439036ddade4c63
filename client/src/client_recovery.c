/* Recovery and sequence tracking for the subscriber client: the recover/since/epoch parameters
 * of each attempt, belfry:subscribed, and gap detection (split from client.c). */
#include "client_internal.h"
#include "err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- recovery ---------------------------------------------------------------------------- */

/* The client owns these query parameters: the ones a URL carries are replaced. */
static bool recovery_param(const char *p, size_t len)
{
    size_t n = strcspn(p, "=");
    if (n > len) n = len;
    return (n == 7 && !strncmp(p, "recover", 7)) || (n == 5 && !strncmp(p, "since", 5)) ||
           (n == 5 && !strncmp(p, "epoch", 5));
}

/* Rewrites url (capacity cap) for this attempt: since=<last seq>&epoch=E when the channel's
 * position is known, recover=1 otherwise, then the URL's other query parameters as they were. A
 * fragment is dropped (WebSocket URLs have none). Ours go first: the gateway (lws 4.1's
 * lws_get_urlarg_by_name with small buffers) stops looking at an argument longer than its buffer,
 * such as a JWT in token=. Returns 0, or BF_ERANGE if the result does not fit. */
int bf__client_recovery_params(bf_client *c, char *url, size_t cap)
{
    char out[BF_CLIENT_URL_MAX];
    size_t base = strcspn(url, "?#");
    int n;
    if (c->epoch[0]) {
        c->asked_since = c->last_seq;
        n = snprintf(out, sizeof(out), "%.*s?since=%llu&epoch=%s", (int)base, url,
                     (unsigned long long)c->last_seq, c->epoch);
    } else {
        n = snprintf(out, sizeof(out), "%.*s?recover=1", (int)base, url);
    }
    if (n < 0 || (size_t)n >= sizeof(out)) return BF_ERANGE;
    size_t o = (size_t)n;
    if (url[base] == '?') {
        const char *p = url + base + 1, *end = p + strcspn(p, "#");
        while (p < end) {
            size_t len = strcspn(p, "&#");
            if (len && !recovery_param(p, len)) {
                if (o + 1 + len >= sizeof(out)) return BF_ERANGE;
                out[o++] = '&';
                memcpy(out + o, p, len);
                o += len;
            }
            p += len + (p[len] == '&');
        }
    }
    if (o >= cap) return BF_ERANGE;
    memcpy(url, out, o);
    url[o] = '\0';
    return 0;
}

/* Keeps the epoch if it is what the gateway accepts back (1-39 lower-case hex digits). */
static void set_epoch(bf_client *c, const char *e)
{
    size_t n = e ? strlen(e) : 0;
    if (n && n < sizeof(c->epoch) && strspn(e, "0123456789abcdef") == n)
        memcpy(c->epoch, e, n + 1);
    else
        c->epoch[0] = '\0';
}

void bf__client_report_gap(bf_client *c, uint64_t expected, uint64_t got)
{
    bf__client_log(c, "gap: expected seq %llu, got %llu", (unsigned long long)expected,
                   (unsigned long long)got);
    if (c->o.on_gap) c->o.on_gap(c, expected, got, c->o.arg);
}

uint64_t bf__client_uint_of(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* belfry:subscribed {"epoch","seq"[,"recovered","missed"]}: the first frame of a connection that
 * asked for recovery. */
void bf__client_on_subscribed(bf_client *c, json_t *data)
{
    const char *ep = json_string_value(json_object_get(data, "epoch"));
    uint64_t seq = bf__client_uint_of(json_object_get(data, "seq"));
    json_t *recovered = json_object_get(data, "recovered");
    bool changed = c->epoch[0] && ep && strcmp(ep, c->epoch);
    c->subscribed = true;
    set_epoch(c, ep);
    if (!recovered) {
        /* recover=1: the position. Live messages continue from seq + 1. A baseline without an
         * epoch (earlier connections did not recover, or the sequence restarted under us) is
         * compared now rather than at the next message */
        uint64_t last = c->last_seq;
        bool had = c->have_base;
        c->last_seq = seq;
        c->have_base = true;
        if (had && seq != last) bf__client_report_gap(c, last + 1, seq + 1);
        return;
    }
    if (json_is_true(recovered)) {
        bf__client_log(c, "recovered from seq %llu to %llu", (unsigned long long)c->asked_since,
                       (unsigned long long)seq);
        c->have_base = true; /* the replay follows, checked against last_seq like live frames */
        return;
    }
    bf_client_recovery r = {.since = c->asked_since,
                            .seq = seq,
                            .missed = bf__client_uint_of(json_object_get(data, "missed")),
                            .epoch_changed = changed,
                            .epoch = c->epoch};
    c->last_seq = seq;
    c->have_base = true;
    bf__client_log(c, "recovery failed: since %llu, now seq %llu, %llu missed%s",
                   (unsigned long long)r.since, (unsigned long long)seq,
                   (unsigned long long)r.missed, changed ? ", new epoch" : "");
    if (c->o.on_recovery_failed)
        c->o.on_recovery_failed(c, &r, c->o.arg);
    else if (c->o.on_gap)
        c->o.on_gap(c, r.since + 1, seq + 1, c->o.arg);
}

void bf__client_track_seq(bf_client *c, const char *event, uint64_t seq, json_t *data)
{
    if (!strcmp(event, "presence:here")) {
        if (!seq) seq = bf__client_uint_of(json_object_get(data, "seq"));
        if (c->subscribed && c->have_base) {
            /* recovering: it arrives in order behind the replayed frames, as of the last seq seen
             * (the user was already a member) or of its own join (which it stands for) */
            if (seq > c->last_seq + 1) {
                uint64_t expected = c->last_seq + 1;
                c->last_seq = seq;
                bf__client_report_gap(c, expected, seq);
            } else if (seq > c->last_seq) {
                c->last_seq = seq;
            }
            return;
        }
        /* a snapshot "as of seq": the next sequenced message follows it */
        c->last_seq = seq;
        c->have_base = seq > 0;
        return;
    }
    if (!seq) return; /* ephemeral */
    uint64_t expected = c->last_seq + 1;
    bool gap = c->have_base && seq != expected;
    c->last_seq = seq;
    c->have_base = true;
    if (!gap) return;
    /* the sequence restarted under us (Redis lost the channel): our epoch is stale. Resume by
     * position next time; the baseline then tells what was missed */
    if (seq < expected) c->epoch[0] = '\0';
    bf__client_report_gap(c, expected, seq);
}
