/* Sharded subscriptions of a cluster link (rcluster.h): a registry of shard channels, each
 * subscribed on a subscriber link to the node owning its slot, and subscribed again where the
 * slot goes. */
#include "rcluster_int.h"
#include "alloc.h"
#include "err.h"
#include "log.h"

#include <hiredis/alloc.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every reply on a shard subscriber link comes here. hiredis 0.14 treats SSUBSCRIBE as an ordinary
 * command and would find no callback for the smessage pushes that follow (an assert in
 * redisProcessCallbacks): so whenever this runs and hiredis' reply queue is empty, one more entry
 * pointing here is queued (allocated with hiredis' own allocator, as redisAsyncCommand would), and
 * every push finds it. See docs/architecture.md, "Redis Cluster". */
static void on_shard(redisAsyncContext *ac, void *reply, void *priv)
{
    rcl_node *n = priv;
    bf_rcluster *c = n->c;
    redisReply *rep = reply;
    if (!rep) return; /* the link is going: on_slink_down follows */
    if (!ac->replies.head && !(ac->c.flags & (REDIS_FREEING | REDIS_DISCONNECTING))) {
        redisCallback *cb = hi_calloc(1, sizeof(*cb));
        cb->fn = on_shard;
        cb->privdata = n;
        ac->replies.head = ac->replies.tail = cb;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        int slot;
        rcl_node *to = !strncmp(rep->str, "MOVED ", 6)
                           ? bf__rcluster_redirect_target(c, rep->str, &slot)
                           : NULL;
        bf_warn("redis[%s] cluster: SSUBSCRIBE on %s:%d: %s", c->name, n->host, n->port, rep->str);
        if (to) {
            c->slots[slot] = to;
            for (rcl_sub *s = c->subs; s; s = s->next)
                if (s->on == n && s->slot == (unsigned)slot) s->on = NULL;
            bf__rcluster_schedule_refresh(c);
        }
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_STRING)
        return;
    rcl_sub *s = bf_dict_get(c->subidx, rep->element[1]->str, rep->element[1]->len);
    if (!s || s->on != n) return; /* unsubscribed meanwhile, or an echo from a former node */
    if (!strcasecmp(rep->element[0]->str, "sunsubscribe")) {
        /* not asked for: the slot left this node (Redis 7 tells its shard subscribers so); where
         * it went, the next slot map says */
        s->on = NULL;
        s->stale = true;
        bf__rcluster_schedule_refresh(c);
        return;
    }
    if (s->cb) s->cb(ac, reply, s->priv);
}

static void send_shard(rcl_node *n, const char *verb, const rcl_sub *s)
{
    bf_debug("redis[%s] cluster: %s %s on %s:%d", n->c->name, verb, s->ch, n->host, n->port);
    const char *argv[2] = {verb, s->ch};
    size_t lens[2] = {strlen(verb), s->len};
    bf_redis_cmdargv(n->slink, on_shard, n, 2, argv, lens);
}

/* Subscribes every registered channel that is not where its slot lives. */
void bf__rcluster_sync_subs(bf_rcluster *c)
{
    if (!c->ready) return;
    for (rcl_sub *s = c->subs; s; s = s->next) {
        rcl_node *owner = c->slots[s->slot];
        if (s->on == owner || !owner || s->stale) continue;
        if (s->on) { /* a refresh moved its slot: leave the old node if it still listens */
            if (s->on->slink && bf_redis_ready(s->on->slink)) send_shard(s->on, "SUNSUBSCRIBE", s);
            s->on = NULL;
        }
        if (!owner->slink) {
            owner->slink = bf__rcluster_node_link(c, owner, true);
            bf_redis_pair(owner->link, owner->slink);
            continue; /* connects on the next tick; on_slink_ready calls us again */
        }
        if (!bf_redis_ready(owner->slink)) continue;
        send_shard(owner, "SSUBSCRIBE", s);
        if (s->once) c->st.resubscribes++;
        s->once = true;
        s->on = owner;
    }
}

int bf__rcluster_ssubscribe(bf_rcluster *c, redisCallbackFn *cb, void *priv, const bf_resp_arg *a,
                            int argc)
{
    if (argc < 2 || argc > SUB_ARGS_MAX) return BF_EINVAL;
    for (int i = 1; i < argc; i++) {
        rcl_sub *s = bf_dict_get(c->subidx, a[i].p, a[i].len);
        if (!s) {
            s = bf_calloc(1, sizeof(*s));
            s->ch = bf_malloc(a[i].len + 1);
            memcpy(s->ch, a[i].p, a[i].len);
            s->ch[a[i].len] = '\0';
            s->len = a[i].len;
            s->slot = bf_slot_of_key(s->ch, s->len);
            s->next = c->subs;
            c->subs = s;
            bf_dict_put(c->subidx, s->ch, s->len, s);
        }
        s->once = false; /* the caller's own (re)subscription */
        s->cb = cb;
        s->priv = priv;
        s->on =
            NULL; /* (re)subscribed by bf__rcluster_sync_subs: the caller expects a confirmation */
    }
    bf__rcluster_sync_subs(c);
    return 0;
}

void bf__rcluster_sunsubscribe(bf_rcluster *c, const bf_resp_arg *a, int argc)
{
    for (rcl_sub **pp = &c->subs; *pp;) {
        rcl_sub *s = *pp;
        bool match = argc < 2;
        for (int i = 1; i < argc && !match; i++)
            match = s->len == a[i].len && !memcmp(s->ch, a[i].p, s->len);
        if (!match) {
            pp = &s->next;
            continue;
        }
        if (s->on && s->on->slink && bf_redis_ready(s->on->slink))
            send_shard(s->on, "SUNSUBSCRIBE", s);
        *pp = s->next;
        bf_dict_del(c->subidx, s->ch, s->len);
        free(s->ch);
        free(s);
    }
}
