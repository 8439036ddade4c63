#include "redis_keys.h"
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
};

int bf_key(char *out, const char *prefix, bf_key_kind kind, const char *arg)
{
    int n = snprintf(out, BF_KEY_MAX, "%s%s%s", prefix, kind_names[kind], arg ? arg : "");
    return (n < 0 || n >= BF_KEY_MAX) ? BF_ERANGE : n;
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

const char *bf_key_strip(const char *subject, const char *prefix, bf_key_kind kind)
{
    size_t pl = strlen(prefix), kl = strlen(kind_names[kind]);
    if (strncmp(subject, prefix, pl) || strncmp(subject + pl, kind_names[kind], kl)) return NULL;
    return subject + pl + kl;
}
