/* Channel constructors and the event-name rules, shared by every transport and the fake. */
#include "pub_internal.h"

#include "channel.h"
#include "message.h" /* common/: the name rules the daemons enforce */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const prefixes[] = {"", "private-", "presence-"};

const char *bf_channel_kind_name(bf_channel_kind kind)
{
    switch (kind) {
    case BF_CHANNEL_PUBLIC:
        return "public";
    case BF_CHANNEL_PRIVATE:
        return "private";
    case BF_CHANNEL_PRESENCE:
        return "presence";
    }
    return "unknown";
}

int bf_channel_init(bf_channel *out, bf_channel_kind kind, const char *name, char *err,
                    size_t errlen)
{
    char tmp[BF_ERR_LEN];
    if (!err) {
        err = tmp;
        errlen = sizeof(tmp);
    }
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    if (kind != BF_CHANNEL_PUBLIC && kind != BF_CHANNEL_PRIVATE && kind != BF_CHANNEL_PRESENCE) {
        snprintf(err, errlen, "unknown channel kind %d", (int)kind);
        return BF_EINVAL;
    }
    if (!name) {
        snprintf(err, errlen, "channel name is NULL");
        return BF_EINVAL;
    }
    /* the wire name: add the kind's prefix unless the caller already wrote it */
    const char *pfx = prefixes[kind];
    size_t plen = strlen(pfx);
    if (plen && !strncmp(name, pfx, plen)) plen = 0;
    size_t nlen = strlen(name);
    snprintf(out->name, sizeof(out->name), "%.*s%s", (int)plen, pfx, name);
    if (bf_channel_validate(name, nlen, err, errlen)) return BF_EINVAL;
    if (plen + nlen > BF_CHANNEL_NAME_MAX) {
        snprintf(err, errlen, "channel name '%s%s' is %zu bytes (must be 1-%d bytes)", pfx, name,
                 plen + nlen, BF_CHANNEL_NAME_MAX);
        return BF_EINVAL;
    }
    /* a name carrying another kind's prefix is a mistake, not a channel called "private-..." */
    bf_channel_type implied = bf_channel_type_of(name);
    if (implied != BF_CH_PUBLIC && (int)implied != (int)kind) {
        snprintf(err, errlen,
                 "channel name '%s' has the %s- prefix, which makes it a %s channel: use "
                 "bf_channel_%s()",
                 name, bf_channel_type_name(implied), bf_channel_type_name(implied),
                 bf_channel_type_name(implied));
        return BF_EINVAL;
    }
    out->valid = true;
    return 0;
}

bf_channel bf_channel_public(const char *name)
{
    bf_channel c;
    bf_channel_init(&c, BF_CHANNEL_PUBLIC, name, NULL, 0);
    return c;
}

bf_channel bf_channel_private(const char *name)
{
    bf_channel c;
    bf_channel_init(&c, BF_CHANNEL_PRIVATE, name, NULL, 0);
    return c;
}

bf_channel bf_channel_presence(const char *name)
{
    bf_channel c;
    bf_channel_init(&c, BF_CHANNEL_PRESENCE, name, NULL, 0);
    return c;
}

bf_channel bf_channel_fmt(bf_channel_kind kind, const char *fmt, ...)
{
    /* one byte more than any valid name, so that an overlong result is still caught */
    char name[BF_CHANNEL_NAME_MAX + 2];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    bf_channel c;
    bf_channel_init(&c, kind, n < 0 ? NULL : name, NULL, 0);
    return c;
}

int bf__channel_check(const bf_channel *ch, char *err, size_t errlen)
{
    /* re-checked even when valid is set: the struct is public and may have been filled by hand */
    bf_channel again;
    if (bf_channel_init(&again, ch->kind, ch->name, err, errlen)) return BF_EINVAL;
    if (!ch->valid) {
        /* the only way a stored name passes now is that it was cut to fit */
        snprintf(err, errlen, "channel name '%.40s...' is longer than %d bytes", ch->name,
                 BF_CHANNEL_NAME_MAX);
        return BF_EINVAL;
    }
    if (strcmp(again.name, ch->name)) {
        snprintf(err, errlen, "channel name '%s' lacks the %s prefix of a %s channel", ch->name,
                 prefixes[ch->kind], bf_channel_kind_name(ch->kind));
        return BF_EINVAL;
    }
    return 0;
}

/* Publishers may not forge server events: the daemons' own rules (common/message_event.c). */
int bf__event_name_check(const char *event, char *err, size_t errlen)
{
    if (!event) event = "";
    return bf_message_check_event(event, strlen(event), err, errlen);
}

const char *bf_event_name(const bf_event *ev)
{
    if (!ev || !ev->cls) return NULL;
    if (ev->cls->broadcast_as) {
        const char *as = ev->cls->broadcast_as(ev);
        if (as) return as;
    }
    return ev->cls->type_name;
}
