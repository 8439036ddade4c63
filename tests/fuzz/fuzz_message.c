/* Fuzzes bf_message_parse_publish and bf_message_check_event (common/message.h): the body of
 * POST /broadcast/{channel} and of Redis PUBLISH <prefix>publish:{channel}.
 * Every input is parsed for all three channel types. Properties: an accepted body yields a frame
 * prefix that, completed with a seq and "}" as the publish script does, is one JSON object whose
 * "event" passes bf_message_check_event and whose "seq" is that number; a refused body has an
 * error class and a message; check_event accepts only 1..200 bytes, no NUL, no reserved name. */
#include "fuzz_util.h"
#include "message.h"

#include <jansson.h>

static int reserved(const char *e, size_t n)
{
    return (n >= 9 && !memcmp(e, "presence:", 9)) || (n >= 7 && !memcmp(e, "belfry:", 7)) ||
           (n == 7 && !memcmp(e, "whisper", 7)) || (n == 5 && !memcmp(e, "error", 5));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1), err[256];
    if (size) memcpy(body, data, size);
    for (int t = BF_CH_PUBLIC; t <= BF_CH_PRESENCE; t++) {
        char *prefix = NULL;
        size_t plen = 0;
        err[0] = '\0';
        bf_msg_status st =
            bf_message_parse_publish(body, size, (bf_channel_type)t, &prefix, &plen, err, 256);
        if (st != BF_MSG_OK) {
            FZ_CHECK(st == BF_MSG_BAD_JSON || st == BF_MSG_BAD_EVENT || st == BF_MSG_BAD_TYPE,
                     "status %d", (int)st);
            FZ_CHECK(err[0] != '\0', "refused without a message");
            continue;
        }
        FZ_CHECK(prefix && strlen(prefix) == plen, "prefix length %zu", plen);
        size_t cap = plen + 32;
        char *frame = malloc(cap);
        snprintf(frame, cap, "%s123456789}", prefix);
        json_error_t je;
        json_t *j = json_loads(frame, JSON_REJECT_DUPLICATES, &je);
        FZ_CHECK(json_is_object(j), "completed frame is not a JSON object: %s", je.text);
        json_t *ev = json_object_get(j, "event");
        FZ_CHECK(json_is_string(ev), "no event in the frame");
        FZ_CHECK(bf_message_check_event(json_string_value(ev), json_string_length(ev), err, 256) ==
                     0,
                 "the frame's event breaks the rules: %s", err);
        FZ_CHECK(json_object_get(j, "data") != NULL, "no data in the frame");
        FZ_CHECK(json_integer_value(json_object_get(j, "seq")) == 123456789,
                 "the seq is not the one appended");
        FZ_CHECK(json_object_size(j) == 3, "the frame has %zu keys", json_object_size(j));
        json_decref(j);
        free(frame);
        free(prefix);
    }
    if (bf_message_check_event(body, size, err, sizeof(err)) == 0)
        FZ_CHECK(size >= 1 && size <= BF_EVENT_MAX && !memchr(body, 0, size) &&
                     !reserved(body, size),
                 "event of %zu bytes accepted", size);
    free(body);
    return 0;
}
