/* Fuzzes the Pusher wire format (gateway/pusher_msg.h): every text frame a Pusher client sends
 * (bf_pusher_msg_parse), and the same bytes as the frame of a fan-out message rendered for
 * Pusher clients (bf_pusher_render), since anyone who can PUBLISH to Redis writes those.
 * Properties: an error carries a message and no views; a subscribe / unsubscribe / client event
 * names a valid channel; a client event's name starts with "client-" and its data is JSON text of
 * data_len bytes; a signin has user_data; a rendered frame is a JSON object with a string
 * "event", a string "channel" and (when present) a string "data". */
#include "fuzz_util.h"
#include "pusher_msg.h"

#include <jansson.h>

static void check_parse(const char *msg, size_t size)
{
    bf_pusher_msg m;
    bf_pmsg_kind k = bf_pusher_msg_parse(msg, size, &m);
    FZ_CHECK(k == m.kind && k >= BF_PMSG_PING && k <= BF_PMSG_ERROR, "kind %d", (int)k);
    switch (k) {
    case BF_PMSG_ERROR:
        FZ_CHECK(m.message && *m.message && !m.data, "error without message, or with data");
        break;
    case BF_PMSG_SUBSCRIBE:
        FZ_CHECK(m.auth != NULL, "subscribe without auth view");
        /* fall through */
    case BF_PMSG_UNSUBSCRIBE:
        FZ_CHECK(m.channel && bf_pusher_channel_valid(m.channel, strlen(m.channel)),
                 "invalid channel accepted");
        break;
    case BF_PMSG_CLIENT_EVENT: {
        FZ_CHECK(m.channel && bf_pusher_channel_valid(m.channel, strlen(m.channel)), "channel");
        FZ_CHECK(!strncmp(m.event, "client-", 7) && strlen(m.event) <= BF_PUSHER_EVENT_MAX,
                 "event name");
        FZ_CHECK(m.data && strlen(m.data) == m.data_len, "data length");
        json_t *d = json_loadb(m.data, m.data_len, JSON_DECODE_ANY, NULL);
        FZ_CHECK(d != NULL, "data is not JSON: %s", m.data);
        json_decref(d);
        size_t len;
        char *w = bf_pusher_whisper_frame(m.event, m.data, m.data_len, "u", &len);
        FZ_CHECK(w && strlen(w) == len, "whisper frame");
        free(w);
        break;
    }
    case BF_PMSG_SIGNIN:
        FZ_CHECK(m.user_data && m.auth, "signin without user_data");
        break;
    default:
        break;
    }
    bf_pusher_msg_free(&m);
}

static void check_render(const char *frame, size_t size, bf_fan_kind kind)
{
    bf_fanout f = {.kind = kind, .channel = {"c", 1}, .seq = 1, .frame = {frame, size}};
    size_t len;
    char *out = bf_pusher_render(&f, "news", &len);
    if (!out) return;
    FZ_CHECK(strlen(out) == len, "length");
    json_t *j = json_loads(out, JSON_REJECT_DUPLICATES, NULL);
    FZ_CHECK(json_is_object(j), "not a JSON object: %s", out);
    FZ_CHECK(json_is_string(json_object_get(j, "event")), "event");
    FZ_CHECK(!strcmp(json_string_value(json_object_get(j, "channel")), "news"), "channel");
    json_t *d = json_object_get(j, "data");
    FZ_CHECK(!d || json_is_string(d), "data is not a string: %s", out);
    json_decref(j);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *msg = malloc(size ? size : 1);
    if (size) memcpy(msg, data, size);
    check_parse(msg, size);
    check_render(msg, size, BF_FAN_MESSAGE);
    check_render(msg, size, BF_FAN_EPHEMERAL);
    check_render(msg, size, BF_FAN_DIRECT);
    free(msg);
    return 0;
}
