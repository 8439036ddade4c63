/* The typed argument builders of scripts.h (bf_script_args and the bf_*_args functions), and
 * the sends that are a builder and bf_script_args_send. Each builder puts a script's KEYS and
 * ARGV in the order its .lua file's header lists them; tests/unit/scripts.c checks the counts
 * against the "-- keys: K  argv: A" lines. The script registry, loading and EVALSHA with its
 * NOSCRIPT retry stay in scripts.c. */
#include "err.h"
#include "redis_keys.h"
#include "scripts.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- presence ---------------------------------------------------------------------------- */

/* Appends key kind(arg) to a's keys; returns 0 or BF_ERANGE. Keys must all come before the
 * other arguments. */
static int add_key(bf_script_args *a, const char *prefix, bf_key_kind kind, const char *arg)
{
    char *k = a->keys[a->nkeys];
    int n = bf_key(k, prefix, kind, arg);
    if (n < 0) return BF_ERANGE;
    a->argv[a->argc] = k;
    a->lens[a->argc++] = (size_t)n;
    a->nkeys++;
    return 0;
}

static void add_arg(bf_script_args *a, const char *v, size_t len)
{
    a->argv[a->argc] = v;
    a->lens[a->argc++] = len;
}

static void add_str(bf_script_args *a, const char *v)
{
    add_arg(a, v, strlen(v));
}

static void add_num(bf_script_args *a, int slot, long long v)
{
    int n = snprintf(a->nums[slot], sizeof(a->nums[slot]), "%lld", v);
    add_arg(a, a->nums[slot], (size_t)n);
}

static void args_init(bf_script_args *a, bf_script_id id)
{
    a->id = id;
    a->nkeys = a->argc = 0;
    a->cluster = false;
}

/* The four sequencing keys, in sequence.lib.lua's order. */
static int add_seq_keys(bf_script_args *a, const char *prefix, const char *channel)
{
    return add_key(a, prefix, BF_KEY_SEQ, channel) || add_key(a, prefix, BF_KEY_FAN, channel) ||
                   add_key(a, prefix, BF_KEY_EPOCH, channel) ||
                   add_key(a, prefix, BF_KEY_HIST, channel)
               ? BF_ERANGE
               : 0;
}

int bf_script_args_send(bf_redis *r, const bf_script_args *a, redisCallbackFn *cb, void *priv)
{
    return bf_script_call(r, a->id, cb, priv, a->nkeys, a->argc, a->argv, a->lens);
}

int bf_presence_enqueue_args(bf_script_args *a, const bf_presence_enqueue *e)
{
    args_init(a, BF_SCRIPT_PRESENCE_ENQUEUE);
    a->cluster = e->cluster;
    /* on a cluster the channel's slot only: the other keys are bf_presence_enqueue_send's steps */
    if (add_key(a, e->prefix, BF_KEY_POPS, e->channel) ||
        (!e->cluster && (add_key(a, e->prefix, BF_KEY_PPENDING, NULL) ||
                         add_key(a, e->prefix, BF_KEY_GWPRES, e->gateway) ||
                         add_key(a, e->prefix, BF_KEY_GWKNOWN, NULL))))
        return BF_ERANGE;
    add_str(a, e->channel);
    add_arg(a, e->envelope, e->envelope_len);
    add_str(a, e->gateway);
    add_str(a, e->join ? "1" : "0");
    char *inbox = a->keys[a->nkeys]; /* spare key storage: a subject, not a key */
    if (e->owner) {
        int n = bf_key(inbox, e->prefix, BF_KEY_INBOX, e->owner);
        if (n < 0) return BF_ERANGE;
        add_arg(a, inbox, (size_t)n);
    } else {
        add_str(a, "");
    }
    return 0;
}

int bf_presence_apply_args(bf_script_args *a, const bf_presence_apply *p)
{
    args_init(a, BF_SCRIPT_PRESENCE_APPLY);
    a->cluster = p->cluster;
    /* the channel's keys first: on a cluster they are all (one slot), the live gateways come as
     * an argument and the caller leaves ppending itself (presence_apply.lua) */
    if (add_key(a, p->prefix, BF_KEY_POPS, p->channel) ||
        add_key(a, p->prefix, BF_KEY_PRESENCE, p->channel) ||
        add_key(a, p->prefix, BF_KEY_PUSERS, p->channel) ||
        add_seq_keys(a, p->prefix, p->channel) || add_key(a, p->prefix, BF_KEY_PHERE, p->channel) ||
        add_key(a, p->prefix, BF_KEY_PREP, p->channel) ||
        add_key(a, p->prefix, BF_KEY_PGONE, p->channel))
        return BF_ERANGE;
    if (!p->cluster && (add_key(a, p->prefix, BF_KEY_PPENDING, NULL) ||
                        add_key(a, p->prefix, BF_KEY_GATEWAYS, NULL)))
        return BF_ERANGE;
    add_str(a, p->channel);
    add_num(a, 0, BF_PRESENCE_APPLY_BATCH);
    add_num(a, 1, p->history_size);
    add_num(a, 2, p->history_ttl_ms);
    add_num(a, 3, BF_PRESENCE_GONE_MS);
    if (p->cluster) {
        add_str(a, p->gateways ? p->gateways : "");
        add_str(a, p->strict ? "1" : "0");
    }
    return 0;
}

int bf_presence_audit_args(bf_script_args *a, const char *prefix, const char *gateway,
                           const char *channel, bool cluster)
{
    args_init(a, BF_SCRIPT_PRESENCE_AUDIT);
    a->cluster = cluster;
    if (add_key(a, prefix, BF_KEY_POPS, channel) || add_key(a, prefix, BF_KEY_PRESENCE, channel) ||
        add_key(a, prefix, BF_KEY_CONNS, channel) ||
        (!cluster && add_key(a, prefix, BF_KEY_GWCHANS, gateway)))
        return BF_ERANGE;
    add_str(a, gateway);
    add_str(a, channel);
    return 0;
}

int bf_presence_members_args(bf_script_args *a, const char *prefix, const char *channel)
{
    args_init(a, BF_SCRIPT_PRESENCE_MEMBERS);
    if (add_key(a, prefix, BF_KEY_PRESENCE, channel) ||
        add_key(a, prefix, BF_KEY_PUSERS, channel) || add_key(a, prefix, BF_KEY_PHERE, channel) ||
        add_key(a, prefix, BF_KEY_PREP, channel))
        return BF_ERANGE;
    return 0;
}

int bf_sweep_args(bf_script_args *a, const bf_sweep *s)
{
    args_init(a, BF_SCRIPT_SWEEP);
    a->cluster = s->cluster;
    /* the channel's keys first (all of a cluster call's: one slot), the fence in its form */
    if (add_key(a, s->prefix, BF_KEY_PRESENCE, s->channel) ||
        add_key(a, s->prefix, BF_KEY_PUSERS, s->channel) ||
        add_seq_keys(a, s->prefix, s->channel) ||
        (s->cluster ? add_key(a, s->prefix, BF_KEY_OWNER, s->channel)
                    : add_key(a, s->prefix, BF_KEY_RING_EPOCH, NULL)) ||
        add_key(a, s->prefix, BF_KEY_CONNS, s->channel) ||
        add_key(a, s->prefix, BF_KEY_PHERE, s->channel) ||
        add_key(a, s->prefix, BF_KEY_PREP, s->channel) ||
        add_key(a, s->prefix, BF_KEY_POPS, s->channel))
        return BF_ERANGE;
    if (!s->cluster && (add_key(a, s->prefix, BF_KEY_GWCHANS, s->gateway) ||
                        add_key(a, s->prefix, BF_KEY_GWKNOWN, NULL) ||
                        add_key(a, s->prefix, BF_KEY_GATEWAYS, NULL) ||
                        add_key(a, s->prefix, BF_KEY_GWPRES, s->gateway)))
        return BF_ERANGE;
    add_str(a, s->channel);
    add_num(a, 0, (long long)s->ring_epoch);
    add_str(a, s->gateway);
    add_num(a, 1, s->history_size);
    add_num(a, 2, s->history_ttl_ms);
    return 0;
}

int bf_sweep_index_args(bf_script_args *a, const char *prefix, const char *gateway,
                        const char *channel, bool pops_empty)
{
    args_init(a, BF_SCRIPT_SWEEP_INDEX);
    a->cluster = true;
    if (add_key(a, prefix, BF_KEY_GATEWAYS, NULL) || add_key(a, prefix, BF_KEY_GWCHANS, gateway) ||
        add_key(a, prefix, BF_KEY_GWPRES, gateway) || add_key(a, prefix, BF_KEY_GWKNOWN, NULL))
        return BF_ERANGE;
    add_str(a, gateway);
    add_str(a, channel ? channel : "");
    add_str(a, pops_empty ? "1" : "0");
    return 0;
}

/* A key stem built from prefix (bf_key_stem: the script appends '{' .. channel .. '}' or an id),
 * sent as an argument, in spare slot `slot`. */
static int add_key_arg(bf_script_args *a, int slot, const char *prefix, bf_key_kind kind)
{
    int n = bf_key_stem(a->spare[slot], prefix, kind);
    if (n < 0) return BF_ERANGE;
    add_arg(a, a->spare[slot], (size_t)n);
    return 0;
}

int bf_publish_args(bf_script_args *a, const bf_publish *p)
{
    args_init(a, BF_SCRIPT_PUBLISH);
    a->cluster = p->cluster;
    /* unfenced: the channel's keys only, one slot (Redis Cluster); fenced on a cluster: the
     * channel's fence, in its slot, instead of the cluster-wide ring epoch */
    if (add_seq_keys(a, p->prefix, p->channel) || add_key(a, p->prefix, BF_KEY_FDONE, p->channel) ||
        (p->fenced && (p->cluster ? add_key(a, p->prefix, BF_KEY_OWNER, p->channel)
                                  : add_key(a, p->prefix, BF_KEY_RING_EPOCH, NULL))))
        return BF_ERANGE;
    add_str(a, p->channel);
    add_arg(a, p->frame_prefix, p->frame_prefix_len);
    if (p->fenced)
        add_num(a, 0, (long long)p->ring_epoch);
    else
        add_str(a, "");
    add_num(a, 1, p->history_size);
    add_num(a, 2, p->history_ttl_ms);
    add_num(a, 3, p->fw.window);
    add_num(a, 4, p->fw.stale_ms);
    return 0;
}

int bf_fandone_args(bf_script_args *a, const char *prefix, const char *node_id, const char *channel,
                    uint64_t seq, long long ttl_ms)
{
    args_init(a, BF_SCRIPT_FANDONE);
    if (add_key(a, prefix, BF_KEY_FDONE, channel)) return BF_ERANGE;
    add_str(a, node_id);
    add_num(a, 0, (long long)seq);
    add_num(a, 1, ttl_ms);
    add_str(a, channel);
    return 0;
}

int bf_leave_args(bf_script_args *a, const bf_leave *l)
{
    args_init(a, BF_SCRIPT_LEAVE);
    a->cluster = l->cluster;
    if (add_key(a, l->prefix, l->router ? BF_KEY_ROUTERS : BF_KEY_GATEWAYS, NULL) ||
        add_key(a, l->prefix, BF_KEY_RING_EPOCH, NULL) ||
        add_key(a, l->prefix, BF_KEY_NODE, l->node_id))
        return BF_ERANGE;
    if (!l->router && (add_key(a, l->prefix, BF_KEY_GWCHANS, l->node_id) ||
                       add_key(a, l->prefix, BF_KEY_GWKNOWN, NULL)))
        return BF_ERANGE;
    add_str(a, l->node_id);
    add_str(a, l->router ? "1" : "0");
    if (!l->router) {
        /* on a cluster the counts are in the channels' slots: bf_leave_send removes them first */
        if (l->cluster)
            add_str(a, "");
        else if (add_key_arg(a, 0, l->prefix, BF_KEY_CONNS))
            return BF_ERANGE;
        add_str(a, l->clean ? "1" : "0");
    }
    return 0;
}

int bf_history_args(bf_script_args *a, const bf_history *h)
{
    args_init(a, BF_SCRIPT_HISTORY);
    if (add_key(a, h->prefix, BF_KEY_SEQ, h->channel) ||
        add_key(a, h->prefix, BF_KEY_EPOCH, h->channel) ||
        add_key(a, h->prefix, BF_KEY_HIST, h->channel))
        return BF_ERANGE;
    add_str(a, h->since);
    add_str(a, h->epoch);
    add_num(a, 0, h->limit);
    add_str(a, h->start_epoch ? "1" : "0");
    return 0;
}

int bf_channel_info_args(bf_script_args *a, const char *prefix, const char *channel, bool cluster)
{
    args_init(a, BF_SCRIPT_CHANNEL_INFO);
    a->cluster = cluster;
    if (add_key(a, prefix, BF_KEY_CONNS, channel) || add_key(a, prefix, BF_KEY_PUSERS, channel) ||
        (!cluster && add_key(a, prefix, BF_KEY_GATEWAYS, NULL)))
        return BF_ERANGE;
    return 0;
}

int bf_channels_args(bf_script_args *a, const char *prefix, const char *match, bool default_app)
{
    args_init(a, BF_SCRIPT_CHANNELS);
    if (add_key(a, prefix, BF_KEY_GATEWAYS, NULL) || add_key_arg(a, 0, prefix, BF_KEY_GWCHANS))
        return BF_ERANGE;
    add_str(a, match);
    add_str(a, default_app ? "1" : "0");
    return 0;
}

int bf_webhook_due_args(bf_script_args *a, const char *prefix, long long per_call)
{
    args_init(a, BF_SCRIPT_WEBHOOK_DUE);
    if (add_key(a, prefix, BF_KEY_WEBHOOKS_VACATING, NULL)) return BF_ERANGE;
    add_num(a, 0, per_call);
    return 0;
}

int bf_heartbeat_args(bf_script_args *a, const bf_heartbeat *hb)
{
    args_init(a, BF_SCRIPT_HEARTBEAT);
    if (add_key(a, hb->prefix, hb->router ? BF_KEY_ROUTERS : BF_KEY_GATEWAYS, NULL) ||
        add_key(a, hb->prefix, BF_KEY_RING_EPOCH, NULL) ||
        add_key(a, hb->prefix, BF_KEY_NODE, hb->node_id) ||
        add_key(a, hb->prefix, hb->router ? BF_KEY_GATEWAYS : BF_KEY_ROUTERS, NULL) ||
        add_key(a, hb->prefix, BF_KEY_FANOUT_WANTED, NULL))
        return BF_ERANGE;
    add_str(a, hb->node_id);
    add_num(a, 0, hb->ttl_ms);
    add_str(a, hb->router ? "1" : "0");
    add_str(a, hb->router && hb->fanout_window ? "1" : "0");
    add_str(a, "kind");
    add_str(a, hb->router ? "router" : "gateway");
    add_str(a, "address");
    int n = snprintf(a->spare[0], sizeof(a->spare[0]), "%s:%d", hb->host, hb->port);
    if (n < 0 || (size_t)n >= sizeof(a->spare[0])) return BF_ERANGE;
    add_arg(a, a->spare[0], (size_t)n);
    add_str(a, "pid");
    add_num(a, 1, (long long)getpid());
    add_str(a, "started_ms");
    add_num(a, 2, (long long)hb->started_wall_ms);
    add_str(a, "version");
    add_str(a, hb->version);
    if (hb->connections) {
        add_str(a, "connections");
        add_str(a, hb->connections);
    }
    return 0;
}

int bf_webhook_event_args(bf_script_args *a, const bf_webhook_event *e)
{
    args_init(a, BF_SCRIPT_WEBHOOK_EVENT);
    if (add_key(a, e->prefix, BF_KEY_WEBHOOKS_ON, NULL)) return BF_ERANGE;
    add_str(a, e->name);
    add_str(a, e->channel);
    /* the optional fields, as field/value pairs */
    if (e->event) {
        add_str(a, "e");
        add_str(a, e->event);
    }
    if (e->data) {
        add_str(a, "d");
        add_arg(a, e->data, e->data_len);
    }
    if (e->socket_id) {
        add_str(a, "s");
        add_str(a, e->socket_id);
    }
    if (e->user_id) {
        add_str(a, "u");
        add_str(a, e->user_id);
    }
    return 0;
}

int bf_webhook_event_send(bf_redis *r, const bf_webhook_event *e)
{
    bf_script_args a;
    int rc = bf_webhook_event_args(&a, e);
    return rc ? rc : bf_script_args_send(r, &a, NULL, NULL);
}

int bf_heartbeat_send(bf_redis *r, const bf_heartbeat *hb, redisCallbackFn *cb, void *priv)
{
    bf_script_args a;
    int rc = bf_heartbeat_args(&a, hb);
    return rc ? rc : bf_script_args_send(r, &a, cb, priv);
}
