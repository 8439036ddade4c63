#include "redis_keys.h"
#include "slot.h"
#include "err.h"

#include <stdio.h>
#include <string.h>

static const char *kind_names[] = {
    [BF_KEY_SEQ] = "seq:",
    [BF_KEY_FAN] = "fan:",
    [BF_KEY_PUBLISH] = "publish:",
    [BF_KEY_ROUTERS] = "routers",
    [BF_KEY_GATEWAYS] = "gateways",
    [BF_KEY_RING_EPOCH] = "ring:epoch",
    [BF_KEY_NODE] = "node:",
    [BF_KEY_INBOX] = "inbox:",
    [BF_KEY_PRESENCE] = "presence:",
    [BF_KEY_PUSERS] = "pusers:",
    [BF_KEY_CONNS] = "conns:",
    [BF_KEY_GWCHANS] = "gwchans:",
    [BF_KEY_GWKNOWN] = "gwknown",
    [BF_KEY_PROBE] = "probe:",
    [BF_KEY_EPOCH] = "epoch:",
    [BF_KEY_HIST] = "hist:",
    [BF_KEY_PHERE] = "phere:",
    [BF_KEY_PREP] = "prep:",
    [BF_KEY_POPS] = "pops:",
    [BF_KEY_PPENDING] = "ppending",
    [BF_KEY_PGONE] = "pgone:",
    [BF_KEY_GWPRES] = "gwpres:",
    [BF_KEY_REDIS_REPLID] = "redis:replid",
    [BF_KEY_APPS_DEFAULT] = "apps:default",
    [BF_KEY_WEBHOOKS] = "webhooks",
    [BF_KEY_WEBHOOKS_ON] = "webhooks:on",
    [BF_KEY_WEBHOOKS_VACATING] = "webhooks:vacating",
    [BF_KEY_BACKLOG] = "backlog",
    [BF_KEY_BPROBE] = "bprobe:",
    [BF_KEY_GWSUB] = "gwsub:",
    [BF_KEY_OWNER] = "owner:",
    [BF_KEY_FDONE] = "fdone:",
    [BF_KEY_FDONE_NOTICE] = "fdone",
    [BF_KEY_FANOUT_WANTED] = "fanout:wanted",
};

/* The fixed hash tag of the cluster-wide keys, after the prefix. */
#define GLOBAL_TAG "{#}:"

typedef enum { SHAPE_SUBJECT, SHAPE_CHANNEL, SHAPE_GLOBAL } shape;

static shape shape_of(bf_key_kind kind)
{
    switch (kind) {
    case BF_KEY_SEQ:
    case BF_KEY_FAN:
    case BF_KEY_EPOCH:
    case BF_KEY_HIST:
    case BF_KEY_PRESENCE:
    case BF_KEY_PUSERS:
    case BF_KEY_CONNS:
    case BF_KEY_PHERE:
    case BF_KEY_PREP:
    case BF_KEY_POPS:
    case BF_KEY_PGONE:
    case BF_KEY_OWNER:
    case BF_KEY_FDONE:
        return SHAPE_CHANNEL;
    case BF_KEY_ROUTERS:
    case BF_KEY_GATEWAYS:
    case BF_KEY_RING_EPOCH:
    case BF_KEY_NODE:
    case BF_KEY_GWCHANS:
    case BF_KEY_GWKNOWN:
    case BF_KEY_PPENDING:
    case BF_KEY_GWPRES:
    case BF_KEY_REDIS_REPLID:
    case BF_KEY_APPS_DEFAULT:
    case BF_KEY_WEBHOOKS:
    case BF_KEY_WEBHOOKS_ON:
    case BF_KEY_WEBHOOKS_VACATING:
    case BF_KEY_FANOUT_WANTED:
        return SHAPE_GLOBAL;
    case BF_KEY_PUBLISH:
    case BF_KEY_INBOX:
    case BF_KEY_PROBE:
    case BF_KEY_BACKLOG:
    case BF_KEY_FDONE_NOTICE:
    case BF_KEY_BPROBE:
    case BF_KEY_GWSUB:
        return SHAPE_SUBJECT;
    }
    return SHAPE_SUBJECT;
}

int bf_key_is_channel_kind(bf_key_kind kind)
{
    return shape_of(kind) == SHAPE_CHANNEL;
}

static int fit(int n)
{
    return (n < 0 || n >= BF_KEY_MAX) ? BF_ERANGE : n;
}

int bf_key(char *out, const char *prefix, bf_key_kind kind, const char *arg)
{
    switch (shape_of(kind)) {
    case SHAPE_CHANNEL:
        return fit(snprintf(out, BF_KEY_MAX, "%s%s{%s}", prefix, kind_names[kind], arg ? arg : ""));
    case SHAPE_GLOBAL:
        return fit(snprintf(out, BF_KEY_MAX, "%s" GLOBAL_TAG "%s%s", prefix, kind_names[kind],
                            arg ? arg : ""));
    case SHAPE_SUBJECT:
        break;
    }
    return fit(snprintf(out, BF_KEY_MAX, "%s%s%s", prefix, kind_names[kind], arg ? arg : ""));
}

int bf_key_shard_replid(char *out, const char *prefix, unsigned slot)
{
    /* CRC16 spreads short strings evenly: about 16384 tries on average (about 1 ms), done once
     * per handshake of a node link; 2^22 bounds it (never reached for any slot: unit test) */
    char tag[16];
    for (unsigned n = 0; n < (1u << 22); n++) {
        int len = snprintf(tag, sizeof(tag), "#%u", n);
        if ((bf_slot_crc16(tag, (size_t)len) & (BF_SLOT_COUNT - 1)) == slot)
            return fit(snprintf(out, BF_KEY_MAX, "%s{%s}:%s", prefix, tag,
                                kind_names[BF_KEY_REDIS_REPLID]));
    }
    return BF_ERANGE;
}

int bf_key_stem(char *out, const char *prefix, bf_key_kind kind)
{
    if (shape_of(kind) == SHAPE_CHANNEL)
        return fit(snprintf(out, BF_KEY_MAX, "%s%s", prefix, kind_names[kind]));
    return bf_key(out, prefix, kind, NULL);
}

int bf_key_publish_pattern(char *out, const char *prefix)
{
    return bf_key(out, prefix, BF_KEY_PUBLISH, "*");
}

int bf_key_seq_keys(bf_seq_keys *k, const char *prefix, const char *channel)
{
    if (bf_key(k->seq, prefix, BF_KEY_SEQ, channel) < 0 ||
        bf_key(k->fan, prefix, BF_KEY_FAN, channel) < 0 ||
        bf_key(k->epoch, prefix, BF_KEY_EPOCH, channel) < 0 ||
        bf_key(k->hist, prefix, BF_KEY_HIST, channel) < 0)
        return BF_ERANGE;
    return 0;
}

const char *bf_key_strip(const char *subject, const char *prefix, bf_key_kind kind, size_t *len)
{
    size_t pl = strlen(prefix), kl = strlen(kind_names[kind]);
    if (strncmp(subject, prefix, pl)) return NULL;
    subject += pl;
    shape sh = shape_of(kind);
    if (sh == SHAPE_GLOBAL) {
        if (strncmp(subject, GLOBAL_TAG, strlen(GLOBAL_TAG))) return NULL;
        subject += strlen(GLOBAL_TAG);
    }
    if (strncmp(subject, kind_names[kind], kl)) return NULL;
    subject += kl;
    size_t n = strlen(subject);
    if (sh == SHAPE_CHANNEL) {
        if (n < 3 || subject[0] != '{' || subject[n - 1] != '}') return NULL; /* a name: 1+ bytes */
        subject++;
        n -= 2;
    }
    *len = n;
    return subject;
}
