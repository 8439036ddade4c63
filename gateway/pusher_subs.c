/* Pusher subscriptions that need Redis around going live (see pusher_subs.h). */
#include "pusher_subs.h"
#include "alloc.h"
#include "apps.h"
#include "auth.h"
#include "log.h"
#include "pusher_msg.h"
#include "redis_keys.h"
#include "scripts.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- presence: the member limit --------------------------------------------------------- */

/* A presence subscription waiting for its member-limit check (s->pending). */
typedef struct member_check {
    bf_sub *s; /* first: cleared by bf_conn_sub_free when the subscription goes first */
    bf_gateway *gw;
    long long exists;   /* HEXISTS' answer, -1 if it failed */
    bool second_failed; /* HLEN could not be sent: HEXISTS' callback finishes */
    char scoped[BF_CHANNEL_MAX + BF_APP_ID_MAX + 2];
} member_check;

const char *bf__pusher_pending_channel(const bf_sub *s)
{
    return s->pending && !s->chan ? ((const member_check *)s->pending)->scoped : NULL;
}

/* The member-limit check's end: join, or refuse with 403 (503 when Redis did not answer). */
static void member_check_done(member_check *q, long long members)
{
    bf_sub *s = q->s;
    bf_gateway *gw = q->gw;
    if (s) {
        s->pending = NULL;
        const char *name = bf__pusher_bare(q->scoped);
        if (members < 0 || q->exists < 0) {
            bf__pusher_subscription_error(gw, s->conn, name, "PresenceUnavailable",
                                          "cannot check the presence channel right now; try again",
                                          503);
            bf_conn_sub_free(s->conn, s);
        } else if (!q->exists && members >= gw->cfg.max_presence_members) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "this presence channel holds its maximum of %lld members "
                     "(--max-presence-members)",
                     gw->cfg.max_presence_members);
            gw->stats.pusher_limit_rejections[BF_PUSHER_LIMIT_PRESENCE_MEMBERS]++;
            bf__pusher_subscription_error(gw, s->conn, name, "LimitReached", msg, 403);
            bf_conn_sub_free(s->conn, s);
        } else {
            bf__pusher_join(gw, s, q->scoped);
        }
    }
    free(q);
}

static long long int_reply(void *reply)
{
    redisReply *r = reply;
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
}

static void on_hexists(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    member_check *q = priv;
    q->exists = int_reply(reply);
    if (q->second_failed) member_check_done(q, -1);
}

static void on_hlen(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    member_check_done(priv, int_reply(reply));
}

/* Is the user a member already (a second tab joins at any size), and how many members are
 * there: two pipelined commands on the command link, answered in order. */
void bf__pusher_check_members(bf_gateway *gw, bf_sub *s, const char *scoped)
{
    member_check *q = bf_calloc(1, sizeof(*q));
    q->s = s;
    q->gw = gw;
    snprintf(q->scoped, sizeof(q->scoped), "%s", scoped);
    s->pending = q;
    char key[BF_KEY_MAX];
    bf_key(key, gw->cfg.redis_prefix, BF_KEY_PUSERS, scoped);
    const char *user = bf_sub_user(s);
    if (bf_redis_cmd(gw->cmd, on_hexists, q, "HEXISTS %s %s", key, user)) {
        q->exists = -1;
        member_check_done(q, -1);
        return;
    }
    if (bf_redis_cmd(gw->cmd, on_hlen, q, "HLEN %s", key)) q->second_failed = true;
}

/* channel_data {"user_id": string or integer, "user_info"?: any}: the member JSON the presence
 * scripts store ({"id","joinedAt","info"}) into *member and the user id into *user (both
 * malloc'd), or a message for the client. */
const char *bf__pusher_channel_data(const char *cd, char **user, char **member)
{
    json_t *root = json_loads(cd, JSON_REJECT_DUPLICATES, NULL);
    const char *err = NULL;
    json_t *uid = json_object_get(root, "user_id"), *info = json_object_get(root, "user_info");
    char num[32];
    const char *id = NULL;
    if (json_is_string(uid))
        id = json_string_value(uid);
    else if (json_is_integer(uid)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(uid));
        id = num;
    }
    char *infotext = info ? json_dumps(info, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!json_is_object(root))
        err = "channel_data must be a JSON object";
    else if (!id || !*id)
        err = "channel_data needs a user_id (a non-empty string or an integer)";
    else if (strlen(id) > BF_USER_MAX)
        err = "user_id is longer than 128 bytes";
    else if (infotext && strlen(infotext) > BF_AUTH_INFO_MAX)
        err = "user_info is larger than 1 KiB";
    if (!err) {
        json_t *m = json_pack("{s:s,s:I,s:o}", "id", id, "joinedAt", (json_int_t)wall_ms(), "info",
                              info ? json_incref(info) : json_object());
        *member = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(m);
        *user = bf_strdup(id);
    }
    free(infotext);
    json_decref(root);
    return err;
}

/* ---- cache channels ---------------------------------------------------------------------- */

/* Cache channels: the last event from the channel's history after subscription_succeeded, or
 * pusher:cache_miss when it holds none. */
typedef struct cache_req {
    bf_sub *s; /* first: cleared by bf_conn_sub_free */
    bf_gateway *gw;
} cache_req;

#define CACHE_SCAN 16 /* history entries looked at for the last event (presence events skipped) */

static void on_cache(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    cache_req *q = priv;
    bf_sub *s = q->s;
    bf_gateway *gw = q->gw;
    redisReply *r = reply;
    free(q);
    if (!s) return;
    s->pending = NULL;
    const char *name = bf__pusher_bare(bf_hub_sub_channel(s));
    char *out = NULL;
    size_t len;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && !out; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
        redisReply *kv = e->element[1];
        if (kv->type != REDIS_REPLY_ARRAY || kv->elements < 2) continue;
        redisReply *frame = kv->element[1];
        if (frame->type != REDIS_REPLY_STRING || strstr(frame->str, "\"event\":\"presence:"))
            continue;
        bf_fanout m = {.kind = BF_FAN_MESSAGE, .seq = 1, .frame = {frame->str, (size_t)frame->len}};
        out = bf_pusher_render(&m, name, &len);
    }
    if (!out) {
        out = bf_pusher_frame("pusher:cache_miss", name, NULL, 0, &len);
        /* the cache_miss webhook, when a router delivers them (webhooks.h) */
        bf_webhook_event we = {
            .prefix = gw->cfg.redis_prefix, .name = "cache_miss", .channel = bf_hub_sub_channel(s)};
        bf_webhook_event_send(gw->cmd, &we);
    }
    bf__pusher_send(gw, s->conn, out);
}

void bf__pusher_cache_lookup(bf_gateway *gw, bf_sub *s)
{
    bf_seq_keys k;
    if (bf_key_seq_keys(&k, gw->cfg.redis_prefix, bf_hub_sub_channel(s))) return;
    cache_req *q = bf_calloc(1, sizeof(*q));
    q->s = s;
    q->gw = gw;
    if (bf_redis_cmd(gw->cmd, on_cache, q, "XREVRANGE %s + - COUNT %d", k.hist, CACHE_SCAN)) {
        free(q);
        size_t len;
        bf__pusher_send(gw, s->conn,
                        bf_pusher_frame("pusher:cache_miss", bf__pusher_bare(bf_hub_sub_channel(s)),
                                        NULL, 0, &len));
        return;
    }
    s->pending = q;
}
