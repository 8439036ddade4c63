#include "fanout_hold.h"
#include "alloc.h"
#include "dict.h"
#include "err.h"
#include "redis.h"

#include <stdlib.h>
#include <string.h>

/* the longest fallback between two tries of a channel's head without a wake */
#define RETRY_MAX_MS 250

typedef struct chan chan;

typedef struct entry {
    struct entry *prev, *next;
    chan *ch;
    bf_fhold_fn fn;
    void *arg;
    struct event *expire; /* at the entry's deadline */
} entry;

struct chan {
    bf_fhold *h;
    char *name;
    size_t len;
    entry *head, *tail;
    size_t n;
    uint64_t retry_ms;   /* the latest refusal's estimate, for the fallback after a try */
    struct event *retry; /* tries the head when no wake came in time */
};

struct bf_fhold {
    struct event_base *base;
    uint64_t hold_ms;
    size_t max;
    bf_dict *chans; /* name -> chan */
    bf_fhold_stats st;
};

bf_fhold *bf_fhold_new(struct event_base *base, uint64_t hold_ms, size_t max)
{
    bf_fhold *h = bf_calloc(1, sizeof(*h));
    h->base = base;
    h->hold_ms = hold_ms;
    h->max = max;
    h->chans = bf_dict_new();
    return h;
}

static void arm(struct event *ev, uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(ev, &tv);
}

static void unlink_entry(entry *e)
{
    chan *ch = e->ch;
    if (e->prev)
        e->prev->next = e->next;
    else
        ch->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        ch->tail = e->prev;
    ch->n--;
    ch->h->st.parked--;
    event_free(e->expire);
}

static void chan_free(chan *ch)
{
    bf_dict_del(ch->h->chans, ch->name, ch->len);
    event_free(ch->retry);
    free(ch->name);
    free(ch);
}

/* Takes e out (freeing its channel if it was the last) and calls its function once. */
static void finish(entry *e, bf_fhold_why why)
{
    chan *ch = e->ch;
    unlink_entry(e);
    if (!ch->n) chan_free(ch);
    bf_fhold_fn fn = e->fn;
    void *arg = e->arg;
    free(e);
    fn(arg, why);
}

static void try_head(chan *ch)
{
    bf_fhold *h = ch->h;
    entry *e = ch->head;
    if (!e) return;
    h->st.retries++;
    /* the others wait for the next wake; if none comes (a lost notice, a gateway that reports
     * nothing more), for the refusal's estimate */
    if (ch->n > 1) arm(ch->retry, ch->retry_ms);
    finish(e, BF_FHOLD_RETRY);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    try_head(arg);
}

static void on_expire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    entry *e = arg;
    e->ch->h->st.expired++;
    finish(e, BF_FHOLD_EXPIRED);
}

int bf_fhold_park(bf_fhold *h, const char *channel, uint64_t retry_ms, uint64_t *deadline_ms,
                  bool at_head, bf_fhold_fn fn, void *arg)
{
    uint64_t now = bf_now_ms();
    bool first = !*deadline_ms;
    if (first) *deadline_ms = now + h->hold_ms;
    if (now >= *deadline_ms) {
        h->st.expired++;
        return BF_ETIMEDOUT;
    }
    size_t len = strlen(channel);
    chan *ch = bf_dict_get(h->chans, channel, len);
    if (ch && ch->n >= h->max) {
        h->st.full++;
        return BF_EFULL;
    }
    if (!ch) {
        ch = bf_calloc(1, sizeof(*ch));
        ch->h = h;
        ch->name = bf_strndup(channel, len);
        ch->len = len;
        ch->retry = evtimer_new(h->base, on_retry, ch);
        bf_dict_put(h->chans, ch->name, len, ch);
    }
    entry *e = bf_calloc(1, sizeof(*e));
    e->ch = ch;
    e->fn = fn;
    e->arg = arg;
    e->expire = evtimer_new(h->base, on_expire, e);
    arm(e->expire, *deadline_ms - now);
    if (at_head || !ch->head) {
        e->next = ch->head;
        if (ch->head) ch->head->prev = e;
        ch->head = e;
        if (!ch->tail) ch->tail = e;
    } else {
        e->prev = ch->tail;
        ch->tail->next = e;
        ch->tail = e;
    }
    ch->n++;
    h->st.parked++;
    if (first) h->st.held++;
    /* the channel's fallback follows its newest refusal, which came from its head's send (or
     * from the first entry). A head refused again by a fan-out that outlasts its estimate (a
     * slow or stopped gateway: the estimate is then 0) backs off, doubling up to RETRY_MAX_MS,
     * instead of asking Redis every millisecond; a wake still tries it at once. */
    uint64_t next = retry_ms ? retry_ms : 1;
    if (at_head && ch->n > 0 && next < ch->retry_ms * 2) next = ch->retry_ms * 2;
    ch->retry_ms = next < RETRY_MAX_MS ? next : RETRY_MAX_MS;
    if (at_head || ch->n == 1) arm(ch->retry, ch->retry_ms);
    return 0;
}

void bf_fhold_wake(bf_fhold *h, const char *channel, size_t len)
{
    chan *ch = bf_dict_get(h->chans, channel, len);
    if (ch) try_head(ch);
}

static int close_chan(const char *key, void *val, void *arg)
{
    (void)key, (void)arg;
    chan *ch = val;
    while (ch->head) {
        entry *e = ch->head;
        unlink_entry(e);
        e->fn(e->arg, BF_FHOLD_CLOSED);
        free(e);
    }
    event_free(ch->retry);
    free(ch->name);
    free(ch);
    return 1;
}

void bf_fhold_free(bf_fhold *h)
{
    if (!h) return;
    bf_dict_foreach(h->chans, close_chan, NULL);
    bf_dict_free(h->chans);
    free(h);
}

const bf_fhold_stats *bf_fhold_stats_get(const bf_fhold *h)
{
    return &h->st;
}
