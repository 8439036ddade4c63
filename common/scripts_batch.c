/* bf_publish_batch_send (scripts.h): a Pusher API batch as one publish_batch.lua call on one
 * Redis or Sentinel, and as one call per slot of its targets on Redis Cluster, where a script runs
 * only on keys of one slot. The calls of a split batch go in parallel to their slots' nodes, and
 * the caller's callback runs once, after the last reply, with one array of every target's seq in
 * the batch's order (a reply built here, valid during the callback), or the first error. */
#include "alloc.h"
#include "err.h"
#include "redis_keys.h"
#include "scripts.h"
#include "slot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One publish_batch.lua call for b as it is (every target in it). */
static int batch_call(bf_redis *r, const bf_publish_batch *b, redisCallbackFn *cb, void *priv)
{
    size_t nkeys = 5 * b->ntargets, argc = nkeys + 5 + 3 * b->nmsgs + 2 * b->ntargets;
    const char **argv = bf_malloc(argc * sizeof(*argv));
    size_t *lens = bf_malloc(argc * sizeof(*lens));
    bf_seq_keys *keys = bf_malloc(b->ntargets * sizeof(*keys));
    char(*done)[BF_KEY_MAX] = bf_malloc(b->ntargets * sizeof(*done));
    char(*idx)[24] = bf_malloc(b->ntargets * sizeof(*idx));
    char hsize[24], httl[24], window[24], stale[24], m[24];
    size_t a = 0;
#define ARG(p, l)                                                                                  \
    do {                                                                                           \
        argv[a] = (p);                                                                             \
        lens[a++] = (l);                                                                           \
    } while (0)
    for (size_t i = 0; i < b->ntargets; i++) {
        bf_key_seq_keys(&keys[i], b->prefix, b->targets[i].channel);
        ARG(keys[i].seq, strlen(keys[i].seq));
        ARG(keys[i].fan, strlen(keys[i].fan));
        ARG(keys[i].epoch, strlen(keys[i].epoch));
        ARG(keys[i].hist, strlen(keys[i].hist));
        int dl = bf_key(done[i], b->prefix, BF_KEY_FDONE, b->targets[i].channel);
        ARG(done[i], dl > 0 ? (size_t)dl : 0);
    }
    snprintf(hsize, sizeof(hsize), "%lld", b->history_size);
    snprintf(httl, sizeof(httl), "%lld", b->history_ttl_ms);
    snprintf(window, sizeof(window), "%lld", b->fw.window);
    snprintf(stale, sizeof(stale), "%lld", b->fw.stale_ms);
    snprintf(m, sizeof(m), "%zu", b->nmsgs);
    ARG(hsize, strlen(hsize));
    ARG(httl, strlen(httl));
    ARG(window, strlen(window));
    ARG(stale, strlen(stale));
    ARG(m, strlen(m));
    for (size_t j = 0; j < b->nmsgs; j++) {
        const bf_pub_msg *msg = &b->msgs[j];
        ARG(msg->prefix, msg->prefix_len);
        ARG(msg->data_raw, msg->data_raw_len);
        ARG(msg->exclude_socket, strlen(msg->exclude_socket));
    }
    for (size_t i = 0; i < b->ntargets; i++) {
        snprintf(idx[i], sizeof(idx[i]), "%zu", b->targets[i].msg + 1);
        ARG(b->targets[i].channel, strlen(b->targets[i].channel));
        ARG(idx[i], strlen(idx[i]));
    }
#undef ARG
    int rc =
        bf_script_call(r, BF_SCRIPT_PUBLISH_BATCH, cb, priv, (int)nkeys, (int)argc, argv, lens);
    free(argv);
    free(lens);
    free(keys);
    free(done);
    free(idx);
    return rc;
}

/* Redis Cluster: the batch as one call per slot of its targets, each with the messages its
 * targets use; the caller's callback gets one array of every target's seq in the batch's order
 * once every call has answered, or the first error (the link's loss: no reply) then. */
typedef struct batch_split {
    redisCallbackFn *cb;
    void *priv;
    size_t ntargets, pending;
    long long *seqs;
    size_t **where; /* per call: the batch index of each of its targets (call i's where[i]) */
    size_t *count;  /* per call: how many */
    size_t ncalls;
    bool lost;   /* a call got no reply (or was not sent) */
    char *error; /* the first error reply's text */
} batch_split;

typedef struct batch_part {
    batch_split *bs;
    size_t call;
} batch_part;

static void batch_split_done(redisAsyncContext *ac, batch_split *bs)
{
    if (bs->lost) {
        if (bs->cb) bs->cb(ac, NULL, bs->priv);
    } else if (bs->error) {
        redisReply e = {.type = REDIS_REPLY_ERROR, .str = bs->error, .len = strlen(bs->error)};
        if (bs->cb) bs->cb(ac, &e, bs->priv);
    } else {
        redisReply *els = bf_calloc(bs->ntargets, sizeof(*els));
        redisReply **ptrs = bf_calloc(bs->ntargets, sizeof(*ptrs));
        for (size_t i = 0; i < bs->ntargets; i++) {
            els[i] = (redisReply){.type = REDIS_REPLY_INTEGER, .integer = bs->seqs[i]};
            ptrs[i] = &els[i];
        }
        redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = bs->ntargets, .element = ptrs};
        if (bs->cb) bs->cb(ac, &arr, bs->priv);
        free(els);
        free(ptrs);
    }
    for (size_t i = 0; i < bs->ncalls; i++) free(bs->where[i]);
    free(bs->where);
    free(bs->count);
    free(bs->seqs);
    free(bs->error);
    free(bs);
}

static void on_batch_part(redisAsyncContext *ac, void *reply, void *priv)
{
    batch_part *bp = priv;
    batch_split *bs = bp->bs;
    const redisReply *r = reply;
    size_t n = bs->count[bp->call];
    if (!r) {
        bs->lost = true;
    } else if (r->type == REDIS_REPLY_ERROR) {
        if (!bs->error) bs->error = bf_strdup(r->str);
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
        if (!bs->error) bs->error = bf_strdup("unexpected reply from publish script");
    } else {
        for (size_t k = 0; k < n; k++)
            bs->seqs[bs->where[bp->call][k]] =
                r->element[k]->type == REDIS_REPLY_INTEGER ? r->element[k]->integer : 0;
    }
    free(bp);
    if (--bs->pending == 0) batch_split_done(ac, bs);
}

static int cmp_slot(const void *a, const void *b)
{
    const unsigned *x = a, *y = b; /* {slot, target index} pairs: by slot, then batch order */
    return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

static int batch_send_split(bf_redis *r, const bf_publish_batch *b, redisCallbackFn *cb, void *priv)
{
    size_t nt = b->ntargets;
    unsigned(*order)[2] = bf_malloc(nt * sizeof(*order));
    for (size_t i = 0; i < nt; i++) {
        char k[BF_KEY_MAX];
        int n = bf_key(k, b->prefix, BF_KEY_SEQ, b->targets[i].channel);
        if (n < 0) {
            free(order);
            return BF_ERANGE;
        }
        order[i][0] = bf_slot_of_key(k, (size_t)n);
        order[i][1] = (unsigned)i;
    }
    qsort(order, nt, sizeof(*order), cmp_slot);
    batch_split *bs = bf_calloc(1, sizeof(*bs));
    bs->cb = cb;
    bs->priv = priv;
    bs->ntargets = nt;
    bs->seqs = bf_calloc(nt, sizeof(*bs->seqs));
    bs->where = bf_calloc(nt, sizeof(*bs->where));
    bs->count = bf_calloc(nt, sizeof(*bs->count));
    for (size_t i = 0; i < nt; i++) {
        if (i == 0 || order[i][0] != order[i - 1][0])
            bs->where[bs->ncalls++] = bf_calloc(nt, sizeof(size_t));
        size_t c = bs->ncalls - 1;
        bs->where[c][bs->count[c]++] = order[i][1];
    }
    free(order);
    bf_pub_target *tg = bf_calloc(nt, sizeof(*tg));
    bf_pub_msg *msgs = bf_calloc(b->nmsgs, sizeof(*msgs));
    size_t *msg_of = bf_calloc(b->nmsgs, sizeof(*msg_of)); /* batch msg -> call msg + 1 */
    int rc = 0;
    bs->pending = bs->ncalls + 1; /* held until every call is sent */
    for (size_t c = 0; c < bs->ncalls; c++) {
        bf_publish_batch part = *b;
        /* the calls are not atomic together: a window refusing one of them after another was
         * sequenced would refuse a batch that was partly published, so a batch over several
         * slots has no window (docs/operations.md, *The fan-out window*) */
        if (bs->ncalls > 1) part.fw.window = 0;
        size_t nm = 0;
        memset(msg_of, 0, b->nmsgs * sizeof(*msg_of));
        for (size_t k = 0; k < bs->count[c]; k++) {
            const bf_pub_target *t = &b->targets[bs->where[c][k]];
            if (!msg_of[t->msg]) {
                msgs[nm] = b->msgs[t->msg];
                msg_of[t->msg] = ++nm;
            }
            tg[k] = (bf_pub_target){.channel = t->channel, .msg = msg_of[t->msg] - 1};
        }
        part.msgs = msgs;
        part.nmsgs = nm;
        part.targets = tg;
        part.ntargets = bs->count[c];
        batch_part *bp = bf_malloc(sizeof(*bp));
        *bp = (batch_part){bs, c};
        int sent = batch_call(r, &part, on_batch_part, bp);
        if (sent) {
            free(bp);
            if (c == 0) { /* nothing sent: the caller hears it now, its callback never */
                rc = sent;
                break;
            }
            bs->lost = true; /* the link went down midway: answered as a lost link */
            bs->pending--;
        }
    }
    free(tg);
    free(msgs);
    free(msg_of);
    if (rc) {
        bs->cb = NULL;
        bs->pending = 1;
    }
    if (--bs->pending == 0) {
        if (rc) {
            for (size_t i = 0; i < bs->ncalls; i++) free(bs->where[i]);
            free(bs->where);
            free(bs->count);
            free(bs->seqs);
            free(bs);
        } else {
            batch_split_done(NULL, bs);
        }
    }
    return rc;
}

int bf_publish_batch_send(bf_redis *r, const bf_publish_batch *b, redisCallbackFn *cb, void *priv)
{
    if (!b->nmsgs || !b->ntargets) return BF_EINVAL;
    for (size_t i = 0; i < b->ntargets; i++)
        if (b->targets[i].msg >= b->nmsgs) return BF_EINVAL;
    /* a cluster runs a script only on keys of one slot */
    return bf_redis_is_cluster(r) ? batch_send_split(r, b, cb, priv) : batch_call(r, b, cb, priv);
}
