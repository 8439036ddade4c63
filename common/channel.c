#include "channel.h"
#include "err.h"

#include <stdio.h>
#include <string.h>

static int allowed(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("_-=@,.;:", c) != NULL;
}

int bf_channel_validate(const char *name, size_t len, char *err, size_t errlen)
{
    if (len == 0) {
        if (err)
            snprintf(err, errlen, "channel name is empty (must be 1-%d bytes)", BF_CHANNEL_MAX);
        return BF_EINVAL;
    }
    if (len > BF_CHANNEL_MAX) {
        if (err)
            snprintf(err, errlen, "channel name is %zu bytes (must be 1-%d bytes)", len,
                     BF_CHANNEL_MAX);
        return BF_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (!allowed((unsigned char)name[i])) {
            if (err)
                snprintf(err, errlen,
                         "channel name has a forbidden byte 0x%02x at offset %zu (allowed: "
                         "A-Z a-z 0-9 and _-=@,.;:)",
                         (unsigned char)name[i], i);
            return BF_EINVAL;
        }
    }
    return 0;
}

bf_channel_type bf_channel_type_of(const char *name)
{
    /* a scoped name ("APPID/name", apps.h) has the type of its bare name; names never hold '/' */
    const char *slash = strrchr(name, '/');
    if (slash) name = slash + 1;
    if (!strncmp(name, "private-", 8)) return BF_CH_PRIVATE;
    if (!strncmp(name, "presence-", 9)) return BF_CH_PRESENCE;
    return BF_CH_PUBLIC;
}

static const char *type_names[] = {"public", "private", "presence"};

const char *bf_channel_type_name(bf_channel_type t)
{
    return type_names[t];
}

int bf_channel_type_parse(const char *s, bf_channel_type *out)
{
    for (int i = 0; i < 3; i++) {
        if (!strcmp(s, type_names[i])) {
            *out = (bf_channel_type)i;
            return 0;
        }
    }
    return BF_EINVAL;
}

int bf_channel_resolve(const char *name, size_t len, const char *type, char *out, char *err,
                       size_t errlen)
{
    if (bf_channel_validate(name, len, err, errlen)) return BF_EINVAL;
    char tmp[BF_CHANNEL_MAX + 1];
    memcpy(tmp, name, len);
    tmp[len] = '\0';
    bf_channel_type have = bf_channel_type_of(tmp);
    if (!type || !*type) {
        memcpy(out, tmp, len + 1);
        return 0;
    }
    bf_channel_type want;
    if (bf_channel_type_parse(type, &want)) {
        snprintf(err, errlen, "type must be public, private or presence");
        return BF_EINVAL;
    }
    if (have == want) {
        memcpy(out, tmp, len + 1);
        return 0;
    }
    if (have != BF_CH_PUBLIC) {
        snprintf(err, errlen, "type=%s contradicts the channel's '%s-' prefix", type,
                 bf_channel_type_name(have));
        return BF_EINVAL;
    }
    int n = snprintf(out, BF_CHANNEL_MAX + 1, "%s-%s", type_names[want], tmp);
    if (n > BF_CHANNEL_MAX) {
        snprintf(err, errlen, "channel name '%s-' + name is longer than %d bytes", type_names[want],
                 BF_CHANNEL_MAX);
        return BF_ETOOBIG;
    }
    return 0;
}
