#include "fandone.h"
#include "alloc.h"
#include "dict.h"
#include "log.h"
#include "scripts.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* fdone:{channel} goes this long after its last report: a channel nobody reports on any more
 * leaves nothing behind (an entry that stops moving is also skipped by the window once stale) */
#define REPORT_TTL_MS 60000

typedef struct token {
    bf_frame_watch w; /* first: the frames point here */
    bf_fandone *f;
    uint64_t seq;
    size_t len;
    char channel[]; /* NUL-terminated */
} token;

struct bf_fandone {
    bf_fandone_deps d;
    bf_dict *done; /* channel -> uint64_t * (the highest done seq not yet reported) */
    size_t tokens; /* live tokens */
    bool freed;    /* bf_fandone_free was called: free when the last token goes */
    bf_fandone_stats st;
};

bf_fandone *bf_fandone_new(const bf_fandone_deps *d)
{
    bf_fandone *f = bf_calloc(1, sizeof(*f));
    f->d = *d;
    f->done = bf_dict_new();
    return f;
}

static int drop_entry(const char *key, void *val, void *arg)
{
    (void)key, (void)arg;
    free(val);
    return 1;
}

static void destroy(bf_fandone *f)
{
    bf_dict_foreach(f->done, drop_entry, NULL);
    bf_dict_free(f->done);
    free(f);
}

void bf_fandone_free(bf_fandone *f)
{
    if (!f) return;
    if (f->tokens) {
        f->freed = true; /* frames still queued hold tokens: the last one frees f */
        return;
    }
    destroy(f);
}

static void on_done(bf_frame_watch *w)
{
    token *t = (token *)w;
    bf_fandone *f = t->f;
    if (!f->freed) {
        uint64_t *seq = bf_dict_get(f->done, t->channel, t->len);
        if (!seq) {
            seq = bf_malloc(sizeof(*seq));
            *seq = 0;
            bf_dict_put(f->done, t->channel, t->len, seq);
        }
        /* one connection's frames go out in order, so a channel's messages finish in order;
         * the highest is what the report says */
        if (t->seq > *seq) *seq = t->seq;
    }
    free(t);
    if (--f->tokens == 0 && f->freed) destroy(f);
}

void bf_fandone_set_wanted(bf_fandone *f, bool wanted)
{
    if (f->st.wanted == (uint64_t)wanted) return;
    f->st.wanted = wanted;
    if (f->d.min_subs)
        bf_info("%s written fan-outs of channels with %zu or more subscribers (--fanout-window %s)",
                wanted ? "reporting" : "no longer reporting", f->d.min_subs,
                wanted ? "on a router" : "off on every router");
}

bf_frame_watch *bf_fandone_begin(bf_fandone *f, const char *channel, size_t len, uint64_t seq,
                                 size_t nsubs)
{
    if (!f || f->freed || !f->st.wanted || !f->d.min_subs || !seq || nsubs < f->d.min_subs)
        return NULL;
    token *t = bf_malloc(sizeof(*t) + len + 1);
    t->w = (bf_frame_watch){.pending = 1, .done = on_done};
    t->f = f;
    t->seq = seq;
    t->len = len;
    memcpy(t->channel, channel, len);
    t->channel[len] = '\0';
    f->tokens++;
    f->st.tracked++;
    return &t->w;
}

static int send_entry(const char *key, void *val, void *arg)
{
    bf_fandone *f = arg;
    uint64_t *seq = val;
    bf_script_args a;
    if (bf_fandone_args(&a, f->d.prefix, f->d.node_id, key, *seq, REPORT_TTL_MS) == 0 &&
        bf_script_args_send(f->d.cmd, &a, NULL, NULL) == 0)
        f->st.reports++;
    free(seq);
    return 1;
}

void bf_fandone_flush(bf_fandone *f)
{
    if (!bf_dict_size(f->done) || !bf_redis_ready(f->d.cmd)) return;
    bf_dict_foreach(f->done, send_entry, f);
}

const bf_fandone_stats *bf_fandone_stats_get(const bf_fandone *f)
{
    return &f->st;
}
