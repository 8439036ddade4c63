/* Fuzzes bf_client_msg_parse (gateway/client_msg.h): every text message a WebSocket client
 * sends. Each input is parsed for a public channel (whispers allowed and refused), a private and
 * a presence channel. Properties: errors carry a static code and message; a whisper frame is one
 * JSON object {"event":"whisper","data":...} whose user_id is the verified one on private and
 * presence channels (whatever the client sent) and absent on public ones, and frame_len is its
 * length. */
#include "client_msg.h"
#include "fuzz_util.h"

#include <jansson.h>

static const bf_client_ctx ctxs[] = {
    {"lobby", BF_CH_PUBLIC, NULL, false},
    {"lobby", BF_CH_PUBLIC, NULL, true},
    {"private-chat", BF_CH_PRIVATE, "alice", false},
    {"presence-room", BF_CH_PRESENCE, "bob", false},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *msg = malloc(size ? size : 1);
    if (size) memcpy(msg, data, size);
    for (size_t i = 0; i < sizeof(ctxs) / sizeof(ctxs[0]); i++) {
        const bf_client_ctx *ctx = &ctxs[i];
        bf_client_msg m;
        bf_cmsg_kind k = bf_client_msg_parse(ctx, msg, size, &m);
        FZ_CHECK(k == m.kind, "returned %d, filled %d", (int)k, (int)m.kind);
        if (k == BF_CMSG_ERROR) {
            FZ_CHECK(m.code && *m.code && m.message && *m.message, "error without code/message");
            FZ_CHECK(m.frame == NULL, "error with a frame");
            continue;
        }
        FZ_CHECK(k == BF_CMSG_WHISPER, "kind %d", (int)k);
        FZ_CHECK(ctx->type != BF_CH_PUBLIC || ctx->allow_public_whisper,
                 "whisper on a public channel");
        FZ_CHECK(m.frame && strlen(m.frame) == m.frame_len, "frame length");
        json_t *j = json_loads(m.frame, JSON_REJECT_DUPLICATES, NULL);
        FZ_CHECK(json_is_object(j), "frame is not a JSON object");
        FZ_CHECK(!strcmp(json_string_value(json_object_get(j, "event")), "whisper"), "event");
        FZ_CHECK(json_object_get(j, "data") != NULL, "no data");
        const char *uid = json_string_value(json_object_get(j, "user_id"));
        if (ctx->type == BF_CH_PUBLIC)
            FZ_CHECK(json_object_size(j) == 2, "public whisper with extra keys");
        else
            FZ_CHECK(uid && !strcmp(uid, ctx->user_id) && json_object_size(j) == 3,
                     "user_id is not the verified one");
        json_decref(j);
        free(m.frame);
    }
    free(msg);
    return 0;
}
