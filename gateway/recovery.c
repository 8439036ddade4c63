#include "recovery.h"
#include "alloc.h"
#include "hub.h"
#include "log.h"
#include "message.h"
#include "redis_keys.h"
#include "scripts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More than any --history-size: the stream's own bound decides what is returned. */
#define RECOVERY_LIMIT 1000000

struct bf_recovery {
    bf_recovery_deps d;
    bf_recovery_stats stats;
};

typedef struct req {
    bf_recovery *rc;
    bf_conn *c; /* NULL once the connection closed */
} req;

bf_recovery *bf_recovery_new(const bf_recovery_deps *d)
{
    bf_recovery *rc = bf_calloc(1, sizeof(*rc));
    rc->d = *d;
    return rc;
}

void bf_recovery_free(bf_recovery *rc)
{
    free(rc);
}

const bf_recovery_stats *bf_recovery_stats_get(const bf_recovery *rc)
{
    return &rc->stats;
}

static void finish(bf_recovery *rc, bf_conn *c, redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 4 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[2]->type != REDIS_REPLY_INTEGER || r->element[3]->type != REDIS_REPLY_INTEGER) {
        bf_warn("recovery for connection %llu failed: %s", (unsigned long long)c->id,
                r && r->type == REDIS_REPLY_ERROR ? r->str : "redis connection lost");
        /* the client asked not to miss anything: tell it we cannot promise that */
        bf_conn_close(c, 1011, "recovery failed; reconnect");
        return;
    }
    uint64_t seq = (uint64_t)r->element[1]->integer;
    bool recovered = r->element[2]->integer == 1;
    char data[256];
    if (c->recover == BF_RECOVER_SINCE)
        snprintf(data, sizeof(data),
                 "{\"epoch\":\"%s\",\"seq\":%llu,\"recovered\":%s,\"missed\":%lld}",
                 r->element[0]->str, (unsigned long long)seq, recovered ? "true" : "false",
                 r->element[3]->integer);
    else
        snprintf(data, sizeof(data), "{\"epoch\":\"%s\",\"seq\":%llu}", r->element[0]->str,
                 (unsigned long long)seq);
    size_t n = 1 + (recovered && c->recover == BF_RECOVER_SINCE ? r->elements - 4 : 0), len;
    bf_frame **front = bf_calloc(n, sizeof(*front));
    char *sub = bf_message_render("belfry:subscribed", data, 0, &len);
    front[0] = bf_frame_new(sub, len);
    free(sub);
    for (size_t i = 1; i < n; i++) {
        redisReply *e = r->element[3 + i];
        front[i] = bf_frame_new(e->str, (size_t)e->len);
    }
    /* live frames up to seq may still be in flight on the subscriber link (the reply came on
     * another connection): they are dropped when they arrive */
    bf_sub *s = c->subs; /* a native connection: its one subscription */
    s->skip_upto = seq;
    if (bf_conn_release(c, front, n, seq, &rc->d.limits) != 0)
        rc->stats.slow_consumers++; /* more missed than its queue may hold: it resumes later */
    else
        bf_debug("connection %llu recovered=%d from %llu to %llu (%zu frames)",
                 (unsigned long long)c->id, recovered, (unsigned long long)c->since,
                 (unsigned long long)seq, n - 1);
    for (size_t i = 0; i < n; i++) bf_frame_unref(front[i]);
    free(front);
    if (recovered || c->recover == BF_RECOVER_POSITION)
        rc->stats.recovered++;
    else
        rc->stats.failed++;
    /* what follows (a presence join) comes after the recovered frames: its here arrives in
     * order behind them */
    rc->d.done(c, rc->d.arg);
}

static void on_history(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    req *q = priv;
    if (q->c) {
        q->c->pending = NULL;
        finish(q->rc, q->c, reply);
    }
    free(q);
}

void bf_recovery_start(bf_recovery *rc, bf_conn *c)
{
    const char *channel = bf_hub_sub_channel(c->subs);
    char since[24] = "";
    if (c->recover == BF_RECOVER_SINCE)
        snprintf(since, sizeof(since), "%llu", (unsigned long long)c->since);
    req *q = bf_calloc(1, sizeof(*q));
    q->rc = rc;
    q->c = c;
    bf_script_args a;
    bf_history h = {.prefix = rc->d.prefix,
                    .channel = channel,
                    .since = since,
                    .epoch = c->epoch ? c->epoch : "",
                    .limit = RECOVERY_LIMIT,
                    .start_epoch = true};
    if (bf_history_args(&a, &h) || bf_script_args_send(rc->d.cmd, &a, on_history, q)) {
        free(q);
        finish(rc, c, NULL);
        return;
    }
    c->pending = q;
}

void bf_recovery_cancel(bf_conn *c)
{
    if (c->pending) ((req *)c->pending)->c = NULL;
    c->pending = NULL;
}
