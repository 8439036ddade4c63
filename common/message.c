#include "message.h"
#include "alloc.h"
#include "err.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The body's type against the channel: strict (name == NULL: the body's type, if any, must be
 * ch_type) or resolving (name given: the name is mapped by the type, see _named). */
static bf_msg_status check_type(json_t *type, bf_channel_type ch_type, const char *name,
                                const char *qtype, char *channel, char *err, size_t errlen)
{
    bf_channel_type t;
    if (type && (!json_is_string(type) || bf_channel_type_parse(json_string_value(type), &t))) {
        snprintf(err, errlen, "\"type\" must be \"public\", \"private\" or \"presence\"");
        return BF_MSG_BAD_TYPE;
    }
    if (!name) {
        if (type && t != ch_type) {
            snprintf(err, errlen, "\"type\" is \"%s\" but the channel is %s",
                     json_string_value(type), bf_channel_type_name(ch_type));
            return BF_MSG_BAD_TYPE;
        }
        return BF_MSG_OK;
    }
    if (qtype && !*qtype) qtype = NULL;
    const char *want = type ? json_string_value(type) : qtype;
    if (type && qtype && strcmp(want, qtype)) {
        snprintf(err, errlen, "\"type\" is \"%s\" but ?type= is \"%s\"", want, qtype);
        return BF_MSG_BAD_TYPE;
    }
    int rc = bf_channel_resolve(name, strlen(name), want, channel, err, errlen);
    if (rc == BF_ETOOBIG) return BF_MSG_BAD_CHANNEL;
    return rc ? BF_MSG_BAD_TYPE : BF_MSG_OK;
}

static bf_msg_status parse(const char *body, size_t len, bf_channel_type ch_type, const char *name,
                           const char *qtype, char *channel, char **prefix, size_t *prefix_len,
                           char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    bf_msg_status st = BF_MSG_OK;
    char *ev_json = NULL, *data_json = NULL;
    if (!root) {
        snprintf(err, errlen, "body is not valid JSON: %s (at byte %d)", jerr.text, jerr.position);
        return BF_MSG_BAD_JSON;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "body must be a JSON object");
        st = BF_MSG_BAD_JSON;
        goto out;
    }
    json_t *ev = json_object_get(root, "event");
    if (!ev) {
        snprintf(err, errlen, "missing \"event\"");
        st = BF_MSG_BAD_EVENT;
        goto out;
    }
    if (!json_is_string(ev)) {
        snprintf(err, errlen, "\"event\" must be a string");
        st = BF_MSG_BAD_EVENT;
        goto out;
    }
    if (bf_message_check_event(json_string_value(ev), json_string_length(ev), err, errlen)) {
        st = BF_MSG_BAD_EVENT;
        goto out;
    }
    st = check_type(json_object_get(root, "type"), ch_type, name, qtype, channel, err, errlen);
    if (st != BF_MSG_OK) goto out;
    json_t *data = json_object_get(root, "data");
    ev_json = dump(ev);
    data_json = data ? dump(data) : NULL;
    if (!ev_json || (data && !data_json)) {
        snprintf(err, errlen, "cannot render message");
        st = BF_MSG_BAD_JSON;
        goto out;
    }
    size_t cap = strlen(ev_json) + (data_json ? strlen(data_json) : 4) + 32;
    *prefix = bf_malloc(cap);
    *prefix_len = (size_t)snprintf(*prefix, cap, "{\"event\":%s,\"data\":%s,\"seq\":", ev_json,
                                   data_json ? data_json : "null");
out:
    free(ev_json);
    free(data_json);
    json_decref(root);
    return st;
}

bf_msg_status bf_message_parse_publish(const char *body, size_t len, bf_channel_type ch_type,
                                       char **prefix, size_t *prefix_len, char *err, size_t errlen)
{
    return parse(body, len, ch_type, NULL, NULL, NULL, prefix, prefix_len, err, errlen);
}

bf_msg_status bf_message_parse_publish_named(const char *body, size_t len, const char *name,
                                             const char *qtype, char *channel, char **prefix,
                                             size_t *prefix_len, char *err, size_t errlen)
{
    return parse(body, len, BF_CH_PUBLIC, name, qtype, channel, prefix, prefix_len, err, errlen);
}

char *bf_message_render(const char *event, const char *data_json, unsigned long long seq,
                        size_t *len)
{
    json_t *ev = json_string(event);
    char *ev_json = ev ? dump(ev) : NULL;
    json_decref(ev);
    if (!ev_json) ev_json = bf_strdup("\"\"");
    size_t cap = strlen(ev_json) + strlen(data_json) + 48;
    char *out = bf_malloc(cap);
    int n;
    if (seq)
        n = snprintf(out, cap, "{\"event\":%s,\"data\":%s,\"seq\":%llu}", ev_json, data_json, seq);
    else
        n = snprintf(out, cap, "{\"event\":%s,\"data\":%s}", ev_json, data_json);
    free(ev_json);
    *len = (size_t)n;
    return out;
}
