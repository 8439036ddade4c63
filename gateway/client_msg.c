#include "client_msg.h"

#include <jansson.h>
#include <string.h>

static bf_cmsg_kind error(bf_client_msg *out, const char *code, const char *message)
{
    out->kind = BF_CMSG_ERROR;
    out->code = code;
    out->message = message;
    return out->kind;
}

/* "channel" may be omitted, be the canonical name, or (private/presence) the name without its
 * prefix, which is what @roostjs/broadcast clients send. */
static bool same_channel(const bf_client_ctx *ctx, const char *want)
{
    if (!strcmp(want, ctx->channel)) return true;
    const char *dash = strchr(ctx->channel, '-');
    return ctx->type != BF_CH_PUBLIC && dash && !strcmp(want, dash + 1);
}

static bf_cmsg_kind whisper(const bf_client_ctx *ctx, json_t *root, bf_client_msg *out)
{
    if (ctx->type == BF_CH_PUBLIC && !ctx->allow_public_whisper)
        return error(out, "whisper_forbidden",
                     "whispers are not allowed on public channels (anyone can connect there)");
    json_t *ch = json_object_get(root, "channel");
    if (ch && (!json_is_string(ch) || !same_channel(ctx, json_string_value(ch))))
        return error(out, "wrong_channel", "\"channel\" does not match this connection's channel");
    json_t *data = json_object_get(root, "data");
    if (!data) return error(out, "bad_message", "a whisper needs \"data\"");
    json_t *frame = json_pack("{s:s,s:O}", "event", "whisper", "data", data);
    if (ctx->user_id && ctx->type != BF_CH_PUBLIC)
        json_object_set_new(frame, "user_id", json_string(ctx->user_id));
    out->frame = json_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(frame);
    if (!out->frame) return error(out, "internal", "cannot render the whisper");
    out->frame_len = strlen(out->frame);
    out->kind = BF_CMSG_WHISPER;
    return out->kind;
}

bf_cmsg_kind bf_client_msg_parse(const bf_client_ctx *ctx, const char *msg, size_t len,
                                 bf_client_msg *out)
{
    memset(out, 0, sizeof(*out));
    json_t *root = json_loadb(msg, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return error(out, "bad_json", "messages must be JSON objects");
    }
    const char *event = json_string_value(json_object_get(root, "event"));
    bf_cmsg_kind k;
    if (!event)
        k = error(out, "bad_message", "missing \"event\" string");
    else if (!strcmp(event, "whisper"))
        k = whisper(ctx, root, out);
    else
        k = error(out, "unknown_event", "unknown client event (supported: whisper)");
    json_decref(root);
    return k;
}
