#include "pusher_msg.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define SERVER_TO_USER "#server-to-user-"

static bf_pmsg_kind error(bf_pusher_msg *out, const char *message)
{
    out->kind = BF_PMSG_ERROR;
    out->message = message;
    return out->kind;
}

bool bf_pusher_channel_valid(const char *name, size_t len)
{
    size_t skip = 0;
    if (len > strlen(SERVER_TO_USER) && !memcmp(name, SERVER_TO_USER, strlen(SERVER_TO_USER)))
        skip = strlen(SERVER_TO_USER);
    if (len == 0 || len > BF_PUSHER_CHANNEL_MAX) return false;
    for (size_t i = skip; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("-_=@,.;", c)))
            return false;
    }
    return true;
}

/* The "data" of a pusher:* event: an object, or (other SDKs) a string holding one. Returns a
 * borrowed object (possibly owned by *hold, which the caller releases), or NULL. */
static json_t *data_object(json_t *root, json_t **hold)
{
    json_t *d = json_object_get(root, "data");
    *hold = NULL;
    if (json_is_object(d)) return d;
    if (json_is_string(d)) {
        *hold = json_loads(json_string_value(d), JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(*hold)) return *hold;
    }
    return NULL;
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static bool valid_name(const char *s)
{
    return s && bf_pusher_channel_valid(s, strlen(s));
}

static bf_pmsg_kind parse_subscribe(json_t *d, bf_pusher_msg *out, bool subscribe)
{
    out->channel = str_or(d, "channel", NULL);
    if (!out->channel) return error(out, "\"data.channel\" must be a string");
    if (!valid_name(out->channel))
        return error(out, "invalid channel name (1-164 bytes of A-Z a-z 0-9 - _ = @ , . ;)");
    if (!subscribe) return out->kind = BF_PMSG_UNSUBSCRIBE;
    json_t *auth = json_object_get(d, "auth"), *cd = json_object_get(d, "channel_data");
    if (auth && !json_is_string(auth) && !json_is_null(auth))
        return error(out, "\"data.auth\" must be a string");
    if (cd && !json_is_string(cd) && !json_is_null(cd))
        return error(out, "\"data.channel_data\" must be a string");
    out->auth = json_is_string(auth) ? json_string_value(auth) : "";
    out->channel_data = json_is_string(cd) ? json_string_value(cd) : NULL;
    return out->kind = BF_PMSG_SUBSCRIBE;
}

static bf_pmsg_kind parse_client_event(json_t *root, const char *event, bf_pusher_msg *out)
{
    if (strlen(event) > BF_PUSHER_EVENT_MAX) return error(out, "event names are at most 200 bytes");
    out->event = event;
    out->channel = str_or(root, "channel", NULL);
    if (!valid_name(out->channel)) return error(out, "a client event needs a valid \"channel\"");
    json_t *d = json_object_get(root, "data");
    if (!d) d = json_null();
    out->data = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (!out->data) return error(out, "cannot encode the event's data");
    out->data_len = strlen(out->data);
    return out->kind = BF_PMSG_CLIENT_EVENT;
}

bf_pmsg_kind bf_pusher_msg_parse(const char *msg, size_t len, bf_pusher_msg *out)
{
    memset(out, 0, sizeof(*out));
    json_t *root = json_loadb(msg, len, JSON_REJECT_DUPLICATES, NULL);
    out->root = root;
    if (!json_is_object(root)) return error(out, "messages must be JSON objects");
    const char *event = str_or(root, "event", NULL);
    if (!event) return error(out, "missing \"event\" string");
    if (!strncmp(event, "client-", 7)) return parse_client_event(root, event, out);
    if (!strcmp(event, "pusher:ping")) return out->kind = BF_PMSG_PING;
    if (!strcmp(event, "pusher:pong")) return out->kind = BF_PMSG_PONG;
    bool sub = !strcmp(event, "pusher:subscribe"), unsub = !strcmp(event, "pusher:unsubscribe"),
         signin = !strcmp(event, "pusher:signin");
    if (!sub && !unsub && !signin)
        return error(out, "unknown event (supported: pusher:ping, pusher:pong, pusher:subscribe, "
                          "pusher:unsubscribe, pusher:signin, client-*)");
    json_t *hold, *d = data_object(root, &hold);
    out->data_root = hold; /* what the views point into when data was a string */
    if (!d) return error(out, "\"data\" must be an object");
    if (!signin) return parse_subscribe(d, out, sub);
    out->auth = str_or(d, "auth", "");
    out->user_data = str_or(d, "user_data", NULL);
    if (!out->user_data) return error(out, "pusher:signin needs \"data.user_data\" (a string)");
    return out->kind = BF_PMSG_SIGNIN;
}

void bf_pusher_msg_free(bf_pusher_msg *m)
{
    json_decref(m->root);
    json_decref(m->data_root);
    free(m->data);
    m->root = m->data_root = NULL;
    m->data = NULL;
}

/* ---- rendering --------------------------------------------------------------------------- */

static char *dump(json_t *j, size_t *len)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (s) *len = strlen(s);
    return s;
}

char *bf_pusher_frame(const char *event, const char *channel, const char *data_text,
                      size_t data_len, size_t *len)
{
    json_t *o = json_object();
    json_object_set_new(o, "event", json_string(event));
    if (channel) json_object_set_new(o, "channel", json_string(channel));
    if (data_text) json_object_set_new(o, "data", json_stringn(data_text, data_len));
    return dump(o, len);
}

static char *frame_json(const char *event, const char *channel, json_t *data, size_t *len)
{
    char *t = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    json_decref(data);
    if (!t) return NULL;
    char *f = bf_pusher_frame(event, channel, t, strlen(t), len);
    free(t);
    return f;
}

char *bf_pusher_error(int code, const char *message, size_t *len)
{
    json_t *d =
        json_pack("{s:s,s:o}", "message", message, "code", code ? json_integer(code) : json_null());
    json_t *o = json_pack("{s:s,s:o}", "event", "pusher:error", "data", d);
    return dump(o, len);
}

char *bf_pusher_subscription_error(const char *channel, const char *type, const char *error,
                                   int status, size_t *len)
{
    json_t *d = json_pack("{s:s,s:s,s:i}", "type", type, "error", error, "status", status);
    json_t *o = json_pack("{s:s,s:s,s:o}", "event", "pusher:subscription_error", "channel", channel,
                          "data", d);
    return dump(o, len);
}

static char *presence_event(json_t *root, const char *channel, bool added, size_t *len)
{
    json_t *member = json_object_get(json_object_get(root, "data"), "member");
    json_t *id = json_object_get(member, "id");
    if (!json_is_string(id)) return NULL;
    json_t *d = json_pack("{s:O}", "user_id", id);
    if (added) {
        json_t *info = json_object_get(member, "info");
        json_object_set(d, "user_info", info ? info : json_null());
    }
    return frame_json(added ? "pusher_internal:member_added" : "pusher_internal:member_removed",
                      channel, d, len);
}

/* presence:here {"members":[{"id","info",...},...]} -> {"presence":{"ids","hash","count"}} */
static char *presence_here(json_t *root, const char *channel, size_t *len)
{
    json_t *members = json_object_get(json_object_get(root, "data"), "members");
    if (!json_is_array(members)) return NULL;
    json_t *ids = json_array(), *hash = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
    {
        json_t *id = json_object_get(m, "id");
        if (!json_is_string(id) || json_object_get(hash, json_string_value(id))) continue;
        json_t *info = json_object_get(m, "info");
        json_array_append(ids, id);
        json_object_set(hash, json_string_value(id), info ? info : json_null());
    }
    json_t *d = json_pack("{s:{s:o,s:o,s:I}}", "presence", "ids", ids, "hash", hash, "count",
                          (json_int_t)json_array_size(ids));
    return frame_json("pusher_internal:subscription_succeeded", channel, d, len);
}

/* whisper {"data":{"event":E,"data":D},"user_id":U?} -> {"event":"client-E","data":D,...} */
static char *whisper(json_t *root, const char *channel, size_t *len)
{
    json_t *inner = json_object_get(root, "data");
    const char *ev = str_or(inner, "event", NULL);
    if (!ev || !*ev) return NULL;
    json_t *d = json_object_get(inner, "data");
    json_t *o = json_object();
    char name[BF_PUSHER_EVENT_MAX + 8];
    snprintf(name, sizeof(name), "%s%s", strncmp(ev, "client-", 7) ? "client-" : "", ev);
    json_object_set_new(o, "event", json_string(name));
    json_object_set_new(o, "channel", json_string(channel));
    /* a string is relayed as it was sent (pusher-js parses it if it is JSON), anything else as
     * its JSON text, which is what Pusher's own relay does */
    if (json_is_string(d)) {
        json_object_set(o, "data", d);
    } else {
        char *t =
            json_dumps(d ? d : json_null(), JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        if (!t) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "data", json_string(t));
        free(t);
    }
    json_t *uid = json_object_get(root, "user_id");
    if (json_is_string(uid)) json_object_set(o, "user_id", uid);
    return dump(o, len);
}

char *bf_pusher_render(const bf_fanout *m, const char *channel, size_t *len)
{
    if (m->kind == BF_FAN_KICK) return NULL;
    json_t *root = json_loadb(m->frame.p, m->frame.len, 0, NULL);
    const char *ev = str_or(root, "event", NULL);
    char *out = NULL;
    if (!json_is_object(root) || !ev) {
        /* not a frame we can translate */
    } else if (!strcmp(ev, "presence:join")) {
        out = presence_event(root, channel, true, len);
    } else if (!strcmp(ev, "presence:leave")) {
        out = presence_event(root, channel, false, len);
    } else if (!strcmp(ev, "presence:here")) {
        out = presence_here(root, channel, len);
    } else if (!strcmp(ev, "whisper") && m->kind == BF_FAN_EPHEMERAL) {
        out = whisper(root, channel, len);
    } else if (m->data_raw.len) {
        out = bf_pusher_frame(ev, channel, m->data_raw.p, m->data_raw.len, len);
    } else {
        json_t *d = json_object_get(root, "data");
        out = frame_json(ev, channel, json_incref(d ? d : json_null()), len);
    }
    json_decref(root);
    return out;
}

bool bf_pusher_is_cache_channel(const char *name)
{
    static const char *const prefixes[] = {"cache-", "private-cache-", "private-encrypted-cache-",
                                           "presence-cache-"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (!strncmp(name, prefixes[i], strlen(prefixes[i]))) return true;
    return false;
}

char *bf_pusher_signin_user(const char *user_data, const char **why)
{
    json_t *root = json_loads(user_data, JSON_REJECT_DUPLICATES, NULL);
    const char *id = json_string_value(json_object_get(root, "id"));
    char *out = NULL;
    if (!json_is_object(root))
        *why = "user_data must be a JSON object";
    else if (!id || !*id)
        *why = "user_data needs an \"id\" (a non-empty string)";
    else if (strlen(id) > 128)
        *why = "the user id is longer than 128 bytes";
    else if (!bf_pusher_channel_valid(id, strlen(id)))
        *why = "the user id may hold only A-Z a-z 0-9 - _ = @ , . ; (it names #server-to-user-ID)";
    else
        out = strdup(id);
    json_decref(root);
    return out;
}

char *bf_pusher_whisper_frame(const char *event, const char *data, size_t data_len,
                              const char *user_id, size_t *len)
{
    json_t *d = json_loadb(data, data_len, JSON_DECODE_ANY, NULL);
    if (!d) return NULL;
    const char *inner = strncmp(event, "client-", 7) ? event : event + 7;
    json_t *o =
        json_pack("{s:s,s:{s:s,s:o}}", "event", "whisper", "data", "event", inner, "data", d);
    if (user_id) json_object_set_new(o, "user_id", json_string(user_id));
    return dump(o, len);
}
