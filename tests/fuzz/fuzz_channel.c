/* Fuzzes bf_channel_validate and bf_channel_resolve (common/channel.h): the channel part of
 * /ws/{channel}?type=... and of /broadcast/{channel}, /presence/{channel}.
 * Input layout: NAME[?type=TYPE] (what follows the first '?' is the query; TYPE is NUL-terminated
 * as lws hands it over). Properties: validate accepts exactly 1..164 bytes of [A-Za-z0-9_-=@,.;:];
 * a resolved name is itself valid, has the requested type, and a prefixed name is never changed
 * (a ?type= can never downgrade private-/presence- to another type). */
#include "channel.h"
#include "fuzz_util.h"

static int allowed(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("_-=@,.;:", c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256], out[BF_CHANNEL_MAX + 1];
    char *name = malloc(size ? size : 1);
    if (size) memcpy(name, data, size);
    int ok = 1;
    for (size_t i = 0; i < size; i++) ok &= allowed((unsigned char)name[i]);
    ok &= size >= 1 && size <= BF_CHANNEL_MAX;
    int rc = bf_channel_validate(name, size, err, sizeof(err));
    FZ_CHECK((rc == 0) == ok, "validate(%zu bytes) = %d, expected %s", size, rc,
             ok ? "ok" : "refusal");
    FZ_CHECK(bf_channel_validate(name, size, NULL, 0) == rc, "result depends on err");
    free(name);

    const uint8_t *q = memchr(data, '?', size);
    size_t nlen = q ? (size_t)(q - data) : size;
    char *type = NULL;
    if (q && size - nlen - 1 >= 5 && !memcmp(q + 1, "type=", 5))
        type = fz_strndup(q + 6, size - nlen - 6);
    name = malloc(nlen ? nlen : 1);
    if (nlen) memcpy(name, data, nlen);
    err[0] = '\0';
    memset(out, 0x5a, sizeof(out));
    rc = bf_channel_resolve(name, nlen, type, out, err, sizeof(err));
    if (rc == 0) {
        size_t olen = strnlen(out, sizeof(out));
        FZ_CHECK(olen < sizeof(out), "resolved name not terminated");
        FZ_CHECK(bf_channel_validate(out, olen, NULL, 0) == 0, "resolved to an invalid name");
        bf_channel_type have = bf_channel_type_of(out), want;
        char nm[BF_CHANNEL_MAX + 1];
        memcpy(nm, name, nlen);
        nm[nlen] = '\0';
        if (bf_channel_type_of(nm) != BF_CH_PUBLIC)
            FZ_CHECK(olen == nlen && !memcmp(out, name, nlen), "a prefixed name was rewritten");
        if (type && *type) {
            FZ_CHECK(bf_channel_type_parse(type, &want) == 0, "unknown type '%s' accepted", type);
            FZ_CHECK(have == want, "type=%s resolved to a %s channel", type,
                     bf_channel_type_name(have));
        } else {
            FZ_CHECK(olen == nlen && !memcmp(out, name, nlen), "no type, yet the name changed");
        }
    } else {
        FZ_CHECK(err[0] != '\0', "refused without a message");
    }
    free(type);
    free(name);
    return 0;
}
